"""The virtual camera's truth for the dataset card: the blur the template's area average adds, the
blur a demosaic adds (measured by the camera on each shot), and the LR photo the photometric
settings predict when its pixels integrate linear light."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import cv2
import numpy as np
import pytest

from ddir_kit.dataset.card import CardAlignedPair
from ddir_kit.registration.pair_resampling import area_weight_variance_hr_px2
from ddir_kit.registration.relative_blur import gaussian_blur
from ddir_kit.virtual_camera.camera import CameraBody, ShotSettings, shot_geometry
from ddir_kit.virtual_camera.card_truth import (_demosaic_px2, _predicted_lr_photo, _predicted_lr_values,
                                                _relative_blur_truth, _Shot)
from ddir_kit.virtual_camera.demosaic_blur import CAMERA_DEMOSAIC, fit_blur_variance, measure_demosaic_blur
from ddir_kit.virtual_camera.lens_model import ZoomLens
from ddir_kit.virtual_camera.truth import CardShotTruth


def _texture(seed: int, size=(96, 72), sigmas=(0.7, 2.0, 6.0)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((size[1], size[0], 3)).astype(np.float32)
    img = sum(cv2.GaussianBlur(noise, (0, 0), s) * s for s in sigmas)
    img = (img - img.min()) / (img.max() - img.min())
    return (0.1 + 0.8 * img).astype(np.float32)


def _inter_area_variance(scale: Fraction) -> float:
    """The weight variance of cv2.resize(INTER_AREA) read from its impulse responses."""
    n = 4 * scale.denominator  # LR pixels: whole periods of the weights
    hr = int(n * scale)
    responses = np.stack([cv2.resize(np.repeat(np.eye(hr, dtype=np.float32)[k:k + 1], 2, 0), (n, 2),
                                     interpolation=cv2.INTER_AREA)[0] for k in range(hr)])  # hr x n
    x = np.arange(hr) + 0.5
    out = []
    for i in range(n):
        w = responses[:, i] / responses[:, i].sum()
        m = float(w @ x)
        out.append(float(w @ (x - m) ** 2))
    return float(np.mean(out))


@pytest.mark.parametrize("scale", ["3/2", "2", "5/2", "3", "37/10", "4"])
def test_area_weight_variance_is_that_of_opencv_inter_area(scale):
    s = Fraction(scale)
    assert area_weight_variance_hr_px2(s) == pytest.approx(_inter_area_variance(s), abs=1e-6)
    if s.denominator == 1:  # s equal taps: (s^2 - 1) / 12, below the continuous box's s^2 / 12
        assert area_weight_variance_hr_px2(s) == pytest.approx((s * s - 1) / 12, abs=1e-9)


def test_fit_blur_variance_recovers_a_planted_gaussian_and_a_gain():
    green = _texture(0)[..., 1]
    assert fit_blur_variance(green, green) == 0.0
    for v in (0.04, 0.3):
        softened = 0.97 * gaussian_blur(green, float(np.sqrt(v)))
        assert fit_blur_variance(green, softened) == pytest.approx(v, abs=0.003)


def test_demosaicing_softens_fine_detail_and_is_measured_for_each_development():
    sharp = _texture(1, sigmas=(0.6, 1.5, 4.0))
    smooth = cv2.GaussianBlur(sharp, (0, 0), 2.0)
    wb = (2.0, 1.0, 1.5)
    on_sharp = measure_demosaic_blur(sharp * np.float32(0.6), wb, bayer=True)
    on_smooth = measure_demosaic_blur(smooth * np.float32(0.6), wb, bayer=True)
    assert set(on_sharp) == {CAMERA_DEMOSAIC, "AHD"}
    assert on_sharp[CAMERA_DEMOSAIC] > 0.03 and on_sharp["AHD"] > 0.01
    assert on_smooth[CAMERA_DEMOSAIC] < on_sharp[CAMERA_DEMOSAIC] and on_smooth["AHD"] < on_sharp["AHD"]
    # a body without a Bayer sensor: its own photos are not demosaicked, a DNG of them is
    assert set(measure_demosaic_blur(sharp * np.float32(0.6), wb, bayer=False)) == {"AHD"}


def _shots(lens, body, d_hr, d_lr, hr_file="hr.dng", lr_file="lr.dng", development=None):
    hr_set = ShotSettings(105.0)
    lr_set = ShotSettings(52.5)
    return (_Shot(shot_geometry(lens, body, hr_set), hr_set, None, (hr_file,), hr_file, development, d_hr),
            _Shot(shot_geometry(lens, body, lr_set), lr_set, 2.0, (lr_file,), lr_file, development, d_lr))


def test_the_demosaic_of_each_photo_enters_the_relative_blur_truth():
    lens, body = ZoomLens(), CameraBody(width_px=96, height_px=64, bayer=True)
    hr, lr = _shots(lens, body, {"AHD": 0.03, CAMERA_DEMOSAIC: 0.2}, {"AHD": 0.06, CAMERA_DEMOSAIC: 0.3})
    # the development's demosaic for photos developed from RAW, the camera's for its own photos
    assert (_demosaic_px2(hr, True), _demosaic_px2(lr, True)) == (0.03, 0.06)
    jpeg_hr = dataclasses.replace(hr, files=("hr.jpg",), developed_from="hr.jpg")
    assert _demosaic_px2(jpeg_hr, True) == 0.2 and _demosaic_px2(jpeg_hr, False) == 0.0
    assert _demosaic_px2(dataclasses.replace(hr, demosaic="VNG"), True) is None  # not measured
    assert _demosaic_px2(dataclasses.replace(hr, demosaic_blur_px2=None), True) is None  # an older truth

    pair = CardAlignedPair("scene/x2", "scene", "ok", 2.0, Fraction(2), (8, 8, 80, 48), 0.3)
    base = _relative_blur_truth(pair, hr, lr, lens, 1.0, 0.0, 0.3)  # away from the clamp at 0
    more = _relative_blur_truth(pair, hr, lr, lens, 1.0, 0.03, 0.36)
    assert base > 0.1 and more ** 2 - base ** 2 == pytest.approx(0.06 - 0.03 / 4, abs=1e-9)


def test_the_truth_records_the_demosaic_blur_and_reads_files_without_it():
    lens, body = ZoomLens(), CameraBody(width_px=96, height_px=64)
    settings = ShotSettings(105.0)
    shot = CardShotTruth(("IMG_0001.DNG",), "hr", None, 105.0, shot_geometry(lens, body, settings), settings,
                         demosaic_blur_px2={"AHD": 0.031, CAMERA_DEMOSAIC: 0.12})
    d = shot.to_dict()
    assert d["demosaic_blur_px2"] == {"AHD": 0.031, CAMERA_DEMOSAIC: 0.12}
    assert CardShotTruth.from_dict(d) == shot
    del d["demosaic_blur_px2"]
    assert CardShotTruth.from_dict(d).demosaic_blur_px2 is None
    assert "demosaic_blur_px2" not in CardShotTruth.from_dict(d).to_dict()


def test_the_predicted_lr_photo_integrates_linear_light_over_each_lr_pixel():
    lens, body = ZoomLens(), CameraBody(width_px=96, height_px=72)
    settings = ShotSettings(105.0)
    shot = _Shot(shot_geometry(lens, body, settings), settings, None, ("a.dng",), "a.dng")
    flat = np.full((72, 96, 3), 0.4, np.float32)
    np.testing.assert_allclose(_predicted_lr_photo(flat, (0, 0), shot, shot, lens, Fraction(3)),
                               _predicted_lr_values(flat, (0, 0), shot, shot, lens), atol=1e-4)
    # fine texture: the encoded mean of light averaged over an LR pixel is above the mean of the
    # encoded HR values (the sRGB curve is concave), and more so at a larger scale
    fine = _texture(3, size=(96, 72), sigmas=(0.5, 1.0))
    pixelwise = float(_predicted_lr_values(fine, (0, 0), shot, shot, lens)[12:-12, 12:-12].mean())
    lifts = [float(_predicted_lr_photo(fine, (0, 0), shot, shot, lens, Fraction(s))[12:-12, 12:-12].mean()) - pixelwise
             for s in (2, 4)]
    assert 0.003 < lifts[0] < lifts[1]


def test_scales_within_counts_the_scales_that_agree_on_all_three():
    from ddir_kit.virtual_camera.card_truth import ScaleAgreement, TruthComparison

    def agreement(scale, gain_error, blur_error):
        return ScaleAgreement(scale, 1, (1.0 + gain_error, 1.0, 1.0), (1.0, 1.0, 1.0), (0.0,) * 3, (0.0,) * 3,
                              1, 0.3 + blur_error, 0.3)

    cmp = TruthComparison((agreement(2, 0.0, 0.0), agreement(3, 0.03, 0.0), agreement(4, 0.0, 0.2)))
    assert cmp.scales_within == 1 and not cmp.photometric_ok and not cmp.blur_ok
