"""How much softer the LR photo is than its template, and the light the two are compared in.

The template is the HR photo averaged over each LR pixel's footprint. The LR photo is softer
than that: at its short focal length the lens PSF, the anti-aliasing filter and demosaicing all
act at LR pixel pitch. Aligning a sharp template to a soft photo is not neutral: where edges of
one polarity dominate (a bright sky over dark roofs) they pull the map. So the HR is blurred by
the LR's extra blur before it is downscaled, and that blur is measured per pair: for each
candidate sigma the HR under a central window is blurred and downscaled exactly as the final
template will be, the LR photo is predicted from it through the fine alignment's luminance model
at the first map's points, and the sigma whose prediction fits best wins (refined by a parabola
in sigma^2 through its neighbours).

Both photos are also decoded from sRGB to linear light first: a sensor pixel averages light,
not encoded values, so a template averaged in the encoded scale moves bright-dark edges.

On the virtual camera with lens distortion each of the two, and Lanczos-4 reads of the LR photo
(fine_alignment.py), matters only with the others: see benchmarks/results/registration_ablation.md.

Written by hand: no library measures the relative blur of two registered photos.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from .fine_alignment import sample_at
from .pair_map import apply_homography
from .pair_resampling import hr_on_lr_grid, lr_grid_size

BLUR_CANDIDATES_LR_PX = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6)


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur whose kernel has variance sigma^2 also for small sigma. OpenCV samples the
    Gaussian, which below sigma 0.6 px blurs too little (sigma 0.4 has variance 0.08, not 0.16);
    there a 3-tap kernel [v/2, 1 - v, v/2] of variance v = sigma^2 takes its place (at 0.6 the
    two kernels nearly agree: [0.18, 0.64, 0.18] and [0.17, 0.66, 0.17])."""
    v = float(sigma) ** 2
    if v <= 0:
        return img
    if v < 0.36:
        k = np.array([v / 2, 1 - v, v / 2], np.float32)
        return cv2.sepFilter2D(img, -1, k, k, borderType=cv2.BORDER_REFLECT)
    return cv2.GaussianBlur(img, (0, 0), float(sigma), borderType=cv2.BORDER_REFLECT)


@dataclass(frozen=True)
class RelativeBlur:
    """sigma_lr_px: the estimate (LR px). candidates_lr_px, mean_abs: the candidates tried and the
    mean absolute residual (0..255 scale, best-fitting 90 %) of the luminance fit with each."""

    sigma_lr_px: float
    candidates_lr_px: tuple[float, ...]
    mean_abs: tuple[float, ...]

    def to_dict(self) -> dict:
        return {"sigma_lr_px": round(self.sigma_lr_px, 4), "candidates_lr_px": list(self.candidates_lr_px),
                "mean_abs": [round(v, 5) for v in self.mean_abs]}


