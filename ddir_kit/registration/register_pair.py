"""Register one LR photo to its HR photo and write the exact-scale pair.

register_arrays runs these steps, each a function below; any of them may reject the pair with
a reason (status 'rejected'):

    _prepare                 greens, preliminary grid, exposure gates, linear light, template
    _coarse_alignment        central zoom, SIFT + RANSAC if off; the LR window the fit works in
    _tone_match              LR grey levels matched to the HR's (only with tone_match)
    _fit (pass 1)            Gauss-Newton (affine or homography + luminance [+ radial]) down to
                             the second-finest level
    _template_blur           the LR's extra blur measured, the template rebuilt from the HR
                             blurred by it
    _fit (finest)            the finest level against that template
    _fit_with_local_check    quality gates -> HR crop -> local shift check (one refit without
                             disagreeing tiles)
    _trim_or_reject          trim border tiles with local misfit, or reject

register_pair then writes hr.png (HR pixels, never resampled) + lr.png (LR resampled on the
grid) + pair.json (pair_folder.py, pair_record.py).

Registration runs on the green channel: white-balance gains act on each channel separately,
so a luma mix of R, G and B changes by a colour-dependent factor between the two shots,
whereas one channel only sees a monotone tone change that the tone match and the luminance
gain/offset absorb. Green is also the least noisy channel of a Bayer sensor. Why linear light
and the blurred template: relative_blur.py; what each is worth: benchmarks/registration_ablation.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..errors import DdirKitError
from ..fileio import sha256_file
from ..photo.photo_io import read_photo
from ..photo.srgb import srgb_to_linear_255
from ..scales import as_fraction
from .coarse_alignment import coarse_align, grid_corners_in_lr, nominal_grid_to_lr
from .config import RegistrationConfig
from .fine_alignment import FineAlignment, FineConfig, fine_align
from .local_check_on_pair import bad_tiles_on_grid, crop_of_tiles, local_shift_map_of_pair
from .local_shift_check import LocalShiftMap, judge_local
from .pair_folder import write_pair_folder
from .pair_map import PairMap, compose_affine, grid_to_hr_affine, invert_affine
from .pair_record import PhotoSource, RadialPooled, Sources
from .pair_resampling import hr_crop_for_map, hr_on_lr_grid, lr_grid_size
from .quality_gates import exposure_gates, global_problem, relative_blur_problem
from .relative_blur import estimate_relative_blur, gaussian_blur
from .tone_matching import apply_tone_curve, identity_tone_curve, tone_curve

LUMINANCE_MODEL = ("hr_green*255 ~ (gain + v1 rho + v2 rho^2 + vx x + vy y) * I + c * I^2 / 255 + "
                   "offset, I = tone(lr_green*255), rho = |lr - centre|^2 / norm^2, (x, y) = "
                   "(lr - centre) / norm (radial centre and norm); both greens in linear light "
                   "(decoded unless photo_encoding is linear); tone by interpolation of the curve "
                   "(identity unless tone_match)")


@dataclass
class PairRegistration:
    """The result of register_arrays, in memory (the local check's arrays included);
    pair_folder.pair_record_of makes the pair record of it. ``pair_map`` is None when
    registration stopped before a map existed (e.g. a failed exposure); ``status`` is 'ok' or
    'rejected' with ``reason``. The dict parts hold what pair.json writes under the same keys."""

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


class _Rejected(Exception):
    """A step's verdict that the pair is unusable (not an error: register_arrays returns it)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Work:
    """What the steps of register_arrays hand on. Greens on a 0..255 scale (linear light once
    decoded); the preliminary grid ``pre_crop`` [x0, y0, w, h] (the whole HR photo, sides
    snapped to s's numerator), its template and mask (False where clipped); the LR window
    ``moving`` (top-left at ``origin`` in the LR photo, tone-matched) that the fit works in."""

    s: Fraction
    hr_g: np.ndarray
    lr_g: np.ndarray
    pre_crop: tuple[int, int, int, int]
    nominal: np.ndarray
    decoded: bool
    template: np.ndarray
    t_mask: np.ndarray
    timing: dict
    moving: np.ndarray | None = None
    origin: tuple[int, int] = (0, 0)
    grid_to_window: np.ndarray | None = None  # the coarse map, grid px -> window px
    lut: tuple[np.ndarray, np.ndarray] = field(default_factory=identity_tone_curve)

    @property
    def hr_size(self) -> tuple[int, int]:
        return self.hr_g.shape[1], self.hr_g.shape[0]

    @property
    def lr_photo_size(self) -> tuple[int, int]:
        return self.lr_g.shape[1], self.lr_g.shape[0]

    @property
    def centre(self) -> tuple[float, float]:
        """Radial centre, LR photo px."""
        return (self.lr_photo_size[0] - 1) / 2.0, (self.lr_photo_size[1] - 1) / 2.0

    @property
    def norm(self) -> float:
        """Radial norm, LR px: half the LR photo's diagonal."""
        return 0.5 * float(np.hypot(*self.lr_photo_size))

    @property
    def window_centre(self) -> tuple[float, float]:
        return self.centre[0] - self.origin[0], self.centre[1] - self.origin[1]


def green_255(rgb: np.ndarray) -> np.ndarray:
    """float32 HxW: the green channel on a 0..255 scale (RealSR's IRLS epsilon is in these units)."""
    g = cv2.extractChannel(np.asarray(rgb, np.float32), 1)  # much faster than a strided numpy copy
    g *= np.float32(255.0)
    return g


def register_arrays(hr_rgb: np.ndarray, lr_rgb: np.ndarray, scale, config: RegistrationConfig = RegistrationConfig()
                    ) -> PairRegistration:
    """Estimate the map of one pair and decide whether it is usable; the steps are listed in
    the module docstring. No file IO.

    hr_rgb, lr_rgb: float32 HxWx3 in [0, 1] (the two photos, any sizes). scale: nominal s.
    Raises DdirKitError when the HR photo is smaller than one LR pixel.
    """
    s = as_fraction(scale)
    t_start = time.perf_counter()
    res = PairRegistration(s, "rejected", timing_s={})
    pass1_cfg, finest_cfg, refit_cfg = _fine_configs(config)
    try:
        work = _prepare(hr_rgb, lr_rgb, s, config, res.timing_s, t_start)
        _coarse_alignment(work, res)
        _tone_match(work, config)
        fine = _fit(work, work.grid_to_window, work.t_mask, pass1_cfg, "fine_pass1")
        # judged against the plain area downscale: the blurred template would hide a shaken shot
        sharpness = fine.stats.get("sharpness_ratio", np.nan)
        _template_blur(work, fine, config, res)
        fine = _fit(work, _fine_map(fine), work.t_mask, finest_cfg, "fine_finest")
        shift_map, crop = _fit_with_local_check(work, fine, sharpness, config, refit_cfg, res)
        _trim_or_reject(work, shift_map, crop, config, res)
    except _Rejected as why:
        res.reason = why.reason
        return res
    res.timing_s["total"] = time.perf_counter() - t_start
    return res


def _fine_configs(config: RegistrationConfig) -> tuple[FineConfig, FineConfig, FineConfig]:
    """The fit's settings for pass 1 (stops a level above the finest: the finest level is
    fitted once, against the template that the blur estimate, which needs pass 1's map,
    settles), for the finest level, and for a refit from a close map (the two finest levels)."""
    fine_cfg = replace(config.fine, radial=config.radial, perspective=config.perspective,
                       radial_k1_fixed=config.radial_k1)
    return replace(fine_cfg, finest_level=1), replace(fine_cfg, max_levels=1), replace(fine_cfg, max_levels=2)


def _prepare(hr_rgb: np.ndarray, lr_rgb: np.ndarray, s: Fraction, config: RegistrationConfig, timing: dict,
             t_start: float) -> _Work:
    """The greens; the preliminary grid (the whole HR photo, sides snapped to the scale's
    numerator) and its nominal place in the LR; the exposure gates on the encoded values, as a
    photographer judges a shot; the decoding to linear light; the template on the grid."""
    hr_g, lr_g = green_255(hr_rgb), green_255(lr_rgb)
    hr_size = (hr_g.shape[1], hr_g.shape[0])
    p = s.numerator
    w0, h0 = (hr_size[0] // p) * p, (hr_size[1] // p) * p
    if w0 == 0 or h0 == 0:
        raise DdirKitError(f"HR photo {hr_size[0]}x{hr_size[1]} is smaller than one LR pixel at scale {s}")
    pre_crop = ((hr_size[0] - w0) // 2, (hr_size[1] - h0) // 2, w0, h0)
    nominal = nominal_grid_to_lr(float(s), pre_crop[:2], hr_size, (lr_g.shape[1], lr_g.shape[0]))
    why = exposure_gates(hr_g, lr_g, nominal, lr_grid_size(pre_crop, s)[::-1], config)
    if why:
        raise _Rejected(why)
    clip_lo, clip_hi = 1.0, 254.0
    decoded = config.photo_encoding != "linear"
    if decoded:
        hr_g, lr_g = srgb_to_linear_255(hr_g), srgb_to_linear_255(lr_g)
        clip_lo, clip_hi = (float(v) for v in srgb_to_linear_255(np.float32([clip_lo, clip_hi])))
    template = hr_on_lr_grid(hr_g, pre_crop, s)
    # Clipped template pixels say nothing about geometry.
    t_mask = (template > clip_lo) & (template < clip_hi)
    timing["prepare"] = time.perf_counter() - t_start
    return _Work(s, hr_g, lr_g, pre_crop, nominal, decoded, template, t_mask, timing)


def _coarse_alignment(work: _Work, res: PairRegistration) -> None:
    """The coarse map (central zoom, SIFT + RANSAC when that is off), then the part of the LR
    photo the grid can reach, plus a margin for refinement: the window the fit works in."""
    t0 = time.perf_counter()
    coarse = coarse_align(work.template, work.lr_g, work.nominal, template_mask=work.t_mask)
    res.coarse = {"method": coarse.method, "zncc": round(coarse.zncc, 4), "inliers": coarse.inliers}
    work.timing["coarse"] = time.perf_counter() - t0

    shape = work.template.shape
    corners = grid_corners_in_lr(coarse.grid_to_lr, (shape[1], shape[0]))
    pad = 0.05 * max(shape) + 16
    ox = int(max(0, np.floor(corners[:, 0].min() - pad)))
    oy = int(max(0, np.floor(corners[:, 1].min() - pad)))
    ex = int(min(work.lr_photo_size[0], np.ceil(corners[:, 0].max() + pad) + 1))
    ey = int(min(work.lr_photo_size[1], np.ceil(corners[:, 1].max() + pad) + 1))
    if ex - ox < 16 or ey - oy < 16:
        raise _Rejected("the LR photo does not cover the HR photo's field (coarse alignment)")
    work.moving, work.origin = work.lr_g[oy:ey, ox:ex], (ox, oy)
    work.grid_to_window = coarse.grid_to_lr.copy()
    work.grid_to_window[:, 2] -= (ox, oy)


def _tone_match(work: _Work, config: RegistrationConfig) -> None:
    """The LR window's grey levels through the tone curve (identity unless tone_match)."""
    t0 = time.perf_counter()
    if config.tone_match:
        work.lut = tone_curve(work.template, work.moving, work.grid_to_window, work.t_mask)
    work.moving = apply_tone_curve(work.moving, *work.lut)
    work.timing["tone"] = time.perf_counter() - t0


def _fit(work: _Work, init: np.ndarray, mask: np.ndarray, cfg: FineConfig, timing_key: str) -> FineAlignment:
    """One Gauss-Newton fit of the template to the LR window from ``init`` (grid -> window)."""
    t0 = time.perf_counter()
    out = fine_align(work.template, work.moving, init, template_mask=mask, radial_centre_px=work.window_centre,
                     radial_norm_px=work.norm, config=cfg)
    work.timing[timing_key] = time.perf_counter() - t0
    return out


def _template_blur(work: _Work, fine: FineAlignment, config: RegistrationConfig, res: PairRegistration) -> None:
    """The LR's extra blur (measured with pass 1's map, or as configured); a measured one far
    beyond what the lens explains rejects the pair. The template is then rebuilt as the LR's
    softer optics would see the HR."""
    blur = config.template_blur_lr_px
    if blur is None:
        t0 = time.perf_counter()
        estimate = estimate_relative_blur(work.hr_g, work.pre_crop, work.s, work.moving, _fine_map(fine),
                                          radial_k1=fine.radial_k1, radial_centre_px=work.window_centre,
                                          radial_norm_px=work.norm, grid_mask=work.t_mask)
        work.timing["blur_estimate"] = time.perf_counter() - t0
        blur = estimate.sigma_lr_px
        res.template_blur = {**estimate.to_dict(), "estimated": True}
    else:
        res.template_blur = {"sigma_lr_px": float(blur), "estimated": False}
    why = relative_blur_problem(blur, res.template_blur["estimated"], config)
    if why:
        raise _Rejected(why)
    if blur > 0:
        t0 = time.perf_counter()
        work.hr_g = gaussian_blur(work.hr_g, blur * float(work.s))
        work.template = hr_on_lr_grid(work.hr_g, work.pre_crop, work.s)
        work.timing["blurred_template"] = time.perf_counter() - t0


def _fit_with_local_check(work: _Work, fine: FineAlignment, sharpness: float, config: RegistrationConfig,
                          refit_cfg: FineConfig, res: PairRegistration) -> tuple[LocalShiftMap, tuple]:
    """The pair map and its record, the global quality gates, the HR crop and the local shift
    check. The fit covers the whole frame; where tiles then disagree (an object in one photo
    only, parallax), the two finest levels are refitted once without them, so that the map
    reported (and the trim) is not pulled by what the L1 weights only damp.
    Returns (shift map, HR crop)."""
    s, sf = work.s, float(work.s)
    for attempt in range(2):
        pmap = _pair_map(work, fine)
        res.pair_map = pmap
        res.scale_measured = float(np.sqrt(abs(np.linalg.det(pmap.lr_to_hr[:, :2]))))
        res.luminance = _luminance_record(work.lut, fine, config)
        res.residual = {**{k: round(float(v), 5) for k, v in fine.stats.items()},
                        "sharpness_ratio": round(float(sharpness), 5), "passes": attempt + 1,
                        "iterations": fine.iterations, "converged": fine.converged, "units": "green channel, 0..255"}
        why = global_problem(fine, sharpness, res.scale_measured, sf, config)
        if why:
            raise _Rejected(why)
        try:
            crop = hr_crop_for_map(pmap, work.hr_size, work.lr_photo_size, s, config.margin_lr_px)
        except DdirKitError as e:
            raise _Rejected(e.reason) from None
        t0 = time.perf_counter()
        shift_map = local_shift_map_of_pair(work.hr_g, work.moving, work.origin, pmap, crop, s, fine, config.local, work.decoded)
        work.timing[f"local_pass{attempt + 1}"] = time.perf_counter() - t0
        if attempt == 1 or not shift_map.bad.any():
            break
        excluded = bad_tiles_on_grid(shift_map, crop, work.pre_crop, s, work.template.shape)
        fine = _fit(work, _fine_map(fine), work.t_mask & ~excluded, refit_cfg, "fine_pass2")
    return shift_map, crop


def _trim_or_reject(work: _Work, shift_map: LocalShiftMap, crop: tuple, config: RegistrationConfig,
                    res: PairRegistration) -> None:
    """The local verdict: reject, keep the crop, or shrink it to the kept tile rectangle."""
    s = work.s
    verdict = judge_local(shift_map, config.local)
    res.local = shift_map
    res.hr_crop, res.lr_size = crop, lr_grid_size(crop, s)
    if verdict.keep_tiles is None:
        raise _Rejected(verdict.reason)
    if verdict.reason:  # trimmed: shrink the crop to the kept tiles
        crop = crop_of_tiles(crop, verdict.keep_tiles, shift_map, s)
        crop = hr_crop_for_map(res.pair_map, work.hr_size, work.lr_photo_size, s, config.margin_lr_px, within=crop)
        res.hr_crop, res.lr_size = crop, lr_grid_size(crop, s)
    res.status, res.reason = "ok", verdict.reason


def _pair_map(work: _Work, fine: FineAlignment) -> PairMap:
    """The fit (grid -> window) as the pair map (LR photo -> HR photo)."""
    hr_to_grid = invert_affine(grid_to_hr_affine(float(work.s), work.pre_crop[:2]))
    ox, oy = work.origin
    grid_to_lr = fine.grid_to_lr.copy()
    grid_to_lr[:, 2] += (ox, oy)
    if fine.grid_to_lr_h is not None:
        shift = np.array([[1.0, 0, ox], [0, 1.0, oy], [0, 0, 1.0]])
        h = np.linalg.inv(shift @ fine.grid_to_lr_h @ np.vstack([hr_to_grid, [0, 0, 1.0]]))
        h /= h[2, 2]
        return PairMap(h[:2].copy(), fine.radial_k1, work.centre, work.norm, h)
    return PairMap(invert_affine(compose_affine(grid_to_lr, hr_to_grid)), fine.radial_k1, work.centre, work.norm)


def _luminance_record(lut: tuple[np.ndarray, np.ndarray], fine: FineAlignment, config: RegistrationConfig) -> dict:
    """pair.json's ``luminance``: the tone curve and the fitted photometric model."""
    lut_x, lut_y = lut
    return {"tone_curve_lr": np.round(lut_x, 3).tolist(), "tone_curve_hr": np.round(lut_y, 3).tolist(),
            "gain": round(fine.gain, 6), "offset": round(fine.offset, 4),
            "vignetting": [round(v, 6) for v in fine.vignetting],
            "tone_quadratic": round(fine.tone_quadratic, 6),
            "photo_encoding": config.photo_encoding, "model": LUMINANCE_MODEL}


def _fine_map(fine: FineAlignment) -> np.ndarray:
    return fine.grid_to_lr_h if fine.grid_to_lr_h is not None else fine.grid_to_lr


# ---------------------------------------------------------------------------------------
# with files


def register_pair(hr_path: str | Path, lr_path: str | Path, scale, out_dir: str | Path,
                  config: RegistrationConfig = RegistrationConfig(),
                  radial_pooled: RadialPooled | None = None) -> PairRegistration:
    """Register one pair of photo files and write ``out_dir/{hr.png, lr.png, pair.json}``
    (pair_folder.py: the folder appears complete or not at all). Unreadable input raises
    DdirKitError. radial_pooled: the batch's pooled radial term, recorded in pair.json (its
    k1 is already in ``config.radial_k1``).
    """
    hr, lr = read_photo(hr_path), read_photo(lr_path)
    result = register_arrays(hr.rgb, lr.rgb, scale, config)
    sources = Sources(PhotoSource(str(hr_path), sha256_file(hr_path)), PhotoSource(str(lr_path), sha256_file(lr_path)))
    write_pair_folder(out_dir, result, hr, lr, config, sources=sources, radial_pooled=radial_pooled)
    return result


__all__ = ["RegistrationConfig", "PairRegistration", "register_arrays", "register_pair", "write_pair_folder",
           "tone_curve", "green_255"]
