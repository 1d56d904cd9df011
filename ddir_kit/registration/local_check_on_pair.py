"""The local shift check (local_shift_check.py) applied to a registered pair: the tiles of the
pair's LR grid compared like with like, and bad tiles mapped back to the fit's grid (for a
refit without them) and to an HR crop (for a trim)."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np

from ..photo.srgb import linear_to_srgb_255
from .local_shift_check import LocalCheckConfig, LocalShiftMap, local_shift_map
from .pair_map import PairMap
from .pair_resampling import grid_sample_points, hr_on_lr_grid, lr_grid_size

# Larger grids are checked on a pyramid level.
_LOCAL_CHECK_MAX_SIDE_PX = 1600


def bad_tiles_on_grid(shift_map: LocalShiftMap, crop, pre_crop, s: Fraction, shape) -> np.ndarray:
    """Bool mask of ``shape`` on the grid of ``pre_crop`` covering the bad tiles of a check on
    ``crop`` (both [x0, y0, w, h], HR px), grown by half a tile
    on every side (an object rarely ends on a tile edge; its neighbours may be hit in part)."""
    t = shift_map.tile_px
    du = (crop[0] - pre_crop[0]) / float(s)
    dv = (crop[1] - pre_crop[1]) / float(s)
    grow = t // 2
    mask = np.zeros(shape, bool)
    for r, c in zip(*np.nonzero(shift_map.bad)):
        v0, u0 = int(np.floor(r * t + dv)) - grow, int(np.floor(c * t + du)) - grow
        mask[max(0, v0):max(0, v0 + t + 2 * grow + 1), max(0, u0):max(0, u0 + t + 2 * grow + 1)] = True
    return mask
def local_shift_map_of_pair(hr_g: np.ndarray, moving: np.ndarray, offset: tuple[int, int], pmap: PairMap, crop,
                            s: Fraction, fine, cfg: LocalCheckConfig, encode: bool = False) -> LocalShiftMap:
    """The local shift check of the pair's LR grid on ``crop`` [x0, y0, w, h] (HR px): the HR
    green ``hr_g`` (0..255) downscaled to the grid against the LR window ``moving`` (top-left
    at ``offset`` in the LR photo) under the map and the fitted luminance model of ``fine`` (a
    FineAlignment). encode: hr_g and moving are linear light; the tiles are judged on
    sRGB-encoded values, the scale the check's thresholds are set in (in linear light a dark
    tile loses its contrast)."""
    template = hr_on_lr_grid(hr_g, crop, s)
    # Large grids are checked on a pyramid level (x_level = x / 2**level, as pyrDown samples):
    # a 64 px tile there is still a patch, and the shift precision stays far below the gate.
    level = 0
    while max(template.shape) / 2 ** level > _LOCAL_CHECK_MAX_SIDE_PX:
        level += 1
    mov = photometric_model(moving, offset, pmap, fine)
    if encode:
        template, mov = linear_to_srgb_255(template), linear_to_srgb_255(mov)
    for _ in range(level):
        template, mov = cv2.pyrDown(template), cv2.pyrDown(mov)
    f = 2 ** level
    mx, my = grid_sample_points(crop, s, pmap, step=f)
    mx = (mx - offset[0]) / f
    my = (my - offset[1]) / f
    h, w = min(template.shape[0], mx.shape[0]), min(template.shape[1], mx.shape[1])
    return local_shift_map(template[:h, :w], mov, mx[:h, :w], my[:h, :w], config=cfg, px_scale=float(f))


def photometric_model(moving: np.ndarray, offset, pmap: PairMap, fine) -> np.ndarray:
    """The fitted luminance model applied to the (cropped) LR grey image, so that the local
    check compares like with like: (gain + v1 rho + v2 rho^2) I + c I^2 / 255 + offset."""
    h, w = moving.shape
    cx, cy = pmap.radial_centre_px
    xs = (np.arange(w, dtype=np.float32) + np.float32(offset[0] - cx)) ** 2
    ys = (np.arange(h, dtype=np.float32) + np.float32(offset[1] - cy)) ** 2
    rho = (ys[:, None] + xs[None, :]) / np.float32(pmap.radial_norm_px ** 2)
    gain = np.float32(fine.gain) + np.float32(fine.vignetting[0]) * rho + np.float32(fine.vignetting[1]) * rho * rho
    return (gain * moving + np.float32(fine.tone_quadratic / 255.0) * moving * moving
            + np.float32(fine.offset)).astype(np.float32)


def crop_of_tiles(crop, keep_tiles, shift_map: LocalShiftMap, s: Fraction):
    """HR crop of a tile rectangle; the last row/column of tiles extends to the grid's edge."""
    r0, c0, r1, c1 = keep_tiles
    rows, cols = shift_map.bad.shape
    t = shift_map.tile_px
    wl, hl = lr_grid_size(crop, s)
    u0, v0 = c0 * t, r0 * t
    u1 = wl if c1 == cols else c1 * t
    v1 = hl if r1 == rows else r1 * t
    q = s.denominator
    u0, v0 = -(-u0 // q) * q, -(-v0 // q) * q  # HR offset s*u must be an integer
    x0 = crop[0] + int(s * u0)
    y0 = crop[1] + int(s * v0)
    return x0, y0, int(s * (u1 - u0)), int(s * (v1 - v0))
