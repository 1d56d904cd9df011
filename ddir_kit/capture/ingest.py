"""Capture ingest: a camera card folder -> checked scenes in the capture layout.

    card/ (RAW, JPEG, PNG, TIFF, anything else)  --ingest_card-->  captures/<scene>/...

Steps: read every photo's EXIF (scan_card), plan scenes from focal lengths and capture times
(scene_grouping.plan_scenes), then per scene (in a process pool with jobs > 1,
ingest_scene.process_scene): decode the chosen files (RAW developed with one white balance for
the whole scene, taken from the HR shot), write hr.png / lr_x<tag>.png / scene.json /
manifest.json into a hidden folder and rename it into place. A scene folder therefore exists only when complete, and a rerun skips a
scene whose manifest matches its sources (by SHA-256) and outputs. Every file on the card ends
up in the report: used, fallback, dropped duplicate, unreadable, not a photo, ...
"""

from __future__ import annotations

import csv
import io
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..calibration.calibration_file import Calibration, read_calibration
from ..errors import DdirKitError
from ..fileio import atomic_write_text
from ..parallel import process_pool
from ..quantities import parse_shard
from ..photo.exif import read_exif
from ..photo.photo_io import PHOTO_SUFFIXES
from ..photo.raw_develop import RAW_SUFFIXES, RawDevelopment
from .capture_layout import INGEST_REPORT
from .ingest_scene import SceneOutcome, process_scene
from .scene_grouping import CardPhoto, Finding, natural_key, plan_scenes, report_order

REPORT_COLUMNS = ("scene", "level", "kind", "scale", "file", "message")


@dataclass(frozen=True)
class IngestReport:
    """Result of ingest_card: scenes of this shard and every finding, in report order."""

    card_dir: Path
    out_dir: Path
    report_csv: Path
    files_scanned: int
    scenes_planned: int
    shard: tuple[int, int]
    scenes: tuple[SceneOutcome, ...]
    findings: tuple[Finding, ...]

    def scenes_with(self, status: str) -> list[SceneOutcome]:
        return [s for s in self.scenes if s.status == status]

    def count(self, kind: str) -> int:
        return sum(f.kind == kind for f in self.findings)


def shard_items(items: list, shard: tuple[int, int]) -> list:
    """The i-th of N contiguous, equal (to one item) shares of a list."""
    i, n = shard
    return items[(i - 1) * len(items) // n: i * len(items) // n]


def scan_card(card_dir: str | Path, exclude: Path | None = None, jobs: int = 1,
              pool: ProcessPoolExecutor | None = None) -> tuple[list[CardPhoto], list[Finding]]:
    """Every file under card_dir (hidden files and ``exclude`` skipped): photos with usable
    EXIF, plus findings for non-photos, unreadable files and photos without focal length or
    capture time."""
    card = Path(card_dir)
    if not card.is_dir():
        raise DdirKitError("card folder not found (or not a folder)", card)
    exclude = exclude.resolve() if exclude is not None else None
    files = []
    for root, dirs, names in os.walk(card):
        root_path = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and (exclude is None or (root_path / d).resolve() != exclude))
        files += [root_path / n for n in names if not n.startswith(".")]
    files.sort(key=lambda p: natural_key(p.relative_to(card).as_posix()))
    rels = [p.relative_to(card).as_posix() for p in files]
    results = (pool.map(_read_card_file, files, rels, chunksize=8) if pool is not None
               else map(_read_card_file, files, rels))
    photos, findings = [], []
    for item in results:
        (photos if isinstance(item, CardPhoto) else findings).append(item)
    return photos, findings


def _read_card_file(path: Path, rel: str) -> CardPhoto | Finding:
    suffix = path.suffix.lower()
    if suffix not in PHOTO_SUFFIXES:
        return Finding("not_a_photo", "not a photo file; ignored", file=rel)
    try:
        exif = read_exif(path)
    except DdirKitError as e:
        return Finding("unreadable", e.reason, file=rel)
    missing = [n for n in ("focal_mm", "capture_time") if getattr(exif, n) is None]
    if missing:
        return Finding("no_exif", f"no EXIF {' or '.join(missing)}; cannot place it in a scene", file=rel)
    fmt = ("raw" if suffix in RAW_SUFFIXES else "jpeg" if suffix in (".jpg", ".jpeg")
           else "tiff" if suffix in (".tif", ".tiff") else "png")
    return CardPhoto(rel, path, exif, fmt)


def ingest_card(card_dir: str | Path, calibration: str | Path | Calibration, out_dir: str | Path,
                tolerance_mm: float = 0.75, max_gap_s: float = 120.0, jobs: int = 1,
                shard: tuple[int, int] = (1, 1), development: RawDevelopment | None = None,
                progress: Callable[[SceneOutcome], None] | None = None) -> IngestReport:
    """Turn a camera card folder into scenes under out_dir (see the module docstring).

    calibration: calibration.json (full, or hand-written with reference_focal_mm and targets
        [{scale, focal_mm}]) or a Calibration. tolerance_mm: how far an EXIF focal length may be from a calibrated one.
    max_gap_s: a pause longer than this (seconds between consecutive shots) ends a scene.
    jobs: worker processes over scenes (1: in this process). shard: (i, N), 1-based; scenes are
        numbered over the whole card, so shards agree on names and can share one out_dir.
    development: fixed RAW parameters; its white balance, when None, is read per scene from
        the HR shot and used for every shot of the scene.
    progress: called in this process with each scene's outcome as it finishes.
    Writes out_dir/ingest_report.csv (ingest_report_shard<i>of<N>.csv for N > 1).
    """
    card = Path(card_dir)
    out = Path(out_dir)
    if not card.is_dir():
        raise DdirKitError("card folder not found (or not a folder)", card)
    calib = calibration if isinstance(calibration, Calibration) else read_calibration(calibration)
    if jobs < 1:
        raise DdirKitError(f"--jobs must be at least 1, got {jobs}")
    shard = parse_shard(f"{shard[0]}/{shard[1]}")
    development = development or RawDevelopment()
    out.mkdir(parents=True, exist_ok=True)
    pool = process_pool(jobs) if jobs > 1 else None
    try:
        photos, card_findings = scan_card(card, exclude=out, pool=pool)
        plans, plan_findings = plan_scenes(photos, calib, tolerance_mm, max_gap_s)
        mine = shard_items(plans, shard)
        dev = development.to_dict()
        outcomes: list[SceneOutcome] = []
        if pool is None:
            for plan in mine:
                outcomes.append(process_scene(plan, out, dev))
                if progress:
                    progress(outcomes[-1])
        else:
            futures = [pool.submit(process_scene, plan, out, dev) for plan in mine]
            for fut in futures:  # in scene order, so progress reads in order
                outcomes.append(fut.result())
                if progress:
                    progress(outcomes[-1])
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    findings = sorted([f for o in outcomes for f in o.findings] + card_findings + plan_findings, key=report_order)
    name = INGEST_REPORT if shard[1] == 1 else f"ingest_report_shard{shard[0]}of{shard[1]}.csv"
    report_csv = atomic_write_text(out / name, _report_csv(findings))
    return IngestReport(card, out, report_csv, len(photos) + len(card_findings), len(plans), tuple(shard),
                        tuple(outcomes), tuple(findings))


def _report_csv(findings: list[Finding]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(REPORT_COLUMNS)
    for f in findings:
        w.writerow([f.scene or "", f.level, f.kind, "" if f.scale is None else f"{f.scale:g}", f.file or "", f.message])
    return buf.getvalue()


