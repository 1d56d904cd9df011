"""The LR photo's blur relative to its template, and the sRGB decoding registration works in."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ddir_kit.photo.photo_io import read_rgb
from ddir_kit.photo.srgb import linear_to_srgb_255, srgb_to_linear, srgb_to_linear_255
from ddir_kit.registration.relative_blur import estimate_relative_blur, gaussian_blur


def test_decoding_follows_the_srgb_curve_and_encoding_undoes_it():
    levels = np.arange(256, dtype=np.float32)
    lin = srgb_to_linear_255(levels)
    assert lin.shape == levels.shape and lin.dtype == np.float32
    assert srgb_to_linear_255(np.float32([1.0, 254.0])).shape == (2,)  # the clip thresholds registration decodes
    np.testing.assert_allclose(lin, 255.0 * srgb_to_linear(levels / 255.0), atol=2e-3)
    assert lin[0] == 0.0 and lin[255] == pytest.approx(255.0)
    fine = np.linspace(0, 255, 4001, dtype=np.float32)
    np.testing.assert_allclose(linear_to_srgb_255(srgb_to_linear_255(fine)), fine, atol=0.02)


@pytest.fixture(scope="module")
def hr_grey(city100_dir):
    return 255.0 * read_rgb(city100_dir / "nikon_004H.png")[:, :, 1]


def _half(img):
    return cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("sigma", [0.0, 0.3, 0.5, 0.9])
def test_a_known_extra_blur_is_measured_through_gain_offset_and_noise(hr_grey, sigma):
    # the LR as softer optics would form it: the HR blurred (sigma in LR px = 2 sigma HR px), then
    # area-downscaled by 2, with a gain, an offset and noise
    blurred = hr_grey if sigma == 0 else cv2.GaussianBlur(hr_grey, (0, 0), 2 * sigma)
    moving = _half(blurred)
    moving = 0.8 * moving + 12.0 + np.random.default_rng(0).normal(0.0, 2.0, moving.shape).astype(np.float32)
    # the HR crop starts 6 HR px in, so its grid sits 3 px inside the moving image: the map is a shift
    h, w = hr_grey.shape
    crop = (6, 6, (w - 12) // 2 * 2, (h - 12) // 2 * 2)
    est = estimate_relative_blur(hr_grey, crop, 2, moving, np.array([[1.0, 0, 3.0], [0, 1.0, 3.0]]))
    assert est.sigma_lr_px == pytest.approx(sigma, abs=0.05), est
    assert len(est.mean_abs) == len(est.candidates_lr_px)


@pytest.mark.parametrize("sigma", [0.2, 0.4, 0.6, 1.0, 2.0])
def test_the_blur_has_the_variance_it_is_asked_for_also_below_one_pixel(sigma):
    impulse = np.zeros((41, 41), np.float32)
    impulse[20, 20] = 1.0
    profile = gaussian_blur(impulse, sigma).sum(axis=0)
    x = np.arange(41) - 20.0
    assert profile.sum() == pytest.approx(1.0, abs=1e-5)
    assert float(np.sum(profile * x * x)) == pytest.approx(sigma ** 2, rel=0.03)
