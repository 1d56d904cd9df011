"""The virtual zoom lens and the pixel geometry of a shot."""

from __future__ import annotations

import numpy as np
import pytest

from ddir_kit.capture.lens_model import ZoomLens, true_focal_for_scale, true_scale
from ddir_kit.capture.shot_geometry import ShotGeometry, TripodPose, map_pixels
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
