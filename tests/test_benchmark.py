"""Benchmark harness: dataset layouts and validation, the paper's sampler, profiles, and the
bench/test commands' tables on real (City100) and synthetic multi-scale data."""

from __future__ import annotations

import csv
from fractions import Fraction

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ddir_kit.benchmark.datasets import load_pair, open_dataset
from ddir_kit.benchmark.profiles import PROFILES, load_profile, parse_set
from ddir_kit.benchmark.sampler import BatchStream, SamplerConfig, TrainPatches, patch_side_px
from ddir_kit.cli import cli
from ddir_kit.dataset.city100 import build_city100
from ddir_kit.errors import DdirKitError
from ddir_kit.scales import scale_tag

ELEVEN = ["1.5", "1.7", "2", "2.3", "2.5", "2.7", "3", "3.3", "3.5", "3.7", "4"]
SIX = ["1.5", "2", "2.5", "3", "3.5", "4"]


@pytest.fixture(scope="module")
def city_x29(city100_dir, tmp_path_factory):
    return build_city100(city100_dir, tmp_path_factory.mktemp("city") / "c100")


def _write(path, rgb_u8):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb_u8[:, :, ::-1]))


@pytest.fixture(scope="module")
def eleven_scale_dataset(city100_dir, tmp_path_factory):
    """RealArbiSR layout: Train at the paper's six scales, Test at all eleven, from two City100
    HR crops area-downscaled to exact sizes (HR sides = s x LR sides)."""
    root = tmp_path_factory.mktemp("multi") / "ds"
    hrs = [cv2.imread(str(city100_dir / f"nikon_00{i}H.png"))[:, :, ::-1] for i in (1, 2)]
    for split, scales, img in (("Train", SIX, hrs[0]), ("Test", ELEVEN, hrs[1])):
        for s in scales:
            f = Fraction(s)
            lr_w, lr_h = 60, 40  # multiples of every denominator (2, 10)
            hr = cv2.resize(img, (int(lr_w * f), int(lr_h * f)), interpolation=cv2.INTER_AREA)
            lr = cv2.resize(img, (lr_w, lr_h), interpolation=cv2.INTER_AREA)
            _write(root / split / f"HR{scale_tag(f)}" / "img_0.png", hr)
            _write(root / split / f"LR{scale_tag(f)}" / "img_0.png", lr)
    return root


# -- datasets --------------------------------------------------------------------------------

def test_city100_builder_makes_a_x2_9_realarbisr_dataset_with_9_train_and_3_test_pairs(city_x29):
    ds = open_dataset(city_x29)
    assert ds.kind == "realarbisr"
    assert ds.train_scales == [Fraction(29, 10)] and ds.test_scales == [Fraction(29, 10)]
    assert len(ds.train[Fraction(29, 10)]) == 9 and len(ds.test[Fraction(29, 10)]) == 3
    assert ds.unseen_scales == []
    lr, hr = load_pair(ds.test[Fraction(29, 10)][0])
    assert lr.shape == (140, 140, 3) and hr.shape == (406, 406, 3)  # pair 010, cut to 406 x 406 (uncut: 1218 x 870)


def test_dataset_with_a_pair_not_at_its_scale_is_refused_naming_the_file(tmp_path):
    img = np.full((60, 60, 3), 128, np.uint8)
    _write(tmp_path / "Train" / "HR2" / "a.png", img)
    _write(tmp_path / "Train" / "LR2" / "a.png", img[:31, :30])
    with pytest.raises(DdirKitError, match=r"LR2/a.png.*not x2 of LR 30x31"):
        open_dataset(tmp_path)
    res = CliRunner().invoke(cli, ["test", "--checkpoint", str(tmp_path / "none.pt"), "--data", str(tmp_path)])
    assert res.exit_code == 1 and "error:" in res.output and "Traceback" not in res.output


