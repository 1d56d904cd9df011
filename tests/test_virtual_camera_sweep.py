"""`ddir-kit capture simulate calibration`: a checkerboard sweep whose truth.json matches its photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from ddir_kit.photo.exif import read_exif
from ddir_kit.virtual_camera.lens_model import true_focal_for_scale, true_scale
from ddir_kit.photo.photo_io import read_photo
from ddir_kit.cli import cli
from ddir_kit.virtual_camera.truth import read_sweep_truth


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "cal"
    result = CliRunner().invoke(cli, ["capture", "simulate", "calibration", str(out),
                                      "--focals", "105,70,45,24", "--seed", "7"])
    assert result.exit_code == 0, result.output
    return out, read_sweep_truth(out)


def _detect_corners(path, truth_corners):
    gray = (read_photo(path).rgb.mean(axis=2) * 255).round().astype(np.uint8)
    found, corners = cv2.findChessboardCornersSB(gray, (9, 6), flags=cv2.CALIB_CB_ACCURACY)
    assert found, f"board not found in {path.name}"
    corners = corners.reshape(-1, 2).astype(np.float64)
    # OpenCV may start from the opposite corner of the board
    if np.linalg.norm(corners[0] - truth_corners[0]) > np.linalg.norm(corners[-1] - truth_corners[0]):
        corners = corners[::-1]
    return gray, corners


def test_sweep_writes_one_photo_per_focal_with_exif_and_truth(sweep):
    out, truth = sweep
    assert [s.focal_mm for s in truth.shots] == [105, 70, 45, 24]
    assert truth.reference_focal_mm == 105
    for shot in truth.shots:
        exif = read_exif(out / shot.file, require=("focal_mm", "capture_time", "exposure_s"))
        assert exif.focal_mm == pytest.approx(shot.focal_mm)
        assert len(shot.corners_px) == 54
    times = [read_exif(out / s.file).capture_time for s in truth.shots]
    assert times == sorted(times)


def test_truth_gives_the_true_focal_for_every_scale(sweep):
    _, truth = sweep
    lens = truth.lens
    table = {row.scale: row.focal_mm for row in truth.scale_to_focal}
    assert sorted(table) == [round(1.5 + 0.1 * i, 1) for i in range(26)]
    for scale, focal in table.items():
        assert true_scale(lens, focal, 105) == pytest.approx(scale, rel=1e-6)
        assert focal == pytest.approx(true_focal_for_scale(lens, scale, 105), abs=1e-3)


def test_board_is_inside_every_frame_and_smaller_in_wider_shots(sweep):
    _, truth = sweep
    spans = []
    for shot in truth.shots:
        c = np.array(shot.corners_px)
        assert c.min() > 0 and c[:, 0].max() < 1199 and c[:, 1].max() < 799
        spans.append(c[:, 0].max() - c[:, 0].min())
    assert spans == sorted(spans, reverse=True)
    assert spans[0] > 0.4 * 1200 and spans[-1] > 100


def test_detected_corners_lie_within_a_tenth_of_a_pixel_of_truth(sweep):
    out, truth = sweep
    for shot in truth.shots:
        expected = np.array(shot.corners_px)
        gray, corners = _detect_corners(out / shot.file, expected)
        err = np.linalg.norm(corners - expected, axis=1)
        assert err.max() < 0.1, (shot.file, err.max())
        # cornerSubPix after SB: biased by its own gradient model on slightly rotated
        # boards (about 0.05 px on an analytic image too), still well under a pixel
        refined = cv2.cornerSubPix(gray, corners.astype(np.float32).reshape(-1, 1, 2), (5, 5), (-1, -1),
                                   (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-4)).reshape(-1, 2)
        assert np.linalg.norm(refined - expected, axis=1).mean() < 0.1


def test_scale_measured_between_two_shots_matches_truth_to_a_tenth_of_a_percent(sweep):
    out, truth = sweep
    ref, wide = truth.shots[0], truth.shots[2]  # 105 mm and 45 mm
    _, c_ref = _detect_corners(out / ref.file, np.array(ref.corners_px))
    _, c_wide = _detect_corners(out / wide.file, np.array(wide.corners_px))
    m, _ = cv2.estimateAffinePartial2D(c_wide, c_ref, method=cv2.LMEDS)
    measured = float(np.hypot(m[0, 0], m[1, 0]))
    assert measured == pytest.approx(wide.scale_to_reference, rel=1e-3)
    # and it differs from the naive EXIF ratio by more than the tolerance
    assert abs(measured / (105 / 45) - 1) > 3e-3


def test_same_seed_twice_gives_identical_files(tmp_path):
    runner = CliRunner()
    for name in ("a", "b"):
        result = runner.invoke(cli, ["capture", "simulate", "calibration", str(tmp_path / name),
                                     "--focals", "105,35", "--seed", "11", "--format", "png"])
        assert result.exit_code == 0, result.output
    for f in sorted((tmp_path / "a").iterdir()):
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes(), f.name


def test_rerun_skips_finished_photos_and_other_parameters_are_refused(tmp_path):
    runner = CliRunner()
    args = ["capture", "simulate", "calibration", str(tmp_path / "c"), "--focals", "105,50"]
    assert runner.invoke(cli, args).exit_code == 0
    again = runner.invoke(cli, args)
    assert again.exit_code == 0 and again.output.count("skipped (already done)") == 2
    other = runner.invoke(cli, args + ["--seed", "5"])
    assert other.exit_code == 1 and "different simulation" in other.output


def test_dng_sweep_decodes_with_rawpy_and_keeps_the_focal_length(tmp_path):
    out = tmp_path / "dng"
    result = CliRunner().invoke(cli, ["capture", "simulate", "calibration", str(out), "--focals", "105,60",
                                      "--format", "dng", "--bayer"])
    assert result.exit_code == 0, result.output
    truth = read_sweep_truth(out)
    shot = truth.shots[1]
    photo = read_photo(out / shot.file)
    assert photo.bit_depth == 16 and photo.size == (1200, 800)
    assert read_exif(out / shot.file).focal_mm == pytest.approx(60)
    gray = (photo.rgb.mean(axis=2) * 255).round().astype(np.uint8)
    found, corners = cv2.findChessboardCornersSB(gray, (9, 6), flags=cv2.CALIB_CB_ACCURACY)
    assert found
    expected = np.array(shot.corners_px)
    corners = corners.reshape(-1, 2)
    if np.linalg.norm(corners[0] - expected[0]) > np.linalg.norm(corners[-1] - expected[0]):
        corners = corners[::-1]
    assert np.linalg.norm(corners - expected, axis=1).max() < 0.2


def test_bad_focal_list_is_one_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["capture", "simulate", "calibration", str(tmp_path / "x"), "--focals", "24,300"])
    assert result.exit_code == 1 and "outside the lens's range" in result.output
    result = CliRunner().invoke(cli, ["capture", "simulate", "calibration", str(tmp_path / "y"), "--focals", "a,b"])
    assert result.exit_code == 1 and "focal lengths must be numbers" in result.output
