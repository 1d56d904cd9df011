"""calibration.json: its one reader and writer, used by every stage that needs the focal
length of each scale (calibrate check, capture plan, capture ingest, the virtual camera, the
demo).

Two kinds of file are read:

- the full file `ddir-kit calibrate` writes (``format`` = FORMAT): reference_file,
  reference_focal_mm, board ('COLSxROWS'), image_size_px [w, h], fit_model, the measured
  ranges, shots [ShotResult], targets [Target] and the fitted scale model;
- a hand-written file with only ``reference_focal_mm`` and ``targets`` [{scale, focal_mm}]
  (``focal_uncertainty_mm`` optional), no ``format``: enough to plan and ingest shots; it has
  no scale model, so ``calibrate check`` refuses it.

There has been one format so far; a later one converts older files to its fields here, in
``_parse``, so that readers see one shape. Kept free of OpenCV, matplotlib and scipy at
import time: capture imports it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DdirKitError
from ..fileio import atomic_write_json, read_json
from ..scales import as_fraction, scale_tag

if TYPE_CHECKING:
    from .scale_model import ScaleModel

FORMAT = "ddir-kit calibration v1"
SCALE_DEFINITION = ("field of view relative to the reference shot (1 / magnification, paraxial); the SR "
                    "factor of an LR shot against an HR shot at the reference focal length")
_NEEDS = "calibration needs reference_focal_mm and targets [{scale, focal_mm}]"


@dataclass(frozen=True)
class ShotResult:
    """One file of the sweep.

    file: name inside the sweep folder. focal_mm: from EXIF or the --focals table.
    scale: field of view relative to the reference (None when skipped).
    status: "ok" or why the file was skipped.
    fit_residual_px: RMS corner residual of the board fit (pixels of this shot).
    rotation_deg: roll of the board relative to the reference.
    square_px: corner spacing in this shot.
    """

    file: str
    focal_mm: float | None
    scale: float | None
    status: str
    fit_residual_px: float | None = None
    rotation_deg: float | None = None
    square_px: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Target:
    """The focal length (mm) to set for one wanted scale, with its 1-sigma uncertainty, and the
    naive answer reference_focal / scale for comparison (both None in a hand-written file)."""

    scale: float
    scale_tag: str
    focal_mm: float
    focal_uncertainty_mm: float | None = None
    naive_focal_mm: float | None = None

    @property
    def scale_fraction(self) -> Fraction:
        return as_fraction(self.scale)


@dataclass(frozen=True)
class Calibration:
    """The contents of calibration.json; targets in file order. A hand-written file leaves
    reference_file, board, image_size_px and shots empty and model None."""

    reference_file: str
    reference_focal_mm: float
    board: str
    image_size_px: tuple[int, int]
    fit_model: str
    shots: tuple[ShotResult, ...]
    targets: tuple[Target, ...]
    model: ScaleModel | None
    format: str = field(default=FORMAT)

    @property
    def skipped(self) -> tuple[ShotResult, ...]:
        return tuple(s for s in self.shots if not s.ok)

    @property
    def used(self) -> tuple[ShotResult, ...]:
        return tuple(s for s in self.shots if s.ok)

    @property
    def scale_focals(self) -> tuple[tuple[Fraction, float], ...]:
        """(exact scale, focal_mm) of every target, ascending scale."""
        return tuple(sorted((t.scale_fraction, t.focal_mm) for t in self.targets))

    def focal_for_scale(self, scale: float) -> float:
        if self.model is None:
            raise DdirKitError("this calibration has targets only, no scale model (a hand-written file); "
                               "run `ddir-kit calibrate` on a checkerboard sweep for one")
        return self.model.focal_for_scale(scale)

    def to_dict(self) -> dict:
        """The JSON object of calibration.json; a calibration without a model (hand-written)
        gives only format, reference_focal_mm and targets."""
        if self.model is None:
            return {"format": self.format, "reference_focal_mm": self.reference_focal_mm,
                    "targets": [asdict(t) for t in self.targets]}
        s_lo, s_hi = self.model.scale_range
        return {
            "format": self.format,
            "scale_definition": SCALE_DEFINITION,
            "reference_file": self.reference_file,
            "reference_focal_mm": self.reference_focal_mm,
            "board": self.board,
            "image_size_px": list(self.image_size_px),
            "fit_model": self.fit_model,
            "measured_focal_range_mm": list(self.model.focal_range_mm),
            "measured_scale_range": [s_lo, s_hi],
            "shots": [asdict(s) for s in self.shots],
            "targets": [asdict(t) for t in self.targets],
            "model": self.model.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict, path: str | Path | None = None) -> "Calibration":
        """Parse a calibration.json object; DdirKitError (naming ``path`` when given) if it is
        not one."""
        return _parse(d, path)


def read_calibration(path: str | Path) -> Calibration:
    """Read calibration.json, full or hand-written (see the module docstring)."""
    return _parse(read_json(path), Path(path))


def write_calibration_json(path: str | Path, cal: Calibration) -> Path:
    """Write calibration.json atomically."""
    return atomic_write_json(path, cal.to_dict())


def _parse(d, path: Path | None) -> Calibration:
    if not isinstance(d, dict):
        raise DdirKitError(f"{_NEEDS} (found a JSON {type(d).__name__}, not an object)", path)
    fmt = d.get("format")
    if fmt is not None and fmt != FORMAT:
        raise DdirKitError(f"unknown calibration format {fmt!r} (this version of ddir-kit reads {FORMAT!r} "
                           "and hand-written files without a format)", path)
    try:
        ref = float(d["reference_focal_mm"])
        targets = tuple(_target(t) for t in d["targets"])
    except (KeyError, TypeError, ValueError) as e:
        raise DdirKitError(f"{_NEEDS} ({type(e).__name__}: {e})", path) from None
    except DdirKitError as e:
        raise DdirKitError(f"bad target scale: {e.reason}", path) from None
    if not targets:
        raise DdirKitError("calibration has no targets", path)
    if ref <= 0 or any(t.focal_mm <= 0 for t in targets):
        raise DdirKitError("calibration has a non-positive focal length", path)
    if len({t.scale_fraction for t in targets}) != len(targets):
        raise DdirKitError("calibration lists a scale twice", path)
    try:
        model = None
        if d.get("model") is not None:
            from .scale_model import ScaleModel

            model = ScaleModel.from_dict(d["model"])
        return Calibration(
            reference_file=str(d.get("reference_file", "")),
            reference_focal_mm=ref,
            board=str(d.get("board", "")),
            image_size_px=tuple(int(v) for v in d.get("image_size_px", (0, 0))),
            fit_model=str(d.get("fit_model", "radial")),
            shots=tuple(ShotResult(**_known(ShotResult, s)) for s in d.get("shots", [])),
            targets=targets,
            model=model,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise DdirKitError(f"not a calibration file ({type(e).__name__}: {e})", path) from None
    except DdirKitError as e:
        raise DdirKitError(e.reason, path) from None


def _target(t: dict) -> Target:
    scale = as_fraction(t["scale"])
    sd, naive = t.get("focal_uncertainty_mm"), t.get("naive_focal_mm")
    return Target(float(t["scale"]), str(t.get("scale_tag") or scale_tag(scale)), float(t["focal_mm"]),
                  None if sd is None else float(sd), None if naive is None else float(naive))


def _known(cls, d: dict) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in d.items() if k in names}
