"""The geometric map between an LR photo and its HR photo, as stored in pair.json.

Pixel coordinates (docs/conventions.md): x right, y down, (0, 0) at the centre of the top-left
pixel. The map is an affine ``lr_to_hr`` (2x3, LR photo pixels -> HR photo pixels) with an
optional relative radial-distortion term on the LR side:

    lr = D(hr_to_lr_affine(hr)),   D(y) = c + (y - c) * (1 + k1 * |y - c|^2 / R^2)

with c the radial centre and R the normalising radius, both in LR photo pixels. With k1 = 0
the map is exactly the affine. A short focal length has more barrel distortion than a long
one, so the LR photo carries the relative term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairMap:
    """lr_to_hr: float64 2x3 affine, LR photo px -> HR photo px.
    radial_k1: relative radial coefficient (dimensionless; 0 = none).
    radial_centre_px: (x, y) of the distortion centre in the LR photo.
    radial_norm_px: R, the radius at which |y - c| / R = 1 (half the LR photo diagonal).
    lr_to_hr_h: optional 3x3 homography replacing the affine (then lr_to_hr is its affine part).
    """

    lr_to_hr: np.ndarray
    radial_k1: float = 0.0
    radial_centre_px: tuple[float, float] = (0.0, 0.0)
    radial_norm_px: float = 1.0
    lr_to_hr_h: np.ndarray | None = None

    @property
    def hr_to_lr_affine(self) -> np.ndarray:
        return invert_affine(self.lr_to_hr)

    def hr_to_lr(self, points_hr: np.ndarray) -> np.ndarray:
        """Map Nx2 HR photo points to LR photo points (float64)."""
        if self.lr_to_hr_h is not None:
            y = apply_homography(np.linalg.inv(self.lr_to_hr_h), points_hr)
        else:
            y = apply_affine(self.hr_to_lr_affine, points_hr)
        return self._distort(y)

    def lr_to_hr_points(self, points_lr: np.ndarray) -> np.ndarray:
        """Map Nx2 LR photo points to HR photo points (radial term inverted by fixed point)."""
        p = np.asarray(points_lr, np.float64)
        y = p.copy()
        if self.radial_k1 != 0.0:
            c = np.asarray(self.radial_centre_px, np.float64)
            for _ in range(20):  # |k1| << 1, so the fixed point converges in a few steps
                rho = np.sum((y - c) ** 2, axis=1, keepdims=True) / self.radial_norm_px ** 2
                y = c + (p - c) / (1.0 + self.radial_k1 * rho)
        if self.lr_to_hr_h is not None:
            return apply_homography(self.lr_to_hr_h, y)
        return apply_affine(self.lr_to_hr, y)

    def _distort(self, y: np.ndarray) -> np.ndarray:
        if self.radial_k1 == 0.0:
            return y
        c = np.asarray(self.radial_centre_px, np.float64)
        d = y - c
        rho = np.sum(d * d, axis=1, keepdims=True) / self.radial_norm_px ** 2
        return c + d * (1.0 + self.radial_k1 * rho)

    def to_dict(self) -> dict:
        out = {"lr_to_hr": np.asarray(self.lr_to_hr, np.float64).round(9).tolist()}
        if self.radial_k1 != 0.0:
            out["radial"] = {"k1": float(self.radial_k1),
                             "centre_px": [float(v) for v in self.radial_centre_px],
                             "norm_px": float(self.radial_norm_px),
                             "model": "lr = c + (y - c) * (1 + k1 * |y - c|^2 / norm^2), y = inverse(lr_to_hr)(hr)"}
        if self.lr_to_hr_h is not None:
            h = np.asarray(self.lr_to_hr_h, np.float64)
            out["lr_to_hr_h"] = (h / h[2, 2]).round(12).tolist()
            out["lr_to_hr_note"] = ("the map is the homography lr_to_hr_h (3x3, homogeneous); lr_to_hr holds "
                                    "its first two rows, the affine part")
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "PairMap":
        rad = d.get("radial") or {}
        h = d.get("lr_to_hr_h")
        return cls(np.asarray(d["lr_to_hr"], np.float64), float(rad.get("k1", 0.0)),
                   tuple(rad.get("centre_px", (0.0, 0.0))), float(rad.get("norm_px", 1.0)),
                   None if h is None else np.asarray(h, np.float64))


def apply_affine(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Nx2 points through a 2x3 affine."""
    p = np.asarray(points, np.float64).reshape(-1, 2)
    m = np.asarray(m, np.float64)
    # element-wise rather than p @ m.T: numpy's matmul with an inner size of 2 is ~10x slower
    out = np.empty_like(p)
    out[:, 0] = m[0, 0] * p[:, 0] + m[0, 1] * p[:, 1] + m[0, 2]
    out[:, 1] = m[1, 0] * p[:, 0] + m[1, 1] * p[:, 1] + m[1, 2]
    return out


def apply_homography(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Nx2 points through a 3x3 homography."""
    p = np.asarray(points, np.float64).reshape(-1, 2)
    h = np.asarray(h, np.float64)
    w = h[2, 0] * p[:, 0] + h[2, 1] * p[:, 1] + h[2, 2]
    out = np.empty_like(p)
    out[:, 0] = (h[0, 0] * p[:, 0] + h[0, 1] * p[:, 1] + h[0, 2]) / w
    out[:, 1] = (h[1, 0] * p[:, 0] + h[1, 1] * p[:, 1] + h[1, 2]) / w
    return out


def invert_affine(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float64)
    lin = np.linalg.inv(m[:, :2])
    return np.hstack([lin, -lin @ m[:, 2:3]])


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 affine of x -> outer(inner(x))."""
    a = np.vstack([np.asarray(outer, np.float64), [0, 0, 1]])
    b = np.vstack([np.asarray(inner, np.float64), [0, 0, 1]])
    return (a @ b)[:2]


def grid_to_hr_affine(scale: float, origin_hr: tuple[float, float]) -> np.ndarray:
    """2x3 affine from LR grid pixels (u, v) to HR photo pixels for a grid whose HR crop starts
    at ``origin_hr`` = (x0, y0): X = x0 + s (u + 0.5) - 0.5 (the pair convention)."""
    s = float(scale)
    x0, y0 = origin_hr
    return np.array([[s, 0.0, x0 + 0.5 * s - 0.5], [0.0, s, y0 + 0.5 * s - 0.5]])


def corner_error_lr_px(estimate: PairMap, truth: PairMap, hr_crop: tuple[int, int, int, int],
                       scale: float) -> np.ndarray:
    """Distance, in LR photo pixels, between where ``estimate`` and ``truth`` put the four corner
    pixels of the LR grid of ``hr_crop`` [x0, y0, w, h]; shape (4,)."""
    x0, y0, w, h = hr_crop
    s = float(scale)
    wl, hl = w / s, h / s
    grid = np.array([[0, 0], [wl - 1, 0], [0, hl - 1], [wl - 1, hl - 1]], np.float64)
    hr = apply_affine(grid_to_hr_affine(s, (x0, y0)), grid)
    return np.linalg.norm(estimate.hr_to_lr(hr) - truth.hr_to_lr(hr), axis=1)
