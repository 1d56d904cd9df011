"""Calibration building blocks on synthetic boards with exactly known geometry: detection,
corner order, magnification, the scale(f) model, and the CLI's error paths, plan, check and
pattern. The acceptance figures on the virtual camera are in test_calibrate_on_virtual_sweeps.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.special import erf

from ddir_kit.calibration.board_detection import (BoardSize, detect_board_in_rgb, order_like_reference)
from ddir_kit.calibration.calibrate import calibrate_sweep
from ddir_kit.calibration.calibration_file import read_calibration
from ddir_kit.calibration.magnification import fit_similarity, magnification
from ddir_kit.calibration.scale_model import fit_scale_model
from ddir_kit.photo.exif import PhotoExif
from ddir_kit.photo.photo_io import write_jpeg, write_png
from ddir_kit.cli import cli
from ddir_kit.errors import DdirKitError


# --- a synthetic camera with exact ground truth ---------------------------------------------

def _soft_square_wave(x, sigma):
    # (-1)^floor(x) convolved with a Gaussian of ``sigma`` (board units); exact while sigma << 1
    d = np.abs(x - np.round(x))
    return np.where(np.floor(x) % 2 == 0, 1.0, -1.0) * erf(d / (sigma * np.sqrt(2)))


def _soft_step(x, sigma):
    return 0.5 * (1 + erf(x / (sigma * np.sqrt(2))))


def render_board(board: BoardSize, size_wh, square_px, centre_px, rot_deg=0.0, k1=0.0, blur_px=1.0,
                 noise=0.01, seed=0):
    """A board seen through a similarity and radial distortion (k1 on radius / half-diagonal,
    about the image centre), blurred by a Gaussian PSF analytically (no aliasing), with noise.

    Returns float32 HxWx3 RGB and the true inner corners (rows, cols, 2) in pixels, corner
    (i, j) of the board at index [i, j].
    """
    w, h = size_wh
    c = np.array([(w - 1) / 2, (h - 1) / 2])
    half_diag = 0.5 * np.hypot(w, h)
    th = np.radians(rot_deg)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]) * square_px
    g_centre = np.array([(board.cols - 1) / 2, (board.rows - 1) / 2])

    def distort(u):
        r2 = np.sum(((u - c) / half_diag) ** 2, -1, keepdims=True)
        return c + (u - c) * (1 + k1 * r2)

    jj, ii = np.meshgrid(np.arange(board.cols), np.arange(board.rows))
    corners = distort((np.stack([jj, ii], -1) - g_centre) @ rot.T + np.asarray(centre_px))
    ys, xs = np.mgrid[0:h, 0:w]
    q = np.stack([xs, ys], -1).astype(np.float64)
    u = q.copy()
    for _ in range(6):  # invert the distortion by fixed-point iteration
        r2 = np.sum(((u - c) / half_diag) ** 2, -1, keepdims=True)
        u = c + (q - c) / (1 + k1 * r2)
    g = (u - np.asarray(centre_px)) @ np.linalg.inv(rot).T + g_centre
    s = blur_px / square_px
    checker = _soft_square_wave(g[..., 0], s) * _soft_square_wave(g[..., 1], s)
    inside = (_soft_step(g[..., 0] + 1, s) * _soft_step(board.cols - g[..., 0], s)
              * _soft_step(g[..., 1] + 1, s) * _soft_step(board.rows - g[..., 1], s))
    img = 0.8 + inside * (0.5 + 0.4 * checker - 0.8)
    img = img + np.random.default_rng(seed).normal(0, noise, img.shape)
    img = np.clip(img, 0, 1).astype(np.float32)
    return np.repeat(img[..., None], 3, axis=2), corners


def lens_scale(focal_mm, ref_mm=105.0):
    """A breathing zoom: effective focal f (1 + 1.5 % bump), scale = F(ref) / F(f)."""
    eff = lambda f: f * (1 + 0.015 * np.sin(np.pi * (f - 24) / 81))  # noqa: E731
    return eff(ref_mm) / eff(np.asarray(focal_mm, np.float64))


def write_sweep(folder, focals, size=(640, 427), board=BoardSize(9, 6), exif=True, fmt="jpg", seed=0):
    """Synthetic sweep: the board's square is 0.07 of the width at 105 mm."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w, h = size
    for i, f in enumerate(focals):
        m = 1.0 / lens_scale(f)
        centre = np.array([w / 2 + 7, h / 2 - 5]) * 1.0 + rng.normal(0, 1.0, 2)
        rgb, _ = render_board(board, size, 0.07 * w * m, centre, rot_deg=2.0 + rng.normal(0, 0.2), seed=seed + i)
        path = folder / f"shot_{i:02d}.{fmt}"
        meta = PhotoExif(focal_mm=float(f)) if exif else None
        (write_jpeg(path, rgb, 95, meta) if fmt == "jpg" else write_png(path, rgb, 8, meta))
    return folder


