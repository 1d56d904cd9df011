"""How much demosaicing softens a shot, measured by the virtual camera on the shot itself.

A Bayer sensor records one colour per pixel and the development interpolates the other two,
which softens every photo at its own pixel pitch: the LR (whose detail sits nearer its Nyquist
frequency) more than the HR. Registration measures the relative blur of a pair on the green
channel in linear light (registration/relative_blur.py), so the demosaic's share of it is the
blur it adds to green there. No formula gives that for an adaptive demosaic (LibRaw's AHD picks
its interpolation direction from the data; on the demo's shots it adds 0.007-0.11 px^2
depending on the detail, where OpenCV's bilinear one adds about 0.26), so the camera measures it
on each shot: the noise-free raw image of a central window is developed once without a mosaic
(every colour at every pixel: the ideal) and once through the RGGB mosaic and the demosaic, and
the variance of the Gaussian that best takes the first to the second (least squares, with a
gain) is the demosaic's blur.

Written by hand: no library reports the blur of a demosaic on a given image.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from ..photo.dng import demosaic_rggb_bilinear, mosaic_rggb, write_dng
from ..registration.relative_blur import gaussian_blur

# The camera's own JPEG/PNG development (camera.py expose: OpenCV's bilinear demosaic).
CAMERA_DEMOSAIC = "opencv"
# LibRaw's demosaic of ingest's RAW development (photo/raw_develop.py RawDevelopment's default).
RAW_DEMOSAICS = ("AHD",)
# The relative blur is estimated on a central window of at most 512 LR px (relative_blur.py).
WINDOW_PX = 512
_BORDER_PX = 8  # the demosaics' and the blur's reach at the window's edges
_MAX_VARIANCE_PX2 = 1.0


def measure_demosaic_blur(raw_rgb: np.ndarray, white_balance, bayer: bool,
                          raw_demosaics=RAW_DEMOSAICS) -> dict[str, float]:
    """{demosaic: variance (px^2) of the Gaussian blur it adds to green} for a shot whose noise-free
    linear raw image (HxWx3, before white balance, [0, 1]) is ``raw_rgb``: CAMERA_DEMOSAIC when the
    body has a Bayer sensor (its own photos are demosaicked), and each of ``raw_demosaics`` (a DNG
    of any shot holds a mosaic). ``white_balance``: the shot's as-shot multipliers (R, G, B)."""
    window = central_window(raw_rgb)
    ideal = window[..., 1]
    out = {}
    if bayer:
        out[CAMERA_DEMOSAIC] = fit_blur_variance(ideal, demosaic_rggb_bilinear(mosaic_rggb(window))[..., 1])
    for name in raw_demosaics:
        out[name] = fit_blur_variance(ideal, _developed_green(window, white_balance, name))
    return out


def fit_blur_variance(ideal: np.ndarray, softened: np.ndarray) -> float:
    """The variance v (px^2) minimising |g G_v(ideal) - softened|^2 over the interior, g fitted by
    least squares for each v (a development may scale the level). G_v is the registration's own
    Gaussian (exact variance also below 0.6 px)."""
    b = _BORDER_PX
    y = np.asarray(softened, np.float64)[b:-b, b:-b].ravel()
    ideal = np.ascontiguousarray(ideal, np.float32)

    def misfit(v: float) -> float:
        x = gaussian_blur(ideal, float(np.sqrt(max(v, 0.0))))[b:-b, b:-b].ravel().astype(np.float64)
        g = float(x @ y) / max(float(x @ x), 1e-12)
        return float(np.mean((g * x - y) ** 2))

    res = minimize_scalar(misfit, bounds=(0.0, _MAX_VARIANCE_PX2), method="bounded", options={"xatol": 1e-4})
    v = float(res.x)
    return 0.0 if misfit(0.0) <= res.fun else round(v, 5)


def central_window(rgb: np.ndarray) -> np.ndarray:
    """The central WINDOW_PX x WINDOW_PX (or smaller) part, at even offsets."""
    h, w = rgb.shape[:2]
    wh, ww = min(h, WINDOW_PX) // 2 * 2, min(w, WINDOW_PX) // 2 * 2
    y0, x0 = (h - wh) // 4 * 2, (w - ww) // 4 * 2  # even: the window keeps the sensor's RGGB phase
    return np.ascontiguousarray(rgb[y0:y0 + wh, x0:x0 + ww], np.float32)


def _developed_green(window: np.ndarray, white_balance, demosaic: str) -> np.ndarray:
    """Green in linear light of the window written as a DNG and developed as ingest develops."""
    from ..photo.raw_develop import RawDevelopment, develop_raw
    from ..photo.srgb import srgb_to_linear

    r, g, b = (float(v) for v in white_balance)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_dng(Path(tmp) / "window.dng", mosaic_rggb(window), white_balance=(r, g, b))
        rgb, _ = develop_raw(path, RawDevelopment(white_balance=(r, g, b, g), demosaic=demosaic))
    return srgb_to_linear(rgb[..., 1]).astype(np.float32)
