"""From the EXIF of a camera card's photos to planned scenes: which file is the HR shot and
which file stands for each calibrated scale, before any pixel is decoded.

A scene is an HR shot (taken at the reference focal length) and the LR shots that follow it
before the next HR shot or a pause longer than ``max_gap_s``. Each LR shot gets the calibrated
scale whose focal length is nearest, within ``tolerance_mm``. A RAW file and a JPEG of the same
exposure (same name stem, or the same capture time and focal length) are one shot; the RAW is
tried first and the JPEG is its fallback. Duplicates for a scale are kept as ordered
candidates (nearest the calibrated focal length first), so a later unreadable file falls back
to the next candidate instead of leaving the scale empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..calibration.calibration_file import Calibration
from ..errors import DdirKitError
from .capture_layout import scene_name
from ..photo.exif import PhotoExif

LEVELS = {
    "used": "info", "raw_preferred": "info", "not_a_photo": "info",
    "duplicate": "warning", "missing_scale": "warning", "setting_changed": "warning",
    "no_scale_match": "warning", "no_hr": "warning", "no_lr": "warning",
    "unreadable": "error", "no_exif": "error", "scene_failed": "error",
}


@dataclass(frozen=True)
class Finding:
    """One line of the ingest report.

    kind: a key of LEVELS ('used', 'duplicate', 'missing_scale', ...); level follows from it.
    scene: the scene folder name, or None for a file that belongs to no scene.
    scale: the nominal scale concerned (None for HR shots and card-level findings).
    file: the card file concerned, relative to the card folder (None for a missing scale).
    """

    kind: str
    message: str
    scene: str | None = None
    scale: float | None = None
    file: str | None = None

    @property
    def level(self) -> str:
        return LEVELS[self.kind]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "level": self.level, "scene": self.scene, "scale": self.scale,
                "file": self.file, "message": self.message}

    @classmethod
    def from_dict(cls, d: dict) -> "Finding":
        return cls(kind=d["kind"], message=d["message"], scene=d.get("scene"), scale=d.get("scale"),
                   file=d.get("file"))


def report_order(f: Finding):
    """Sort key of the ingest report: by scene (card-level findings last), scale, file."""
    return (f.scene is None, f.scene or "", f.scale or 0.0, f.file or "", f.kind, f.message)


@dataclass(frozen=True)
class CardPhoto:
    """A photo file on the card with its EXIF (focal length and capture time present)."""

    file: str           # relative to the card folder, '/'-separated
    path: Path
    exif: PhotoExif
    source_format: str  # 'raw', 'jpeg', 'png' or 'tiff'

    @property
    def is_raw(self) -> bool:
        return self.source_format == "raw"


@dataclass(frozen=True)
class Candidate:
    """A photo that may stand for one role of a scene; focal_error_mm = EXIF focal - target."""

    photo: CardPhoto
    shot: int            # index of the exposure in capture order (RAW + JPEG share it)
    focal_error_mm: float


@dataclass(frozen=True)
class ScaleSlot:
    scale: Fraction
    target_focal_mm: float
    candidates: tuple[Candidate, ...]  # best first


@dataclass(frozen=True)
class ScenePlan:
    """A planned scene: HR candidates (one exposure, RAW first) and LR candidates per scale."""

    name: str
    reference_focal_mm: float
    hr: tuple[Candidate, ...]
    lr: tuple[ScaleSlot, ...]          # only the scales with at least one candidate
    missing: tuple[Fraction, ...]      # calibrated scales with no candidate
    findings: tuple[Finding, ...]      # shots inside the scene that match no scale

    def files(self) -> list[str]:
        return sorted({c.photo.file for c in self.hr} | {c.photo.file for s in self.lr for c in s.candidates})


def natural_key(name: str) -> tuple:
    """'IMG_9.JPG' sorts before 'IMG_10.JPG'."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name))


def same_instant(a, b) -> bool:
    """Two capture times of one exposure: equal, or equal to the second when one of them has no
    sub-second part (some RAW headers, and rawpy, keep whole seconds only)."""
    if a == b:
        return True
    if a.microsecond == 0 or b.microsecond == 0:
        return a.replace(microsecond=0) == b.replace(microsecond=0)
    return False


