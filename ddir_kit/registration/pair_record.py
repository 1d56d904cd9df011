"""pair.json, the record of one registered pair: the one module that reads and writes it.

    aligned/<scene>/x<tag>/pair.json   (beside hr.png and lr.png when a map exists)

``PairRecord.read`` upgrades files written by earlier versions (fields added over time are
filled in or left None, see ``_upgrade``); ``PairRecord.write`` writes today's format
atomically. Parts that readers use have named fields; parts that are only recorded (the
luminance model, the timings, the settings) stay plain dicts. Keys this module does not know,
at the top level and in the fitted parts, are kept (``extra``): reading and writing a file
loses nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import DdirKitError
from ..fileio import atomic_write_json, read_json
from ..scales import as_fraction
from .pair_map import PairMap

PAIR_JSON = "pair.json"
PAIR_JSON_VERSION = 1
POOLING_RULE = "median of the own fits of the pairs registered at this scale"
# what PairMap.to_dict writes at the top level of pair.json
_PAIR_MAP_KEYS = ("lr_to_hr", "radial", "lr_to_hr_h", "lr_to_hr_note")


@dataclass(frozen=True)
class _Part:
    """A nested part of pair.json: one field per key that this module knows, in the file's key
    order; ``extra`` keeps any other key."""

    @classmethod
    def from_dict(cls, d: dict | None):
        """None for a part that is absent or empty (the pair was rejected before it existed)."""
        if not d:
            return None
        names = [f.name for f in dataclasses.fields(cls) if f.name != "extra"]
        return cls(**{k: d.get(k) for k in names}, extra={k: v for k, v in d.items() if k not in names})

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**out, **self.extra}


@dataclass(frozen=True)
class Coarse(_Part):
    """method: 'nominal' (the central zoom) or 'features' (SIFT + RANSAC); zncc of the coarse
    map; inliers: feature matches kept (0 for nominal)."""

    method: str | None = None
    zncc: float | None = None
    inliers: int | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Residual(_Part):
    """The fit's residual r = template - model on the last level's samples, green channel on a
    0..255 scale: median_abs, mean_abs of |r|; zncc over all samples and over the best-fitting
    90 %; sharpness_ratio: LR to template gradient energy; passes: 1, or 2 after a refit
    without the disagreeing tiles; iterations per pyramid level; converged."""

    median_abs: float | None = None
    mean_abs: float | None = None
    zncc: float | None = None
    zncc_best90: float | None = None
    sharpness_ratio: float | None = None
    passes: int | None = None
    iterations: list | None = None
    converged: bool | None = None
    units: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LocalShift(_Part):
    """The local shift check on a rows x cols grid of ``tile_px`` LR px tiles (local_shift_check.py):
    tiles [rows, cols]; judged: tiles textured enough to judge; bad: the bad-tile grid (rows x
    cols of 0/1); shift_*_px: median, 95th percentile and largest tile shift, LR px (None when no
    tile was judged); zncc_min; shift_px, zncc, shift_sigma_px: per-tile grids (None where not
    judged)."""

    tile_px: int | None = None
    tiles: list | None = None
    judged: int | None = None
    bad: list | None = None
    shift_median_px: float | None = None
    shift_p95_px: float | None = None
    shift_max_px: float | None = None
    zncc_min: float | None = None
    shift_px: list | None = None
    zncc: list | None = None
    shift_sigma_px: list | None = None
    extra: dict = field(default_factory=dict)

    @property
    def bad_tiles(self) -> int:
        return int(sum(sum(row) for row in self.bad or []))


@dataclass(frozen=True)
class TemplateBlur:
    """sigma_lr_px: Gaussian sigma, LR px, by which the HR was blurred before its downscale to
    the template; estimated: measured per pair (then candidates_lr_px and mean_abs: the
    candidates tried and the luminance fit's mean |residual| with each) or given in the
    settings."""

    sigma_lr_px: float
    estimated: bool
    candidates_lr_px: list | None = None
    mean_abs: list | None = None
    extra: dict = field(default_factory=dict)

    _KEYS = ("sigma_lr_px", "estimated", "candidates_lr_px", "mean_abs")

    @classmethod
    def from_dict(cls, d: dict | None) -> "TemplateBlur | None":
        if not d:
            return None
        return cls(float(d["sigma_lr_px"]), bool(d.get("estimated", False)), d.get("candidates_lr_px"),
                   d.get("mean_abs"), {k: v for k, v in d.items() if k not in cls._KEYS})

    def to_dict(self) -> dict:
        # a given blur has no candidates: those keys are left out, not written as null
        out: dict[str, Any] = {"sigma_lr_px": self.sigma_lr_px}
        if self.candidates_lr_px is not None:
            out["candidates_lr_px"] = self.candidates_lr_px
        if self.mean_abs is not None:
            out["mean_abs"] = self.mean_abs
        return {**out, "estimated": self.estimated, **self.extra}


@dataclass(frozen=True)
class RadialPooled:
    """The relative radial term pooled over the pairs of a batch at one scale
    (register_captures.py): k1 applied to this pair, own_fit_k1 its own fit, pairs pooled."""

    k1: float
    own_fit_k1: float
    pairs: int
    rule: str = POOLING_RULE

    @classmethod
    def from_dict(cls, d: dict | None) -> "RadialPooled | None":
        if not d:
            return None
        return cls(float(d["k1"]), float(d["own_fit_k1"]), int(d["pairs"]), d.get("rule", POOLING_RULE))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class PhotoSource:
    """One input photo: its path as given to `register`, and the SHA-256 of its bytes."""

    file: str
    sha256: str

    @classmethod
    def from_dict(cls, d: dict | None) -> "PhotoSource | None":
        return None if not d else cls(str(d.get("file", "")), str(d.get("sha256", "")))


@dataclass(frozen=True)
class Sources:
    """The two input photos (None when not recorded)."""

    hr: PhotoSource | None = None
    lr: PhotoSource | None = None

    @classmethod
    def from_dict(cls, d: dict | None) -> "Sources":
        d = d or {}
        return cls(PhotoSource.from_dict(d.get("hr")), PhotoSource.from_dict(d.get("lr")))

    def to_dict(self) -> dict:
        return {k: dataclasses.asdict(v) for k, v in (("hr", self.hr), ("lr", self.lr)) if v is not None}


@dataclass
class PairRecord:
    """Everything pair.json holds; see docs/formats.md for the meaning of each field.

    scale: the nominal scale (written as ``scale``, a float, and ``scale_fraction``). status:
    'ok' or 'rejected' (with ``reason``; an ok pair's reason says when border tiles were
    trimmed). pair_map: None when registration stopped before a map existed. hr_crop: [x0, y0,
    w, h] of hr.png in the HR photo, HR px; lr_size: (w, h) of lr.png. luminance: the fitted
    photometric model (a record: gains, tone curve, ``photo_encoding``, ``model``). timing_s:
    seconds per step. outputs: file name -> SHA-256 of hr.png and lr.png as written. config:
    the RegistrationConfig as written (kept as read: a batch rerun compares it whole).
    radial_pooled: set by a batch's pooling pass. extra: any other top-level key, kept.
    """

    scale: Fraction
    status: str
    reason: str = ""
    scale_measured: float | None = None
    pair_map: PairMap | None = None
    hr_crop: tuple[int, int, int, int] | None = None
    lr_size: tuple[int, int] | None = None
    luminance: dict = field(default_factory=dict)
    residual: Residual | None = None
    local_shift: LocalShift | None = None
    coarse: Coarse | None = None
    template_blur: TemplateBlur | None = None
    timing_s: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    hr_bit_depth: int | None = None
    lr_bit_depth: int | None = None
    hr_photo_size: tuple[int, int] | None = None
    lr_photo_size: tuple[int, int] | None = None
    sources: Sources = field(default_factory=Sources)
    config: dict = field(default_factory=dict)
    radial_pooled: RadialPooled | None = None
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def photo_encoding(self) -> str | None:
        """How registration read the photos' values: 'srgb' (decoded to linear light) or
        'linear' (taken as they are); None when no fit was made."""
        return self.luminance.get("photo_encoding")

    @property
    def total_seconds(self) -> float | None:
        """Time of the whole registration (None for a pair rejected before the end)."""
        return self.timing_s.get("total")

    @property
    def own_fit_k1(self) -> float | None:
        """The relative radial k1 that this pair's own fit found: under radial_pooled once a
        pooled value replaced it in the map; None when the map has no radial term."""
        if self.radial_pooled is not None:
            return self.radial_pooled.own_fit_k1
        if self.pair_map is not None and self.pair_map.radial_k1 != 0.0:
            return self.pair_map.radial_k1
        return None

    @property
    def config_radial_k1(self) -> float | None:
        """The radial_k1 setting the pair was registered with (a batch's pooled value after the
        pooling pass)."""
        return self.config.get("radial_k1")

    # -- file ------------------------------------------------------------------------------

    @classmethod
    def read(cls, path: str | Path) -> "PairRecord":
        """Read a pair.json of any version up to PAIR_JSON_VERSION; DdirKitError naming the file
        when it is not one."""
        d = read_json(path)
        if not isinstance(d, dict):
            raise DdirKitError("not a pair record (expected a JSON object)", path)
        try:
            return cls.from_dict(d)
        except DdirKitError as e:
            raise DdirKitError(e.reason, path) from None
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise DdirKitError(f"malformed pair record ({type(e).__name__}: {e})", path) from None

    def write(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> "PairRecord":
        d = _upgrade(d)
        if "status" not in d:
            raise DdirKitError("pair record without a status")
        scale = d.get("scale_fraction") or d.get("scale")
        if scale is None:
            raise DdirKitError("pair record without a scale")
        known = {"version", "scale", "scale_fraction", *_PAIR_MAP_KEYS,
                 *(f.name for f in dataclasses.fields(cls) if f.name not in ("scale", "pair_map", "extra"))}
        return cls(
            scale=as_fraction(scale), status=str(d["status"]), reason=d.get("reason") or "",
            scale_measured=_float_or_none(d.get("scale_measured")),
            pair_map=PairMap.from_dict(d) if d.get("lr_to_hr") is not None else None,
            hr_crop=_int_tuple(d.get("hr_crop")), lr_size=_int_tuple(d.get("lr_size")),
            luminance=dict(d.get("luminance") or {}), residual=Residual.from_dict(d.get("residual")),
            local_shift=LocalShift.from_dict(d.get("local_shift")), coarse=Coarse.from_dict(d.get("coarse")),
            template_blur=TemplateBlur.from_dict(d.get("template_blur")), timing_s=dict(d.get("timing_s") or {}),
            outputs=dict(d.get("outputs") or {}), hr_bit_depth=d.get("hr_bit_depth"),
            lr_bit_depth=d.get("lr_bit_depth"), hr_photo_size=_int_tuple(d.get("hr_photo_size")),
            lr_photo_size=_int_tuple(d.get("lr_photo_size")), sources=Sources.from_dict(d.get("sources")),
            config=dict(d.get("config") or {}), radial_pooled=RadialPooled.from_dict(d.get("radial_pooled")),
            extra={k: v for k, v in d.items() if k not in known})

    def to_dict(self) -> dict:
        """Today's pair.json, in its key order."""
        out = {"version": PAIR_JSON_VERSION, "scale": float(self.scale), "scale_fraction": str(self.scale),
               "scale_measured": self.scale_measured, "status": self.status, "reason": self.reason}
        if self.pair_map is not None:
            out.update(self.pair_map.to_dict())
        out.update({
            "hr_crop": _list_or_none(self.hr_crop), "lr_size": _list_or_none(self.lr_size),
            "luminance": self.luminance, "residual": _part_dict(self.residual),
            "local_shift": None if self.local_shift is None else self.local_shift.to_dict(),
            "coarse": _part_dict(self.coarse), "template_blur": _part_dict(self.template_blur),
            "timing_s": self.timing_s, "outputs": self.outputs,
            "hr_bit_depth": self.hr_bit_depth, "lr_bit_depth": self.lr_bit_depth,
            "hr_photo_size": _list_or_none(self.hr_photo_size), "lr_photo_size": _list_or_none(self.lr_photo_size),
            "sources": self.sources.to_dict(), "config": self.config})
        if self.radial_pooled is not None:
            out["radial_pooled"] = self.radial_pooled.to_dict()
        out.update(self.extra)
        return out


def _upgrade(d: dict) -> dict:
    """A pair.json of an earlier version as today's. Version 1 files have grown fields: before
    the template blur (b5f226f) there was no ``template_blur`` and the values were registered as
    they are; until the photo encoding was recorded, ``luminance.linear_light`` said whether
    they were decoded. Files without a version are taken as version 1."""
    version = d.get("version", 1)
    if not isinstance(version, int) or version > PAIR_JSON_VERSION:
        raise DdirKitError(f"pair record version {version!r} is newer than this ddir-kit reads "
                           f"(up to {PAIR_JSON_VERSION}); update ddir-kit")
    d = dict(d)
    lum = d.get("luminance")
    fitted = bool(lum)  # a luminance model exists once the fine fit ran
    if fitted and "photo_encoding" not in lum:
        linear_light = lum.get("linear_light", False)
        d["luminance"] = {**lum, "photo_encoding": "srgb" if linear_light else "linear"}
    if fitted and "template_blur" not in d:
        d["template_blur"] = {"sigma_lr_px": 0.0, "estimated": False}  # the plain area downscale
    return d


def _part_dict(part) -> dict:
    return {} if part is None else part.to_dict()


def _float_or_none(v) -> float | None:
    return None if v is None else float(v)


def _int_tuple(v) -> tuple | None:
    return None if v is None else tuple(int(x) for x in v)


def _list_or_none(v) -> list | None:
    return None if v is None else list(v)


__all__ = ["PAIR_JSON", "PAIR_JSON_VERSION", "PairRecord", "Coarse", "Residual", "LocalShift", "TemplateBlur",
           "RadialPooled", "PhotoSource", "Sources"]
