"""Capture ingest: a camera card folder -> checked scenes in the capture layout.

    card/ (RAW, JPEG, PNG, TIFF, anything else)  --ingest_card-->  captures/<scene>/...

Steps: read every photo's EXIF (scan_card), plan scenes from focal lengths and capture times
(scene_grouping.plan_scenes), then per scene (in a process pool with jobs > 1): decode the
chosen files (RAW developed with one white balance for the whole scene, taken from the HR
shot), write hr.png / lr_x<tag>.png / scene.json / manifest.json into a hidden folder and
rename it into place. A scene folder therefore exists only when complete, and a rerun skips a
scene whose manifest matches its sources (by SHA-256) and outputs. Every file on the card ends
up in the report: used, fallback, dropped duplicate, unreadable, not a photo, ...
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import DdirKitError
from ..fileio import atomic_write_json, atomic_write_text, read_json, sha256_file
from ..parallel import process_pool
from .capture_layout import (HR_FILE, INGEST_REPORT, SCENE_MANIFEST, SceneRecord, ShotRecord,
                             lr_file_name, read_scene_json, write_scene_json)
from ..photo.exif import read_exif
from ..photo.photo_io import PHOTO_SUFFIXES, read_photo, write_png
from ..photo.raw_develop import RAW_SUFFIXES, RawDevelopment, camera_white_balance
from .scene_grouping import Candidate, CardPhoto, Finding, IngestCalibration, ScenePlan, natural_key, plan_scenes

MANIFEST_FORMAT = "ddir-kit/ingest-manifest@1"
REPORT_COLUMNS = ("scene", "level", "kind", "scale", "file", "message")
# Relative change of exposure time, f-number or ISO above which a scene gets a warning; EXIF
# stores these as exact rationals, so anything above rounding noise is a real change.
_SETTING_RTOL = 1e-3


@dataclass(frozen=True)
class SceneOutcome:
    """What happened to one planned scene.

    status: 'written' (new or rewritten), 'up_to_date' (skipped: manifest matched) or
        'failed' (no readable HR shot or no readable LR shot; nothing written).
    scales / missing: nominal scales written / calibrated scales absent.
    seconds: wall time spent on the scene in its worker.
    """

    scene: str
    status: str
    hr_file: str | None
    scales: tuple[float, ...]
    missing: tuple[float, ...]
    findings: tuple[Finding, ...]
    seconds: float = 0.0

    @property
    def warnings(self) -> int:
        return sum(f.level != "info" for f in self.findings)


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


def parse_shard(text: str) -> tuple[int, int]:
    """'2/4' -> (2, 4): the second of four equal shares (1-based)."""
    try:
        i, n = (int(t) for t in str(text).split("/"))
    except ValueError:
        raise DdirKitError(f"--shard expects i/N such as 1/4, got {text!r}") from None
    if n < 1 or not 1 <= i <= n:
        raise DdirKitError(f"--shard i/N needs 1 <= i <= N, got {text!r}")
    return i, n


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


def ingest_card(card_dir: str | Path, calibration: str | Path | IngestCalibration, out_dir: str | Path,
                tolerance_mm: float = 0.75, max_gap_s: float = 120.0, jobs: int = 1,
                shard: tuple[int, int] = (1, 1), development: RawDevelopment | None = None,
                progress: Callable[[SceneOutcome], None] | None = None) -> IngestReport:
    """Turn a camera card folder into scenes under out_dir (see the module docstring).

    calibration: calibration.json (reference_focal_mm, targets [{scale, focal_mm}]) or its
        parsed form. tolerance_mm: how far an EXIF focal length may be from a calibrated one.
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
    calib = calibration if isinstance(calibration, IngestCalibration) else IngestCalibration.from_json(calibration)
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
    findings = sorted([f for o in outcomes for f in o.findings] + card_findings + plan_findings, key=_report_order)
    name = INGEST_REPORT if shard[1] == 1 else f"ingest_report_shard{shard[0]}of{shard[1]}.csv"
    report_csv = atomic_write_text(out / name, _report_csv(findings))
    return IngestReport(card, out, report_csv, len(photos) + len(card_findings), len(plans), tuple(shard),
                        tuple(outcomes), tuple(findings))


def _report_order(f: Finding):
    return (f.scene is None, f.scene or "", f.scale or 0.0, f.file or "", f.kind, f.message)


