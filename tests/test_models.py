"""Models: architectures and parameter counts, fast vs reference decoding, the public
formulation, resampling, receptive fields, tiled inference and the DDIR loss (checkpoints:
test_models_checkpoints.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ddir_kit.errors import DdirKitError
from ddir_kit.models import METHODS, count_parameters, make_model, upscale
from ddir_kit.models.base import receptive_radius_px
from ddir_kit.models.bicubic import resize_bicubic
from ddir_kit.models.coords import Box, gather, local_corners, make_cell, make_coord, sample_bilinear_border
from ddir_kit.models.inference import plan_tiles
from ddir_kit.quantities import parse_bytes

LEARNED = [m for m in METHODS if m != "bicubic"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"encoder_args": {"n_resblocks": 2, "n_feats": 16}, "hidden_list": [32, 32]}
SMALL_RDN = {"encoder_args": {"G0": 16, "D": 2, "C": 2, "G": 8}, "hidden_list": [32, 32]}


def _queries(n: int, hr_hw: tuple[int, int], seed: int = 0):
    """All pixel centres of an HR grid for a batch of n, plus the cell."""
    coord = make_coord(hr_hw).unsqueeze(0).expand(n, -1, -1).contiguous()
    cell = make_cell(hr_hw, coord.shape[1]).unsqueeze(0).expand(n, -1, -1).contiguous()
    return coord, cell


# ---------------------------------------------------------------------------------------
# architectures

EDSR_PARAMS = 1_220_416
RDN_PARAMS = 21_973_952
# docs/methods.md: EDSR-LIIF 1.567 M, RDN-LIIF 22.32 M, EDSR-LTE 1.714 M, EDSR-CiaoSR 2.649 M,
# EDSR-DDIR 3.152 M, RDN-DDIR 44.66 M. RDN-LTE and RDN-CiaoSR follow as RDN + the decoder.
EXPECTED_M = {
    ("edsr", "liif"): 1.567, ("rdn", "liif"): 22.32,
    ("edsr", "lte"): 1.714, ("rdn", "lte"): (RDN_PARAMS + 1_714_000 - EDSR_PARAMS) / 1e6,
    ("edsr", "ciaosr"): 2.649, ("rdn", "ciaosr"): (RDN_PARAMS + 2_649_000 - EDSR_PARAMS) / 1e6,
    ("edsr", "ddir"): 3.152, ("rdn", "ddir"): 44.66,
}


def test_encoders_have_the_parameter_counts_of_models_md():
    assert count_parameters(make_model("liif", "edsr").encoder) == EDSR_PARAMS
    assert count_parameters(make_model("liif", "rdn").encoder) == RDN_PARAMS


@pytest.mark.parametrize("encoder,method", sorted(EXPECTED_M))
def test_parameter_count_within_half_a_percent_of_models_md(encoder, method):
    n = count_parameters(make_model(method, encoder))
    assert abs(n / 1e6 - EXPECTED_M[encoder, method]) / EXPECTED_M[encoder, method] < 0.005


def test_ablations_differ_from_ddir_by_the_inputs_they_drop():
    ddir = count_parameters(make_model("ddir"))
    # no appearance embedding: the deformation MLP loses 64 inputs
    assert ddir - count_parameters(make_model("ddir-noapp")) == 64 * 256
    # no deformation field: LIIF with the embedding; neither: LIIF
    assert count_parameters(make_model("ddir-nodeform")) == count_parameters(make_model("liif")) + 64 * 256
    assert count_parameters(make_model("ddir-none")) == count_parameters(make_model("liif"))
    assert count_parameters(make_model("liif+a")) == count_parameters(make_model("ddir-nodeform"))


@pytest.mark.parametrize("method", METHODS)
def test_spec_rebuilds_the_same_architecture(method):
    model = make_model(method, **({} if method == "bicubic" else SMALL))
    rebuilt = make_model(**model.spec)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    assert model.trainable == (method != "bicubic")
    assert model.uses_deform_target == (method in ("ddir", "ddir-noapp"))


def test_unknown_method_or_encoder_is_a_clear_error():
    with pytest.raises(DdirKitError, match="unknown method"):
        make_model("srcnn")
    with pytest.raises(DdirKitError, match="unknown encoder"):
        make_model("liif", "swin")


# ---------------------------------------------------------------------------------------
# decoding: fast vs reference, and the public formulation


@pytest.mark.parametrize("method", LEARNED)
def test_fast_and_reference_paths_agree_for_every_method(method):
    torch.manual_seed(0)
    # full-width decoders (9C = 576 latents, 256 hidden) on a short EDSR
    model = make_model(method, encoder_args={"n_resblocks": 2})
    lr = torch.rand(2, 3, 11, 13)
    coord, cell = _queries(2, (24, 31))
    fast = model(lr, coord, cell)
    model.decode_path = "reference"
    ref = model(lr, coord, cell)
    assert torch.allclose(fast.rgb, ref.rgb, atol=1e-5, rtol=0)
    if model.uses_deform_target:
        assert torch.allclose(fast.deform, ref.deform, atol=1e-5, rtol=0)
    else:
        assert fast.deform is None and ref.deform is None


@pytest.mark.parametrize("method", ["liif", "ddir", "ciaosr"])
def test_fast_and_reference_paths_give_the_same_gradients(method):
    torch.manual_seed(1)
    model = make_model(method, encoder_args={"n_resblocks": 1, "n_feats": 32}, hidden_list=[64, 64])
    lr = torch.rand(2, 3, 9, 10)
    coord, cell = _queries(2, (17, 23))
    target = torch.rand(2, coord.shape[1], 3)
    target_deform = torch.rand_like(target) - 0.5 if model.uses_deform_target else None
    grads = []
    for path in ("fast", "reference"):
        model.decode_path = path
        model.zero_grad()
        out = model(lr, coord, cell)
        model.loss(out, target, target_deform).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert torch.allclose(grads[0], grads[1], atol=1e-5, rtol=1e-4)


def _liif_public_query(model, lr, coord, cell):
    """LIIF's query_rgb as published (grid_sample lookups, per-corner MLP, area swap)."""
    feat = model.encoder(model.normalise(lr))
    feat = F.unfold(feat, 3, padding=1).view(feat.shape[0], feat.shape[1] * 9, *feat.shape[-2:])
    rx, ry = 1 / feat.shape[-2], 1 / feat.shape[-1]
    feat_coord = make_coord(feat.shape[-2:], flatten=False).permute(2, 0, 1).unsqueeze(0).expand(feat.shape[0], 2, *feat.shape[-2:])
    preds, areas = [], []
    for vx in (-1, 1):
        for vy in (-1, 1):
            c = coord.clone()
            c[:, :, 0] += vx * rx + 1e-6
            c[:, :, 1] += vy * ry + 1e-6
            c.clamp_(-1 + 1e-6, 1 - 1e-6)
            q_feat = F.grid_sample(feat, c.flip(-1).unsqueeze(1), mode="nearest", align_corners=False)[:, :, 0, :].permute(0, 2, 1)
            q_coord = F.grid_sample(feat_coord, c.flip(-1).unsqueeze(1), mode="nearest", align_corners=False)[:, :, 0, :].permute(0, 2, 1)
            rel = coord - q_coord
            rel[:, :, 0] *= feat.shape[-2]
            rel[:, :, 1] *= feat.shape[-1]
            rel_cell = cell.clone()
            rel_cell[:, :, 0] *= feat.shape[-2]
            rel_cell[:, :, 1] *= feat.shape[-1]
            preds.append(model.imnet(torch.cat([q_feat, rel, rel_cell], dim=-1)))
            areas.append((rel[:, :, 0] * rel[:, :, 1]).abs() + 1e-9)
    tot = torch.stack(areas).sum(0)
    areas[0], areas[3] = areas[3], areas[0]
    areas[1], areas[2] = areas[2], areas[1]
    return sum(p * (a / tot).unsqueeze(-1) for p, a in zip(preds, areas)) * 0.5 + 0.5


