"""The methods compute what their official code computes (docs/methods.md): each case below is
derived by hand from the official formulas, so these tests need no official code.

- DDIR regresses its deformation target normalised as the official config's data_norm for
  diff_rgb does, (diff - 0.5) / 0.5, and the SR branch consumes that normalised value;
- CiaoSR divides its cross-scale attention by 6 after the strided `down` convolution, finds its
  corners with its own cell-dependent offset, reads its query latent where grid_sample's
  round-half-to-even rule does, loads mmcv checkpoints, and is tested in the official 192 px
  tiles with 32 px overlaps, averaged;
- LIIF-family checkpoints written exactly as the official training scripts write them load.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import pytest

from ddir_kit.models import load_checkpoint, make_model, upscale
from ddir_kit.models.ciaosr_arch import CrossScaleAttention, tile_offsets
from ddir_kit.models.coords import Box, ciaosr_shift, local_corners, make_cell, make_coord, nearest_index

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = {"encoder_args": {"n_resblocks": 2, "n_feats": 16}, "hidden_list": [32, 32]}


def _queries(hr_hw):
    coord = make_coord(hr_hw)[None]
    return coord, make_cell(hr_hw, coord.shape[1])[None]


# -- DDIR ----------------------------------------------------------------------------------

def test_ddir_deformation_loss_is_l1_against_twice_the_difference_minus_one():
    torch.manual_seed(0)
    model = make_model("ddir", **SMALL)
    lr = torch.rand(1, 3, 8, 8)
    coord, cell = _queries((20, 20))
    state = model.encode_region(model.normalise(lr))
    rgb_n, deform_n = model.query(state, coord, cell)
    out = model(lr, coord, cell)
    # the output is the branch's raw value mapped back: raw * 0.5 + 0.5 (a difference of images)
    assert torch.allclose(out.deform, deform_n * 0.5 + 0.5, atol=1e-7)
    gt, diff = torch.rand_like(out.rgb), torch.rand_like(out.rgb) * 0.2 - 0.1
    official = (rgb_n - (gt - 0.5) / 0.5).abs().mean() + (deform_n - (diff - 0.5) / 0.5).abs().mean()
    assert torch.allclose(model.loss(out, gt, diff), official, atol=1e-6)


def test_ddir_sr_branch_consumes_the_normalised_deformation():
    """With the SR MLP reduced to its deformation inputs, the prediction is a function of the
    raw branch output, not of the denormalised one."""
    torch.manual_seed(1)
    model = make_model("ddir", **SMALL)
    first = model.imnet.first
    with torch.no_grad():
        first.weight.zero_()
        first.bias.zero_()
        first.weight[0, -3] = 1.0  # hidden unit 0 = the deformation's first channel
    lr = torch.rand(1, 3, 6, 6)
    coord, cell = _queries((12, 12))
    state = model.encode_region(model.normalise(lr))
    _rgb_n, deform_n = model.query(state, coord, cell)
    hidden = model.imnet.layers[:2](torch.cat([torch.zeros(1, coord.shape[1], first.in_features - 3),
                                               deform_n], dim=-1))
    assert torch.allclose(hidden[..., 0], deform_n[..., 0].clamp_min(0), atol=1e-6)


# -- CiaoSR --------------------------------------------------------------------------------

def test_cross_scale_attention_divides_by_6_after_its_down_convolution():
    """All weights zero but the down convolution's bias b: the official output is b / 6
    everywhere (the bias is divided too); dividing before the convolution would give b."""
    csa = CrossScaleAttention(8)
    with torch.no_grad():
        for p in csa.parameters():
            p.zero_()
        csa.down.bias.copy_(torch.arange(8.0) + 1)
    out = csa(torch.rand(1, 8, 10, 12))
    expected = ((torch.arange(8.0) + 1) / 6).view(1, 8, 1, 1).expand(1, 8, 10, 12)
    assert torch.allclose(out, expected, atol=1e-6)


def test_cross_scale_attention_in_bands_equals_one_pass():
    torch.manual_seed(2)
    x = torch.rand(2, 8, 13, 10)
    whole = CrossScaleAttention(8, band_bytes=1 << 30)
    bands = CrossScaleAttention(8, band_bytes=1)  # one query row at a time
    bands.load_state_dict(whole.state_dict())
    assert torch.allclose(whole(x), bands(x), atol=1e-6)


def test_ciaosr_corner_offset_is_one_minus_cell_over_h_minus_one():
    """LR 20 px tall at x2.7 (HR 54): the offset is (1 - 2/54) / 19 = 0.050682, more than LIIF's
    1/20 = 0.05. A query on the centre of LR pixel 5 (c = -1 + 11/20) therefore takes pixels 4
    and 6 as its vertical neighbours; LIIF's offset takes 5 and 6."""
    h, w = 20, 24
    cell = torch.tensor([[[2 / 54, 2 / 65]]])
    sy, sx = ciaosr_shift(cell, (h, w))
    assert float(sy) == pytest.approx((1 - 2 / 54) / 19, rel=1e-6)
    assert float(sx) == pytest.approx((1 - 2 / 65) / 23, rel=1e-6)
    coord = torch.tensor([[[-1 + 11 / 20, 0.01]]])
    ciao = local_corners(coord, (h, w), Box.full((h, w)), shift=(sy, sx))
    liif = local_corners(coord, (h, w), Box.full((h, w)))
    assert sorted({int(i) // w for i in ciao.idx[0, 0]}) == [4, 6]
    assert sorted({int(i) // w for i in liif.idx[0, 0]}) == [5, 6]


def test_nearest_lookup_rounds_ties_to_even_like_grid_sample():
    """On a 4-pixel axis the boundaries -0.5, 0 and 0.5 sit between pixels 0|1, 1|2 and 2|3:
    grid_sample's nearest rounds ((c + 1) 4 - 1) / 2 = 0.5, 1.5, 2.5 half to even: 0, 2, 2."""
    c = torch.tensor([-0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75])
    assert nearest_index(c, 4).tolist() == [0, 0, 1, 2, 2, 2, 3]
    # and it agrees with grid_sample itself on an index map, ties and near-ties included
    n = 20
    index_map = torch.arange(n, dtype=torch.float32).view(1, 1, 1, n)
    xs = torch.cat([make_coord((1, 54))[:, 1], make_coord((1, 50))[:, 1], torch.linspace(-0.999, 0.999, 997)])
    grid = torch.stack([xs, torch.zeros_like(xs)], dim=-1).view(1, 1, -1, 2)
    picked = F.grid_sample(index_map, grid, mode="nearest", align_corners=False).view(-1).long()
    assert torch.equal(nearest_index(xs, n), picked)


def test_ciaosr_query_latent_is_the_grid_sample_pick_at_a_tie():
    """HR 54 px over LR 20: HR row 13 has its centre exactly on the boundary between LR rows 4
    and 5 (c = -0.5 in float32); grid_sample reads row 4, the even one."""
    c = make_coord((54, 1))[13 * 1, 0]
    assert float(c) == -0.5
    corners = local_corners(torch.tensor([[[float(c), 0.0]]]), (20, 1), Box.full((20, 1)))
    assert int(corners.nearest) == 4


def test_ciaosr_test_tiles_follow_the_official_clip_test():
    # official: tile = min(192, h, w), stride = tile - 32, starts range(0, h - tile, stride) + [h - tile]
    assert tile_offsets(400, 192, 160) == [0, 160, 208]
    assert tile_offsets(192, 192, 160) == [0]
    model = make_model("ciaosr", **SMALL)
    tiles = model.test_tiles((400, 300), (800, 600))
    assert sorted({t.lr_box.y0 for t in tiles}) == [0, 160, 208]
    assert sorted({t.lr_box.x0 for t in tiles}) == [0, 108]
    assert all(t.lr_box.height_px == 192 and t.exact_hw == (384, 384) for t in tiles)
    assert model.test_tiles((400, 300), (2000, 1500)) is None  # above x4: the whole image at once
    assert model.test_tiles((150, 120), (300, 240)) is not None  # min(192, h, w) = 120: square tiles
    # x2.5: sides and offsets rounded down to even LR pixels, so every tile's output is whole
    half = model.test_tiles((300, 200), (750, 500))
    assert all(t.lr_box.y0 % 2 == 0 and t.lr_box.x0 % 2 == 0 and t.exact_hw is not None for t in half)


def test_ciaosr_tiled_test_averages_independent_tiles():
    """Tiles of 8 LR px with 3 px overlap on a 14 x 11 image at x2: each tile upscaled alone,
    overlapping outputs averaged before the mean is added back; computed here by hand."""
    torch.manual_seed(3)
    model = make_model("ciaosr", **SMALL, test_tile_px=8, test_overlap_px=3).eval()
    lr = torch.rand(3, 14, 11)
    got = upscale(model, lr, (28, 22))
    acc, cnt = torch.zeros(3, 28, 22), torch.zeros(28, 22)
    mean = torch.tensor(model.rgb_mean).view(3, 1, 1)
    for y0 in (0, 5, 6):
        for x0 in (0, 3):
            tile = lr[:, y0:y0 + 8, x0:x0 + 8]
            coord, cell = _queries((16, 16))
            with torch.no_grad():
                pred = model(tile[None], coord, cell).rgb[0].t().reshape(3, 16, 16) - mean
            acc[:, 2 * y0:2 * y0 + 16, 2 * x0:2 * x0 + 16] += pred
            cnt[2 * y0:2 * y0 + 16, 2 * x0:2 * x0 + 16] += 1
    assert torch.allclose(got, (acc / cnt + mean).clamp(0, 1), atol=1e-5)


_EDSR_TO_MMEDIT = (("encoder.head.0.", "conv_first."), ("encoder.body.2.", "conv_after_body."))


def _as_mmcv(model) -> dict:
    """The kit's CiaoSR state under the official mmedit names (small EDSR: 2 blocks)."""
    sd = {}
    for key, value in model.state_dict().items():
        for ours, theirs in _EDSR_TO_MMEDIT:
            key = key.replace(ours, theirs)
        for i in range(2):
            key = key.replace(f"encoder.body.{i}.body.0.", f"body.{i}.conv1.").replace(
                f"encoder.body.{i}.body.2.", f"body.{i}.conv2.")
        sd["generator." + key] = value.clone()
    sd["generator.cs_attn.escape_NaN"] = torch.tensor([1e-4])
    return sd


def test_official_ciaosr_mmcv_checkpoint_loads_and_predicts_the_same(tmp_path):
    torch.manual_seed(4)
    model = make_model("ciaosr", **SMALL)
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    path = tmp_path / "iter_3000.pth"
    torch.save({"meta": {"mmedit Version": "0.x", "iter": 3000, "epoch": 1, "config": "..."},
                "state_dict": _as_mmcv(model), "optimizer": opt.state_dict()}, path)
    loaded, extra = load_checkpoint(path)
    lr = torch.rand(3, 12, 10)
    assert torch.equal(upscale(loaded, lr, (30, 25)), upscale(model, lr, (30, 25)))
    assert extra["iter"] == 3000 and loaded.spec["method"] == "ciaosr"


@pytest.mark.parametrize("method,name", [("liif", "liif"), ("lte", "lte"), ("ddir", "liif-globaldeform")])
def test_checkpoints_written_as_the_official_training_scripts_write_them_load(tmp_path, method, name):
    """train_liif.py / LTE train.py / train_realliif_deform.py save {'model': {name, args, sd},
    'optimizer': {name, args, sd}, 'epoch'}; the official EDSR also holds its unused mean-shift
    layers (sub_mean, add_mean: 24 frozen values), which the kit does not build."""
    torch.manual_seed(5)
    model = make_model(method, **SMALL)
    sd = dict(model.state_dict())
    for prefix in ("encoder.", "deformencoder.") if method == "ddir" else ("encoder.",):
        for shift in ("sub_mean", "add_mean"):
            sd[f"{prefix}{shift}.weight"] = torch.eye(3).view(3, 3, 1, 1)
            sd[f"{prefix}{shift}.bias"] = torch.zeros(3)
    opt = torch.optim.Adam(model.parameters(), 2e-4)
    path = tmp_path / "epoch-last.pth"
    torch.save({"model": {"name": name, "args": {}, "sd": sd},
                "optimizer": {"name": "adam", "args": {"lr": 2e-4}, "sd": opt.state_dict()}, "epoch": 1000}, path)
    loaded, extra = load_checkpoint(path)
    lr = torch.rand(3, 9, 11)
    assert torch.equal(upscale(loaded, lr, (25, 30)), upscale(model, lr, (25, 30)))
    assert extra == {"epoch": 1000}