def _report_csv(findings: list[Finding]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(REPORT_COLUMNS)
    for f in findings:
        w.writerow([f.scene or "", f.level, f.kind, "" if f.scale is None else f"{f.scale:g}", f.file or "", f.message])
    return buf.getvalue()


# ---------------------------------------------------------------------------------------
# one scene (runs in a worker process)


def process_scene(plan: ScenePlan, out_dir: Path, development: dict) -> SceneOutcome:
    """Write one planned scene, or skip it when its manifest says it is already done."""
    start = time.perf_counter()
    out_dir = Path(out_dir)
    final = out_dir / plan.name
    sources = {f: sha256_file(p) for f, p in sorted(_source_paths(plan).items())}
    fingerprint = _fingerprint(plan, sources, development)
    done = _finished(final, fingerprint)
    if done is not None:
        return _outcome(done, "up_to_date", time.perf_counter() - start)
    _remove_leftovers(out_dir, plan.name)
    work = out_dir / f".{plan.name}.partial-{os.getpid()}"
    work.mkdir(parents=True)
    try:
        record, findings = _write_scene_photos(plan, work, RawDevelopment.from_dict(development))
        if record is None:
            findings = sorted(findings, key=_report_order)
            return SceneOutcome(plan.name, "failed", None, (),
                                tuple(f.scale for f in findings if f.kind == "missing_scale"),
                                tuple(findings), time.perf_counter() - start)
        write_scene_json(work, record)
        outputs = sorted(p.name for p in work.iterdir() if not p.name.startswith("."))
        atomic_write_json(work / SCENE_MANIFEST, {
            "format": MANIFEST_FORMAT,
            "fingerprint": fingerprint,
            "sources": [{"file": f, "sha256": h} for f, h in sources.items()],
            "outputs": [{"file": n, "sha256": sha256_file(work / n)} for n in outputs],
        })
        _move_into_place(work, final)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return _outcome(record, "written", time.perf_counter() - start)


def _source_paths(plan: ScenePlan) -> dict[str, Path]:
    cands = list(plan.hr) + [c for s in plan.lr for c in s.candidates]
    return {c.photo.file: c.photo.path for c in cands}


def _fingerprint(plan: ScenePlan, sources: dict[str, str], development: dict) -> str:
    """SHA-256 of everything the scene's output depends on: the plan, source bytes, parameters."""
    def cand(c: Candidate) -> list:
        return [c.photo.file, c.shot, round(c.focal_error_mm, 6)]

    spec = {
        "format": MANIFEST_FORMAT,
        "reference_focal_mm": plan.reference_focal_mm,
        "hr": [cand(c) for c in plan.hr],
        "lr": [[str(s.scale), s.target_focal_mm, [cand(c) for c in s.candidates]] for s in plan.lr],
        "missing": [str(s) for s in plan.missing],
        "loose": [f.to_dict() for f in plan.findings],
        "sources": sources,
        "development": development,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


def _finished(scene_dir: Path, fingerprint: str) -> SceneRecord | None:
    """The scene's record if its folder is complete and made from exactly these inputs."""
    manifest_path = scene_dir / SCENE_MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = read_json(manifest_path)
        if manifest.get("format") != MANIFEST_FORMAT or manifest.get("fingerprint") != fingerprint:
            return None
        for entry in manifest["outputs"]:
            p = scene_dir / entry["file"]
            if not p.is_file() or sha256_file(p) != entry["sha256"]:
                return None
        return read_scene_json(scene_dir)
    except (DdirKitError, KeyError, TypeError, AttributeError):
        return None  # a damaged manifest means: write the scene again


def _remove_leftovers(out_dir: Path, name: str) -> None:
    # Work folders of a killed run (this scene belongs to this run's shard, so no other live
    # process writes it).
    for p in out_dir.glob(f".{name}.*"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


def _move_into_place(work: Path, final: Path) -> None:
    if final.exists():
        # A directory cannot be renamed over a non-empty one: move the old out of the way
        # first (a crash in between leaves no scene folder, which the next run rewrites).
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        os.replace(final, old)
        os.replace(work, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(work, final)


def _outcome(record: SceneRecord, status: str, seconds: float) -> SceneOutcome:
    findings = tuple(Finding.from_dict(f) for f in record.findings)
    missing = tuple(f.scale for f in findings if f.kind == "missing_scale")
    return SceneOutcome(record.scene, status, record.hr.source, tuple(s.scale for s in record.lr), missing,
                        findings, seconds)


def _write_scene_photos(plan: ScenePlan, work: Path, development: RawDevelopment):
    """Decode and write the scene's photos into ``work``.

    Returns (SceneRecord or None when the scene cannot be made, findings).
    """
    findings: list[Finding] = []
    scene = plan.name
    dev = development  # white balance resolved from the first RAW shot (the HR when it is RAW)

    def decode(c: Candidate, scale: float | None):
        nonlocal dev
        try:
            if c.photo.is_raw and dev.white_balance is None:
                dev = dataclasses.replace(dev, white_balance=camera_white_balance(c.photo.path))
            return read_photo(c.photo.path, dev if c.photo.is_raw else None)
        except DdirKitError as e:
            findings.append(Finding("unreadable", e.reason, scene, scale, c.photo.file))
            return None

    def choose(cands: tuple[Candidate, ...], scale: float | None, target_mm: float, file_name: str, role: str):
        used: Candidate | None = None
        record = None
        for c in cands:
            if used is None:
                photo = decode(c, scale)
                if photo is None:
                    continue
                used = c
                write_png(work / file_name, photo.rgb, photo.bit_depth)
                h, w = photo.rgb.shape[:2]
                record = ShotRecord(role, file_name, scale, c.photo.file, c.photo.source_format,
                                    c.photo.exif.to_dict(), photo.bit_depth, (w, h), target_mm,
                                    round(c.focal_error_mm, 4),
                                    None if photo.development is None else photo.development.to_dict())
                what = "HR" if role == "hr" else f"LR x{scale:g}"
                findings.append(Finding("used", f"{what}: {c.photo.exif.focal_mm:g} mm "
                                        f"({c.focal_error_mm:+.2f} mm from {target_mm:g} mm), {photo.bit_depth}-bit "
                                        f"{c.photo.source_format}", scene, scale, c.photo.file))
                del photo
            elif c.shot == used.shot:
                findings.append(Finding("raw_preferred", f"same exposure as {used.photo.file}, which was used "
                                        f"({used.photo.source_format} over {c.photo.source_format})",
                                        scene, scale, c.photo.file))
            else:
                findings.append(Finding("duplicate", f"another shot for x{scale:g}: kept {used.photo.file} "
                                        f"({used.focal_error_mm:+.2f} mm from the calibrated {target_mm:g} mm), "
                                        f"not this one ({c.focal_error_mm:+.2f} mm)", scene, scale, c.photo.file))
        return used, record

    hr_used, hr_record = choose(plan.hr, None, plan.reference_focal_mm, HR_FILE, "hr")
    findings += list(plan.findings)
    if hr_used is None:
        findings.append(Finding("scene_failed", "no readable HR shot; scene not written", scene))
        return None, findings
    lr_records = []
    for slot in plan.lr:
        s = float(slot.scale)
        used, rec = choose(slot.candidates, s, slot.target_focal_mm, lr_file_name(slot.scale), "lr")
        if used is None:
            findings.append(Finding("missing_scale", f"no readable LR shot at x{s:g} "
                                    f"(calibrated {slot.target_focal_mm:g} mm)", scene, s))
            continue
        lr_records.append(rec)
        changed = _setting_changes(hr_used.photo.exif, used.photo.exif)
        if changed:
            findings.append(Finding("setting_changed", f"changed from the HR shot: {changed}", scene, s, used.photo.file))
    for s in plan.missing:
        findings.append(Finding("missing_scale", f"no LR shot at x{float(s):g} within the focal tolerance",
                                scene, float(s)))
    if not lr_records:
        findings.append(Finding("scene_failed", "no readable LR shot; scene not written", scene))
        return None, findings
    findings.sort(key=_report_order)
    has_raw = any(r.development is not None for r in [hr_record, *lr_records])
    record = SceneRecord(scene, hr_record, tuple(lr_records), "camera card", plan.reference_focal_mm,
                         dev.to_dict() if has_raw else None, tuple(f.to_dict() for f in findings))
    return record, findings


def _setting_changes(hr, lr) -> str:
    parts = []
    for name, label, fmt in (("exposure_s", "exposure", _fmt_exposure), ("f_number", "aperture", lambda v: f"f/{v:g}"),
                             ("iso", "ISO", lambda v: f"{v:g}")):
        a, b = getattr(hr, name), getattr(lr, name)
        if a is not None and b is not None and abs(a - b) > _SETTING_RTOL * max(abs(a), abs(b)):
            parts.append(f"{label} {fmt(a)} -> {fmt(b)}")
    for name, label in (("camera_model", "camera"), ("lens_model", "lens")):
        a, b = getattr(hr, name), getattr(lr, name)
        if a and b and a != b:
            parts.append(f"{label} {a} -> {b}")
    return ", ".join(parts)


def _fmt_exposure(v: float) -> str:
    return f"1/{1 / v:.4g} s" if v < 1 else f"{v:g} s"