def test_liif_equals_the_published_formulation_at_arbitrary_query_points():
    torch.manual_seed(2)
    model = make_model("liif", **SMALL)
    lr = torch.rand(2, 3, 10, 12)
    gen = torch.Generator().manual_seed(3)
    coord = torch.rand(2, 500, 2, generator=gen) * 2 - 1
    cell = torch.full((2, 500, 2), 2 / 27)
    expected = _liif_public_query(model, lr, coord, cell)
    for path in ("reference", "fast"):
        model.decode_path = path
        assert torch.allclose(model(lr, coord, cell).rgb, expected, atol=1e-5)


def test_corner_lookup_picks_the_pixels_grid_sample_nearest_picks():
    h, w = 7, 9
    index_map = torch.arange(h * w, dtype=torch.float32).view(1, 1, h, w)
    coord = torch.rand(1, 2000, 2, generator=torch.Generator().manual_seed(4)) * 2 - 1
    corners = local_corners(coord, (h, w), Box(0, h, 0, w))
    k = 0
    for vy in (-1, 1):
        for vx in (-1, 1):
            c = coord.clone()
            c[..., 0] += vy / h + 1e-6
            c[..., 1] += vx / w + 1e-6
            c.clamp_(-1 + 1e-6, 1 - 1e-6)
            picked = F.grid_sample(index_map, c.flip(-1).unsqueeze(1), mode="nearest", align_corners=False)[0, 0, 0]
            assert torch.equal(corners.idx[0, :, k].float(), picked)
            k += 1
    assert torch.allclose(corners.weight.sum(-1), torch.ones(1, 2000))


