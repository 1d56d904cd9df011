"""Register one LR photo to its HR photo and write the exact-scale pair.

    exposure gates -> linear light -> coarse (central zoom, SIFT + RANSAC if off) -> tone match
    -> fine Gauss-Newton (affine or homography + luminance [+ radial]) down to the second-finest
    level -> the LR's extra blur measured, the template rebuilt from the HR blurred by it -> the
    finest level -> quality gates -> HR crop -> local shift check (trim or reject, refit)
    -> hr.png (HR pixels, never resampled) + lr.png (LR resampled on the grid) + pair.json

Registration runs on the green channel: white-balance gains act on each channel separately,
so a luma mix of R, G and B changes by a colour-dependent factor between the two shots,
whereas one channel only sees a monotone tone change that the tone match and the luminance
gain/offset absorb. Green is also the least noisy channel of a Bayer sensor. Why linear light
and the blurred template: relative_blur.py; what each is worth: benchmarks/registration_ablation.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..photo.photo_io import Photo, read_photo, write_png
from ..errors import DdirKitError
from ..fileio import atomic_write_json, sha256_file
from ..scales import as_fraction
from .coarse_alignment import coarse_align, grid_corners_in_lr, nominal_grid_to_lr
from .fine_alignment import FineConfig, fine_align
from .local_shift_check import LocalCheckConfig, LocalShiftMap, judge_local, local_shift_map
from .pair_map import PairMap, compose_affine, grid_to_hr_affine, invert_affine
from .pair_resampling import (colour_transfer, grid_sample_points, hr_crop_for_map, hr_on_lr_grid,
                              lr_grid_size, resample_lr)
from ..photo.srgb import linear_to_srgb_255, srgb_to_linear_255
from .relative_blur import estimate_relative_blur, gaussian_blur

PAIR_JSON_VERSION = 1
PHOTO_ENCODINGS = ("srgb", "linear")


@dataclass(frozen=True)
class RegistrationConfig:
    """radial: also fit the relative radial term (radial_k1: apply this value instead of fitting
    it; a batch run pools it over the scenes shot at one scale). perspective: fit a homography (pan or tilt
    between the shots) instead of an affine; pair.json then adds lr_to_hr_h. margin_lr_px: keep the LR grid this far inside
    the LR photo. min_zncc: lowest global correlation after alignment. max_clipped_fraction,
    min_contrast: exposure gates (contrast = std of the green channel, 0..255 scale).
    max_scale_error: largest tolerated |measured / nominal - 1|. min_sharpness_ratio: lowest
    tolerated ratio of LR to template gradient energy (a shaken or misfocused shot; measured
    against the unblurred template, on the second-finest level).
    max_relative_blur_lr_px: largest tolerated measured blur of the LR beyond the template's
    (relative_blur.py; a lens at its short end measures 0.3-0.8 LR px): a shaken or misfocused shot.
    max_brightness_ratio: largest tolerated ratio of mean brightness (8-bit encoded values) between
    LR and HR over the common view, either way (about 2 stops in a gamma-encoded photo). interpolation: 'lanczos' or
    'bicubic' for lr.png. colour_transfer: RealSR's colour correction of lr.png (off: DDIR
    models the photometric shift). tone_match: also match LR grey levels to the HR's by quantiles
    before the fit (off: the fit's quadratic tone term handles gamma; quantiles of a blurrier
    shot are compressed, which bent the curve and cost accuracy on the virtual camera).
    photo_encoding: how the photos' values encode light. 'srgb' (camera JPEGs, the PNGs ingest
    develops) is decoded, so that registration works in linear light (a sensor averages light,
    see relative_blur.py); 'linear' takes the values as they are (linear-light files).
    template_blur_lr_px: Gaussian sigma, LR px, by which the
    HR is blurred before it is downscaled to the template (the LR shot's extra optical blur);
    None measures it per pair, 0 keeps the plain area downscale."""

    radial: bool = False
    perspective: bool = False
    radial_k1: float | None = None
    margin_lr_px: float = 4.0
    min_zncc: float = 0.85
    max_clipped_fraction: float = 0.4
    min_contrast: float = 4.0
    max_scale_error: float = 0.06
    min_sharpness_ratio: float = 0.3
    max_relative_blur_lr_px: float = 1.5
    max_brightness_ratio: float = 2.0
    interpolation: str = "lanczos"
    colour_transfer: bool = False
    tone_match: bool = False
    photo_encoding: str = "srgb"
    template_blur_lr_px: float | None = None
    fine: FineConfig = field(default_factory=FineConfig)
    local: LocalCheckConfig = field(default_factory=LocalCheckConfig)

    def __post_init__(self):
        if self.photo_encoding not in PHOTO_ENCODINGS:
            raise DdirKitError(f"photo_encoding must be one of {', '.join(PHOTO_ENCODINGS)}, "
                               f"got {self.photo_encoding!r}")
        if self.template_blur_lr_px is not None and not 0 <= self.template_blur_lr_px <= 5:
            raise DdirKitError(f"template_blur_lr_px must be between 0 and 5 LR px, got {self.template_blur_lr_px}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PairRegistration:
    """Everything pair.json records. ``pair_map`` is None when registration stopped before a map
    existed (e.g. a failed exposure); ``status`` is 'ok' or 'rejected' with ``reason``."""

    scale: Fraction
    status: str
    reason: str = ""
    pair_map: PairMap | None = None
    scale_measured: float | None = None
    hr_crop: tuple[int, int, int, int] | None = None
    lr_size: tuple[int, int] | None = None
    luminance: dict = field(default_factory=dict)
    residual: dict = field(default_factory=dict)
    local: LocalShiftMap | None = None
    coarse: dict = field(default_factory=dict)
    template_blur: dict = field(default_factory=dict)
    timing_s: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {"version": PAIR_JSON_VERSION, "scale": float(self.scale), "scale_fraction": str(self.scale),
               "scale_measured": self.scale_measured, "status": self.status, "reason": self.reason}
        if self.pair_map is not None:
            out.update(self.pair_map.to_dict())
        out.update({"hr_crop": list(self.hr_crop) if self.hr_crop else None,
                    "lr_size": list(self.lr_size) if self.lr_size else None,
                    "luminance": self.luminance, "residual": self.residual,
                    "local_shift": self.local.to_dict() if self.local is not None else None,
                    "coarse": self.coarse, "template_blur": self.template_blur,
                    "timing_s": {k: round(v, 3) for k, v in self.timing_s.items()}})
        return out


def green_255(rgb: np.ndarray) -> np.ndarray:
    """float32 HxW: the green channel on a 0..255 scale (RealSR's IRLS epsilon is in these units)."""
    g = cv2.extractChannel(np.asarray(rgb, np.float32), 1)  # much faster than a strided numpy copy
    g *= np.float32(255.0)
    return g


def register_arrays(hr_rgb: np.ndarray, lr_rgb: np.ndarray, scale, config: RegistrationConfig = RegistrationConfig()
                    ) -> PairRegistration:
    """Estimate the map of one pair and decide whether it is usable. No file IO.

    hr_rgb, lr_rgb: float32 HxWx3 in [0, 1] (the two photos, any sizes). scale: nominal s.
    """
    s = as_fraction(scale)
    sf = float(s)
    timing = {}
    t_start = time.perf_counter()
    hr_g, lr_g = green_255(hr_rgb), green_255(lr_rgb)
    hr_size = (hr_g.shape[1], hr_g.shape[0])
    lr_size_photo = (lr_g.shape[1], lr_g.shape[0])
    res = PairRegistration(s, "rejected", timing_s=timing)

    # Preliminary grid: the whole HR photo, sides snapped to the scale's numerator.
    p = s.numerator
    w0, h0 = (hr_size[0] // p) * p, (hr_size[1] // p) * p
    if w0 == 0 or h0 == 0:
        raise DdirKitError(f"HR photo {hr_size[0]}x{hr_size[1]} is smaller than one LR pixel at scale {s}")
    pre_crop = ((hr_size[0] - w0) // 2, (hr_size[1] - h0) // 2, w0, h0)
    nominal = nominal_grid_to_lr(sf, pre_crop[:2], hr_size, lr_size_photo)

    # exposure gates on the encoded values, as a photographer judges a shot
    why = _exposure_problem(hr_g, config, "HR")
    lr_view = _nominal_view(lr_g, nominal, lr_grid_size(pre_crop, s)[::-1])
    why = why or _exposure_problem(lr_view, config, "LR") or _exposure_mismatch(hr_g, lr_view, config)
    if why:
        res.reason = why
        return res
    clip_lo, clip_hi = 1.0, 254.0
    linear_input = config.photo_encoding == "linear"
    if not linear_input:
        hr_g, lr_g = srgb_to_linear_255(hr_g), srgb_to_linear_255(lr_g)
        clip_lo, clip_hi = (float(v) for v in srgb_to_linear_255(np.float32([clip_lo, clip_hi])))
    template = hr_on_lr_grid(hr_g, pre_crop, s)
    # Clipped template pixels say nothing about geometry.
    t_mask = (template > clip_lo) & (template < clip_hi)
    timing["prepare"] = time.perf_counter() - t_start  # greens, exposure gates, decoding, template

    t0 = time.perf_counter()
    coarse = coarse_align(template, lr_g, nominal, template_mask=t_mask)
    res.coarse = {"method": coarse.method, "zncc": round(coarse.zncc, 4), "inliers": coarse.inliers}
    timing["coarse"] = time.perf_counter() - t0

    # Work on the part of the LR photo the grid can reach (plus a margin for refinement).
    corners = grid_corners_in_lr(coarse.grid_to_lr, (template.shape[1], template.shape[0]))
    pad = 0.05 * max(template.shape) + 16
    ox = int(max(0, np.floor(corners[:, 0].min() - pad)))
    oy = int(max(0, np.floor(corners[:, 1].min() - pad)))
    ex = int(min(lr_size_photo[0], np.ceil(corners[:, 0].max() + pad) + 1))
    ey = int(min(lr_size_photo[1], np.ceil(corners[:, 1].max() + pad) + 1))
    if ex - ox < 16 or ey - oy < 16:
        res.reason = "the LR photo does not cover the HR photo's field (coarse alignment)"
        return res
    moving = lr_g[oy:ey, ox:ex]
    a_crop = coarse.grid_to_lr.copy()
    a_crop[:, 2] -= (ox, oy)

    t0 = time.perf_counter()
    lut_x, lut_y = tone_curve(template, moving, a_crop, t_mask) if config.tone_match else \
        (np.array([0.0, 255.0]), np.array([0.0, 255.0]))
    moving = apply_tone_curve(moving, lut_x, lut_y)
    timing["tone"] = time.perf_counter() - t0

    centre = ((lr_size_photo[0] - 1) / 2.0, (lr_size_photo[1] - 1) / 2.0)
    norm = 0.5 * float(np.hypot(*lr_size_photo))
    crop_centre = (centre[0] - ox, centre[1] - oy)
    fine_cfg = FineConfig(**{**asdict(config.fine), "radial": config.radial, "perspective": config.perspective,
                             "radial_k1_fixed": config.radial_k1})
    refine_cfg = FineConfig(**{**asdict(fine_cfg), "max_levels": 2})  # from a close map: the two finest levels
    finest_cfg = FineConfig(**{**asdict(fine_cfg), "max_levels": 1})

    def fit(tpl, init, mask, cfg, key):
        t0 = time.perf_counter()
        out = fine_align(tpl, moving, init, template_mask=mask, radial_centre_px=crop_centre, radial_norm_px=norm,
                         config=cfg)
        timing[key] = time.perf_counter() - t0
        return out

    # Pass 1 stops a level above the finest: the finest level is fitted once, against the
    # template that the blur estimate (which needs pass 1's map) settles.
    fine = fit(template, a_crop, t_mask, FineConfig(**{**asdict(fine_cfg), "finest_level": 1}), "fine_pass1")
    # judged against the plain area downscale: the blurred template below would hide a shaken shot
    sharpness = fine.stats.get("sharpness_ratio", np.nan)
    # The template as the LR's softer optics would see the HR.
    blur = config.template_blur_lr_px
    if blur is None:
        t0 = time.perf_counter()
        estimate = estimate_relative_blur(hr_g, pre_crop, s, moving, _fine_map(fine), radial_k1=fine.radial_k1,
                                          radial_centre_px=crop_centre, radial_norm_px=norm, grid_mask=t_mask)
        timing["blur_estimate"] = time.perf_counter() - t0
        blur = estimate.sigma_lr_px
        res.template_blur = {**estimate.to_dict(), "estimated": True}
    else:
        res.template_blur = {"sigma_lr_px": float(blur), "estimated": False}
    if res.template_blur.get("estimated") and blur > config.max_relative_blur_lr_px:
        res.reason = (f"LR photo much blurrier than the HR predicts (measured blur {blur:.2f} LR px > "
                      f"{config.max_relative_blur_lr_px}): camera shake or missed focus")
        return res
    if blur > 0:
        t0 = time.perf_counter()
        hr_g = gaussian_blur(hr_g, blur * sf)
        template = hr_on_lr_grid(hr_g, pre_crop, s)
        timing["blurred_template"] = time.perf_counter() - t0
    fine = fit(template, _fine_map(fine), t_mask, finest_cfg, "fine_finest")

    hr_to_grid = invert_affine(grid_to_hr_affine(sf, pre_crop[:2]))
    # Pass 1 fits the whole frame. Where tiles then disagree (an object in one photo only,
    # parallax), pass 2 refits the two finest levels without them, so that the map reported
    # (and the trim) is not pulled by what the L1 weights only damp.
    for attempt in range(2):
        grid_to_lr = fine.grid_to_lr.copy()
        grid_to_lr[:, 2] += (ox, oy)
        if fine.grid_to_lr_h is not None:
            shift = np.array([[1.0, 0, ox], [0, 1.0, oy], [0, 0, 1.0]])
            h = np.linalg.inv(shift @ fine.grid_to_lr_h @ np.vstack([hr_to_grid, [0, 0, 1.0]]))
            h /= h[2, 2]
            pmap = PairMap(h[:2].copy(), fine.radial_k1, centre, norm, h)
        else:
            pmap = PairMap(invert_affine(compose_affine(grid_to_lr, hr_to_grid)), fine.radial_k1, centre, norm)
        res.pair_map = pmap
        res.scale_measured = float(np.sqrt(abs(np.linalg.det(pmap.lr_to_hr[:, :2]))))
        res.luminance = {"tone_curve_lr": np.round(lut_x, 3).tolist(), "tone_curve_hr": np.round(lut_y, 3).tolist(),
                         "gain": round(fine.gain, 6), "offset": round(fine.offset, 4),
                         "vignetting": [round(v, 6) for v in fine.vignetting],
                         "tone_quadratic": round(fine.tone_quadratic, 6),
                         "photo_encoding": config.photo_encoding,
                         "model": "hr_green*255 ~ (gain + v1 rho + v2 rho^2 + vx x + vy y) * I + c * I^2 / 255 + "
                                  "offset, I = tone(lr_green*255), rho = |lr - centre|^2 / norm^2, (x, y) = "
                                  "(lr - centre) / norm (radial centre and norm); both greens in linear light "
                                  "(decoded unless photo_encoding is linear); tone by interpolation of the curve "
                                  "(identity unless tone_match)"}
        res.residual = {**{k: round(float(v), 5) for k, v in fine.stats.items()},
                        "sharpness_ratio": round(float(sharpness), 5), "passes": attempt + 1,
                        "iterations": fine.iterations, "converged": fine.converged, "units": "green channel, 0..255"}
        why = _global_problem(fine, sharpness, res.scale_measured, sf, config)
        if why:
            res.reason = why
            return res
        try:
            crop = hr_crop_for_map(pmap, hr_size, lr_size_photo, s, config.margin_lr_px)
        except DdirKitError as e:
            res.reason = e.reason
            return res
        t0 = time.perf_counter()
        shift_map = _local_map(hr_g, moving, (ox, oy), pmap, crop, s, fine, config.local, not linear_input)
        timing[f"local_pass{attempt + 1}"] = time.perf_counter() - t0
        if attempt == 1 or not shift_map.bad.any():
            break
        excluded = _tiles_on_pre_grid(shift_map, crop, pre_crop, s, template.shape)
        fine = fit(template, _fine_map(fine), t_mask & ~excluded, refine_cfg, "fine_pass2")

    verdict = judge_local(shift_map, config.local)
    res.local = shift_map
    res.hr_crop, res.lr_size = crop, lr_grid_size(crop, s)
    if verdict.keep_tiles is None:
        res.reason = verdict.reason
        return res
    if verdict.reason:  # trimmed: shrink the crop to the kept tiles
        crop = _crop_of_tiles(crop, verdict.keep_tiles, shift_map, s)
        crop = hr_crop_for_map(pmap, hr_size, lr_size_photo, s, config.margin_lr_px, within=crop)
        res.hr_crop, res.lr_size = crop, lr_grid_size(crop, s)
    res.status, res.reason = "ok", verdict.reason
    timing["total"] = time.perf_counter() - t_start
    return res


def _fine_map(fine) -> np.ndarray:
    return fine.grid_to_lr_h if fine.grid_to_lr_h is not None else fine.grid_to_lr


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
        return np.array([0.0, 255.0]), np.array([0.0, 255.0])
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


def _global_problem(fine, sharp: float, scale_measured: float, sf: float, config: RegistrationConfig) -> str:
    zncc = fine.stats.get("zncc_best90", np.nan)
    if not np.isfinite(zncc) or zncc < config.min_zncc:
        return (f"poor agreement after alignment (zncc {zncc:.3f} < {config.min_zncc} on the best-fitting "
                "90 % of pixels): failed exposure, blur, or not the same scene")
    if np.isfinite(sharp) and sharp < config.min_sharpness_ratio:
        return (f"LR photo much blurrier than the HR predicts (gradient ratio {sharp:.2f} < "
                f"{config.min_sharpness_ratio}): camera shake or missed focus")
    if abs(scale_measured / sf - 1) > config.max_scale_error:
        return f"measured scale {scale_measured:.4f} is more than {config.max_scale_error:.0%} off nominal {sf:g}"
    return ""


def _tiles_on_pre_grid(shift_map: LocalShiftMap, crop, pre_crop, s: Fraction, shape) -> np.ndarray:
    """Bool mask on the preliminary template grid covering the bad tiles, grown by half a tile
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


def _exposure_problem(grey: np.ndarray, config: RegistrationConfig, which: str) -> str:
    grey = grey[::2, ::2]  # a quarter of the pixels gives the same fractions without full-frame temporaries
    clipped = float(np.mean((grey >= 254.0) | (grey <= 1.0)))
    if clipped > config.max_clipped_fraction:
        return f"{which} photo badly exposed: {clipped:.0%} of its pixels are clipped"
    sd = float(grey.std())
    if sd < config.min_contrast:
        return f"{which} photo has almost no contrast (std {sd:.1f} of 255): failed exposure or lens cap"
    return ""


def _exposure_mismatch(hr_g: np.ndarray, lr_view: np.ndarray, config: RegistrationConfig) -> str:
    # Both shots see the same scene at the same aperture: a large brightness ratio over the
    # common view is a failed exposure, even when the frame is still registrable.
    hr_mean, lr_mean = float(hr_g[::4, ::4].mean()), float(lr_view[::2, ::2].mean())
    ratio = (lr_mean + 1.0) / (hr_mean + 1.0)
    if ratio > config.max_brightness_ratio:
        return f"LR photo overexposed: {ratio:.1f}x brighter than the HR photo over the same view"
    if ratio < 1.0 / config.max_brightness_ratio:
        return f"LR photo underexposed: {1 / ratio:.1f}x darker than the HR photo over the same view"
    return ""


def _nominal_view(lr_g: np.ndarray, nominal: np.ndarray, grid_shape) -> np.ndarray:
    h, w = grid_shape
    x0, y0 = nominal[:, 2]
    xa, ya = int(max(0, x0)), int(max(0, y0))
    view = lr_g[ya:int(y0 + h), xa:int(x0 + w)]
    return view if view.size else lr_g


def _local_map(hr_g, moving, offset, pmap, crop, s, fine, cfg, encode: bool = False) -> LocalShiftMap:
    """encode: hr_g and moving are linear light; the tiles are judged on sRGB-encoded values, the
    scale the check's thresholds are set in (in linear light a dark tile loses its contrast)."""
    template = hr_on_lr_grid(hr_g, crop, s)
    # Large grids are checked on a pyramid level (x_level = x / 2**level, as pyrDown samples):
    # a 64 px tile there is still a patch, and the shift precision stays far below the gate.
    level = 0
    while max(template.shape) / 2 ** level > _LOCAL_CHECK_MAX_SIDE_PX:
        level += 1
    mov = _photometric_model(moving, offset, pmap, fine)
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


def _photometric_model(moving: np.ndarray, offset, pmap: PairMap, fine) -> np.ndarray:
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


_LOCAL_CHECK_MAX_SIDE_PX = 1600


def _crop_of_tiles(crop, keep_tiles, shift_map: LocalShiftMap, s: Fraction):
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


# ---------------------------------------------------------------------------------------
# with files


def register_pair(hr_path: str | Path, lr_path: str | Path, scale, out_dir: str | Path,
                  config: RegistrationConfig = RegistrationConfig(), notes: dict | None = None) -> PairRegistration:
    """Register one pair of photo files and write ``out_dir/{hr.png, lr.png, pair.json}``.

    The folder appears complete or not at all (written beside it, then renamed). Rejected
    pairs get pair.json with the reason, plus the images when a map exists (for
    `register --inspect`; `crop` uses only status 'ok'). Unreadable input raises DdirKitError.
    notes: extra top-level entries for pair.json (the batch's pooled radial term).
    """
    hr, lr = read_photo(hr_path), read_photo(lr_path)
    result = register_arrays(hr.rgb, lr.rgb, scale, config)
    write_pair_folder(out_dir, result, hr, lr, config,
                      sources={"hr": {"file": str(hr_path), "sha256": sha256_file(hr_path)},
                               "lr": {"file": str(lr_path), "sha256": sha256_file(lr_path)}}, notes=notes)
    return result


def write_pair_folder(out_dir: str | Path, result: PairRegistration, hr: Photo, lr: Photo,
                      config: RegistrationConfig, sources: dict | None = None, notes: dict | None = None) -> Path:
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        if result.hr_crop is not None and result.pair_map is not None:
            x0, y0, w, h = result.hr_crop
            # HR pixels are written back exactly (float32 holds every 8- and 16-bit level).
            write_png(tmp / "hr.png", hr.rgb[y0:y0 + h, x0:x0 + w], hr.bit_depth)
            lr_img = resample_lr(lr.rgb, result.pair_map, result.hr_crop, result.scale, config.interpolation)
            if config.colour_transfer:
                lr_img = colour_transfer(lr_img, hr_on_lr_grid(hr.rgb, result.hr_crop, result.scale))
            write_png(tmp / "lr.png", lr_img, lr.bit_depth)
        record = result.to_dict()
        record["outputs"] = {name: sha256_file(tmp / name) for name in ("hr.png", "lr.png") if (tmp / name).is_file()}
        record["hr_bit_depth"], record["lr_bit_depth"] = hr.bit_depth, lr.bit_depth
        record["hr_photo_size"], record["lr_photo_size"] = list(hr.size), list(lr.size)
        record["sources"] = sources or {}
        record["config"] = config.to_dict()
        record.update(notes or {})
        atomic_write_json(tmp / "pair.json", record)
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.replace(out_dir, old / "x")
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


__all__ = ["RegistrationConfig", "PairRegistration", "register_arrays", "register_pair", "write_pair_folder",
           "tone_curve"]
