"""The shot list for one scene, from a calibration: the HR shot at the reference focal length
first, then one LR shot per scale in zoom-out order (longest focal length first), so the
photographer turns the zoom ring one way only."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from ..calibration.calibration_file import Calibration, read_calibration
from ..fileio import atomic_write_text
from ..scales import scale_tag

PLAN_COLUMNS = ("shot", "role", "scale", "scale_tag", "focal_mm", "focal_uncertainty_mm")


@dataclass(frozen=True)
class PlannedShot:
    """One shot of a scene. role: 'hr' or 'lr'; scale 1 for the HR shot; focal_mm the zoom
    setting; focal_uncertainty_mm the calibration's 1-sigma (None when it gave none)."""

    shot: int
    role: str
    scale: float
    scale_tag: str
    focal_mm: float
    focal_uncertainty_mm: float | None


def shot_plan(calibration: str | Path | dict | Calibration) -> list[PlannedShot]:
    """Shot list from calibration.json (a path, its parsed dict or a Calibration): its
    reference_focal_mm and targets [{scale, focal_mm[, focal_uncertainty_mm]}]."""
    if isinstance(calibration, Calibration):
        cal = calibration
    elif isinstance(calibration, dict):
        cal = Calibration.from_dict(calibration)
    else:
        cal = read_calibration(calibration)
    shots = [PlannedShot(1, "hr", 1.0, "1", cal.reference_focal_mm, 0.0)]
    # Zoom-out order: the ring turns one way from the reference, so backlash is always taken
    # up in the same direction.
    for i, t in enumerate(sorted(cal.targets, key=lambda t: -t.focal_mm), start=2):
        shots.append(PlannedShot(i, "lr", float(t.scale_fraction), scale_tag(t.scale_fraction), t.focal_mm,
                                 t.focal_uncertainty_mm))
    return shots


def plan_csv_text(shots: list[PlannedShot]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(PLAN_COLUMNS)
    for s in shots:
        writer.writerow([s.shot, s.role, f"{s.scale:g}", s.scale_tag, f"{s.focal_mm:.2f}",
                         "" if s.focal_uncertainty_mm is None else f"{s.focal_uncertainty_mm:.3f}"])
    return buf.getvalue()


def plan_table_text(shots: list[PlannedShot]) -> str:
    """A fixed-width table for the terminal."""
    lines = [f"{'shot':>4}  {'role':<4}  {'scale':>6}  {'focal (mm)':>10}  {'+-(mm)':>7}"]
    for s in shots:
        sd = "" if s.focal_uncertainty_mm is None else f"{s.focal_uncertainty_mm:.3f}"
        lines.append(f"{s.shot:>4}  {s.role.upper():<4}  {'x' + format(s.scale, 'g'):>6}  {s.focal_mm:>10.2f}  {sd:>7}")
    return "\n".join(lines)


def write_plan_csv(shots: list[PlannedShot], path: str | Path) -> Path:
    return atomic_write_text(path, plan_csv_text(shots))
