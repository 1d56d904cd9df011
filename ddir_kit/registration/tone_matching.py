"""The optional tone match of the LR to the HR (RegistrationConfig.tone_match): a monotone curve
from quantiles, applied through a lookup table."""

from __future__ import annotations

import cv2
import numpy as np


def identity_tone_curve() -> tuple[np.ndarray, np.ndarray]:
    """(lr_levels, hr_levels) of the curve that changes nothing."""
    return np.array([0.0, 255.0]), np.array([0.0, 255.0])


def tone_curve(template: np.ndarray, moving: np.ndarray, grid_to_lr: np.ndarray, mask: np.ndarray,
               n_knots: int = 65) -> tuple[np.ndarray, np.ndarray]:
    """A monotone curve taking LR grey levels to template grey levels, by matching quantiles over
    the overlap at a coarse level (absorbs gamma and tone-curve differences that a gain and
    offset cannot). Returns (lr_levels, hr_levels), increasing."""
    level, side = 0, max(template.shape)
    t, m, k = template, moving, mask.astype(np.float32)
    while side > 600:
        t, m, k = cv2.pyrDown(t), cv2.pyrDown(m), cv2.pyrDown(k)
        side //= 2
        level += 1
    a = grid_to_lr.copy()
    a[:, 2] /= 2.0 ** level
    warped = cv2.warpAffine(m, a, (t.shape[1], t.shape[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
    valid = np.isfinite(warped) & (k > 0.999)
    if valid.sum() < 100:
        return identity_tone_curve()
    q = np.linspace(0, 100, n_knots)
    x = np.percentile(warped[valid], q)
    y = np.percentile(t[valid], q)
    # strictly increasing knots for np.interp
    x = np.maximum.accumulate(x + np.arange(n_knots) * 1e-6)
    y = np.maximum.accumulate(y)
    return x, y


def apply_tone_curve(grey: np.ndarray, lut_x: np.ndarray, lut_y: np.ndarray) -> np.ndarray:
    """The tone curve on a float32 0..255 image, through a table of 1/64-level steps (a lookup
    is ~10x faster than np.interp on a full frame; the step is far below the noise)."""
    levels = np.arange(256 * 64 + 1, dtype=np.float64) / 64.0
    table = np.interp(levels, lut_x, lut_y).astype(np.float32)
    idx = np.clip(np.rint(grey * 64.0), 0, 256 * 64).astype(np.int32)
    return table[idx]
