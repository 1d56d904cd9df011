"""Acceptance on the virtual zoom camera (`ddir-kit capture simulate scenes`): every scale
x1.5 ... x4.0 registered within 0.1 LR px of truth.json at every corner of the LR grid, and
planted faults (an object in one shot only, an over- and an under-exposed shot) rejected with
a reason. The camera's tripod disturbances, photometric changes, vignetting, per-focal PSF and
noise are all on; lens distortion is off, so truth.json's lr_to_hr affine is the truth (its
max_deviation_px says how far the true map is from that affine)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from ddir_kit.cli import cli
from ddir_kit.registration.pair_map import PairMap, corner_error_lr_px
from ddir_kit.virtual_camera.truth import LrShotTruth, read_scene_truth

SCALES = "1.5,2,2.5,3,3.5,4"


def _run(args, exit_code=0):
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == exit_code, r.output
    return r.output


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("vc_clean")
    _run(["capture", "simulate", "scenes", str(root / "captures"), "--scenes", "1", "--scales", SCALES,
          "--no-distortion", "--seed", "0"])
    _run(["register", str(root / "captures"), "--out", str(root / "aligned")])
    return root


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    root = tmp_path_factory.mktemp("vc_faulty")
    _run(["capture", "simulate", "scenes", str(root / "captures"), "--scenes", "1", "--scales", "2,2.5,3",
          "--no-distortion", "--seed", "3", "--moving-object", "2", "--failed-exposure", "2.5:under,3:over"])
    # every pair rejected: nothing useful, so the batch exits non-zero
    out = _run(["register", str(root / "captures"), "--out", str(root / "aligned")], exit_code=1)
    assert "0 ok, 3 rejected" in out
    return root


def test_every_scale_from_x1_5_to_x4_within_0_1_lr_px_of_truth(clean):
    truth = read_scene_truth(clean / "captures/scene_0001")
    assert sorted(lr.scale for lr in truth.lr) == [1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    worst = {}
    for lr in truth.lr:
        tag = lr.file[len("lr_"):-len(".png")]
        rec = json.loads((clean / "aligned/scene_0001" / tag / "pair.json").read_text())
        assert rec["status"] == "ok", (tag, rec["reason"])
        err = corner_error_lr_px(PairMap.from_dict(rec), PairMap(lr.affine), tuple(rec["hr_crop"]),
                                 rec["scale"])
        worst[tag] = float(err.max())
        assert rec["scale_measured"] == pytest.approx(lr.true_scale, rel=2e-3)
    assert max(worst.values()) < 0.1, worst


def test_planted_moving_object_and_failed_exposures_are_rejected_with_a_reason(faulty):
    rows = {row["scale"]: row for row in csv.DictReader(open(faulty / "aligned/report.csv"))}
    planted = {lr.scale: lr.planted for lr in read_scene_truth(faulty / "captures/scene_0001").lr}
    assert planted[2.0].moving_object is not None and planted[2.5].failed_exposure == "under"
    assert rows["2.0"]["status"] == "rejected" and "local misfit" in rows["2.0"]["reason"]
    assert rows["2.5"]["status"] == "rejected" and "underexposed" in rows["2.5"]["reason"]
    assert rows["3.0"]["status"] == "rejected" and "exposed" in rows["3.0"]["reason"]


@pytest.fixture(scope="module")
def distorted(tmp_path_factory):
    root = tmp_path_factory.mktemp("vc_distorted")
    _run(["capture", "simulate", "scenes", str(root / "captures"), "--scenes", "3", "--scales", "2,3",
          "--sensor", "480x320", "--distortion", "--seed", "5"])
    return root


def test_the_radial_term_is_pooled_per_scale_and_a_rerun_skips_every_pair(distorted):
    aligned = distorted / "aligned"
    _run(["register", str(distorted / "captures"), "--out", str(aligned), "--radial"])
    for tag in ("x2", "x3"):
        recs = [json.loads(p.read_text()) for p in sorted(aligned.glob(f"scene_*/{tag}/pair.json"))]
        assert len(recs) == 3 and all(r["status"] == "ok" for r in recs), [r["reason"] for r in recs]
        own = [r["radial_pooled"]["own_fit_k1"] for r in recs]
        assert len(set(own)) == 3  # each scene's own fit differs ...
        for r in recs:  # ... and each pair now uses their median
            assert r["radial_pooled"]["k1"] == pytest.approx(float(np.median(own)), abs=1e-15)
            assert r["radial"]["k1"] == r["radial_pooled"]["k1"] == r["config"]["radial_k1"]
            assert r["radial_pooled"]["pairs"] == 3
    out = _run(["register", str(distorted / "captures"), "--out", str(aligned), "--radial"])
    assert "0 ok, 0 rejected, 0 failed, 6 skipped" in out


def test_pooling_is_off_on_request_and_in_a_sharded_run(distorted, tmp_path):
    _run(["register", str(distorted / "captures"), "--out", str(tmp_path / "a"), "--radial", "--no-pool-radial"])
    _run(["register", str(distorted / "captures"), "--out", str(tmp_path / "b"), "--radial", "--shard", "1/2"])
    recs = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*/scene_*/x*/pair.json"))]
    assert len(recs) == 6 + 2 and not any("radial_pooled" in r for r in recs)
    assert all(r["config"]["radial_k1"] is None and r["radial"]["k1"] != 0 for r in recs)


def _exact_corner_error_lr_px(rec: dict, lr_truth: LrShotTruth, grid: np.ndarray) -> float:
    """Largest distance, LR px, between the pair's map and the camera's exact map (truth.json's
    dense grid, LR px -> HR px) at the four corners of the pair's LR grid."""
    from ddir_kit.virtual_camera.truth_maps import grid_lr_to_hr
    from ddir_kit.registration.pair_map import apply_affine, grid_to_hr_affine

    s = float(rec["scale"])
    wl, hl = rec["lr_size"]
    g = np.array([[0, 0], [wl - 1, 0], [0, hl - 1], [wl - 1, hl - 1]], float)
    hr = apply_affine(grid_to_hr_affine(s, tuple(rec["hr_crop"][:2])), g)
    lr = PairMap.from_dict(rec).hr_to_lr(hr)
    truth_hr = grid_lr_to_hr(grid, lr_truth.grid.step_px, lr)
    return float((np.linalg.norm(truth_hr - hr, axis=1) / s).max())