def test_folder_that_is_no_dataset_gets_one_clear_error(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(DdirKitError, match="not a dataset"):
        open_dataset(tmp_path)


def test_realsr_v3_pairs_by_name_and_area_downscales_its_hr_sized_lr(tmp_path):
    rng = np.random.default_rng(1)
    d = tmp_path / "Nikon" / "Test" / "3"
    for n in (1, 2):
        img = rng.integers(0, 255, (61, 47, 3), dtype=np.uint8)
        _write(d / f"Nikon_{n:03d}_HR.png", img)
        _write(d / f"Nikon_{n:03d}_LR3.png", img)
    ds = open_dataset(tmp_path)
    assert ds.kind == "realsr_v3" and ds.test_scales == [3] and len(ds.test[3]) == 2 and ds.notes
    lr, hr = load_pair(ds.test[3][0], ds.lr_stored_at_hr_size)
    assert hr.shape == (60, 45, 3) and lr.shape == (20, 15, 3)
    assert np.allclose(lr, cv2.resize(hr, (15, 20), interpolation=cv2.INTER_AREA), atol=1e-6)
    (d / "Nikon_002_LR3.png").unlink()
    with pytest.raises(DdirKitError, match="no LR partner Nikon_002_LR3.png"):
        open_dataset(tmp_path)


def test_plain_paired_folders_need_and_use_the_given_scale(tmp_path):
    _write(tmp_path / "HR" / "x.png", np.zeros((40, 60, 3), np.uint8))
    _write(tmp_path / "LR" / "x.png", np.zeros((20, 30, 3), np.uint8))
    with pytest.raises(DdirKitError, match="need the scale"):
        open_dataset(tmp_path)
    ds = open_dataset(tmp_path, scale="2")
    assert ds.kind == "paired" and ds.test_scales == [2] and not ds.train
    with pytest.raises(DdirKitError, match="not x3"):
        open_dataset(tmp_path, scale="3")


# -- sampler ---------------------------------------------------------------------------------

def _coordinate_images(scale: Fraction, lr_h=80, lr_w=90):
    """LR pixels hold their own (row, col); HR pixels hold theirs: alignment is readable back."""
    hh, hw = int(lr_h * scale), int(lr_w * scale)
    hr = np.zeros((hh, hw, 3), np.uint8)
    hr[..., 0] = np.arange(hh)[:, None]
    hr[..., 1] = np.arange(hw)[None, :]
    lr = np.zeros((lr_h, lr_w, 3), np.uint8)
    lr[..., 0] = np.arange(lr_h)[:, None]
    lr[..., 1] = np.arange(lr_w)[None, :]
    return lr, hr


@pytest.mark.parametrize("scale", [Fraction(3, 2), Fraction(29, 10), Fraction(2)])
def test_sampler_crops_lr_and_hr_at_offsets_that_keep_s_times_offset_integer(scale):
    lr, hr = _coordinate_images(scale)
    patches = TrainPatches({scale: [(lr, hr)]}, SamplerConfig(queries=300, augment=False), seed=3)
    side = patch_side_px(48, [scale])
    assert side % scale.denominator == 0 and side >= 48
    hside = int(side * scale)
    for index in range(6):
        s = patches[(0, index)]
        assert s["lr"].shape == (3, side, side) and s["coord"].shape == (300, 2) and s["rgb"].shape == (300, 3)
        oy, ox = round(float(s["lr"][0, 0, 0]) * 255), round(float(s["lr"][1, 0, 0]) * 255)
        assert oy % scale.denominator == 0 and ox % scale.denominator == 0
        # HR pixel index of each query from its coordinate (pixel centres on [-1, 1])
        ij = torch.round((s["coord"] + 1) * hside / 2 - 0.5).long()
        got = torch.round(s["rgb"][:, :2] * 255).long()
        assert torch.equal(got - ij, torch.tensor([[int(oy * scale), int(ox * scale)]]).expand_as(ij))
        assert len(set(map(tuple, ij.tolist()))) == 300  # without replacement
        assert torch.allclose(s["cell"], torch.full((300, 2), 2 / hside))


def test_sampler_flips_and_transposes_lr_and_hr_together_and_is_deterministic():
    scale = Fraction(2)
    lr, hr = _coordinate_images(scale)
    hr = hr.copy()
    hr[..., :2] //= 2  # HR pixel (2u + a, 2v + b) now holds LR pixel (u, v)'s value
    patches = TrainPatches({scale: [(lr, hr)]}, SamplerConfig(queries=500, augment=True), seed=0)
    kinds = set()
    for index in range(12):
        s = patches[(1, index)]
        lr_p = s["lr"]
        side = lr_p.shape[-1]
        ij = torch.round((s["coord"] + 1) * side * 2 / 2 - 0.5).long() // 2
        assert torch.equal(s["rgb"], lr_p[:, ij[:, 0], ij[:, 1]].t())
        kinds.add((float(lr_p[0, 0, 1] - lr_p[0, 0, 0]), float(lr_p[1, 0, 1] - lr_p[1, 0, 0])))
        again = patches[(1, index)]
        assert all(torch.equal(s[k], again[k]) for k in s)
    assert len(kinds) > 1  # the augmentation really changes the patch orientation


def test_deformation_target_is_hr_minus_pil_bicubic_upscaled_8bit_lr_at_the_queries(city_x29):
    """The official DDIR wrapper: diff = crop_hr - ToTensor(Resize(HR size, BICUBIC)(ToPILImage(crop_lr)))
    on the augmented crops, read at the queried HR pixels. ToPILImage gives back the crop's own
    8-bit values, so the target is Pillow's 8-bit bicubic of the 8-bit LR crop, exactly."""
    from PIL import Image

    from ddir_kit.benchmark.datasets import load_cache
    from ddir_kit.models.coords import make_coord

    cache = load_cache(open_dataset(city_x29), "Train")
    patches = TrainPatches(cache, SamplerConfig(deform_target=True), seed=5)
    s = patches[(0, 7)]
    hside = int(s["lr"].shape[-1] * Fraction(29, 10))
    assert s["lr"].shape[-1] == 50 and hside == 145
    lr_u8 = (s["lr"] * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    up = np.asarray(Image.fromarray(lr_u8).resize((hside, hside), Image.BICUBIC)).astype(np.float32) / 255
    up = torch.from_numpy(up).reshape(-1, 3)
    full = make_coord((hside, hside))
    idx = ((s["coord"][:, None, :] - full[None]).abs().sum(-1)).argmin(1)
    assert torch.equal(s["deform"], s["rgb"] - up[idx])
    assert s["deform"].abs().mean() > 1e-3
    # every target is a difference of two 8-bit images
    assert torch.allclose(s["deform"] * 255, (s["deform"] * 255).round(), atol=1e-4)


def test_batch_stream_ranks_split_each_global_batch_and_resume_mid_epoch():
    one = list(BatchStream(50, 8, seed=1, total_iters=14))
    assert len(one) == 14 and {e for b in one for e, _ in b} == {0, 1, 2}
    r0 = list(BatchStream(50, 8, seed=1, total_iters=14, rank=0, world=2))
    r1 = list(BatchStream(50, 8, seed=1, total_iters=14, rank=1, world=2))
    assert [a + b for a, b in zip(r0, r1)] == one
    assert list(BatchStream(50, 8, seed=1, total_iters=14, start_iter=9)) == one[9:]
    with pytest.raises(DdirKitError, match="not divisible"):
        BatchStream(50, 8, seed=1, total_iters=4, world=3)


# -- profiles --------------------------------------------------------------------------------

def test_paper_profile_is_the_models_md_recipe_and_set_overrides_are_typed():
    p = PROFILES["paper"]
    assert (p.lr_patch_px, p.queries, p.batch, p.epochs, p.repeat) == (48, 2304, 16, 1000, 20)
    assert (p.learning_rate_for("ddir") == 2e-4 and p.learning_rate_for("liif") == 1e-4
            and p.learning_rate_for("lte") == 1e-4)
    assert p.learning_rate_milestones_epochs == (200, 400, 600, 800) and p.learning_rate_gamma == 0.5
    q = load_profile("quick", parse_set(["batch=2", "lr=1e-3", "lr_milestones_epochs=[1, 2]", "augment=false"]))
    assert (q.batch, q.learning_rate, q.learning_rate_milestones_epochs, q.augment) == (2, 1e-3, (1, 2), False)
    with pytest.raises(DdirKitError, match="unknown profile key 'batchsize'"):
        load_profile("quick", {"batchsize": 4})
    with pytest.raises(DdirKitError, match="expected an integer"):
        load_profile("quick", parse_set(["batch=2.5"]))
    assert p.precision == "fp32" and load_profile("quick", {"precision": "bf16"}).precision == "bf16"
    with pytest.raises(DdirKitError, match="precision: expected one of fp32, bf16"):
        load_profile("quick", {"precision": "fp16"})


def test_profile_yaml_file_extends_a_built_in(tmp_path):
    f = tmp_path / "tiny.yaml"
    f.write_text("base: quick\nepochs: 1\nqueries: 64\n")
    p = load_profile(str(f), {"seed": 7})
    assert (p.name, p.epochs, p.queries, p.seed, p.batch) == ("tiny", 1, 64, 7, PROFILES["quick"].batch)


# -- bench tables ----------------------------------------------------------------------------

def test_bench_tables_show_all_eleven_scales_with_the_unseen_ones_apart(eleven_scale_dataset, tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["bench", "--methods", "bicubic", "--data", str(eleven_scale_dataset),
                                   "--out", str(out), "--profile", "quick"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["scale"] for r in rows] == ELEVEN
    assert set(rows[0]) == {"method", "encoder", "scale", "n_images", "psnr_y", "ssim_y"}
    md = (out / "results.md").read_text()
    seen_part, unseen_part = md.split("## PSNR-Y (dB), unseen scales")
    seen_head = [l for l in seen_part.splitlines() if l.startswith("| Method")][0]
    unseen_head = [l for l in unseen_part.splitlines() if l.startswith("| Method")][0]
    assert seen_head == "| Method | " + " | ".join(f"x{s}" for s in SIX) + " |"
    assert unseen_head == "| Method | x1.7 | x2.3 | x2.7 | x3.3 | x3.7 |"
    assert "Protocol: PSNR-Y (DDIR paper)" in md and "Profile: `quick`" in md
    assert "**" in md  # best per column marked
    tex = (out / "results.tex").read_text()
    assert "Unseen" in tex and "\\textbf" in tex
    for f in ("psnr_vs_scale.png", "crops.png"):
        assert cv2.imread(str(out / f)) is not None
    again = CliRunner().invoke(cli, ["bench", "--methods", "bicubic", "--data", str(eleven_scale_dataset),
                                     "--out", str(out), "--profile", "quick"])
    assert again.exit_code == 0 and "skipped test Bicubic" in again.output
