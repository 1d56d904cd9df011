"""What each demo stage measured (one summary dataclass per stage) and OUT/stages/<stage>.json,
the record a finished stage leaves so that a rerun skips it.

A record holds ``format`` (DEMO_STAGE_FORMAT), ``seconds`` (wall time of the stage when it
ran) and ``summary`` (the stage's summary, field by field). Records written before ``format``
was added have the same fields and read as @1; a later version converts older records in
``read_stage_record``. Errors are measured against the virtual camera's truth; lengths in mm
of focal length or in LR pixels, as the field names say.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from pathlib import Path

from ..benchmark.reports import ResultRow
from ..errors import DdirKitError
from ..fileio import atomic_write_json, read_json
from ..virtual_camera.card_truth import ScaleAgreement

DEMO_STAGE_FORMAT = "ddir-kit/demo-stage@1"


@dataclass(frozen=True)
class SkippedFile:
    file: str
    reason: str


@dataclass(frozen=True)
class PairNote:
    """A pair ('scene_0001/x2') left out, and why."""

    pair: str
    reason: str


@dataclass(frozen=True)
class TargetError:
    """One calibrated scale: the focal length found (+- its 1-sigma), the truth, the naive
    reference / scale, and both errors (found - truth), all mm."""

    scale: float
    focal_mm: float
    uncertainty_mm: float
    true_focal_mm: float
    naive_focal_mm: float
    error_mm: float
    naive_error_mm: float


@dataclass(frozen=True)
class CalibrateSummary:
    photos: int
    sensor_px: tuple[int, int]
    reference_focal_mm: float
    used: int
    skipped: tuple[SkippedFile, ...]
    targets: tuple[TargetError, ...]
    max_error_mm: float
    max_naive_error_mm: float
    plot: str                      # relative to OUT


@dataclass(frozen=True)
class CaptureSummary:
    card_files: int
    scenes: int                    # planned by ingest
    scenes_ok: int                 # written or up to date
    formats: tuple[str, ...]
    sensor_px: tuple[int, int]
    findings: dict[str, int]       # ingest report rows by kind
    preview: str | None            # relative to OUT


@dataclass(frozen=True)
class PairError:
    """One registered pair: the largest distance over the four corners of its LR grid between
    the registration and the exact map (corner_error_lr_px), and the same for the best affine
    fit of the exact map."""

    pair: str
    scale: float
    corner_error_lr_px: float
    best_affine_error_lr_px: float
    scale_measured: float | None
    true_scale: float | None


@dataclass(frozen=True)
class RegisterSummary:
    pairs: tuple[PairError, ...]
    rejected: tuple[PairNote, ...]
    ok: int
    counts: dict[str, int]         # register's batch: ok, rejected, failed, skipped
    model: str
    median_corner_error_lr_px: float
    max_corner_error_lr_px: float
    median_best_affine_error_lr_px: float
    overlay: str                   # relative to OUT
    overlay_pair: str


@dataclass(frozen=True)
class DatasetSummary:
    train_scenes: tuple[str, ...]
    test_scenes: tuple[str, ...]
    files: int
    skipped: tuple[PairNote, ...]
    validate_pairs: dict[str, int]  # 'Train/2' -> pairs
    validate_warnings: tuple[str, ...]
    # the dataset card (absent from records of releases before it): card.md relative to OUT,
    # its agreement with the truth, whether the captures came from JPEG or RAW files, and whether
    # the blur truth holds the demosaic the camera measured (records before it: False)
    card: str | None = None
    card_truth: tuple[ScaleAgreement, ...] = ()
    card_from_jpeg: bool = False
    card_from_raw: bool = False
    card_demosaic_in_truth: bool = False


@dataclass(frozen=True)
class BenchSummary:
    """rows, timings_s: the from-scratch run (OUT/bench), trained here with the profile and its
    overrides. pretrained_*: the shipped models (or --models) scored on the same test scenes
    (OUT/bench_pretrained), bicubic included; absent from records of releases before them.
    pretrained_models: 'file sha256-prefix' of each model scored."""

    rows: tuple[ResultRow, ...]    # bench's rows, scale as a float
    profile: str
    profile_notes: str
    overrides: dict                # the `--set` overrides of the profile
    timings_s: dict[str, list]     # method label -> [train s or None, test s]
    pretrained_rows: tuple[ResultRow, ...] = ()
    pretrained_timings_s: dict[str, list] = dataclasses.field(default_factory=dict)
    pretrained_models: tuple[str, ...] = ()
    iterations: dict[str, int] = dataclasses.field(default_factory=dict)  # from-scratch label -> iterations


StageSummary = CalibrateSummary | CaptureSummary | RegisterSummary | DatasetSummary | BenchSummary
SUMMARY_TYPES: dict[str, type] = {"calibrate": CalibrateSummary, "capture": CaptureSummary,
                                  "register": RegisterSummary, "dataset": DatasetSummary, "bench": BenchSummary}


@dataclass(frozen=True)
class StageRecord:
    seconds: float
    summary: StageSummary


def stage_record_path(out: str | Path, stage: str) -> Path:
    return Path(out) / "stages" / f"{stage}.json"


def write_stage_record(out: str | Path, stage: str, record: StageRecord) -> Path:
    return atomic_write_json(stage_record_path(out, stage), {
        "format": DEMO_STAGE_FORMAT, "seconds": record.seconds, "summary": dataclasses.asdict(record.summary)})


def read_stage_record(out: str | Path, stage: str) -> StageRecord:
    """OUT/stages/<stage>.json; DdirKitError naming it when it is not a record of that stage."""
    path = stage_record_path(out, stage)
    d = read_json(path)
    fmt = d.get("format", DEMO_STAGE_FORMAT) if isinstance(d, dict) else None
    if fmt != DEMO_STAGE_FORMAT:
        raise DdirKitError(f"not a demo stage record (format {fmt!r}, expected {DEMO_STAGE_FORMAT!r})", path)
    try:
        return StageRecord(float(d["seconds"]), _build(SUMMARY_TYPES[stage], d["summary"]))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise DdirKitError(f"malformed demo stage record ({type(e).__name__}: {e})", path) from None


def _build(cls, d: dict):
    """A summary dataclass from its JSON object, nested dataclasses and tuples included; a field
    with a default may be missing (a record of a release before it)."""
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _value(hints[f.name], d[f.name]) for f in dataclasses.fields(cls)
                  if f.name in d or (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)})


def _value(hint, v):
    if v is None:
        return None
    if dataclasses.is_dataclass(hint):
        return _build(hint, v)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], x) for x in v)
        return tuple(_value(a, x) for a, x in zip(args, v))
    if origin in (typing.Union, types.UnionType):
        (hint,) = [a for a in args if a is not type(None)]
        return _value(hint, v)
    return v
