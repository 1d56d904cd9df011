"""PSNR-Y and SSIM-Y under named protocols.

Every score carries the name of the protocol that produced it: no metric has hidden
defaults (docs/protocols.md). Five protocols:

- ``ddir`` (the paper's tables, docs/protocols.md): prediction as float clamped to [0, 1] with no 8-bit
  rounding; Y = (65.738 R + 129.057 G + 25.064 B) / 256 on [0, 1] values; ceil(s) pixels shaved
  from every side; PSNR with peak 1.
- ``basicsr``: BasicSR's ``calculate_psnr(test_y_channel=True)``: both images rounded to 8 bit,
  Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 on [0, 255] values (not rounded), ceil(s)
  pixels shaved, peak 255.
- ``realsr``: MATLAB-style as in RealSR's evaluation: both images rounded to 8 bit, Y from
  ``rgb2ycbcr`` of uint8 images (the BasicSR weights, then rounded to an integer as MATLAB's
  uint8 output is), ceil(s) pixels shaved, peak 255.
- ``rgb``: PSNR on the three RGB channels of the float prediction clamped to [0, 1], ceil(s)
  pixels shaved, peak 1 (the paper's Table 7 reports RGB PSNR; no official code defines its
  shave on RealArbiSR: this one keeps the ``ddir`` protocol's).
- ``div2k``: LIIF's ``calc_psnr(dataset='div2k')``: RGB as ``rgb``, ceil(s) + 6 pixels shaved.

For the RGB protocols the "Y" of a score (ImageScore.psnr_y_db, ssim_y) is the RGB figure: SSIM
is then the mean of the three channels' SSIMs.

SSIM is Wang et al.'s (Gaussian window 11 x 11, sigma 1.5, K1 = 0.01, K2 = 0.03, "valid"
region only) on the same Y channel, shave and peak as the PSNR of the protocol.

Images are float RGB HxWx3 in [0, 1] (any float dtype); computations are float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from ..errors import DdirKitError
from ..scales import as_fraction

PROTOCOLS = ("ddir", "basicsr", "realsr", "rgb", "div2k")


@dataclass(frozen=True)
class Protocol:
    """How an SR image is compared with its ground truth."""

    name: str
    y_weights: tuple[float, float, float] | None  # per unit of [0, 1] RGB, before the offset; None: RGB
    y_offset: float  # added to Y, in the units of ``peak``
    peak: float  # Y is computed in [0, peak] units; PSNR and SSIM use this peak
    quantize_8bit: bool  # round both images to 8 bit first
    round_y: bool  # round Y to an integer (MATLAB uint8 output)
    description: str
    extra_shave_px: int = 0  # shaved beyond ceil(s)

    @property
    def channel(self) -> str:
        return "RGB" if self.y_weights is None else "Y"


_PROTOCOLS = {
    "ddir": Protocol("ddir", (65.738 / 256, 129.057 / 256, 25.064 / 256), 0.0, 1.0, False, False,
                     "PSNR-Y (DDIR paper): float prediction clamped to [0,1], "
                     "Y=(65.738,129.057,25.064)/256, shave ceil(s), peak 1, mean of per-image PSNRs"),
    "basicsr": Protocol("basicsr", (65.481, 128.553, 24.966), 16.0, 255.0, True, False,
                        "PSNR-Y (BasicSR): 8-bit images, Y=16+(65.481,128.553,24.966)/255, "
                        "shave ceil(s), peak 255, mean of per-image PSNRs"),
    "realsr": Protocol("realsr", (65.481, 128.553, 24.966), 16.0, 255.0, True, True,
                       "PSNR-Y (RealSR, MATLAB rgb2ycbcr): 8-bit images, Y rounded to integers, "
                       "shave ceil(s), peak 255, mean of per-image PSNRs"),
    "rgb": Protocol("rgb", None, 0.0, 1.0, False, False,
                    "PSNR-RGB: float prediction clamped to [0,1], the three channels, shave ceil(s), peak 1, "
                    "mean of per-image PSNRs"),
    "div2k": Protocol("div2k", None, 0.0, 1.0, False, False,
                      "PSNR-RGB (LIIF's DIV2K): float prediction clamped to [0,1], the three channels, "
                      "shave ceil(s)+6, peak 1, mean of per-image PSNRs", extra_shave_px=6),
}


def get_protocol(name: str) -> Protocol:
    try:
        return _PROTOCOLS[name]
    except KeyError:
        raise DdirKitError(f"unknown protocol {name!r}; one of {', '.join(PROTOCOLS)}") from None


def shave_px(scale: float | str | Fraction, protocol: "Protocol | None" = None) -> int:
    """Pixels removed from every side before scoring: ceil(s), plus the protocol's extra."""
    return math.ceil(as_fraction(scale)) + (protocol.extra_shave_px if protocol is not None else 0)


