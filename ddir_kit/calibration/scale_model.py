"""A smooth, monotone model of scale against focal length, and its inversion.

scale(f) is how many times wider the field of view at EXIF focal length f is than at the
reference focal length. A perfect lens gives f_ref / f; real zoom lenses breathe and their
marks are approximate, so the model is the perfect-lens curve times a smooth correction:

    log scale(f) = -log f + sum_k b_k T_k(x),   x = f mapped linearly onto [-1, 1]

with Chebyshev polynomials T_k, fitted by least squares on log scale. The degree is chosen by
leave-one-out prediction error at the interior focal lengths, among the degrees that keep the
curve strictly decreasing over the measured range. The model is defined only on that range: no extrapolation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import chebyshev
from scipy.optimize import brentq

from ..errors import DdirKitError

MAX_DEGREE = 8
_MONOTONE_GRID = 512


@dataclass(frozen=True)
class ScaleModel:
    """log scale(f) = -log f + chebval(x, coeffs), x = (2 f - (lo + hi)) / (hi - lo).

    focal_range_mm: (lo, hi), the measured range; the model refuses to go outside it.
    coeffs: Chebyshev coefficients b_0..b_d.
    coeff_cov: (d+1, d+1) covariance of the coefficients: (B^T B)^-1 times the leave-one-out
        mean square error of log scale over all points.
    residual_rms: RMS of log-scale residuals (relative scale error, unitless).
    loo_rms: leave-one-out RMS prediction error of log scale at the interior focal lengths.
    """

    focal_range_mm: tuple[float, float]
    coeffs: tuple[float, ...]
    coeff_cov: tuple[tuple[float, ...], ...]
    residual_rms: float
    loo_rms: float
    n_points: int

    @property
    def degree(self) -> int:
        return len(self.coeffs) - 1

    @property
    def scale_range(self) -> tuple[float, float]:
        """(smallest, largest) scale reachable inside the measured focal range."""
        lo, hi = self.focal_range_mm
        return float(self.scale(hi)), float(self.scale(lo))

    def _x(self, focal_mm):
        lo, hi = self.focal_range_mm
        return (2.0 * np.asarray(focal_mm, np.float64) - (lo + hi)) / (hi - lo)

    def _check_range(self, focal_mm) -> None:
        lo, hi = self.focal_range_mm
        f = np.asarray(focal_mm, np.float64)
        tol = 1e-9 * hi
        if np.any(f < lo - tol) or np.any(f > hi + tol):
            raise DdirKitError(f"focal length {f.min():g}-{f.max():g} mm is outside the measured range "
                               f"{lo:g}-{hi:g} mm (the model does not extrapolate)")

    def scale(self, focal_mm):
        """Scale at focal length(s) in mm (float or array) inside the measured range."""
        self._check_range(focal_mm)
        f = np.asarray(focal_mm, np.float64)
        return np.exp(-np.log(f) + chebyshev.chebval(self._x(f), self.coeffs))

    def log_scale_std(self, focal_mm):
        """1-sigma standard error of the fitted log scale (relative scale error)."""
        self._check_range(focal_mm)
        basis = chebyshev.chebvander(np.atleast_1d(self._x(focal_mm)), self.degree)
        var = np.einsum("ni,ij,nj->n", basis, np.asarray(self.coeff_cov), basis)
        out = np.sqrt(np.maximum(var, 0.0))
        return out if np.ndim(focal_mm) else float(out[0])

    def dlog_scale_dfocal(self, focal_mm):
        """d log scale / d f in 1/mm (negative: longer focal, narrower view)."""
        lo, hi = self.focal_range_mm
        f = np.asarray(focal_mm, np.float64)
        dc = chebyshev.chebder(np.asarray(self.coeffs)) if self.degree > 0 else np.zeros(1)
        return -1.0 / f + chebyshev.chebval(self._x(f), dc) * 2.0 / (hi - lo)

    def focal_for_scale(self, scale: float) -> float:
        """The focal length (mm) whose field of view is ``scale`` times the reference's.

        Raises DdirKitError when the scale lies outside the measured range.
        """
        s_min, s_max = self.scale_range
        target = float(scale)
        if not (s_min - 1e-12 <= target <= s_max + 1e-12):
            lo, hi = self.focal_range_mm
            raise DdirKitError(f"scale x{target:g} lies outside the measured range x{s_min:.3f}-x{s_max:.3f} "
                               f"(focal {lo:g}-{hi:g} mm); shoot the sweep wider or drop that scale")
        lo, hi = self.focal_range_mm
        if abs(target - s_max) < 1e-12:
            return lo
        if abs(target - s_min) < 1e-12:
            return hi
        return float(brentq(lambda f: np.log(self.scale(f)) - np.log(target), lo, hi, xtol=1e-10, rtol=1e-14))

    def focal_std_mm(self, focal_mm: float) -> float:
        """1-sigma uncertainty in mm of the focal length answered at ``focal_mm``: the curve's
        standard error in log scale, turned into mm through the curve's slope."""
        return float(self.log_scale_std(focal_mm) / abs(self.dlog_scale_dfocal(focal_mm)))

    def to_dict(self) -> dict:
        return {
            "form": "log(scale) = -log(f_mm) + chebyshev(x, coeffs), x = (2 f_mm - (lo + hi)) / (hi - lo)",
            "focal_range_mm": list(self.focal_range_mm),
            "coeffs": list(self.coeffs),
            "coeff_cov": [list(r) for r in self.coeff_cov],
            "degree": self.degree,
            "residual_rms": self.residual_rms,
            "loo_rms": self.loo_rms,
            "n_points": self.n_points,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ScaleModel":
        try:
            return cls(tuple(float(v) for v in d["focal_range_mm"]), tuple(float(v) for v in d["coeffs"]),
                       tuple(tuple(float(v) for v in r) for r in d["coeff_cov"]), float(d["residual_rms"]),
                       float(d["loo_rms"]), int(d["n_points"]))
        except (KeyError, TypeError, ValueError) as e:
            raise DdirKitError(f"calibration model is incomplete or malformed ({e})") from None


def fit_scale_model(focal_mm: np.ndarray, scale: np.ndarray, max_degree: int = MAX_DEGREE) -> ScaleModel:
    """Fit scale(f) to measured (focal length, scale) pairs.

    focal_mm, scale: float arrays (n,), n >= 3, at least 3 distinct focal lengths.
    """
    f = np.asarray(focal_mm, np.float64).ravel()
    s = np.asarray(scale, np.float64).ravel()
    if len(f) != len(s):
        raise DdirKitError("focal lengths and scales differ in number")
    n_distinct = len(np.unique(np.round(f, 6)))
    if len(f) < 3 or n_distinct < 3:
        raise DdirKitError(f"need at least 3 usable shots at 3 focal lengths to fit scale against focal "
                           f"length, got {len(f)} at {n_distinct}")
    if np.any(s <= 0) or np.any(f <= 0):
        raise DdirKitError("scales and focal lengths must be positive")
    lo, hi = float(f.min()), float(f.max())
    x = (2.0 * f - (lo + hi)) / (hi - lo)
    y = np.log(s) + np.log(f)
    # Leave-one-out needs one point more than parameters, and the residual variance two.
    top = min(max_degree, n_distinct - 2)
    best = None
    for degree in range(0, top + 1):
        cand = _fit_degree(x, y, degree, (lo, hi), len(f))
        if cand is None:
            continue
        if best is None or cand.loo_rms < best.loo_rms * (1 - 1e-9):
            best = cand
    if best is None:
        raise DdirKitError("measured scales do not decrease with focal length; check the focal lengths")
    return best


def _fit_degree(x, y, degree, focal_range, n) -> ScaleModel | None:
    basis = chebyshev.chebvander(x, degree)
    coeffs, *_ = np.linalg.lstsq(basis, y, rcond=None)
    resid = y - basis @ coeffs
    gram_inv = np.linalg.pinv(basis.T @ basis)
    lev = np.einsum("ni,ij,nj->n", basis, gram_inv, basis)
    if np.any(lev > 1 - 1e-9):
        return None
    # Leave-one-out over the interior points only: the model is used to interpolate, and
    # leaving out an end point would score extrapolation, which penalises every curve
    # flexible enough to follow the lens and picks a too-simple one on sparse sweeps.
    lo, hi = focal_range
    f = (x * (hi - lo) + (lo + hi)) / 2.0
    interior = (f > lo + 1e-9) & (f < hi - 1e-9)
    loo_all = resid / (1 - lev)
    loo = loo_all[interior]
    # The point variance behind the coefficients' covariance is the leave-one-out mean
    # square over all points, not the residual variance: it also carries the part of the
    # lens curve the polynomial misses (worst near the ends of the range), which the
    # in-sample residuals hide. Conservative on sparse sweeps, as it should be.
    sigma2 = float(np.mean(loo_all ** 2))
    model = ScaleModel(focal_range, tuple(float(c) for c in coeffs),
                       tuple(tuple(float(v) for v in r) for r in sigma2 * gram_inv),
                       float(np.sqrt(np.mean(resid ** 2))), float(np.sqrt(np.mean(loo ** 2))), n)
    grid = np.linspace(*focal_range, _MONOTONE_GRID)
    if np.any(model.dlog_scale_dfocal(grid) >= 0):
        return None
    return model
