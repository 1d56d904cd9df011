"""The virtual zoom lens and the pixel geometry of a shot."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ddir_kit.virtual_camera.lens_model import ZoomLens, true_focal_for_scale, true_scale
from ddir_kit.virtual_camera.shot_geometry import ShotGeometry, TripodPose, map_pixels
from ddir_kit.errors import DdirKitError


def test_effective_focal_is_monotone_and_departs_1_to_2_percent_mid_range():
    lens = ZoomLens()
    f = np.linspace(lens.min_focal_mm, lens.max_focal_mm, 500)
    eff = lens.effective_focal_mm(f)
    assert np.all(np.diff(eff) > 0)
    departure = eff / f - 1
    assert abs(departure[0]) < 1e-9 and abs(departure[-1]) < 1e-9
    mid = departure[(f > 40) & (f < 80)]
    assert 0.01 <= mid.max() <= 0.02
    # so the scale between two shots is not the ratio of EXIF focal lengths
    assert abs(true_scale(lens, 50) / (105 / 50) - 1) > 0.005


def test_true_focal_for_scale_inverts_true_scale():
    lens = ZoomLens()
    for s in (1.5, 2.0, 2.3, 3.7, 4.0):
        f = true_focal_for_scale(lens, s)
        assert lens.min_focal_mm < f < lens.max_focal_mm
        assert true_scale(lens, f) == pytest.approx(s, rel=1e-10)
    with pytest.raises(DdirKitError, match="out of reach"):
        true_focal_for_scale(lens, 5.0)


def test_distortion_is_barrel_at_the_wide_end_and_changes_with_focal():
    lens = ZoomLens()
    k1_wide, _ = lens.distortion(24)
    k1_long, _ = lens.distortion(105)
    assert k1_wide < 0 < k1_long
    assert lens.distortion(50) != lens.distortion(70)


def test_psf_widens_with_field_and_differs_per_focal():
    lens = ZoomLens()
    for f in (24, 50, 105):
        assert lens.psf_sigma_px(f, 1.0) > 1.3 * lens.psf_sigma_px(f, 0.0)
    assert lens.psf_sigma_px(24, 0.0) != pytest.approx(lens.psf_sigma_px(50, 0.0), rel=0.02)
    assert lens.vignetting(24, 1.0) < lens.vignetting(105, 1.0) < 1.0 == lens.vignetting(50, 0.0)


def test_optical_axis_wanders_a_few_pixels_over_the_zoom():
    lens = ZoomLens()
    offsets = np.array([lens.axis_offset_px(f, 1200) for f in np.linspace(24, 105, 30)])
    spread = offsets.max(0) - offsets.min(0)
    assert 1.0 < spread.max() < 8.0


def test_pixel_plane_round_trip_is_exact_with_distortion_and_pose():
    geom = ShotGeometry.from_lens(ZoomLens(), 24, 1200, 800, pose=TripodPose(0.4, 0.05, -0.03))
    u, v = np.meshgrid(np.linspace(-0.5, 1199.5, 13), np.linspace(-0.5, 799.5, 9))
    x, y = geom.pixel_to_plane(u, v, 3000.0)
    u2, v2 = geom.plane_to_pixel(x, y, 3000.0)
    assert np.abs(u2 - u).max() < 1e-6 and np.abs(v2 - v).max() < 1e-6


def test_map_between_shots_scales_by_the_true_scale_at_the_axis():
    lens = ZoomLens()
    hr = ShotGeometry.from_lens(lens, 105, 1200, 800)
    lr = ShotGeometry.from_lens(lens, 50, 1200, 800)
    # a small step around the LR optical axis grows by the true scale in HR
    u = np.array([lr.cx_px - 0.5, lr.cx_px + 0.5])
    hu, _ = map_pixels(lr, hr, u, np.full(2, lr.cy_px))
    assert hu[1] - hu[0] == pytest.approx(true_scale(lens, 50), rel=1e-5)


def _render(lens, focal_mm, scene, distance_mm, pose=TripodPose()):
    from ddir_kit.virtual_camera.camera import CameraBody, ShotSettings, render_optical_image, shot_geometry

    body = CameraBody()
    settings = ShotSettings(focal_mm, pose)
    geom = shot_geometry(lens, body, settings)
    return render_optical_image(lens, body, settings, scene, distance_mm, geom), geom


def test_rendered_vignetting_follows_the_lens_model():
    from ddir_kit.virtual_camera.scenes import PlanarTexture

    lens = ZoomLens()
    flat = PlanarTexture(np.full((64, 64, 3), 0.5, np.float32), (-1e5, -1e5, 1e5, 1e5), "reflect")
    img, geom = _render(lens, 24, flat, 3000.0)
    centre = img[395:405, 595:605].mean()
    corner = img[:6, :6].mean()
    expected = lens.vignetting(24, geom.field(2.5, 2.5)) / lens.vignetting(24, 0.0)
    assert corner / centre == pytest.approx(expected, rel=0.01)
    assert corner / centre < 0.7


def test_off_axis_distorted_rendering_matches_a_brute_force_supersampled_rendering():
    # 8x8 exact samples per pixel (pixel -> plane through the distortion inverse, checker
    # looked up analytically, area-averaged) against the renderer's prefiltered texture path,
    # far off axis at 24 mm where barrel distortion moves the board by pixels
    import cv2

    from ddir_kit.virtual_camera.scenes import Checkerboard, PlanarTexture

    lens = dataclasses.replace(ZoomLens(), vignetting_wide=0.0, vignetting_long=0.0, psf_field_growth=0.0)
    board, distance, shift = Checkerboard(square_mm=40.0), 1000.0, np.array([-600.0, -350.0])
    geom = ShotGeometry.from_lens(lens, 24, 1200, 800, pose=TripodPose(0.2))
    tex = board.texture(distance / geom.focal_px)
    x0, y0, x1, y1 = tex.extent_mm
    moved = PlanarTexture(tex.image, (x0 + shift[0], y0 + shift[1], x1 + shift[0], y1 + shift[1]), "constant",
                          tex.border_value)
    img, geom = _render(lens, 24, moved, distance, TripodPose(0.2))
    corners = np.stack(geom.plane_to_pixel(*(board.corners_mm() + shift).T, distance), axis=1)
    pinhole = ShotGeometry(**{**geom.to_dict(), "k1": 0.0, "k2": 0.0, "pose": geom.pose})
    moved_by = np.linalg.norm(corners - np.stack(pinhole.plane_to_pixel(*(board.corners_mm() + shift).T, distance),
                                                 axis=1), axis=1)
    assert moved_by.max() > 3.0 and geom.field(*corners.mean(axis=0)) > 0.5

    r0, c0 = 20, 0
    r1, c1 = int(corners[:, 1].max()) + 30, int(corners[:, 0].max()) + 30
    ss = 8
    ys, xs = np.mgrid[r0 * ss:r1 * ss, c0 * ss:c1 * ss].astype(np.float64)
    x, y = geom.pixel_to_plane((xs + 0.5) / ss - 0.5, (ys + 0.5) / ss - 0.5, distance)
    bx, by, sq = x - shift[0], y - shift[1], board.square_mm
    w_mm, h_mm = board.size_mm
    ref = np.where((np.abs(bx) < w_mm / 2) & (np.abs(by) < h_mm / 2), board.white, 0.2)
    black = ((np.abs(bx) < 5 * sq) & (np.abs(by) < 3.5 * sq)
             & ((np.floor(bx / sq + 5) + np.floor(by / sq + 3.5)) % 2 == 0))
    ref = np.where(black, board.black, ref).astype(np.float32)
    ref = cv2.resize(ref, (c1 - c0, r1 - r0), interpolation=cv2.INTER_AREA)
    ref = cv2.GaussianBlur(ref, (0, 0), float(lens.psf_sigma_px(24, 0.0)))
    mine = img[r0:r1, c0:c1].mean(axis=2).astype(np.float32)
    assert np.abs(mine - ref)[5:-5, 5:-5].mean() < 0.003
    window = cv2.createHanningWindow((32, 32), cv2.CV_32F)
    shifts = []
    for ty in range(8, mine.shape[0] - 40, 16):
        for tx in range(8, mine.shape[1] - 40, 16):
            a, b = mine[ty:ty + 32, tx:tx + 32], ref[ty:ty + 32, tx:tx + 32]
            if a.std() > 0.05:
                shifts.append(cv2.phaseCorrelate(b, a, window)[0])
    shifts = np.array(shifts)
    assert len(shifts) > 50
    assert np.abs(shifts.mean(axis=0)).max() < 0.01 and np.median(np.abs(shifts)) < 0.03