FOCALS = (28, 35, 45, 55, 70, 85, 105)


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    return write_sweep(tmp_path_factory.mktemp("sweep"), FOCALS)


@pytest.fixture(scope="module")
def small_calibration(small_sweep, tmp_path_factory):
    out = tmp_path_factory.mktemp("cal") / "calibration.json"
    res = CliRunner().invoke(cli, ["calibrate", str(small_sweep), "--out", str(out), "--scales", "1.5,2,3"])
    assert res.exit_code == 0, res.output
    return out


# --- detection ------------------------------------------------------------------------------

def test_board_size_parses_and_knows_its_half_turn_symmetry():
    assert BoardSize.parse("9x6") == BoardSize(9, 6)
    assert not BoardSize(9, 6).symmetric_under_half_turn
    assert BoardSize(8, 6).symmetric_under_half_turn
    with pytest.raises(DdirKitError, match="COLSxROWS"):
        BoardSize.parse("9 by 6")


def test_detected_corners_lie_within_0_05_px_of_truth():
    board = BoardSize(9, 6)
    rgb, truth = render_board(board, (900, 600), 38.0, (463.3, 288.9), rot_deg=7.0, blur_px=1.2, noise=0.01)
    det = detect_board_in_rgb(rgb, board)
    corners = order_like_reference(det.corners_px, truth)
    err = np.linalg.norm(corners - truth, axis=-1)
    assert err.max() < 0.05, err.max()
    assert det.image_size_px == (900, 600)


def test_detection_on_a_downscaled_copy_is_refined_at_full_resolution():
    # 2600 px wide: the detector sees a copy of at most 1280 px, so an unrefined corner
    # would be off by up to a whole downscaled pixel (about 2 px here).
    board = BoardSize(9, 6)
    rgb, truth = render_board(board, (2600, 1700), 110.0, (1290.4, 860.2), rot_deg=-4.0, blur_px=2.0, noise=0.01)
    det = detect_board_in_rgb(rgb, board)
    assert det.detect_side_px <= 1280
    err = np.linalg.norm(order_like_reference(det.corners_px, truth) - truth, axis=-1)
    assert err.max() < 0.05, err.max()


def test_board_partly_out_of_frame_is_reported_as_not_found():
    board = BoardSize(9, 6)
    rgb, _ = render_board(board, (640, 427), 50.0, (90.0, 213.0))
    with pytest.raises(DdirKitError, match="not found"):
        detect_board_in_rgb(rgb, board, path="far_left.jpg")


def test_half_turn_symmetric_board_keeps_the_reference_corner_order():
    # An 8x6 board looks the same turned by 180 degrees: the order is taken from the
    # reference shot, whichever order the detector returned.
    board = BoardSize(8, 6)
    ref_rgb, ref_truth = render_board(board, (800, 533), 48.0, (400, 266), rot_deg=1.0)
    shot_rgb, shot_truth = render_board(board, (800, 533), 31.0, (404, 262), rot_deg=1.4, seed=3)
    ref = order_like_reference(detect_board_in_rgb(ref_rgb, board).corners_px, ref_truth)
    shot = detect_board_in_rgb(shot_rgb, board).corners_px
    for detected in (shot, shot[::-1, ::-1]):
        ordered = order_like_reference(detected, ref)
        assert np.linalg.norm(ordered - shot_truth, axis=-1).max() < 0.1


# --- magnification --------------------------------------------------------------------------

def test_similarity_fit_recovers_scale_rotation_and_shift():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 500, (40, 2))
    th = np.radians(0.8)
    rot = 0.63 * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    fit = fit_similarity(src, src @ rot.T + [12.5, -3.0])
    assert fit.scale == pytest.approx(0.63, rel=1e-12)
    assert fit.rotation_deg == pytest.approx(0.8, abs=1e-9)
    assert fit.shift_px == pytest.approx((12.5, -3.0), abs=1e-9)
    assert fit.residual_rms_px < 1e-9


