"""What the dataset card measures on one pair: the bicubic kernel, the photometric shift between
the bicubic-upscaled LR and the HR, and the residual energies split by spatial frequency.
No file IO; images are float32 HxWx3 RGB in [0, 1], HR exactly s times LR (layout.py).

Bicubic (``BICUBIC``): Pillow's ``Image.resize(..., BICUBIC)`` on float32 images, one channel at
a time in mode "F": Keys' cubic convolution with a = -0.5, pixel centres aligned (LR pixel u
covers HR point s(u + 0.5) - 0.5, the pair convention), and, when it downscales, the kernel
widened by the factor (antialiasing, as MATLAB's imresize does), so that the bicubic round trip
of the GT is the degradation of the synthetic datasets the DDIR paper compares against.

Photometric shift: per channel, HR ~ gain * up(LR) + offset by least squares. Both images are
first low-passed by a Gaussian of FIT_LOWPASS_LR_PX LR px: the LR is softer than the HR, and a
regression of a sharp image on a soft one has a slope above 1 by the share of detail the blur
removed; at 4 LR px the two blurs agree to within half a percent where the images hold their
power. Clipped pixels (below 1/255 or above 254/255 in either image) and everything within reach
of them through the low-pass are left out, as is a border of ceil(2 s) HR px (the bicubic
kernel's reach).

Residual energy: r_real = GT - up(LR), r_synthetic = GT - up(down(GT)). Each is split by a
Gaussian low-pass whose amplitude response is 1/2 at the LR Nyquist frequency 1/(2 s) cycles per
HR px (sigma = sqrt(ln 2 / 2) / (pi f) = 0.375 s HR px): low = G * r, high = r - low. Energies
are mean squares over the border-trimmed pixels and the three channels (full scale = 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

BICUBIC = ("Pillow Image.resize BICUBIC in mode F, one channel at a time: Keys cubic convolution a = -0.5, "
           "pixel centres aligned, kernel widened by the factor when downscaling (antialiased)")
FIT_LOWPASS_LR_PX = 4.0
CLIP_LOW, CLIP_HIGH = 1.0 / 255.0, 254.0 / 255.0
_MIN_FIT_PIXELS = 64
# a low-pass of amplitude 1/2 at the LR Nyquist 1/(2s): exp(-2 pi^2 sigma^2 f^2) = 1/2
SPLIT_SIGMA_PER_SCALE = math.sqrt(math.log(2.0) / 2.0) / math.pi * 2.0


def bicubic_resize(rgb: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """float32 HxWxC -> float32 (size_wh[1], size_wh[0], C) with ``BICUBIC``."""
    from PIL import Image

    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(rgb[..., c], np.float32), mode="F")
                           .resize(tuple(int(v) for v in size_wh), Image.BICUBIC), np.float32)
                for c in range(rgb.shape[2])]
    return np.stack(channels, axis=2)


def border_hr_px(scale: Fraction) -> int:
    """HR px left out at each side: the reach of the bicubic kernel, 2 LR px."""
    return int(math.ceil(2 * float(scale)))


def split_sigma_hr_px(scale: Fraction) -> float:
    """Sigma (HR px) of the Gaussian that splits residuals into low and high frequencies."""
    return SPLIT_SIGMA_PER_SCALE * float(scale)


def _gauss(img: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(np.ascontiguousarray(img, np.float32), (0, 0), float(sigma),
                            borderType=cv2.BORDER_REFLECT)


def _interior(img: np.ndarray, b: int) -> np.ndarray:
    h, w = img.shape[:2]
    if h <= 2 * b or w <= 2 * b:
        return img[0:0, 0:0]
    return img[b:h - b, b:w - b]


@dataclass(frozen=True)
class PhotometricFit:
    """gain, offset: per channel (R, G, B), HR ~ gain * up(LR) + offset (offset in full-scale
    units); NaN where too few unclipped pixels. pixels: pixels used per channel."""

    gain: tuple[float, float, float]
    offset: tuple[float, float, float]
    pixels: tuple[int, int, int]


def fit_gain_offset(hr: np.ndarray, up_lr: np.ndarray, scale: Fraction) -> PhotometricFit:
    """The per-channel least-squares fit of the module docstring; ``up_lr`` has the HR's size."""
    sigma = FIT_LOWPASS_LR_PX * float(scale)
    b = border_hr_px(scale)
    gains, offsets, counts = [], [], []
    for c in range(3):
        y, x = hr[..., c], up_lr[..., c]
        valid = ((y > CLIP_LOW) & (y < CLIP_HIGH) & (x > CLIP_LOW) & (x < CLIP_HIGH)).astype(np.float32)
        use = _interior(_gauss(valid, sigma), b) > 0.999
        ys, xs = _interior(_gauss(y, sigma), b)[use], _interior(_gauss(x, sigma), b)[use]
        n = int(ys.size)
        var = float(np.var(xs, dtype=np.float64)) if n else 0.0
        if n < _MIN_FIT_PIXELS or var <= 1e-12:
            gains.append(float("nan"))
            offsets.append(float("nan"))
        else:
            xm, ym = float(xs.mean(dtype=np.float64)), float(ys.mean(dtype=np.float64))
            a = float(np.mean((xs - xm) * (ys - ym), dtype=np.float64)) / var
            gains.append(a)
            offsets.append(ym - a * xm)
        counts.append(n)
    return PhotometricFit(tuple(gains), tuple(offsets), tuple(counts))


@dataclass(frozen=True)
class ResidualEnergy:
    """Mean squares (full scale = 1) of a residual's low and high bands and of the whole."""

    low: float
    high: float
    total: float

    def to_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "total": self.total}


def residual_energy(residual: np.ndarray, scale: Fraction) -> ResidualEnergy:
    low = _gauss(residual, split_sigma_hr_px(scale))
    high = residual - low
    b = border_hr_px(scale)
    return ResidualEnergy(*(float(np.mean(np.square(_interior(r, b), dtype=np.float64))) for r in (low, high, residual)))


@dataclass(frozen=True)
class PairMeasure:
    """Everything the card measures on one pair; ``up_lr`` (bicubic-upscaled LR) and
    ``roundtrip`` (GT down and up again), HR-sized float32, feed the figures."""

    fit: PhotometricFit
    real: ResidualEnergy
    synthetic: ResidualEnergy
    up_lr: np.ndarray
    roundtrip: np.ndarray


def measure_pair(lr: np.ndarray, hr: np.ndarray, scale: Fraction) -> PairMeasure:
    """Measure one pair (LR h x w x 3, HR exactly s times it)."""
    h, w = hr.shape[:2]
    up = bicubic_resize(lr, (w, h))
    roundtrip = bicubic_resize(bicubic_resize(hr, (lr.shape[1], lr.shape[0])), (w, h))
    return PairMeasure(fit_gain_offset(hr, up, scale), residual_energy(hr - up, scale),
                       residual_energy(hr - roundtrip, scale), up, roundtrip)


def interior_values(img: np.ndarray, scale: Fraction, max_samples: int = 1 << 20) -> np.ndarray:
    """(n, 3) pixel values of the border-trimmed image, subsampled on a regular stride to at most
    ``max_samples`` (for the histograms)."""
    vals = _interior(img, border_hr_px(scale)).reshape(-1, img.shape[2])
    step = max(1, -(-vals.shape[0] // max_samples))
    return vals[::step]