def y_channel(rgb: np.ndarray, protocol: Protocol | str) -> np.ndarray:
    """HxWx3 float RGB in [0, 1] -> HxW float64 Y in [0, protocol.peak] units (HxWx3 RGB for the
    RGB protocols)."""
    p = get_protocol(protocol) if isinstance(protocol, str) else protocol
    img = np.clip(np.asarray(rgb, np.float64), 0.0, 1.0)
    if p.quantize_8bit:
        img = np.rint(img * 255.0) / 255.0
    if p.y_weights is None:
        return img * p.peak
    w = np.asarray(p.y_weights, np.float64)
    y = img @ w + p.y_offset
    if p.round_y:
        y = np.rint(y)
    return y


def _prepare(sr: np.ndarray, hr: np.ndarray, scale, protocol: Protocol) -> tuple[np.ndarray, np.ndarray]:
    sr, hr = np.asarray(sr), np.asarray(hr)
    if sr.ndim != 3 or sr.shape[2] != 3:
        raise DdirKitError(f"SR image must be HxWx3, got shape {sr.shape}")
    if sr.shape != hr.shape:
        raise DdirKitError(f"SR image is {sr.shape[1]}x{sr.shape[0]} but HR is {hr.shape[1]}x{hr.shape[0]}")
    b = shave_px(scale, protocol)
    if sr.shape[0] <= 2 * b or sr.shape[1] <= 2 * b:
        raise DdirKitError(f"image {sr.shape[1]}x{sr.shape[0]} is too small to shave {b} px per side")
    ys, yh = y_channel(sr, protocol), y_channel(hr, protocol)
    return ys[b:-b, b:-b], yh[b:-b, b:-b]


def psnr_y(sr: np.ndarray, hr: np.ndarray, scale, protocol: str = "ddir") -> float:
    """PSNR in dB on Y of one SR image (HxWx3 float, clamped here) against its HR (HxWx3 [0, 1]).

    Identical images give +inf.
    """
    p = get_protocol(protocol)
    ys, yh = _prepare(sr, hr, scale, p)
    mse = float(np.mean((ys - yh) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(p.peak ** 2 / mse)


def _ssim_gray(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    # Wang et al. 2004 with the reference Gaussian window; cv2.filter2D on the "valid" region
    # (5 px trimmed) as BasicSR and the original MATLAB code do.
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    k = cv2.getGaussianKernel(11, 1.5)
    win = k @ k.T

    def filt(x):
        return cv2.filter2D(x, -1, win, borderType=cv2.BORDER_REFLECT)[5:-5, 5:-5]

    mu_a, mu_b = filt(a), filt(b)
    saa = filt(a * a) - mu_a ** 2
    sbb = filt(b * b) - mu_b ** 2
    sab = filt(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2))
    return float(ssim_map.mean())


def ssim_y(sr: np.ndarray, hr: np.ndarray, scale, protocol: str = "ddir") -> float:
    """SSIM on Y (Gaussian 11x11, sigma 1.5) after the protocol's shave; images as for psnr_y."""
    p = get_protocol(protocol)
    ys, yh = _prepare(sr, hr, scale, p)
    if ys.shape[0] <= 10 or ys.shape[1] <= 10:
        raise DdirKitError(f"image too small for SSIM's 11x11 window after the shave: {ys.shape[1]}x{ys.shape[0]}")
    if ys.ndim == 3:  # an RGB protocol: the mean of the channels' SSIMs
        return float(np.mean([_ssim_gray(np.ascontiguousarray(ys[..., c]), np.ascontiguousarray(yh[..., c]), p.peak)
                              for c in range(3)]))
    return _ssim_gray(ys, yh, p.peak)


@dataclass(frozen=True)
class ImageScore:
    name: str
    scale: float
    psnr_y_db: float
    ssim_y: float


def score_pair(name: str, sr: np.ndarray, hr: np.ndarray, scale, protocol: str = "ddir") -> ImageScore:
    return ImageScore(name, float(as_fraction(scale)), psnr_y(sr, hr, scale, protocol), ssim_y(sr, hr, scale, protocol))


def mean_psnr(scores: list[ImageScore]) -> float:
    """The protocol's aggregate: the mean of per-image PSNRs (not a pooled MSE)."""
    if not scores:
        return math.nan
    return float(np.mean([s.psnr_y_db for s in scores]))


def mean_ssim(scores: list[ImageScore]) -> float:
    if not scores:
        return math.nan
    return float(np.mean([s.ssim_y for s in scores]))
