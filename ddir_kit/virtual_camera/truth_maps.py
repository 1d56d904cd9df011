"""Ground-truth maps between two virtual shots: a least-squares affine and a dense grid.

``lr_to_hr_truth(lr, hr)`` -> ``TruthMap``:
    affine (2x3): HR (x, y) ~= affine @ (u, v, 1) for LR pixel (u, v), fitted by least squares
        over the LR pixels whose true HR position lies inside the HR frame (the region both
        shots see).
    max_deviation_px: largest distance, in HR pixels, between the true map and the affine over
        that region (distortion and tripod tilt make the true map non-affine).
    grid: float64 (ny, nx, 2), the true HR (x, y) of LR pixel (i * step_px, j * step_px) at
        grid[j, i]; defined everywhere, also outside the HR frame.
``grid_lr_to_hr(grid, step_px, lr_points)``: the grid read at any LR points (cubic).
Pixel coordinates follow docs/conventions.md: (0, 0) is the centre of the top-left pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DdirKitError
from .shot_geometry import ShotGeometry, map_pixels


@dataclass(frozen=True)
class TruthMap:
    affine: np.ndarray          # (2, 3) float64
    max_deviation_px: float
    overlap_fraction: float     # part of the LR frame that the HR frame sees
    grid: np.ndarray            # (ny, nx, 2) float64 HR coordinates
    step_px: int

    @property
    def scale(self) -> float:
        """Mean linear scale of the affine (sqrt of its determinant)."""
        return float(np.sqrt(abs(np.linalg.det(self.affine[:, :2]))))


def lr_to_hr_truth(lr: ShotGeometry, hr: ShotGeometry, step_px: int = 16, fit_step_px: int = 4) -> TruthMap:
    """The exact LR -> HR pixel map of two shots, its least-squares affine and a dense grid."""
    gu = np.arange(0, lr.width_px, step_px, dtype=np.float64)
    gv = np.arange(0, lr.height_px, step_px, dtype=np.float64)
    uu, vv = np.meshgrid(gu, gv)
    gx, gy = map_pixels(lr, hr, uu, vv)
    grid = np.stack([gx, gy], axis=-1)

    fu = np.arange(0, lr.width_px, fit_step_px, dtype=np.float64)
    fv = np.arange(0, lr.height_px, fit_step_px, dtype=np.float64)
    uu, vv = np.meshgrid(fu, fv)
    x, y = map_pixels(lr, hr, uu, vv)
    inside = (x >= -0.5) & (x <= hr.width_px - 0.5) & (y >= -0.5) & (y <= hr.height_px - 0.5)
    if inside.sum() < 3:
        raise DdirKitError("the two shots do not overlap")
    a = np.stack([uu[inside], vv[inside], np.ones(inside.sum())], axis=1)
    b = np.stack([x[inside], y[inside]], axis=1)
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    affine = sol.T
    dev = np.linalg.norm(a @ sol - b, axis=1)
    return TruthMap(affine, float(dev.max()), float(inside.mean()), grid, step_px)


def grid_lr_to_hr(grid: np.ndarray, step_px: int, lr_points: np.ndarray) -> np.ndarray:
    """Nx2 HR points of Nx2 LR photo points, read from a truth grid by cubic interpolation (the
    map is smooth, so this is exact to far below the registration errors it judges)."""
    from scipy.ndimage import map_coordinates

    p = np.asarray(lr_points, np.float64).reshape(-1, 2)
    at = [p[:, 1] / step_px, p[:, 0] / step_px]
    return np.stack([map_coordinates(grid[..., k], at, order=3, mode="nearest") for k in (0, 1)], axis=1)