def group_shots(photos: list[CardPhoto]) -> list[tuple[CardPhoto, ...]]:
    """Exposures in capture order; each is its photos with RAW first (RAW + JPEG pairs merged)."""
    by_stem: dict[tuple, list[CardPhoto]] = {}
    for p in photos:
        by_stem.setdefault((str(Path(p.file).parent), Path(p.file).stem.lower()), []).append(p)
    shots: list[list[CardPhoto]] = []
    for group in by_stem.values():
        # one name, several instants: a camera's file counter wrapped; keep them apart
        mine: list[list[CardPhoto]] = []
        for p in sorted(group, key=lambda p: (p.exif.capture_time, not p.is_raw, natural_key(p.file))):
            home = next((s for s in mine if same_instant(s[0].exif.capture_time, p.exif.capture_time)), None)
            if home is None:
                mine.append([p])
            else:
                home.append(p)
        shots += mine
    # Cameras set to write RAW and JPEG under different names or folders: pair one RAW-only and
    # one JPEG-only exposure that share the capture time and focal length. An ambiguous match
    # (two candidates at the same instant) is left alone.
    raw_only = [s for s in shots if all(p.is_raw for p in s)]
    other_only = [s for s in shots if not any(p.is_raw for p in s)]
    def twins(a, b) -> bool:
        return (same_instant(a[0].exif.capture_time, b[0].exif.capture_time)
                and abs(a[0].exif.focal_mm - b[0].exif.focal_mm) < 0.01)

    pairs = [(r, o) for o in other_only for r in raw_only if twins(r, o)]
    merged_away: set[int] = set()
    for r, o in pairs:
        if sum(x is r for x, _ in pairs) == 1 and sum(y is o for _, y in pairs) == 1:
            r.extend(o)
            merged_away.add(id(o))
    shots = [s for s in shots if id(s) not in merged_away]
    ordered = [tuple(sorted(s, key=lambda p: (not p.is_raw, natural_key(p.file)))) for s in shots]
    return sorted(ordered, key=lambda s: (s[0].exif.capture_time, natural_key(s[0].file)))


def plan_scenes(photos: list[CardPhoto], calibration: Calibration, tolerance_mm: float = 0.75,
                max_gap_s: float = 120.0) -> tuple[list[ScenePlan], list[Finding]]:
    """Group photos into scenes.

    Returns the planned scenes (numbered scene_0001, ... in capture order; only scenes with an
    HR shot and at least one LR shot) and the card-level findings: LR shots with no HR shot
    before them, HR shots with no LR shot after them, and shots outside any scene whose focal
    length matches no scale.
    """
    if tolerance_mm <= 0:
        raise DdirKitError(f"focal tolerance must be positive, got {tolerance_mm} mm")
    if max_gap_s <= 0:
        raise DdirKitError(f"the time gap that ends a scene must be positive, got {max_gap_s} s")
    targets = calibration.scale_focals
    roles: list[tuple[str, Fraction | None, float]] = [("hr", None, calibration.reference_focal_mm)]
    roles += [("lr", s, f) for s, f in targets]

    open_scene: dict | None = None
    drafts: list[dict] = []
    card_findings: list[Finding] = []

    def close():
        nonlocal open_scene
        if open_scene is not None:
            drafts.append(open_scene)
        open_scene = None

    for index, shot in enumerate(group_shots(photos)):
        lead = shot[0]
        focal, taken_at = lead.exif.focal_mm, lead.exif.capture_time
        role, scale, target = min(roles, key=lambda r: abs(focal - r[2]))
        matched = abs(focal - target) <= tolerance_mm
        if open_scene is not None and (taken_at - open_scene["last_time"]).total_seconds() > max_gap_s:
            close()
        if matched and role == "hr":
            close()
            open_scene = {"hr": shot, "hr_index": index, "lr": {}, "loose": [], "last_time": taken_at}
            continue
        if open_scene is None:
            why = (f"focal length {focal:g} mm matches no calibrated scale (nearest: {target:g} mm) "
                   "and no HR shot precedes it" if not matched else
                   f"LR shot (x{float(scale):g}, {focal:g} mm) with no HR shot before it "
                   f"(or after a pause longer than {max_gap_s:g} s)")
            for p in shot:
                card_findings.append(Finding("no_scale_match" if not matched else "no_hr", why,
                                             scale=None if not matched else float(scale), file=p.file))
            continue
        open_scene["last_time"] = taken_at
        if not matched:
            open_scene["loose"].append((shot, focal, target))
            continue
        open_scene["lr"].setdefault(scale, []).append((index, shot, focal - target))
    close()

    plans: list[ScenePlan] = []
    for draft in drafts:
        hr_shot = draft["hr"]
        if not draft["lr"]:
            for p in hr_shot:
                card_findings.append(Finding("no_lr", "HR shot with no LR shot after it; no scene written", file=p.file))
            for shot, focal, target in draft["loose"]:
                for p in shot:
                    card_findings.append(Finding("no_scale_match", f"focal length {focal:g} mm matches no "
                                                 f"calibrated scale (nearest: {target:g} mm)", file=p.file))
            continue
        name = scene_name(len(plans) + 1)
        hr_error = hr_shot[0].exif.focal_mm - calibration.reference_focal_mm
        hr = tuple(Candidate(p, draft["hr_index"], hr_error) for p in hr_shot)
        slots = []
        for s, target in targets:
            if s not in draft["lr"]:
                continue
            entries = sorted(draft["lr"][s], key=lambda e: (abs(e[2]), e[0]))
            slots.append(ScaleSlot(s, target, tuple(Candidate(p, i, err) for i, shot, err in entries for p in shot)))
        missing = tuple(s for s, _ in targets if s not in draft["lr"])
        loose = tuple(Finding("no_scale_match", f"focal length {focal:g} mm matches no calibrated scale "
                              f"(nearest: {target:g} mm)", scene=name, file=p.file)
                      for shot, focal, target in draft["loose"] for p in shot)
        plans.append(ScenePlan(name, calibration.reference_focal_mm, hr, tuple(slots), missing, loose))
    return plans, card_findings
