"""Magnification of one board view relative to another, from corresponding corners.

Two fits are offered:

- ``similarity``: shot = m R ref + t, least squares over all corners. Exact for a pure zoom
  with a distortion-free lens.
- ``radial`` (default): each view is fitted on its own as the ideal planar grid seen through a
  homography followed by radial distortion about the image centre,
  q = c + (u - c)(1 + k1 rho^2 + k2 rho^4), u = H g, rho = |u - c| / half-diagonal.
  The magnification is then that of H_shot H_ref^-1 at the image centre, i.e. the paraxial
  one. A zoom lens's distortion changes with focal length (barrel at the wide end), and a
  similarity fit over a board that fills much of a long shot would fold that distortion into
  the scale by a few tenths of a percent.

Scales follow the dataset's convention: a shot's ``scale`` is how many times wider its field
of view is than the reference's (the SR factor if it were the LR shot), i.e. 1 / magnification.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.optimize import least_squares

from ..errors import DdirKitError

FIT_MODELS = ("radial", "similarity")


@dataclass(frozen=True)
class SimilarityFit:
    """dst = scale R(rotation) src + shift; residual_rms_px over all corners."""

    scale: float
    rotation_deg: float
    shift_px: tuple[float, float]
    residual_rms_px: float


@dataclass(frozen=True)
class ViewFit:
    """One board view as homography + radial distortion about the image centre.

    homography: float64 (3, 3), ideal grid units (corner spacing 1) -> undistorted pixels.
    k1, k2: radial coefficients on rho = radius / half-diagonal (k1 < 0: barrel).
    centre_px: (x, y) distortion centre (the image centre).
    half_diagonal_px: normaliser of rho.
    residual_rms_px: RMS distance between the model and the detected corners.
    """

    homography: np.ndarray
    k1: float
    k2: float
    centre_px: tuple[float, float]
    half_diagonal_px: float
    residual_rms_px: float


@dataclass(frozen=True)
class ShotMagnification:
    """Scale of a shot relative to the reference (field-of-view ratio, > 1 for wider shots)
    and the residual of the fit that measured it (pixels of the shot)."""

    scale: float
    residual_px: float
    rotation_deg: float
    model: str


def fit_similarity(src_px: np.ndarray, dst_px: np.ndarray) -> SimilarityFit:
    """Least-squares similarity mapping src points onto dst points.

    src_px, dst_px: float (..., 2), same shape, corresponding points.
    Closed form (Umeyama 1991) written out because OpenCV's estimateAffinePartial2D starts
    from a robust sample consensus, and these correspondences are complete and ordered.
    """
    src = np.asarray(src_px, np.float64).reshape(-1, 2)
    dst = np.asarray(dst_px, np.float64).reshape(-1, 2)
    if src.shape != dst.shape or len(src) < 2:
        raise DdirKitError(f"need matching point sets of at least 2 points, got {src.shape} and {dst.shape}")
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - ms, dst - md
    # With complex numbers a similarity is z -> w z + t; least squares gives w directly.
    za, zb = a[:, 0] + 1j * a[:, 1], b[:, 0] + 1j * b[:, 1]
    w = np.vdot(za, zb) / np.vdot(za, za).real
    t = (md[0] + 1j * md[1]) - w * (ms[0] + 1j * ms[1])
    zpred = w * (src[:, 0] + 1j * src[:, 1]) + t
    resid = np.abs(zpred - (dst[:, 0] + 1j * dst[:, 1]))
    return SimilarityFit(float(abs(w)), float(np.degrees(np.angle(w))), (float(t.real), float(t.imag)),
                         float(np.sqrt(np.mean(resid ** 2))))


def ideal_grid(rows: int, cols: int) -> np.ndarray:
    """float64 (rows, cols, 2): corner (i, j) at (j, i) in board units."""
    jj, ii = np.meshgrid(np.arange(cols, dtype=np.float64), np.arange(rows, dtype=np.float64))
    return np.stack([jj, ii], axis=-1)


def fit_view(corners_px: np.ndarray, image_size_px: tuple[int, int], radial_terms: int = 2) -> ViewFit:
    """Fit the ideal grid to detected corners: homography then radial distortion.

    corners_px: float (rows, cols, 2) in pixels. image_size_px: (width, height).
    radial_terms: 0 (plain homography), 1 (k1) or 2 (k1, k2).
    The homography starts from cv2.findHomography; H and the radial terms are then refined
    jointly with scipy's least_squares (OpenCV has no single-view fit of this model).
    """
    rows, cols = corners_px.shape[:2]
    grid = ideal_grid(rows, cols).reshape(-1, 2)
    obs = np.asarray(corners_px, np.float64).reshape(-1, 2)
    w, h = image_size_px
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    half_diag = 0.5 * float(np.hypot(w, h))
    h0, _ = cv2.findHomography(grid, obs, 0)
    if h0 is None:
        raise DdirKitError("degenerate corner grid (no homography)")
    h0 = h0 / h0[2, 2]

    def model(params: np.ndarray) -> np.ndarray:
        hm = np.append(params[:8], 1.0).reshape(3, 3)
        u = _apply_h(hm, grid)
        d = (u - centre) / half_diag
        rho2 = np.sum(d ** 2, axis=1, keepdims=True)
        k = np.zeros(2)
        k[:radial_terms] = params[8:8 + radial_terms]
        return centre + (u - centre) * (1.0 + k[0] * rho2 + k[1] * rho2 ** 2)

    p0 = np.concatenate([h0.ravel()[:8], np.zeros(radial_terms)])
    # Homography entries differ by orders of magnitude (pixels vs perspective terms).
    x_scale = np.concatenate([np.maximum(np.abs(h0.ravel()[:8]), 1e-6), np.full(radial_terms, 1e-3)])
    res = least_squares(lambda p: (model(p) - obs).ravel(), p0, x_scale=x_scale, method="lm",
                        xtol=1e-12, ftol=1e-12)
    p = res.x
    hm = np.append(p[:8], 1.0).reshape(3, 3)
    k = np.zeros(2)
    k[:radial_terms] = p[8:8 + radial_terms]
    resid = np.linalg.norm(model(p) - obs, axis=1)
    return ViewFit(hm, float(k[0]), float(k[1]), (float(centre[0]), float(centre[1])), half_diag,
                   float(np.sqrt(np.mean(resid ** 2))))


def magnification(shot_px: np.ndarray, reference_px: np.ndarray, image_size_px: tuple[int, int],
                  model: str = "radial", reference_fit: ViewFit | None = None) -> ShotMagnification:
    """Scale of a shot relative to the reference shot (same camera, same image size).

    shot_px, reference_px: float (rows, cols, 2), ordered consistently (order_like_reference).
    model: 'radial' (homography + radial distortion per view, paraxial scale at the centre)
    or 'similarity' (one similarity between the two corner sets).
    reference_fit: the reference's ViewFit, to avoid refitting it for every shot.
    """
    if model == "similarity":
        fit = fit_similarity(reference_px, shot_px)
        return ShotMagnification(1.0 / fit.scale, fit.residual_rms_px, fit.rotation_deg, model)
    if model != "radial":
        raise DdirKitError(f"unknown magnification model {model!r}; choose from {', '.join(FIT_MODELS)}")
    ref = reference_fit or fit_view(reference_px, image_size_px)
    shot = fit_view(shot_px, image_size_px)
    m = shot.homography @ np.linalg.inv(ref.homography)
    jac = _projective_jacobian(m, np.array(ref.centre_px))
    det = float(np.linalg.det(jac))
    if det <= 0:
        raise DdirKitError("shot and reference boards do not match (mirrored or degenerate mapping)")
    rotation = float(np.degrees(np.arctan2(jac[1, 0] - jac[0, 1], jac[0, 0] + jac[1, 1])))
    return ShotMagnification(1.0 / np.sqrt(det), shot.residual_rms_px, rotation, model)


def _apply_h(hm: np.ndarray, pts: np.ndarray) -> np.ndarray:
    q = pts @ hm[:, :2].T + hm[:, 2]
    return q[:, :2] / q[:, 2:3]


def _projective_jacobian(hm: np.ndarray, at: np.ndarray) -> np.ndarray:
    """2x2 derivative of the projective map x -> hm(x) at point ``at``."""
    x, y = at
    num = hm[:2, :2] @ at + hm[:2, 2]
    den = hm[2, 0] * x + hm[2, 1] * y + hm[2, 2]
    return (hm[:2, :2] * den - np.outer(num, hm[2, :2])) / den ** 2