def estimate_relative_blur(hr: np.ndarray, hr_crop, scale, moving: np.ndarray, grid_to_moving: np.ndarray, *,
                           radial_k1: float = 0.0, radial_centre_px=None, radial_norm_px: float | None = None,
                           grid_mask: np.ndarray | None = None, candidates_lr_px=BLUR_CANDIDATES_LR_PX,
                           max_samples: int = 60_000, window_px: int = 512, seed: int = 0) -> RelativeBlur:
    """The Gaussian sigma (LR px) by which the HR must be blurred before its area downscale to the
    LR grid of ``hr_crop`` for the result to match ``moving`` best.

    hr: float32 grey HR photo. hr_crop: [x0, y0, w, h] whose LR grid (pair convention) the map
    starts from. moving: float32, the LR photo (or a crop of it). grid_to_moving: 2x3 affine or
    3x3 homography, grid px -> moving px, before the radial term (centre and norm in moving px;
    default: the moving image's centre and half diagonal, which also centre the vignetting
    terms), as fine_align returns it. grid_mask: bool, False on grid pixels not to use (clipped).
    window_px: only a central window of the grid of at most this side is used (a blur needs far
    fewer pixels than a full frame has, and each candidate blurs the HR under the window).
    """
    s = Fraction(scale)
    q = s.denominator
    grid_w, grid_h = lr_grid_size(hr_crop, s)
    # window origin and size in multiples of q, so that its HR crop starts and ends on HR pixels
    ww, wh = (min(n, window_px) // q * q for n in (grid_w, grid_h))
    wx0, wy0 = ((n - m) // 2 // q * q for n, m in ((grid_w, ww), (grid_h, wh)))
    if ww < 16 or wh < 16:
        return _no_estimate(candidates_lr_px)
    window_crop = (hr_crop[0] + int(s * wx0), hr_crop[1] + int(s * wy0), int(s * ww), int(s * wh))
    mh, mw = moving.shape
    if radial_centre_px is None:
        radial_centre_px = ((mw - 1) / 2.0, (mh - 1) / 2.0)
    if radial_norm_px is None:
        radial_norm_px = 0.5 * float(np.hypot(mw, mh))
    templates = _window_templates(hr, window_crop, s, candidates_lr_px)
    # Only textured pixels tell blurs apart; the same fixed subset serves every candidate.
    mag = np.hypot(cv2.Sobel(templates[0], cv2.CV_32F, 1, 0, ksize=3),
                   cv2.Sobel(templates[0], cv2.CV_32F, 0, 1, ksize=3))
    usable = np.zeros((wh, ww), bool)
    usable[2:-2, 2:-2] = True
    if grid_mask is not None:
        usable &= grid_mask[wy0:wy0 + wh, wx0:wx0 + ww]
    idx = np.flatnonzero(usable)
    if idx.size < 100:
        return _no_estimate(candidates_lr_px)
    idx = idx[mag.ravel()[idx] >= np.median(mag.ravel()[idx])]
    if idx.size > max_samples:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_samples, replace=False))
    v, u = np.divmod(idx, ww)
    pts = np.stack([u + wx0, v + wy0], 1).astype(np.float64)
    g = np.asarray(grid_to_moving, np.float64)
    y = apply_homography(g if g.shape == (3, 3) else np.vstack([g, [0, 0, 1.0]]), pts)
    c = np.asarray(radial_centre_px, np.float64)
    d = y - c
    rho = np.sum(d * d, axis=1) / radial_norm_px ** 2
    if radial_k1:
        y = c + d * (1.0 + radial_k1 * rho)[:, None]
    inside = (y[:, 0] >= 1) & (y[:, 0] <= mw - 2) & (y[:, 1] >= 1) & (y[:, 1] <= mh - 2)
    y, rho, d, idx = y[inside], rho[inside], d[inside], idx[inside]
    if idx.size < 100:
        return _no_estimate(candidates_lr_px)
    target = sample_at(moving, y[:, 0], y[:, 1])
    lin = d / radial_norm_px
    scores = []
    for t in templates:
        tv = t.ravel()[idx].astype(np.float64)
        # The LR predicted from the blurred template through fine_align's luminance model (gain,
        # offset, vignetting, tone), solved linearly. This way round the LR's noise sits in what is
        # predicted; predicting the template from the noisy LR instead favours too much blur.
        basis = np.stack([tv, np.ones_like(tv), tv * rho, tv * rho * rho, tv * tv / 255.0, tv * lin[:, 0],
                          tv * lin[:, 1]], axis=1)
        scores.append(_robust_misfit(basis, target))
    return RelativeBlur(_parabola_minimum(candidates_lr_px, scores), tuple(float(c) for c in candidates_lr_px),
                        tuple(scores))


def _window_templates(hr: np.ndarray, window_crop, s: Fraction, candidates) -> list[np.ndarray]:
    """The window's template for every candidate: the HR under it (with room for the widest
    kernel) blurred by sigma * s HR px, then area-downscaled, exactly as the final template is."""
    x0, y0, w, h = window_crop
    pad = int(np.ceil(4 * max(candidates) * float(s))) + 2
    ex0, ey0 = max(0, x0 - pad), max(0, y0 - pad)
    region = np.ascontiguousarray(hr[ey0:y0 + h + pad, ex0:x0 + w + pad])
    inner = (x0 - ex0, y0 - ey0, w, h)
    return [hr_on_lr_grid(gaussian_blur(region, sigma * float(s)), inner, s) for sigma in candidates]


def _no_estimate(candidates) -> RelativeBlur:
    return RelativeBlur(0.0, tuple(float(c) for c in candidates), tuple(np.nan for _ in candidates))


def _robust_misfit(basis: np.ndarray, target: np.ndarray, iterations: int = 3, eps: float = 0.1) -> float:
    """Mean |residual| of the best-fitting 90 % after an L1 fit (IRLS, as fine_align weighs):
    an object in one photo only must not decide which blur fits."""
    w = np.ones_like(target)
    for _ in range(iterations):
        sw = np.sqrt(w)
        coef, *_ = np.linalg.lstsq(basis * sw[:, None], target * sw, rcond=None)
        r = np.abs(basis @ coef - target)
        w = 1.0 / (r + eps)
    return float(np.mean(r[r <= np.percentile(r, 90)]))


def _parabola_minimum(xs, ys) -> float:
    """The minimum of the misfit over sigma: the best candidate, moved to the vertex of the
    parabola through it and its neighbours in sigma^2 (a blur's effect grows with its variance, so
    the curve is flat at sigma = 0 and a parabola in sigma would miss small blurs)."""
    i = int(np.nanargmin(ys))
    if 0 < i < len(xs) - 1:
        v = np.asarray(xs[i - 1:i + 2], np.float64) ** 2
        a, b, _ = np.polyfit(v, np.asarray(ys[i - 1:i + 2], np.float64), 2)
        if a > 0:
            vertex = float(np.clip(-b / (2 * a), v[0], v[2]))
            return float(np.sqrt(vertex))
    return float(xs[i])
