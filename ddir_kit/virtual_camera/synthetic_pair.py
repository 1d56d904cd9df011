"""Synthetic LR photos with a known map, for tests and benchmarks of registration.

A "world" image at HR resolution (a real photo or a mosaic of real photos) is rendered as the
short-focal-length shot: for every LR photo pixel y, the HR point lr_to_hr(y) is looked up in
the world after an area downscale by s in linear light (so the LR photo is antialiased like a
real lower-magnification capture), with Lanczos interpolation. A photometric change (gain, offset,
gamma, white balance) and noise model the exposure differences between the two shots.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from ..photo.srgb import linear_to_srgb, srgb_to_linear
from ..registration.pair_map import PairMap, apply_affine


def perturbed_lr_to_hr(scale: float, hr_size, lr_size, *, scale_error: float = 0.01, rotation_deg: float = 0.5,
                       shear: float = 0.004, shift_lr_px=(1.7, -2.3)) -> np.ndarray:
    """A 2x3 LR photo -> HR photo affine: the nominal central zoom by s, perturbed by a relative
    scale error, a rotation, a shear and a shift (given in LR pixels)."""
    c_hr = (np.asarray(hr_size, np.float64) - 1) / 2
    c_lr = (np.asarray(lr_size, np.float64) - 1) / 2
    th = np.deg2rad(rotation_deg)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    lin = float(scale) * (1 + scale_error) * rot @ np.array([[1.0, shear], [0.0, 1.0]])
    t = c_hr - lin @ c_lr + float(scale) * np.asarray(shift_lr_px, np.float64)
    return np.hstack([lin, t[:, None]])


def render_lr_photo(world_hr: np.ndarray, hr_origin_in_world, lr_to_hr, scale, lr_size) -> np.ndarray:
    """The LR photo (float32 h x w x C) seeing ``world_hr`` through ``lr_to_hr`` (a 2x3 affine or a
    PairMap, whose radial term then distorts the LR photo).

    world_hr: float32 HxWxC at HR resolution; HR photo pixel X is world pixel X + origin.
    lr_size: (w, h) of the LR photo. Points outside the world read a mirrored world.
    """
    s = Fraction(scale).limit_denominator(1000)
    p = s.numerator
    hw, ww = (world_hr.shape[0] // p) * p, (world_hr.shape[1] // p) * p
    # A sensor pixel averages light, not encoded values: downscale in linear light (the world is
    # taken as sRGB-encoded, like the photos it comes from), then encode again.
    world_lr = linear_to_srgb(cv2.resize(srgb_to_linear(world_hr[:hw, :ww]), (int(ww / s), int(hw / s)),
                                         interpolation=cv2.INTER_AREA))
    w, h = lr_size
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    pts = np.stack([xs.ravel(), ys.ravel()], 1)
    hr = lr_to_hr.lr_to_hr_points(pts) if isinstance(lr_to_hr, PairMap) else apply_affine(lr_to_hr, pts)
    hr = hr + np.asarray(hr_origin_in_world, np.float64)
    n = (hr + 0.5) / float(s) - 0.5
    mx = n[:, 0].reshape(h, w).astype(np.float32)
    my = n[:, 1].reshape(h, w).astype(np.float32)
    out = cv2.remap(world_lr, mx, my, cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT101)
    return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True)
class Photometric:
    """out = clip(gain * wb_c * in**gamma + offset); noise_std on the [0, 1] scale."""

    gain: float = 0.85
    offset: float = 0.03
    gamma: float = 1.15
    white_balance: tuple[float, float, float] = (1.08, 1.0, 0.88)
    noise_std: float = 0.004


def apply_photometric(rgb: np.ndarray, ph: Photometric, seed: int = 0) -> np.ndarray:
    out = ph.gain * np.asarray(ph.white_balance, np.float32) * np.power(np.clip(rgb, 0, 1), ph.gamma) + ph.offset
    if ph.noise_std > 0:
        out = out + np.random.default_rng(seed).normal(0.0, ph.noise_std, out.shape).astype(np.float32)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def paste_object(rgb: np.ndarray, patch: np.ndarray, area_fraction: float, centre_frac=(0.3, 0.65)) -> np.ndarray:
    """Cover ``area_fraction`` of the frame with a square of ``patch`` content (an object that is
    in one photo only), centred at the given fraction of width and height."""
    h, w = rgb.shape[:2]
    side = int(round(np.sqrt(area_fraction * h * w)))
    cx, cy = int(centre_frac[0] * w), int(centre_frac[1] * h)
    x0, y0 = max(0, cx - side // 2), max(0, cy - side // 2)
    out = rgb.copy()
    obj = cv2.resize(np.ascontiguousarray(patch, np.float32), (side, side), interpolation=cv2.INTER_AREA)
    out[y0:y0 + side, x0:x0 + side] = obj[:min(side, h - y0), :min(side, w - x0)]
    return out
