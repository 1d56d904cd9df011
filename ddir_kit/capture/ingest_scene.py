"""One planned scene of a camera card -> a finished scene folder (runs in a worker process).

The chosen files are decoded (RAW developed with one white balance for the whole scene, taken
from the first RAW shot), hr.png / lr_x<tag>.png / scene.json / manifest.json are written into
a hidden folder, which is then renamed into place. A scene whose manifest matches its sources
(by SHA-256), its parameters and its outputs is skipped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import DdirKitError
from ..fileio import sha256_file
from ..photo.photo_io import read_photo, write_png
from ..photo.raw_develop import RawDevelopment, camera_white_balance
from .capture_layout import (HR_FILE, SCENE_MANIFEST, SCENE_MANIFEST_FORMAT, FileChecksum, SceneManifest,
                             SceneRecord, ShotRecord, lr_file_name, read_scene_json, read_scene_manifest,
                             write_scene_json, write_scene_manifest)
from .scene_grouping import Candidate, Finding, ScenePlan, report_order

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
            findings = sorted(findings, key=report_order)
            return SceneOutcome(plan.name, "failed", None, (),
                                tuple(f.scale for f in findings if f.kind == "missing_scale"),
                                tuple(findings), time.perf_counter() - start)
        write_scene_json(work, record)
        outputs = sorted(p.name for p in work.iterdir() if not p.name.startswith("."))
        write_scene_manifest(work, SceneManifest(
            fingerprint, tuple(FileChecksum(f, h) for f, h in sources.items()),
            tuple(FileChecksum(n, sha256_file(work / n)) for n in outputs)))
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
        "format": SCENE_MANIFEST_FORMAT,
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
    if not (scene_dir / SCENE_MANIFEST).is_file():
        return None
    try:
        manifest = read_scene_manifest(scene_dir)
        if manifest.fingerprint != fingerprint:
            return None
        for entry in manifest.outputs:
            p = scene_dir / entry.file
            if not p.is_file() or sha256_file(p) != entry.sha256:
                return None
        return read_scene_json(scene_dir)
    except DdirKitError:
        return None  # a damaged or older manifest means: write the scene again


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
    findings.sort(key=report_order)
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