def test_bilinear_sampling_of_a_region_matches_grid_sample_with_border_padding():
    img = torch.rand(1, 3, 8, 11)
    coord = torch.rand(1, 700, 2, generator=torch.Generator().manual_seed(5)) * 2.2 - 1.1
    coord = coord.clamp(-1, 1)
    expected = F.grid_sample(img, coord.flip(-1).unsqueeze(1), mode="bilinear", padding_mode="border",
                             align_corners=False)[:, :, 0, :].permute(0, 2, 1)
    assert torch.allclose(sample_bilinear_border(img, coord, (8, 11), Box(0, 8, 0, 11)), expected, atol=1e-6)


def test_make_coord_gives_pixel_centres_in_y_x_order():
    c = make_coord((2, 4))
    assert c.shape == (8, 2)
    assert torch.allclose(c[0], torch.tensor([-0.5, -0.75]))
    assert torch.allclose(c[-1], torch.tensor([0.5, 0.75]))
    assert torch.allclose(gather(torch.arange(6.0).view(1, 1, 2, 3), torch.tensor([[5, 0]])), torch.tensor([[[5.0], [0.0]]]))


# ---------------------------------------------------------------------------------------
# bicubic


@pytest.mark.parametrize("src,dst", [((13, 17), (31, 40)), ((48, 48), (170, 96)), ((30, 20), (11, 9))])
def test_resize_bicubic_matches_pil_bicubic(src, dst):
    rng = np.random.default_rng(6)
    img = rng.random((3, *src)).astype(np.float32)
    pil = np.stack([np.asarray(Image.fromarray(ch, mode="F").resize(dst[::-1], Image.BICUBIC)) for ch in img])
    ours = resize_bicubic(torch.from_numpy(img)[None], dst)[0].numpy()
    assert np.abs(ours - pil).max() < 2e-5


def test_bicubic_method_samples_the_bicubic_image_at_the_queries():
    lr = torch.rand(1, 3, 10, 14)
    coord, cell = _queries(1, (25, 35))
    out = make_model("bicubic")(lr, coord, cell)
    assert torch.allclose(out.rgb[0].t().reshape(3, 25, 35), resize_bicubic(lr, (25, 35))[0])
    assert torch.allclose(upscale(make_model("bicubic"), lr[0], (25, 35)), resize_bicubic(lr, (25, 35))[0].clamp(0, 1))


# ---------------------------------------------------------------------------------------
# receptive field and tiled inference


def test_receptive_radius_is_34_px_for_edsr_baseline_and_131_for_rdn():
    assert receptive_radius_px(make_model("liif", "edsr").encoder) == 34
    assert receptive_radius_px(make_model("liif", "rdn").encoder) == 131


@pytest.mark.parametrize("encoder,args,radius", [("edsr", {"n_resblocks": 2, "n_feats": 8}, 6),
                                                  ("rdn", {"G0": 8, "D": 2, "C": 2, "G": 4}, 7)])
def test_computed_receptive_radius_is_the_reach_of_one_input_pixel(encoder, args, radius):
    torch.manual_seed(7)
    enc = make_model("liif", encoder, encoder_args=args).encoder.double()
    assert receptive_radius_px(enc) == radius
    x = torch.rand(1, 3, 31, 31, dtype=torch.float64)
    y = x.clone()
    y[0, :, 15, 15] += 1.0
    changed = (enc(x) - enc(y)).abs().amax(dim=(0, 1)) > 0
    rows, cols = changed.nonzero(as_tuple=True)
    assert int((rows - 15).abs().max()) == radius and int((cols - 15).abs().max()) == radius


