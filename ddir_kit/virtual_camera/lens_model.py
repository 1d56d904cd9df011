"""The virtual zoom lens: what its focal-length marks mean, and how it bends and blurs light.

Public API
----------
- ``ZoomLens``: the lens parameters (a dataclass, JSON round trip with to_dict/from_dict) and
  its functions of the focal length written to EXIF (``focal_mm``):
  ``effective_focal_mm(focal_mm)``, ``distortion(focal_mm) -> (k1, k2)``,
  ``axis_offset_px(focal_mm, sensor)``, ``psf_sigma_px(focal_mm, field)``,
  ``vignetting(focal_mm, field)``.
- ``true_scale(lens, focal_mm, reference_focal_mm)``: the magnification of a shot at
  ``reference_focal_mm`` relative to one at ``focal_mm`` (> 1 when focal_mm is shorter).
- ``true_focal_for_scale(lens, scale, reference_focal_mm)``: the EXIF focal length that gives
  an exact scale; the inverse of ``true_scale``.

Why non-linear: zoom lenses "breathe" and their focal marks are approximate, so the scale
between two shots is not the ratio of the EXIF focal lengths. Here the effective focal length
is ``f * (1 + breathing(f))`` with a smooth bump that departs ~1.5 % from linear mid-range and
is zero at both ends of the range; it stays strictly increasing (checked in __post_init__).

Conventions: distortion uses OpenCV's sign and normalisation (Brown model on the
undistorted normalised coordinate x = X/Z: x_d = x (1 + k1 r^2 + k2 r^4); k1 < 0 is barrel).
``field`` is the distance from the optical axis divided by the sensor's half diagonal (0 at
the axis, 1 at a corner).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..errors import DdirKitError


@dataclass(frozen=True)
class ZoomLens:
    """A 24-105 mm f/4-style zoom (the RealArbiSR lens) with made-up but plausible flaws.

    min_focal_mm, max_focal_mm: the zoom range as marked (EXIF focal lengths).
    breathing_peak: relative departure of the effective focal length from the mark at
        mid-range (0.015 = 1.5 %); zero at both ends.
    breathing_skew: moves the bump towards the long end (0 = symmetric in log focal).
    k1_wide, k1_long, k2_wide, k2_long: radial distortion at the two ends (OpenCV sign;
        barrel at the wide end), interpolated smoothly in log focal length.
    axis_wander_px: amplitude of the optical-axis (principal point) wander across the zoom
        range, in pixels of a 1200-px-wide sensor (scaled with sensor width).
    psf_axis_sigma_px: Gaussian PSF sigma on the axis at mid-range, pixels of a 1200-px-wide
        sensor (scaled with sensor width, so that a bigger sensor sees the same optics).
    psf_focal_variation: relative change of the on-axis PSF between the ends and mid-range.
    psf_field_growth: relative PSF widening at the image corner (field = 1).
    vignetting_wide, vignetting_long: light fall-off at the corner (0.4 = 40 % darker).
    name: the lens model written to EXIF.
    """

    min_focal_mm: float = 24.0
    max_focal_mm: float = 105.0
    breathing_peak: float = 0.015
    breathing_skew: float = 0.15
    k1_wide: float = -0.060
    k1_long: float = 0.012
    k2_wide: float = 0.010
    k2_long: float = -0.004
    axis_wander_px: float = 3.0
    psf_axis_sigma_px: float = 0.65
    psf_focal_variation: float = 0.25
    psf_field_growth: float = 0.8
    vignetting_wide: float = 0.45
    vignetting_long: float = 0.25
    name: str = "Virtual 24-105mm f/4 zoom"

    def __post_init__(self):
        if not 0 < self.min_focal_mm < self.max_focal_mm:
            raise DdirKitError(f"bad zoom range {self.min_focal_mm}-{self.max_focal_mm} mm")
        f = np.linspace(self.min_focal_mm, self.max_focal_mm, 2001)
        if np.any(np.diff(self.effective_focal_mm(f)) <= 0):
            raise DdirKitError("lens breathing too strong: effective focal length must increase with the mark")

    # -- geometry ---------------------------------------------------------------------------

    def zoom_position(self, focal_mm):
        """0 at the wide end, 1 at the long end, linear in log focal length."""
        f = np.asarray(focal_mm, np.float64)
        lo, hi = math.log(self.min_focal_mm), math.log(self.max_focal_mm)
        return (np.log(f) - lo) / (hi - lo)

    def effective_focal_mm(self, focal_mm):
        """The focal length the lens really has when its mark (EXIF) says ``focal_mm``."""
        t = np.clip(self.zoom_position(focal_mm), 0.0, 1.0)
        # sin(pi t) warped by t**a moves the bump; zero and smooth at both ends.
        a = math.exp(-self.breathing_skew * 2.0)
        bump = np.sin(np.pi * t ** a)
        return np.asarray(focal_mm, np.float64) * (1.0 + self.breathing_peak * bump)

    def focal_px(self, focal_mm, sensor_width_px: int, sensor_width_mm: float = 36.0):
        """Effective focal length in pixels of a sensor ``sensor_width_px`` wide."""
        return self.effective_focal_mm(focal_mm) * sensor_width_px / sensor_width_mm

    def distortion(self, focal_mm) -> tuple[float, float]:
        """(k1, k2) at a focal length, OpenCV convention (k1 < 0: barrel)."""
        t = float(np.clip(self.zoom_position(focal_mm), 0.0, 1.0))
        # smoothstep so that distortion changes fastest mid-range, like real zooms
        w = t * t * (3 - 2 * t)
        return (self.k1_wide + (self.k1_long - self.k1_wide) * w,
                self.k2_wide + (self.k2_long - self.k2_wide) * w)

    def axis_offset_px(self, focal_mm, sensor_width_px: int) -> tuple[float, float]:
        """(dx, dy) of the optical axis from the sensor centre, pixels; a smooth wander."""
        t = float(np.clip(self.zoom_position(focal_mm), 0.0, 1.0))
        a = self.axis_wander_px * sensor_width_px / 1200.0
        return (a * math.sin(2.1 * t + 0.4) - a * 0.5, 0.7 * a * math.cos(2.7 * t + 1.0))

    # -- blur and light ---------------------------------------------------------------------

    def psf_sigma_px(self, focal_mm, field, sensor_width_px: int = 1200):
        """Gaussian PSF sigma in pixels at relative field position(s) ``field`` in [0, 1]."""
        t = float(np.clip(self.zoom_position(focal_mm), 0.0, 1.0))
        # softest at the ends of the zoom range, sharpest near 40 % (typical of zooms)
        on_axis = self.psf_axis_sigma_px * (1.0 + self.psf_focal_variation * (2.5 * (t - 0.4) ** 2 - 0.2))
        grow = self.psf_field_growth * (0.7 + 0.6 * (1 - t))
        return on_axis * sensor_width_px / 1200.0 * (1.0 + grow * np.asarray(field, np.float64) ** 2)

    def vignetting(self, focal_mm, field):
        """Relative illumination (1 on the axis) at relative field position(s) ``field``."""
        t = float(np.clip(self.zoom_position(focal_mm), 0.0, 1.0))
        v = self.vignetting_wide + (self.vignetting_long - self.vignetting_wide) * t
        r2 = np.asarray(field, np.float64) ** 2
        # (1 - v) exactly at the corner; a quartic term gives the steep fall-off of real lenses
        return 1.0 - v * (0.6 * r2 + 0.4 * r2 * r2)

    def without_distortion(self) -> "ZoomLens":
        """The same lens with no radial distortion (maps between shots become ~affine)."""
        return dataclasses.replace(self, k1_wide=0.0, k1_long=0.0, k2_wide=0.0, k2_long=0.0)

    # -- records ----------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ZoomLens":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def check_focal(self, focal_mm: float) -> float:
        f = float(focal_mm)
        if not self.min_focal_mm - 1e-9 <= f <= self.max_focal_mm + 1e-9:
            raise DdirKitError(
                f"focal length {f:g} mm is outside the lens's range {self.min_focal_mm:g}-{self.max_focal_mm:g} mm")
        return f


def true_scale(lens: ZoomLens, focal_mm: float, reference_focal_mm: float | None = None) -> float:
    """Magnification of the reference shot relative to a shot at ``focal_mm``.

    The ratio of effective focal lengths, i.e. the scale between the two images at the
    optical axis (distortion changes the local scale away from it by about k1 r^2).
    ``reference_focal_mm`` defaults to the longest focal length of the lens.
    """
    ref = lens.max_focal_mm if reference_focal_mm is None else reference_focal_mm
    return float(lens.effective_focal_mm(lens.check_focal(ref)) / lens.effective_focal_mm(lens.check_focal(focal_mm)))


def true_focal_for_scale(lens: ZoomLens, scale: float, reference_focal_mm: float | None = None) -> float:
    """The EXIF focal length (mm) whose shot is exactly ``scale`` times smaller than the reference.

    Raises DdirKitError when the scale needs a focal length outside the zoom range.
    """
    from scipy.optimize import brentq

    ref = lens.max_focal_mm if reference_focal_mm is None else lens.check_focal(reference_focal_mm)
    s = float(scale)
    lo, hi = lens.min_focal_mm, ref
    if not true_scale(lens, hi, ref) <= s <= true_scale(lens, lo, ref):
        raise DdirKitError(
            f"scale {s:g} is out of reach: the lens gives 1 to {true_scale(lens, lo, ref):.4f} "
            f"relative to {ref:g} mm")
    if s == 1.0:
        return float(ref)
    return float(brentq(lambda f: true_scale(lens, f, ref) - s, lo, hi, xtol=1e-12, rtol=1e-14))
