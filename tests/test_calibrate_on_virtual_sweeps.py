"""Acceptance of `ddir-kit calibrate` on the virtual zoom camera, whose truth.json gives the
true focal length for every scale: accuracy against the truth and against the naive answer
f_ref / s, a sweep with broken files, and the RAW (DNG) path. The 30-second timing is in
benchmarks/calibration_speed.py."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from ddir_kit.calibration.board_detection import BoardSize, detect_board_in_rgb
from ddir_kit.calibration.calibrate import calibrate_sweep
from ddir_kit.calibration.calibration_file import read_calibration
from ddir_kit.photo.exif import PhotoExif
from ddir_kit.virtual_camera.lens_model import true_focal_for_scale
from ddir_kit.photo.photo_io import read_rgb, write_jpeg
from ddir_kit.virtual_camera.simulate import simulate_calibration
from ddir_kit.virtual_camera.truth import read_sweep_truth
from ddir_kit.cli import cli

# Every 4-5 mm from 24 to 105 mm: 18 photos.
SWEEP_FOCALS_MM = tuple(int(round(f)) for f in np.linspace(24, 105, 18))
EVERY_SCALE = tuple(round(1.5 + 0.1 * i, 1) for i in range(26))  # x1.5 .. x4.0


@pytest.fixture(scope="module")
def sweep_1200(tmp_path_factory):
    out = tmp_path_factory.mktemp("vcam") / "sweep"
    simulate_calibration(out, SWEEP_FOCALS_MM, seed=4, sensor=(1200, 800))
    return out


def _focal_errors(sweep, scales=EVERY_SCALE):
    truth = read_sweep_truth(sweep)
    lens = truth.lens
    cal = calibrate_sweep(sweep, list(scales))
    true = np.array([true_focal_for_scale(lens, t.scale, truth.reference_focal_mm) for t in cal.targets])
    found = np.array([t.focal_mm for t in cal.targets])
    naive = np.array([t.naive_focal_mm for t in cal.targets])
    return cal, truth, found - true, naive - true


def _check_accuracy(sweep):
    cal, truth, err, naive_err = _focal_errors(sweep)
    assert cal.reference_focal_mm == 105 and len(cal.used) == 18
    assert np.abs(err).max() <= 0.15, np.round(err, 3)
    # The naive answer misses by up to about a millimetre (the lens breathes ~1.5 % mid-range),
    # and is worse than the calibration at every scale.
    assert 0.5 <= np.abs(naive_err).max() <= 1.5, np.round(naive_err, 3)
    assert np.all(np.abs(err) < np.abs(naive_err))
    true_scale = {s.file: s.scale_to_reference for s in truth.shots}
    for shot in cal.used:
        assert shot.scale == pytest.approx(true_scale[shot.file], rel=1e-3)
    return err, naive_err


def test_virtual_sweep_finds_every_scale_within_0_15_mm_while_naive_is_off_by_up_to_1_mm(sweep_1200):
    _check_accuracy(sweep_1200)


@pytest.mark.slow
def test_virtual_sweep_at_2400x1600_finds_every_scale_within_0_15_mm(tmp_path):
    simulate_calibration(tmp_path / "sweep", SWEEP_FOCALS_MM, seed=5, sensor=(2400, 1600))
    _check_accuracy(tmp_path / "sweep")


def test_detected_corners_match_the_virtual_cameras_true_corners(sweep_1200):
    truth = read_sweep_truth(sweep_1200)
    board = BoardSize(truth.board.cols, truth.board.rows)
    for shot in (truth.shots[0], truth.shots[-1]):  # 105 mm and 24 mm
        true = np.array(shot.corners_px).reshape(board.rows, board.cols, 2)
        det = detect_board_in_rgb(read_rgb(sweep_1200 / shot.file), board)
        c = det.corners_px
        err = min(np.abs(o - true).max() for o in (c, c[::-1, ::-1], c[::-1, :], c[:, ::-1]))
        assert err < 0.1, (shot.file, err)


def test_sweep_with_truncated_jpeg_text_file_and_board_out_of_frame_calibrates_and_lists_them(sweep_1200, tmp_path):
    shots = tmp_path / "shots"
    shots.mkdir()
    for p in sweep_1200.glob("*.jpg"):
        shutil.copy(p, shots / p.name)
    data = (sweep_1200 / "board_08_067.00mm.jpg").read_bytes()
    (shots / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (shots / "notes.txt").write_text("tripod at 1.2 m, f/8\n")
    # The 57 mm shot moved sideways by 40 % of the frame: the board leaves the picture.
    rgb = read_rgb(sweep_1200 / "board_10_057.00mm.jpg")
    moved = cv2.warpAffine(rgb, np.float32([[1, 0, 0.4 * rgb.shape[1]], [0, 1, 0]]), rgb.shape[1::-1],
                           borderMode=cv2.BORDER_REPLICATE)
    write_jpeg(shots / "out_of_frame.jpg", moved, 95, PhotoExif(focal_mm=57.0))

    out = tmp_path / "cal" / "calibration.json"
    res = CliRunner().invoke(cli, ["calibrate", str(shots), "--out", str(out)])
    assert res.exit_code == 0, res.output
    cal = read_calibration(out)
    status = {s.file: s.status for s in cal.shots}
    skipped = {f: s for f, s in status.items() if s != "ok"}
    assert set(skipped) == {"truncated.jpg", "notes.txt", "out_of_frame.jpg"}
    assert "truncated JPEG" in skipped["truncated.jpg"]
    assert "not a photo" in skipped["notes.txt"]
    assert "not found" in skipped["out_of_frame.jpg"]
    for name, reason in skipped.items():
        assert f"skipped {name}: {reason}" in res.output
    assert sum(s == "ok" for s in status.values()) == 18
    assert len(cal.targets) == 11


def test_dng_sweep_calibrates_through_rawpy(tmp_path):
    sweep = tmp_path / "dng"
    focals = (35, 50, 70, 105)
    simulate_calibration(sweep, focals, seed=2, fmt="dng", sensor=(1200, 800))
    truth = read_sweep_truth(sweep)
    cal = calibrate_sweep(sweep, [2.0])
    assert [s.focal_mm for s in cal.used] == [105, 70, 50, 35]
    true_scale = {s.file: s.scale_to_reference for s in truth.shots}
    for shot in cal.used:
        assert shot.scale == pytest.approx(true_scale[shot.file], rel=1e-3)