def test_radial_fit_removes_the_distortion_bias_a_similarity_fit_keeps():
    board = BoardSize(9, 6)
    size = (1200, 800)
    ref_rgb, ref_truth = render_board(board, size, 90.0, (600, 400), k1=0.02)
    shot_rgb, _ = render_board(board, size, 30.0, (605, 396), rot_deg=0.3, k1=-0.08, seed=5)
    ref = order_like_reference(detect_board_in_rgb(ref_rgb, board).corners_px, ref_truth)
    shot = order_like_reference(detect_board_in_rgb(shot_rgb, board).corners_px, ref)
    radial = magnification(shot, ref, size, "radial")
    similarity = magnification(shot, ref, size, "similarity")
    assert radial.scale == pytest.approx(3.0, rel=3e-4)
    assert abs(similarity.scale / 3.0 - 1) > 1e-3
    assert radial.residual_px < 0.05


# --- scale model ----------------------------------------------------------------------------

def test_scale_model_inverts_a_breathing_lens_and_refuses_to_extrapolate():
    f = np.linspace(24, 105, 18)
    s = lens_scale(f) * (1 + np.random.default_rng(0).normal(0, 5e-5, f.size))
    model = fit_scale_model(f, s)
    grid = np.linspace(24, 105, 200)
    assert np.all(np.diff(model.scale(grid)) < 0)
    for target in (1.5, 2.0, 3.0, 4.0):
        found = model.focal_for_scale(target)
        assert lens_scale(found) == pytest.approx(target, rel=3e-4)
        assert 0 < model.focal_std_mm(found) < 0.1
    with pytest.raises(DdirKitError, match="outside the measured range"):
        model.focal_for_scale(5.0)
    with pytest.raises(DdirKitError, match="outside the measured range"):
        model.scale(20.0)


def test_scale_model_needs_three_focal_lengths():
    with pytest.raises(DdirKitError, match="at least 3"):
        fit_scale_model([50, 105], [2.1, 1.0])


# --- sweep, files and CLI -------------------------------------------------------------------

def test_sweep_calibration_writes_json_csv_and_plot_with_the_contract_fields(small_calibration):
    d = json.loads(small_calibration.read_text())
    assert d["reference_focal_mm"] == 105
    assert [s["file"] for s in d["shots"]] == [f"shot_{i:02d}.jpg" for i in range(len(FOCALS))]
    for shot in d["shots"]:
        assert shot["status"] == "ok" and shot["scale"] > 0 and shot["fit_residual_px"] < 0.1
        assert shot["scale"] == pytest.approx(lens_scale(shot["focal_mm"]), rel=5e-4)
    assert [t["scale"] for t in d["targets"]] == [1.5, 2.0, 3.0]
    for t in d["targets"]:
        assert lens_scale(t["focal_mm"]) == pytest.approx(t["scale"], rel=1e-3)
        assert t["focal_uncertainty_mm"] > 0
    assert {"coeffs", "focal_range_mm"} <= set(d["model"])
    csv_lines = small_calibration.with_name("calibration_targets.csv").read_text().splitlines()
    assert csv_lines[0].startswith("scale,scale_tag,focal_mm") and len(csv_lines) == 4
    assert small_calibration.with_name("calibration_scale.png").read_bytes()[:4] == b"\x89PNG"
    assert read_calibration(small_calibration).model.focal_for_scale(2.0) == pytest.approx(d["targets"][1]["focal_mm"])


def test_focals_table_replaces_missing_exif(tmp_path):
    sweep = write_sweep(tmp_path / "noexif", (35, 55, 80, 105), exif=False, fmt="png")
    table = tmp_path / "focals.csv"
    table.write_text("file,focal_mm\n" + "".join(f"shot_{i:02d}.png,{f}\n" for i, f in enumerate((35, 55, 80, 105))))
    cal = calibrate_sweep(sweep, "2", focals_csv=table)
    assert [s.status for s in cal.shots] == ["ok"] * 4
    assert lens_scale(cal.targets[0].focal_mm) == pytest.approx(2.0, rel=1e-3)
    with pytest.raises(DdirKitError, match=r"only 0 usable shot\(s\).*4 x no focal length"):
        calibrate_sweep(sweep, "2")


def test_too_few_usable_shots_fail_with_one_line(tmp_path):
    sweep = write_sweep(tmp_path / "two", (50, 105))
    (sweep / "notes.txt").write_text("not a photo")
    res = CliRunner().invoke(cli, ["calibrate", str(sweep), "--out", str(tmp_path / "c.json")])
    assert res.exit_code == 1
    assert "only 2 usable shot(s)" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "c.json").exists()


def test_a_wanted_scale_outside_the_measured_range_fails(small_sweep, tmp_path):
    res = CliRunner().invoke(cli, ["calibrate", str(small_sweep), "--out", str(tmp_path / "c.json"),
                                   "--scales", "2,4.5"])
    assert res.exit_code == 1
    assert "x4.5 lies outside the measured range" in res.output


