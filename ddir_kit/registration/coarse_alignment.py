"""Coarse LR-HR alignment: RealSR's central zoom from the nominal scale, checked, and replaced by
SIFT feature matching with RANSAC when the nominal guess is off.

Grids and maps: the template lives on an LR grid whose pixel (u, v) covers the HR point
(x0 + s(u + 0.5) - 0.5, y0 + s(v + 0.5) - 0.5) (pair convention); coarse and fine alignment
both estimate ``grid_to_lr``, a 2x3 affine from grid pixels to LR photo pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .pair_map import apply_affine


@dataclass(frozen=True)
class CoarseAlignment:
    """grid_to_lr: float64 2x3 (grid px -> LR photo px).
    method: 'nominal' (central zoom) or 'features' (SIFT + RANSAC).
    zncc: agreement of the blurred template and LR photo under grid_to_lr at a coarse level.
    inliers: RANSAC inliers (0 for 'nominal').
    """

    grid_to_lr: np.ndarray
    method: str
    zncc: float
    inliers: int = 0


def nominal_grid_to_lr(scale: float, grid_origin_hr: tuple[float, float], hr_size: tuple[int, int],
                       lr_size: tuple[int, int]) -> np.ndarray:
    """RealSR's central zoom: HR photo centre <-> LR photo centre, magnification exactly s.

    HR point X relates to LR photo point y by y = c_lr + (X - c_hr) / s; with
    X = x0 + s(u + 0.5) - 0.5 this is y = (u, v) + constant.
    """
    s = float(scale)
    c_hr = (np.asarray(hr_size, np.float64) - 1) / 2
    c_lr = (np.asarray(lr_size, np.float64) - 1) / 2
    x0 = np.asarray(grid_origin_hr, np.float64)
    t = c_lr + (x0 + 0.5 * s - 0.5 - c_hr) / s
    return np.array([[1.0, 0.0, t[0]], [0.0, 1.0, t[1]]])


def coarse_align(template: np.ndarray, moving: np.ndarray, nominal: np.ndarray, *,
                 template_mask: np.ndarray | None = None, min_zncc: float = 0.5,
                 min_inliers: int = 12) -> CoarseAlignment:
    """Check the nominal guess; if its coarse-level ZNCC is below ``min_zncc`` try SIFT + RANSAC
    and keep whichever agrees better.

    template: float32 grey 0..255 on the LR grid; moving: float32 grey 0..255 LR photo.
    """
    z_nom = coarse_zncc(template, moving, nominal, template_mask)
    if z_nom >= min_zncc:
        return CoarseAlignment(np.asarray(nominal, np.float64), "nominal", z_nom)
    found = feature_grid_to_lr(template, moving, min_inliers=min_inliers)
    if found is not None:
        a, n_in = found
        z_feat = coarse_zncc(template, moving, a, template_mask)
        if z_feat > z_nom:
            return CoarseAlignment(a, "features", z_feat, n_in)
    return CoarseAlignment(np.asarray(nominal, np.float64), "nominal", z_nom)


def _level_for(shape, target_side: int) -> int:
    level, side = 0, max(shape)
    while side > target_side * 1.5:
        side //= 2
        level += 1
    return level


def _down(img: np.ndarray, level: int) -> np.ndarray:
    for _ in range(level):
        img = cv2.pyrDown(img)
    return img


def coarse_zncc(template: np.ndarray, moving: np.ndarray, grid_to_lr: np.ndarray,
                template_mask: np.ndarray | None = None, side_px: int = 256) -> float:
    """ZNCC of template and warped LR photo at a level whose long side is about ``side_px``,
    both blurred so that a few pixels of error still read as agreement."""
    level = _level_for(template.shape, side_px)
    f = 2.0 ** level
    t = _down(template.astype(np.float32), level)
    m = _down(moving.astype(np.float32), level)
    a = np.asarray(grid_to_lr, np.float64).copy()
    a[:, 2] /= f
    warped = cv2.warpAffine(m, a, (t.shape[1], t.shape[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
    valid = np.isfinite(warped)
    if template_mask is not None:
        valid &= _down(template_mask.astype(np.float32), level) > 0.999
    if valid.sum() < 64:
        return 0.0
    t = cv2.GaussianBlur(t, (0, 0), 1.5)
    warped = cv2.GaussianBlur(np.where(valid, warped, 0).astype(np.float32), (0, 0), 1.5)
    a_, b_ = t[valid].astype(np.float64), warped[valid].astype(np.float64)
    a_ -= a_.mean()
    b_ -= b_.mean()
    den = np.sqrt((a_ * a_).sum() * (b_ * b_).sum())
    return float((a_ * b_).sum() / den) if den > 0 else 0.0


def feature_grid_to_lr(template: np.ndarray, moving: np.ndarray, *, side_px: int = 1200,
                       min_inliers: int = 12) -> tuple[np.ndarray, int] | None:
    """SIFT on both images (each reduced to about ``side_px``), Lowe's ratio test, and a RANSAC
    affine in full-resolution pixels. None when too few inliers."""
    lt = _level_for(template.shape, side_px)
    lm = _level_for(moving.shape, side_px * 2)
    t8 = _to_u8(_down(template.astype(np.float32), lt))
    m8 = _to_u8(_down(moving.astype(np.float32), lm))
    sift = cv2.SIFT_create(nfeatures=4000)
    kt, dt = sift.detectAndCompute(t8, None)
    km, dm = sift.detectAndCompute(m8, None)
    if dt is None or dm is None or len(kt) < min_inliers or len(km) < min_inliers:
        return None
    matches = cv2.BFMatcher(cv2.NORM_L2).knnMatch(dt, dm, k=2)
    good = [m[0] for m in matches if len(m) == 2 and m[0].distance < 0.75 * m[1].distance]
    if len(good) < min_inliers:
        return None
    pt = np.array([kt[m.queryIdx].pt for m in good], np.float64) * 2.0 ** lt
    pm = np.array([km[m.trainIdx].pt for m in good], np.float64) * 2.0 ** lm
    a, inl = cv2.estimateAffine2D(pt, pm, method=cv2.RANSAC, ransacReprojThreshold=3.0 * 2.0 ** lt,
                                  maxIters=5000, confidence=0.999)
    if a is None or inl is None or int(inl.sum()) < min_inliers:
        return None
    # A coarse map must be a plausible near-similarity; RANSAC on repetitive texture can return
    # a degenerate one.
    sv = np.linalg.svd(a[:, :2], compute_uv=False)
    if sv.min() < 0.5 or sv.max() > 2.0:
        return None
    return a.astype(np.float64), int(inl.sum())


def _to_u8(img: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(img, (0.5, 99.5))
    if hi <= lo:
        hi = lo + 1
    return np.clip((img - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def grid_corners_in_lr(grid_to_lr: np.ndarray, grid_size: tuple[int, int]) -> np.ndarray:
    w, h = grid_size
    return apply_affine(grid_to_lr, np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64))
