"""From a map to an exact-scale pair: the HR crop, the LR grid, and the resampled LR.

Pair convention (docs/conventions.md): HR is exactly s x LR (integers; for s = p/q in lowest terms the
LR sides are multiples of q, so the HR sides are multiples of p), and LR grid pixel (u, v)
covers the HR-crop point (s(u + 0.5) - 0.5, s(v + 0.5) - 0.5). The HR crop keeps the HR
photo's pixels untouched; only the LR photo is resampled.
"""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np

from ..errors import DdirKitError
from .pair_map import PairMap, apply_affine, grid_to_hr_affine

INTERPOLATIONS = {"lanczos": cv2.INTER_LANCZOS4, "bicubic": cv2.INTER_CUBIC}


def hr_crop_for_map(pair_map: PairMap, hr_size: tuple[int, int], lr_size: tuple[int, int], scale: Fraction,
                    margin_lr_px: float = 4.0, within: tuple[int, int, int, int] | None = None,
                    samples_per_side: int = 33) -> tuple[int, int, int, int]:
    """The HR crop [x0, y0, w, h] (integers; w, h multiples of s's numerator) whose every point
    maps at least ``margin_lr_px`` inside the LR photo (room for the interpolation kernel).

    Starts from ``within`` (default: the whole HR photo) and moves the offending sides inward
    until the sampled border maps inside. Raises DdirKitError if nothing is left.
    """
    p = Fraction(scale).numerator
    x0, y0, w, h = within if within is not None else (0, 0, hr_size[0], hr_size[1])
    x1, y1 = x0 + w - 1, y0 + h - 1  # inclusive pixel bounds
    lw, lh = lr_size
    lo, hi_x, hi_y = margin_lr_px, lw - 1 - margin_lr_px, lh - 1 - margin_lr_px
    t = np.linspace(0.0, 1.0, samples_per_side)
    for _ in range(10_000):
        if x1 - x0 < p or y1 - y0 < p:
            raise DdirKitError("the LR photo does not cover the HR photo (no usable overlap)")
        xs = x0 + t * (x1 - x0)
        ys = y0 + t * (y1 - y0)
        sides = {"top": np.stack([xs, np.full_like(xs, y0)], 1), "bottom": np.stack([xs, np.full_like(xs, y1)], 1),
                 "left": np.stack([np.full_like(ys, x0), ys], 1), "right": np.stack([np.full_like(ys, x1), ys], 1)}
        moved = False
        for name, pts in sides.items():
            q = pair_map.hr_to_lr(pts)
            excess = np.max(np.concatenate([lo - q[:, 0], q[:, 0] - hi_x, lo - q[:, 1], q[:, 1] - hi_y]))
            if excess > 0:
                step = max(1, int(np.ceil(excess * float(scale) * 0.5)))
                if name == "top":
                    y0 += step
                elif name == "bottom":
                    y1 -= step
                elif name == "left":
                    x0 += step
                else:
                    x1 -= step
                moved = True
        if not moved:
            break
    w, h = x1 - x0 + 1, y1 - y0 + 1
    w2, h2 = (w // p) * p, (h // p) * p
    if w2 == 0 or h2 == 0:
        raise DdirKitError("the LR photo does not cover the HR photo (no usable overlap)")
    return int(x0 + (w - w2) // 2), int(y0 + (h - h2) // 2), int(w2), int(h2)


def lr_grid_size(hr_crop: tuple[int, int, int, int], scale: Fraction) -> tuple[int, int]:
    """(w, h) of the LR grid of an HR crop; exact by construction of the crop."""
    s = Fraction(scale)
    w, h = Fraction(hr_crop[2]) / s, Fraction(hr_crop[3]) / s
    if w.denominator != 1 or h.denominator != 1:
        raise DdirKitError(f"HR crop {hr_crop[2]}x{hr_crop[3]} is not a whole multiple of scale {s}")
    return int(w), int(h)


def grid_sample_points(hr_crop, scale: Fraction, pair_map: PairMap, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """float32 (map_x, map_y): where LR grid pixels (0, step, 2 step, ...) sample the LR photo;
    each ceil(h_lr / step) x ceil(w_lr / step)."""
    wl, hl = lr_grid_size(hr_crop, scale)
    u, v = np.meshgrid(np.arange(0, wl, step, dtype=np.float64), np.arange(0, hl, step, dtype=np.float64))
    hr = apply_affine(grid_to_hr_affine(float(scale), hr_crop[:2]), np.stack([u.ravel(), v.ravel()], 1))
    lr = pair_map.hr_to_lr(hr)
    return lr[:, 0].reshape(u.shape).astype(np.float32), lr[:, 1].reshape(u.shape).astype(np.float32)


def resample_lr(lr_photo: np.ndarray, pair_map: PairMap, hr_crop, scale: Fraction,
                interpolation: str = "lanczos") -> np.ndarray:
    """The LR photo resampled onto the LR grid of ``hr_crop``: float32 h_lr x w_lr x C in [0, 1].

    cv2.remap quantises sample positions to 1/32 px (at most 1/64 px off), far below the
    registration's own error.
    """
    if interpolation not in INTERPOLATIONS:
        raise DdirKitError(f"unknown interpolation {interpolation!r}; one of {', '.join(INTERPOLATIONS)}")
    mx, my = grid_sample_points(hr_crop, scale, pair_map)
    out = cv2.remap(np.ascontiguousarray(lr_photo, np.float32), mx, my, INTERPOLATIONS[interpolation],
                    borderMode=cv2.BORDER_REFLECT101)
    return np.clip(out, 0.0, 1.0)


def hr_on_lr_grid(hr_image: np.ndarray, hr_crop, scale: Fraction) -> np.ndarray:
    """The HR crop downscaled onto its LR grid with area averaging (antialiased); cv2.resize's
    INTER_AREA uses the same pixel-centre convention as the pair, also for fractional s."""
    x0, y0, w, h = hr_crop
    wl, hl = lr_grid_size(hr_crop, scale)
    crop = np.ascontiguousarray(hr_image[y0:y0 + h, x0:x0 + w])
    return cv2.resize(crop, (wl, hl), interpolation=cv2.INTER_AREA)


def area_weight_variance_hr_px2(scale: Fraction) -> float:
    """The blur hr_on_lr_grid adds, per axis: the variance (HR px^2) of its weights over the HR
    pixel centres, averaged over the LR pixels of one period of the grid.

    An LR pixel covers [s u, s (u + 1)] of the HR crop, and INTER_AREA weights each HR pixel by
    its overlap with that interval. Those are point samples at the HR pixel centres, not the
    continuous box of s HR px (variance s^2 / 12): at an integer s the weights are s equal taps,
    (s^2 - 1) / 12, less than the box; at a fractional s the partial end pixels spread them
    more (x1.5: 0.222 against 0.1875)."""
    s = Fraction(scale).limit_denominator(1000)
    variances = []
    for u in range(s.denominator):  # the weights repeat every denominator LR pixels
        a, b = u * s, (u + 1) * s
        centres = np.arange(int(a), -(-b.numerator // b.denominator)) + 0.5
        w = np.array([float(min(b, k + 1) - max(a, k)) for k in range(int(a), int(a) + len(centres))])
        w /= w.sum()
        mean = float(w @ centres)
        variances.append(float(w @ (centres - mean) ** 2))
    return float(np.mean(variances))


def colour_transfer(lr: np.ndarray, hr_down: np.ndarray) -> np.ndarray:
    """RealSR's optional colour correction: per channel, the least-squares gain and offset that
    bring the LR onto the downscaled HR. Off by default (DDIR models the shift)."""
    out = np.empty_like(lr)
    for c in range(lr.shape[2]):
        x = lr[..., c].ravel().astype(np.float64)
        y = hr_down[..., c].ravel().astype(np.float64)
        a = np.stack([x, np.ones_like(x)], 1)
        (g, b), *_ = np.linalg.lstsq(a, y, rcond=None)
        out[..., c] = lr[..., c] * g + b
    return np.clip(out, 0.0, 1.0)
