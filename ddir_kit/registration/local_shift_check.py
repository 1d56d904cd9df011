"""Patch-wise check of what a global map leaves behind (as DRealSR refined patch by patch).

After the global fit, the template (HR downscaled to the LR grid) and the resampled,
luminance-corrected LR are compared tile by tile: a sub-pixel shift (Lucas-Kanade steps per
tile, all tiles at once) and a tile ZNCC. Parallax, a moving object or a local misfit shows as a
tile that is shifted or no longer correlates. Bad tiles in the outer ring are trimmed away;
bad tiles further in reject the pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


_MIN_EIG_RATIO = 0.15


@dataclass(frozen=True)
class LocalCheckConfig:
    """tile_px: tile side on the LR grid. min_tile_std: tiles flatter than this (0..255 scale)
    are not judged. max_shift_px: largest tolerated tile shift, LR px. min_tile_zncc: lowest
    tolerated tile correlation. min_shift_sigmas: a shift must also exceed this many standard
    errors of its own estimate. max_trim_fraction: at most this fraction of each side may be
    trimmed away to drop bad border tiles."""

    tile_px: int = 64
    min_tile_std: float = 3.0
    max_shift_px: float = 0.35
    min_shift_sigmas: float = 4.0
    min_tile_zncc: float = 0.7
    max_trim_fraction: float = 0.15


@dataclass
class LocalShiftMap:
    """Per-tile results on a rows x cols grid of ``tile_px`` tiles starting at the grid origin.

    shift_px: float (rows, cols, 2), (dx, dy) of the LR relative to the template, LR px;
    NaN for tiles too flat to judge. zncc: (rows, cols). bad: bool (rows, cols). shift_sigma_px:
    (rows, cols) standard error of each shift, LR px.
    """

    tile_px: int
    shift_px: np.ndarray
    zncc: np.ndarray
    bad: np.ndarray
    shift_sigma_px: np.ndarray | None = None

    def summary(self) -> dict:
        mag = np.hypot(self.shift_px[..., 0], self.shift_px[..., 1])
        judged = np.isfinite(mag)
        return {
            "tile_px": self.tile_px,
            "tiles": [int(self.bad.shape[0]), int(self.bad.shape[1])],
            "judged": int(judged.sum()),
            "bad": int(self.bad.sum()),
            "shift_median_px": float(np.median(mag[judged])) if judged.any() else None,
            "shift_p95_px": float(np.percentile(mag[judged], 95)) if judged.any() else None,
            "shift_max_px": float(mag[judged].max()) if judged.any() else None,
            "zncc_min": float(np.nanmin(self.zncc)) if judged.any() else None,
        }

    def to_dict(self) -> dict:
        return {**self.summary(),
                "shift_px": np.where(np.isfinite(self.shift_px), self.shift_px.round(4), None).tolist(),
                "zncc": np.where(np.isfinite(self.zncc), self.zncc.round(4), None).tolist(),
                "shift_sigma_px": None if self.shift_sigma_px is None else
                np.where(np.isfinite(self.shift_sigma_px), self.shift_sigma_px.round(4), None).tolist(),
                "bad": self.bad.astype(int).tolist()}


def local_shift_map(template: np.ndarray, moving: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, *,
                    gain: float = 1.0, offset: float = 0.0,
                    config: LocalCheckConfig = LocalCheckConfig(), iterations: int = 3,
                    px_scale: float = 1.0) -> LocalShiftMap:
    """Tile shifts and correlations between the template and the LR photo under the global map.

    template: float32 grey h x w (0..255) on the LR grid; moving: float32 grey LR photo (tone
    matched); map_x, map_y: float32 h x w, where the global map samples ``moving`` for each grid
    pixel; T ~ gain * moving + offset. Each tile's shift d (LR px, added to the sampling
    positions) comes from a few Lucas-Kanade steps: cv2.phaseCorrelate's centroid peak is biased
    towards whole pixels by up to ~0.1 px, too much for a 0.35 px gate.

    px_scale: LR pixels per pixel of these images (2**level when run on a pyramid level); the
    returned tile size and shifts are in LR pixels.
    """
    h, w = template.shape
    t = config.tile_px
    rows, cols = max(1, h // t), max(1, w // t)
    hh, ww = min(h, rows * t), min(w, cols * t)
    tpl = template[:hh, :ww].astype(np.float32)
    mx, my = map_x[:hh, :ww], map_y[:hh, :ww]
    d = np.zeros((rows, cols, 2))

    def tiles(img):  # (rows, cols, t*t) view of per-tile pixels
        return img.reshape(rows, hh // rows, cols, ww // cols).transpose(0, 2, 1, 3).reshape(rows, cols, -1)

    def field(v):
        return np.repeat(np.repeat(v, hh // rows, axis=0), ww // cols, axis=1).astype(np.float32)

    tt = tiles(tpl)
    tt = tt - tt.mean(axis=2, keepdims=True)
    for _ in range(iterations):
        warped = cv2.remap(moving, mx + field(d[..., 0]), my + field(d[..., 1]), cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan) * gain + offset
        valid = np.isfinite(warped)
        warped = np.where(valid, warped, 0).astype(np.float32)
        gx = tiles(cv2.Sobel(warped, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8))
        gy = tiles(cv2.Sobel(warped, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8))
        ww_ = tiles(warped)
        ww_ = ww_ - ww_.mean(axis=2, keepdims=True, dtype=np.float64).astype(np.float32)
        e = tt - ww_
        # float32 products, float64 sums: exact enough, half the memory traffic
        a11, a12, a22 = (gx * gx).sum(2, dtype=np.float64), (gx * gy).sum(2, dtype=np.float64), \
            (gy * gy).sum(2, dtype=np.float64)
        b1, b2 = (gx * e).sum(2, dtype=np.float64), (gy * e).sum(2, dtype=np.float64)
        # Pseudo-inverse with an eigenvalue cut: a tile with one straight edge only fixes the
        # shift across the edge (aperture problem); its along-edge part is left at zero
        # rather than read from noise.
        mat = np.stack([np.stack([a11, a12], -1), np.stack([a12, a22], -1)], -2)
        lam, vec = np.linalg.eigh(mat)
        proj = np.einsum("rcji,rcj->rci", vec, np.stack([b1, b2], -1))
        keep = lam > _MIN_EIG_RATIO * lam[..., 1:2] + 1e-9
        coef = np.where(keep, proj / np.where(keep, lam, 1.0), 0.0)
        step = np.einsum("rcji,rci->rcj", vec, coef)
        d = np.clip(d + step, -8.0, 8.0)
    # Least-squares uncertainty of the shift along its weakest kept direction: residual
    # variance over the structure tensor's eigenvalue (the tensor sums over the tile's pixels).
    sigma_r2 = (e.astype(np.float64) ** 2).mean(axis=2)
    lam_kept = np.where(keep, lam, np.inf).min(axis=-1)
    sigma = np.sqrt(sigma_r2 / np.maximum(lam_kept, 1e-12)) * px_scale
    tile_valid = tiles(valid.astype(np.float32)).min(axis=2) > 0
    tstd = tiles(tpl).std(axis=2)
    den = np.sqrt((tt * tt).sum(2, dtype=np.float64) * (ww_ * ww_).sum(2, dtype=np.float64))
    zncc = np.where(den > 0, (tt * ww_).sum(2, dtype=np.float64) / np.where(den > 0, den, 1.0), 0.0)
    judged = tile_valid & (tstd >= config.min_tile_std)
    d = d * px_scale
    shift = np.where(judged[..., None], d, np.nan)
    zncc = np.where(judged, zncc, np.nan)
    mag = np.hypot(d[..., 0], d[..., 1])
    # A shift counts when it is both large and clearly measured (weak texture, blur and noise
    # make a single tile's estimate wander).
    moved = (mag > config.max_shift_px) & (mag > config.min_shift_sigmas * sigma)
    bad = judged & (moved | (zncc < config.min_tile_zncc))
    return LocalShiftMap(int(round(t * px_scale)), shift, zncc, bad, np.where(judged, sigma, np.nan))


@dataclass(frozen=True)
class LocalVerdict:
    """keep_tiles: (r0, c0, r1, c1), the tile rectangle kept (end exclusive); None = rejected."""

    keep_tiles: tuple[int, int, int, int] | None
    reason: str


def judge_local(shift_map: LocalShiftMap, config: LocalCheckConfig = LocalCheckConfig()) -> LocalVerdict:
    """Peel border rows/columns holding bad tiles (up to ``max_trim_fraction`` per side); reject
    if bad tiles remain."""
    bad = shift_map.bad
    rows, cols = bad.shape
    r0, c0, r1, c1 = 0, 0, rows, cols
    max_r = int(np.floor(rows * config.max_trim_fraction))
    max_c = int(np.floor(cols * config.max_trim_fraction))
    while bad[r0:r1, c0:c1].any():
        sub = bad[r0:r1, c0:c1]
        options = []  # (bad tiles removed, side) for sides still allowed to move
        if r0 < max_r:
            options.append((sub[0].sum(), "top"))
        if rows - r1 < max_r:
            options.append((sub[-1].sum(), "bottom"))
        if c0 < max_c:
            options.append((sub[:, 0].sum(), "left"))
        if cols - c1 < max_c:
            options.append((sub[:, -1].sum(), "right"))
        options = [o for o in options if o[0] > 0]
        if not options:
            break
        side = max(options)[1]
        if side == "top":
            r0 += 1
        elif side == "bottom":
            r1 -= 1
        elif side == "left":
            c0 += 1
        else:
            c1 -= 1
    remaining = bad[r0:r1, c0:c1]
    if remaining.any():
        rr, cc = np.nonzero(bad)
        mag = np.hypot(shift_map.shift_px[..., 0], shift_map.shift_px[..., 1])
        worst_shift = float(np.nanmax(mag[bad])) if np.isfinite(mag[bad]).any() else float("nan")
        worst_zncc = float(np.nanmin(shift_map.zncc[bad]))
        n = int(bad.sum())
        frac = 100.0 * n / bad.size
        return LocalVerdict(None, f"local misfit (moving object, parallax or failed exposure): {n} of "
                                  f"{bad.size} tiles ({frac:.1f} %) disagree, worst shift {worst_shift:.2f} LR px, "
                                  f"lowest tile zncc {worst_zncc:.2f}, e.g. tile row {rr[0]} col {cc[0]}")
    trimmed = (r0, c0, r1, c1) != (0, 0, rows, cols)
    return LocalVerdict((r0, c0, r1, c1), "trimmed border tiles with local misfit" if trimmed else "")