def test_calibrate_help_lists_the_sweep_check_and_pattern_usages():
    res = CliRunner().invoke(cli, ["calibrate", "--help"])
    assert res.exit_code == 0
    for usage in ("ddir-kit calibrate SHOTS_DIR --out", "ddir-kit calibrate check calibration.json PHOTO_HR PHOTO_LR",
                  "ddir-kit calibrate pattern --out"):
        assert usage in res.output


def test_capture_plan_lists_hr_first_then_lr_in_zoom_out_order(small_calibration, tmp_path):
    out = tmp_path / "plan.csv"
    res = CliRunner().invoke(cli, ["capture", "plan", str(small_calibration), "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = [line.split(",") for line in out.read_text().splitlines()]
    assert rows[0] == ["shot", "role", "scale", "scale_tag", "focal_mm", "focal_uncertainty_mm"]
    assert [r[1] for r in rows[1:]] == ["hr", "lr", "lr", "lr"]
    assert [r[3] for r in rows[1:]] == ["1", "1dot5", "2", "3"]
    focals = [float(r[4]) for r in rows[1:]]
    assert focals[0] == 105 and focals == sorted(focals, reverse=True)
    assert "HR" in res.output and "x1.5" in res.output


def test_calibrate_check_reports_the_scale_achieved_and_the_way_to_turn(small_calibration, small_sweep):
    # shot_03 is at 55 mm (scale ~1.94); wanting x1.5 means zooming in to ~69 mm.
    cal = read_calibration(small_calibration)
    res = CliRunner().invoke(cli, ["calibrate", "check", str(small_calibration), str(small_sweep / "shot_06.jpg"),
                                   str(small_sweep / "shot_03.jpg"), "--scale", "1.5"])
    assert res.exit_code == 0, res.output
    achieved = float(res.output.split("scale achieved x")[1].split()[0])
    assert achieved == pytest.approx(lens_scale(55), rel=5e-4)
    turn = float(res.output.split("zoom in (longer focal length) by ")[1].split()[0])
    assert turn == pytest.approx(cal.targets[0].focal_mm - 55, abs=0.05)


def test_calibrate_pattern_writes_a_pdf_and_a_png_whose_board_is_detectable(tmp_path):
    from ddir_kit.photo.photo_io import read_rgb

    runner = CliRunner()
    res = runner.invoke(cli, ["calibrate", "pattern", "--out", str(tmp_path / "t.pdf"), "--scales", "1.5,2,4",
                              "--sensor", "36x24"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "t.pdf").read_bytes()[:5] == b"%PDF-"
    res = runner.invoke(cli, ["calibrate", "pattern", "--out", str(tmp_path / "t.png"), "--scales", "1.5,2,4",
                              "--page", "A4", "--dpi", "100"])
    assert res.exit_code == 0, res.output
    rgb = read_rgb(tmp_path / "t.png")
    assert abs(rgb.shape[0] - 210 / 25.4 * 100) < 1 and abs(rgb.shape[1] - 297 / 25.4 * 100) < 1
    det = detect_board_in_rgb(rgb, BoardSize(9, 6))
    assert det.square_px > 5
    assert "100 dpi" in res.output


def test_a_rerun_reuses_kept_detections_and_redetects_only_changed_files(small_sweep, tmp_path, monkeypatch):
    import ddir_kit.calibration.calibrate as calibrate_module

    shots = tmp_path / "shots"
    shots.mkdir()
    for p in small_sweep.glob("*.jpg"):
        (shots / p.name).write_bytes(p.read_bytes())
    out = tmp_path / "c.json"
    runner = CliRunner()
    assert runner.invoke(cli, ["calibrate", str(shots), "--out", str(out), "--scales", "2"]).exit_code == 0
    first = json.loads(out.read_text())
    kept = json.loads((tmp_path / "c_detections.json").read_text())
    assert sorted(kept["files"]) == sorted(p.name for p in shots.glob("*.jpg"))

    detected = []
    real_detect = calibrate_module.detect_board_in_rgb
    monkeypatch.setattr(calibrate_module, "detect_board_in_rgb",
                        lambda rgb, board, path: detected.append(path.name) or real_detect(rgb, board, path))
    assert runner.invoke(cli, ["calibrate", str(shots), "--out", str(out), "--scales", "2"]).exit_code == 0
    assert detected == []
    assert json.loads(out.read_text()) == first
    (shots / "shot_02.jpg").write_bytes((small_sweep / "shot_02.jpg").read_bytes() + b"\0")
    assert runner.invoke(cli, ["calibrate", str(shots), "--out", str(out), "--scales", "2"]).exit_code == 0
    assert detected == ["shot_02.jpg"]