@pytest.mark.parametrize("method", LEARNED)
@pytest.mark.parametrize("scale", [1.7, 3.3])
def test_tiled_inference_equals_untiled(method, scale):
    torch.manual_seed(8)
    # CiaoSR's own test tiles (small here, so that the image holds several) are fixed by the
    # image; memory never splits them further, as its non-local attention spans a whole tile
    extra = {"test_tile_px": 8, "test_overlap_px": 3} if method == "ciaosr" else {}
    model = make_model(method, **SMALL, **extra)
    lr = torch.rand(3, 19, 23)
    size = (round(19 * scale), round(23 * scale))
    whole = upscale(model, lr, size)
    tiled = upscale(model, lr, size, tile_px=6)
    assert len(plan_tiles(model, (19, 23), 1 << 30, 6)) == (1 if method == "ciaosr" else 16)
    assert torch.allclose(whole, tiled, atol=1e-4, rtol=0)


def test_rdn_tiles_use_its_wider_halo():
    torch.manual_seed(9)
    model = make_model("liif", "rdn", **SMALL_RDN)
    assert model.halo_px > receptive_radius_px(model.encoder)
    lr = torch.rand(3, 17, 15)
    assert torch.allclose(upscale(model, lr, (29, 25)), upscale(model, lr, (29, 25), tile_px=5), atol=1e-4)


def test_a_small_memory_budget_tiles_and_chunks_without_changing_the_result():
    torch.manual_seed(10)
    model = make_model("ddir", **SMALL)
    lr = torch.rand(3, 40, 36)
    budget = 40 * 36 * model.bytes_per_lr_px() // 3
    assert len(plan_tiles(model, (40, 36), budget)) > 1
    calls = []
    out = upscale(model, lr, (66, 59), max_memory_bytes=budget, progress=lambda d, t: calls.append((d, t)))
    assert torch.allclose(out, upscale(model, lr, (66, 59)), atol=1e-4)
    assert calls[-1] == (66 * 59, 66 * 59) and len(calls) > 1
    assert out.min() >= 0 and out.max() <= 1


def test_ddir_appearance_embedding_comes_from_the_whole_image():
    torch.manual_seed(11)
    model = make_model("ddir", **SMALL)
    lr = torch.rand(1, 3, 20, 20)
    lr_n = model.normalise(lr)
    boxes = plan_tiles(model, (20, 20), 1 << 30, 6)
    ctx = model.global_context(lr_n, boxes)
    assert torch.allclose(ctx["appearance"], model.encoder(lr_n).mean(dim=(2, 3)), atol=1e-6)


def test_parse_bytes_reads_memory_sizes():
    assert parse_bytes("4GB") == 4 * 1024 ** 3
    assert parse_bytes("512MB") == 512 * 1024 ** 2
    with pytest.raises(DdirKitError):
        parse_bytes("lots")


# ---------------------------------------------------------------------------------------
# loss


def test_ddir_loss_is_l1_rgb_plus_l1_deformation_in_normalised_units():
    model = make_model("ddir", **SMALL)
    lr = torch.rand(1, 3, 6, 6)
    coord, cell = _queries(1, (12, 12))
    out = model(lr, coord, cell)
    t_rgb, t_def = torch.rand_like(out.rgb), torch.rand_like(out.rgb) - 0.5
    expected = (2 * (out.rgb - t_rgb)).abs().mean() + (2 * (out.deform - t_def)).abs().mean()
    assert torch.allclose(model.loss(out, t_rgb, t_def), expected)
    with pytest.raises(ValueError):
        model.loss(out, t_rgb)
    ciao = make_model("ciaosr", **SMALL)
    out = ciao(lr, coord, cell)
    assert torch.allclose(ciao.loss(out, t_rgb), (out.rgb - t_rgb).abs().mean())


# ---------------------------------------------------------------------------------------
# GPU (runs where CUDA is present)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("method", ["liif", "lte", "ciaosr", "ddir"])
def test_on_cuda_paths_agree_and_tiles_match_the_cpu_result(method):
    # TF32 would round the convolutions of the fast path to 10-bit mantissas
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        torch.manual_seed(14)
        extra = {"test_tile_px": 8, "test_overlap_px": 3} if method == "ciaosr" else {}
        model = make_model(method, **SMALL, **extra)
        lr = torch.rand(3, 19, 23)
        cpu = upscale(model, lr, (62, 76))
        model.to("cuda")
        on_gpu = upscale(model, lr.to("cuda"), (62, 76), tile_px=6)
        assert on_gpu.device.type == "cuda"
        assert torch.allclose(on_gpu.cpu(), cpu, atol=1e-4)
        coord, cell = _queries(2, (24, 31))
        lr2 = torch.rand(2, 3, 11, 13, device="cuda")
        fast = model(lr2, coord.to("cuda"), cell.to("cuda")).rgb
        model.decode_path = "reference"
        assert torch.allclose(model(lr2, coord.to("cuda"), cell.to("cuda")).rgb, fast, atol=1e-5)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