def test_with_lens_distortion_every_scale_within_0_1_lr_px_of_the_exact_map(tmp_path):
    # Distortion that differs between the focal lengths, plus the tripod's small pan and tilt:
    # the map is a homography with a relative radial term (--perspective --radial), and the
    # truth is the camera's dense map, not an affine.
    _run(["capture", "simulate", "scenes", str(tmp_path / "captures"), "--scenes", "1", "--scales", SCALES,
          "--distortion", "--seed", "0"])
    _run(["register", str(tmp_path / "captures"), "--out", str(tmp_path / "aligned"), "--radial", "--perspective"])
    scene = tmp_path / "captures/scene_0001"
    worst = {}
    for lr in read_scene_truth(scene).lr:
        tag = lr.file[len("lr_"):-len(".png")]
        rec = json.loads((tmp_path / "aligned/scene_0001" / tag / "pair.json").read_text())
        assert rec["status"] == "ok", (tag, rec["reason"])
        assert lr.max_deviation_px / lr.scale > 0.1  # an affine alone would miss by more than the goal
        worst[tag] = _exact_corner_error_lr_px(rec, lr, lr.grid.load(scene))
        assert rec["template_blur"]["estimated"] and 0.1 < rec["template_blur"]["sigma_lr_px"] < 1.5
    assert max(worst.values()) < 0.1, worst
