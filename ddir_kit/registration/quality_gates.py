"""The gates that reject a pair with a reason: exposure (before anything is fitted), the global
fit's agreement, sharpness and scale, and the LR's measured extra blur. Each returns the reason,
or '' when the pair passes."""

from __future__ import annotations

import numpy as np

from .config import RegistrationConfig


def exposure_gates(hr_g: np.ndarray, lr_g: np.ndarray, nominal: np.ndarray, grid_shape: tuple[int, int],
                   config: RegistrationConfig) -> str:
    """Both photos' exposure, on their encoded greens (0..255), as a photographer judges a shot;
    the LR is judged where the nominal grid (2x3 grid px -> LR px, ``grid_shape`` (h, w)) puts
    the HR's view."""
    why = exposure_problem(hr_g, config, "HR")
    lr_view = nominal_view(lr_g, nominal, grid_shape)
    return why or exposure_problem(lr_view, config, "LR") or exposure_mismatch(hr_g, lr_view, config)


def exposure_problem(grey: np.ndarray, config: RegistrationConfig, which: str) -> str:
    grey = grey[::2, ::2]  # a quarter of the pixels gives the same fractions without full-frame temporaries
    clipped = float(np.mean((grey >= 254.0) | (grey <= 1.0)))
    if clipped > config.max_clipped_fraction:
        return f"{which} photo badly exposed: {clipped:.0%} of its pixels are clipped"
    sd = float(grey.std())
    if sd < config.min_contrast:
        return f"{which} photo has almost no contrast (std {sd:.1f} of 255): failed exposure or lens cap"
    return ""


def exposure_mismatch(hr_g: np.ndarray, lr_view: np.ndarray, config: RegistrationConfig) -> str:
    # Both shots see the same scene at the same aperture: a large brightness ratio over the
    # common view is a failed exposure, even when the frame is still registrable.
    hr_mean, lr_mean = float(hr_g[::4, ::4].mean()), float(lr_view[::2, ::2].mean())
    ratio = (lr_mean + 1.0) / (hr_mean + 1.0)
    if ratio > config.max_brightness_ratio:
        return f"LR photo overexposed: {ratio:.1f}x brighter than the HR photo over the same view"
    if ratio < 1.0 / config.max_brightness_ratio:
        return f"LR photo underexposed: {1 / ratio:.1f}x darker than the HR photo over the same view"
    return ""


def nominal_view(lr_g: np.ndarray, nominal: np.ndarray, grid_shape: tuple[int, int]) -> np.ndarray:
    """The part of the LR photo that the nominal grid covers (the whole photo if none)."""
    h, w = grid_shape
    x0, y0 = nominal[:, 2]
    xa, ya = int(max(0, x0)), int(max(0, y0))
    view = lr_g[ya:int(y0 + h), xa:int(x0 + w)]
    return view if view.size else lr_g


def global_problem(fine, sharp: float, scale_measured: float, sf: float, config: RegistrationConfig) -> str:
    """The global fit (a FineAlignment) against the agreement, sharpness and scale gates;
    sharp: its sharpness ratio against the unblurred template; sf: the nominal scale."""
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


def relative_blur_problem(blur_lr_px: float, estimated: bool, config: RegistrationConfig) -> str:
    """A measured extra blur of the LR beyond what the lens explains (a given one is trusted)."""
    if estimated and blur_lr_px > config.max_relative_blur_lr_px:
        return (f"LR photo much blurrier than the HR predicts (measured blur {blur_lr_px:.2f} LR px > "
                f"{config.max_relative_blur_lr_px}): camera shake or missed focus")
    return ""
