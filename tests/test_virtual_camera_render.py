"""The virtual camera puts scene content where its geometry says: a sinusoidal grating on the
plane, rendered at several sub-pixel positions of the optical axis, is found (by a local phase
fit over 16-pixel windows) within 0.02 px of where the exact pinhole projection puts it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ddir_kit.virtual_camera.lens_model import ZoomLens
from ddir_kit.virtual_camera.scenes import PlanarTexture
from ddir_kit.virtual_camera.camera import CameraBody, ShotSettings, render_optical_image, shot_geometry

DISTANCE_MM = 5000.0
LENS = dataclasses.replace(ZoomLens().without_distortion(), vignetting_wide=0.0, vignetting_long=0.0)
BODY = CameraBody(width_px=240, height_px=48)


def _grating_shifts(subsamples: int, period_px: float, axis_offset_px: float, texel_rows: int | None = None):
    """Local position errors (px) of a vertical grating, one per 16-px window along a row."""
    settings = ShotSettings(50.0)
    geo = dataclasses.replace(shot_geometry(LENS, BODY, settings, distortion=False),
                              cx_px=(BODY.width_px - 1) / 2 + axis_offset_px, cy_px=(BODY.height_px - 1) / 2)
    foot = DISTANCE_MM / geo.focal_px
    period_mm = period_px * foot
    # 8 texels a pixel (close to a continuous scene); an extent that is no whole number of
    # pixels, so the texture prefiltered to the pixel footprint has texels a little off the pixels
    half_w, half_h = 151.3 * foot, 30 * foot
    n = 2420
    xs = (np.arange(n) + 0.5) / n * 2 * half_w - half_w
    row = 0.5 + 0.4 * np.sin(2 * np.pi * xs / period_mm)
    rows = texel_rows or int(round(n * half_h / half_w))
    tex = PlanarTexture(np.repeat(np.repeat(row[None, :, None], 3, 2), rows, 0).astype(np.float32),
                        (-half_w, -half_h, half_w, half_h))
    img = render_optical_image(LENS, BODY, settings, tex, DISTANCE_MM, geo, subsamples=subsamples)
    profile = img[8:-8, :, 1].mean(axis=0).astype(np.float64)
    x_mm = (np.arange(BODY.width_px) - geo.cx_px) * foot
    shifts = []
    for a in range(20, BODY.width_px - 36, 8):
        th = 2 * np.pi * x_mm[a:a + 16] / period_mm
        basis = np.stack([np.sin(th), np.cos(th), np.ones_like(th)], axis=1)
        (c_sin, c_cos, _), *_ = np.linalg.lstsq(basis, profile[a:a + 16], rcond=None)
        shifts.append(np.arctan2(c_cos, c_sin) / (2 * np.pi) * period_px)
    return np.array(shifts)


def _worst(subsamples: int, **kw) -> float:
    return max(float(np.abs(_grating_shifts(subsamples, p, d, **kw)).max())
               for p in (2.7, 3.3, 4.6) for d in (0.0, 0.13, 0.37, 0.61))


def test_rendered_content_lies_where_the_geometry_says():
    assert _worst(2) < 0.02  # measured 0.012 px


def test_one_point_sample_per_pixel_is_measurably_off():
    # why the sensor integrates over sub-samples: a single bilinear sample per pixel moves the
    # grating by a phase-dependent part of a pixel (measured 0.12 px)
    assert _worst(1) > 0.05


@pytest.mark.parametrize("texel_rows", [64, 400])
def test_textures_with_non_square_texels_are_not_shifted(texel_rows):
    # rows coarser than the pixels, columns finer: the prefilter must not resample both axes
    # bilinearly (that shifted such textures by a third of a texel)
    assert _worst(2, texel_rows=texel_rows) < 0.02
