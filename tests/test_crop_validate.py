"""`ddir-kit crop` and `ddir-kit validate`: a round trip, the split by scene, patch grids that
keep LR offsets integer, and validate catching what a broken dataset looks like."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from ddir_kit.cli import cli
from ddir_kit.dataset.layout import list_pairs, split_scales
from ddir_kit.dataset.validate import validate_dataset
from ddir_kit.dataset.crop import CropSettings, crop_dataset, split_scenes

SCENES = ["scene_a", "scene_b", "scene_c", "scene_d", "scene_e"]
SCALES = [Fraction(2), Fraction(5, 2)]


def _write_pair(d: Path, hr: np.ndarray, scale: Fraction, status="ok"):
    d.mkdir(parents=True)
    h, w = hr.shape[:2]
    p = scale.numerator
    hr = hr[: (h // p) * p, : (w // p) * p]
    lr = cv2.resize(hr, (int(hr.shape[1] / scale), int(hr.shape[0] / scale)), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(d / "hr.png"), hr)
    cv2.imwrite(str(d / "lr.png"), lr)
    (d / "pair.json").write_text(json.dumps({"scale": float(scale), "scale_fraction": str(scale), "status": status,
                                             "reason": "" if status == "ok" else "planted"}))


@pytest.fixture()
def aligned(city100_dir, tmp_path):
    """An aligned/ folder: five scenes at x2 and x2.5 (16-bit for one), plus a rejected pair."""
    root = tmp_path / "aligned"
    for k, scene in enumerate(SCENES):
        # frame rows 100:400, cols 200:600 (for 004, whose crop starts at frame 230, 90: rows 90:390, cols 230:630)
        img = cv2.imread(str(city100_dir / f"nikon_{k + 1:03d}H.png"), cv2.IMREAD_UNCHANGED)[0:300, 0:400]
        if scene == "scene_a":
            img = img.astype(np.uint16) * 257
        for s in SCALES:
            _write_pair(root / scene / f"x{str(float(s)).replace('.0', '').replace('.', 'dot')}", img, s)
    img = cv2.imread(str(city100_dir / "nikon_012H.png"))[0:300, 0:400]  # frame rows 100:400, cols 200:600
    _write_pair(root / "scene_f" / "x2", img, Fraction(2), status="rejected")
    return root


def test_crop_then_validate_round_trip_split_by_scene(aligned, tmp_path):
    out = tmp_path / "ds"
    runner = CliRunner()
    r = runner.invoke(cli, ["crop", str(aligned), "--out", str(out), "--split", "test=0.4", "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert "scene_f/x2" in r.output  # the rejected pair is reported as skipped, not cropped
    man = json.loads((out / "manifest.json").read_text())
    train, test = set(man["splits"]["Train"]), set(man["splits"]["Test"])
    assert len(test) == 2 and len(train) == 3 and not train & test and "scene_f" not in train | test
    for split in ("Train", "Test"):
        assert split_scales(out, split) == SCALES
        for s in SCALES:
            for pair in list_pairs(out, split, s):
                assert pair.hr.name == pair.lr.name and pair.hr.stem in (train if split == "Train" else test)
                hr = cv2.imread(str(pair.hr), cv2.IMREAD_UNCHANGED)
                lr = cv2.imread(str(pair.lr), cv2.IMREAD_UNCHANGED)
                assert Fraction(hr.shape[1]) == s * lr.shape[1] and Fraction(hr.shape[0]) == s * lr.shape[0]
                src = cv2.imread(str(aligned / pair.hr.stem / f"x{pair.hr.parent.name[2:]}" / "hr.png"),
                                 cv2.IMREAD_UNCHANGED)
                assert np.array_equal(hr, src)  # copied, not resampled; 16 bits kept
    r = runner.invoke(cli, ["validate", str(out)])
    assert r.exit_code == 0, r.output
    assert "0 errors" in r.output


def test_same_seed_same_split_and_every_scene_on_one_side():
    a = split_scenes(SCENES * 2, 0.2, seed=0)
    assert a == split_scenes(list(reversed(SCENES)), 0.2, seed=0)
    assert set(a[0]).isdisjoint(a[1]) and sorted(a[0] + a[1]) == SCENES
    assert len(a[1]) == 1


def test_patches_are_exactly_s_and_lr_offsets_are_integers(aligned, tmp_path):
    out = tmp_path / "ds"
    crop_dataset(aligned, out, CropSettings(0.2, 0, patch_hr=96, step_hr=70))
    man = json.loads((out / "manifest.json").read_text())
    for f in man["files"]:
        s = Fraction(f["scale_fraction"])
        x, y, w, h = f["hr_box_in_pair"]
        assert w == h == (96 // s.numerator) * s.numerator  # 96 at x2, 95 at x2.5
        assert x % s.numerator == 0 and y % s.numerator == 0  # so x / s and y / s are integers
        assert Fraction(w) / s == f["lr_size"][0]
        lr = cv2.imread(str(out / f["lr"]), cv2.IMREAD_UNCHANGED)
        pair_lr = cv2.imread(str(aligned / f["source"] / "lr.png"), cv2.IMREAD_UNCHANGED)
        lx, ly = int(x / s), int(y / s)
        assert np.array_equal(lr, pair_lr[ly:ly + lr.shape[0], lx:lx + lr.shape[1]])
    assert validate_dataset(out).ok


def test_crop_refuses_a_folder_made_with_other_settings(aligned, tmp_path):
    out = tmp_path / "ds"
    crop_dataset(aligned, out, CropSettings(0.2, 0))
    crop_dataset(aligned, out, CropSettings(0.2, 0))  # same settings: a rerun is fine
    r = CliRunner().invoke(cli, ["crop", str(aligned), "--out", str(out), "--seed", "1"])
    assert r.exit_code == 1 and "other settings" in r.output


@pytest.fixture()
def dataset(aligned, tmp_path):
    out = tmp_path / "ds"
    crop_dataset(aligned, out, CropSettings(0.4, 0))
    assert validate_dataset(out).ok
    return out


def _errors(out: Path) -> list:
    r = CliRunner().invoke(cli, ["validate", str(out)])
    assert r.exit_code == 1, r.output
    return validate_dataset(out).errors


def test_validate_catches_a_planted_size_mismatch(dataset):
    lr = sorted((dataset / "Train" / "LR2dot5").iterdir())[0]
    img = cv2.imread(str(lr), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(lr), img[:-1])
    errors = _errors(dataset)
    assert any(e.kind == "size" and "HR2dot5" in e.path for e in errors)


def test_validate_catches_a_missing_lr_file(dataset):
    lr = sorted((dataset / "Test" / "LR2").iterdir())[0]
    lr.unlink()
    errors = _errors(dataset)
    assert any(e.kind == "missing" and lr.stem in e.path for e in errors)


def test_validate_catches_a_scene_in_both_splits_with_and_without_manifest(dataset):
    man = json.loads((dataset / "manifest.json").read_text())
    scene = man["splits"]["Train"][0]
    for side in ("HR", "LR"):
        shutil.copy(dataset / "Train" / f"{side}2" / f"{scene}.png", dataset / "Test" / f"{side}2" / f"zz_{scene}.png")
    man["files"].append({**next(f for f in man["files"] if f["scene"] == scene and f["tag"] == "2"),
                         "split": "Test", "hr": f"Test/HR2/zz_{scene}.png", "lr": f"Test/LR2/zz_{scene}.png"})
    (dataset / "manifest.json").write_text(json.dumps(man))
    errors = _errors(dataset)
    assert any(e.kind == "leak" and scene in e.message and "both" in e.message for e in errors)
    (dataset / "manifest.json").unlink()  # a downloaded copy: caught by identical images
    errors = _errors(dataset)
    assert any(e.kind == "leak" and "Train and Test" in e.message for e in errors)


def test_validate_catches_an_unreadable_file_and_a_duplicate(dataset):
    hr_dir = dataset / "Train" / "HR2"
    files = sorted(hr_dir.iterdir())
    files[0].write_bytes(b"\x89PNG truncated")
    shutil.copy(files[1], hr_dir / "zz_copy.png")
    shutil.copy(dataset / "Train" / "LR2" / files[1].name, dataset / "Train" / "LR2" / "zz_copy.png")
    kinds = {e.kind for e in _errors(dataset)}
    assert {"unreadable", "duplicate"} <= kinds


def test_train_scales_keep_the_other_scales_unseen(aligned, tmp_path):
    out = tmp_path / "ds"
    r = CliRunner().invoke(cli, ["crop", str(aligned), "--out", str(out), "--split", "test=0.4",
                                 "--train-scales", "2"])
    assert r.exit_code == 0, r.output
    assert "is not a training scale" in r.output
    assert split_scales(out, "Train") == [Fraction(2)]
    assert split_scales(out, "Test") == SCALES
    assert validate_dataset(out).ok
    # a rerun with the same settings is accepted (the settings survive their JSON round trip)
    again = CliRunner().invoke(cli, ["crop", str(aligned), "--out", str(out), "--split", "test=0.4",
                                     "--train-scales", "2"])
    assert again.exit_code == 0, again.output
