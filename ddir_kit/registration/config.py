"""The settings of one registration. pair.json records them under ``config``, and a batch rerun
skips a pair only when they are unchanged."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import DdirKitError
from .fine_alignment import FineConfig
from .local_shift_check import LocalCheckConfig

PHOTO_ENCODINGS = ("srgb", "linear")


@dataclass(frozen=True)
class RegistrationConfig:
    """Settings of register_arrays (register_pair.py). Grey levels are on a 0..255 scale."""

    # also fit the relative radial term of the LR side (pair_map.py)
    radial: bool = False
    # fit a homography (pan or tilt between the shots) instead of an affine; pair.json then
    # adds lr_to_hr_h
    perspective: bool = False
    # with radial, apply this k1 instead of fitting it (a batch run pools it over the scenes
    # shot at one scale)
    radial_k1: float | None = None
    # keep the LR grid this far inside the LR photo, LR px
    margin_lr_px: float = 4.0
    # lowest global correlation after alignment (ZNCC of the best-fitting 90 % of pixels)
    min_zncc: float = 0.85
    # exposure gate: largest share of clipped pixels (<= 1 or >= 254) in either photo
    max_clipped_fraction: float = 0.4
    # exposure gate: lowest std of the green channel
    min_contrast: float = 4.0
    # largest tolerated |measured / nominal scale - 1|
    max_scale_error: float = 0.06
    # lowest ratio of LR to template gradient energy (a shaken or misfocused shot), measured
    # against the unblurred template on the second-finest level
    min_sharpness_ratio: float = 0.3
    # largest measured blur of the LR beyond the template's, LR px (relative_blur.py; a lens
    # at its short end measures 0.3-0.8): more is camera shake or missed focus
    max_relative_blur_lr_px: float = 1.5
    # largest ratio of mean brightness (8-bit encoded values) between LR and HR over the
    # common view, either way (about 2 stops in a gamma-encoded photo)
    max_brightness_ratio: float = 2.0
    # how lr.png is resampled: 'lanczos' or 'bicubic'
    interpolation: str = "lanczos"
    # RealSR's colour correction of lr.png (off: DDIR models the photometric shift)
    colour_transfer: bool = False
    # also match LR grey levels to the HR's by quantiles before the fit (off: the fit's
    # quadratic tone term handles gamma; quantiles of a blurrier shot are compressed, which
    # bent the curve and cost accuracy on the virtual camera)
    tone_match: bool = False
    # how the photos' values encode light: 'srgb' (camera JPEGs, the PNGs ingest develops) is
    # decoded so that registration works in linear light (a sensor averages light, see
    # relative_blur.py); 'linear' takes the values as they are (linear-light files)
    photo_encoding: str = "srgb"
    # Gaussian sigma, LR px, by which the HR is blurred before its downscale to the template
    # (the LR shot's extra optical blur); None measures it per pair, 0 keeps the plain area
    # downscale
    template_blur_lr_px: float | None = None
    # the Gauss-Newton fit (its radial, perspective and radial_k1_fixed come from the fields above)
    fine: FineConfig = field(default_factory=FineConfig)
    # the tile-wise local shift check
    local: LocalCheckConfig = field(default_factory=LocalCheckConfig)

    def __post_init__(self):
        if self.photo_encoding not in PHOTO_ENCODINGS:
            raise DdirKitError(f"photo_encoding must be one of {', '.join(PHOTO_ENCODINGS)}, "
                               f"got {self.photo_encoding!r}")
        if self.template_blur_lr_px is not None and not 0 <= self.template_blur_lr_px <= 5:
            raise DdirKitError(f"template_blur_lr_px must be between 0 and 5 LR px, got {self.template_blur_lr_px}")

    def to_dict(self) -> dict:
        return asdict(self)
