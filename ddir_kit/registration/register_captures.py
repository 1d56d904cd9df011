"""Register every LR shot of every scene of a capture folder.

    captures/<scene>/{hr.png, lr_x<tag>.png, scene.json}
        -> aligned/<scene>/x<tag>/{hr.png, lr.png, pair.json}, aligned/report.csv, aligned/manifest.json

Resumable: a pair folder appears complete or not at all (written in a hidden folder, then
renamed), and a rerun skips a pair whose pair.json records the same input checksums and the
same settings. Pairs run in a process pool (``jobs``); ``shard`` (i, N) takes the i-th of N
contiguous shares of the scenes so that several machines can split one capture folder (they
may share one output folder: each pair lives in its own folder, and report.csv and
manifest.json are rebuilt from every pair.json present).

With the radial term on, a second pass pools it: every scene shot at one scale used the same
two focal lengths of the same lens, so their relative distortion is one number, while each
pair's own fit of it is pulled by where that scene happens to have texture (a textureless
corner leaves it free). The median of the pairs' own fits at a scale (three pairs at least)
is then applied to each of them and the rest of the map refitted; pair.json records it under
``radial_pooled`` with the pair's own fit. Turn it off (``pool_radial=False``) for a folder
that mixes cameras, lenses or focal settings at one scale; a sharded run does not pool
(no shard sees every scene).
"""

from __future__ import annotations

import csv
import io
import shutil
import statistics
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Callable

from ..photo.photo_io import IMAGE_SUFFIXES
from ..errors import DdirKitError
from ..fileio import atomic_write_json, atomic_write_text, read_json, sha256_file
from ..parallel import process_pool
from ..scales import as_fraction, scale_tag
from .register_pair import RegistrationConfig, register_pair

REPORT_CSV = "report.csv"
MANIFEST_JSON = "manifest.json"
MIN_POOLED_PAIRS = 3
REPORT_FIELDS = ["scene", "scale", "status", "reason", "scale_measured", "hr_crop", "lr_size",
                 "residual_median_abs", "zncc", "local_bad_tiles", "local_shift_max_px", "coarse_method", "seconds"]


@dataclass(frozen=True)
class PairJob:
    scene: str
    scale: Fraction
    hr: Path
    lr: Path
    out_dir: Path


@dataclass
class BatchReport:
    """rows: one per pair of this run (status 'ok', 'rejected', 'failed' or 'skipped')."""

    rows: list[dict] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.rows)


def find_pair_jobs(captures_dir: str | Path, out_dir: str | Path) -> tuple[list[PairJob], list[dict]]:
    """Every (scene, scale) of a capture folder, sorted by scene then scale, and a row per
    scene that cannot be used (no HR photo). The scales come from the file names
    (lr_x<tag>.*), which the capture layout fixes whoever wrote the scene."""
    root = Path(captures_dir)
    if not root.is_dir():
        raise DdirKitError("not a folder", root)
    jobs, problems = [], []
    scenes = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    for scene in scenes:
        photos = [p for p in scene.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        hr = [p for p in photos if p.stem == "hr"]
        lrs = [p for p in photos if p.stem.startswith("lr_x")]
        if not lrs and not hr:
            continue  # not a scene folder
        if not hr:
            problems.append({"scene": scene.name, "scale": "", "status": "failed", "reason": "no hr photo"})
            continue
        for lr in sorted(lrs):
            try:
                s = as_fraction(lr.stem[len("lr_x"):])
            except DdirKitError:
                problems.append({"scene": scene.name, "scale": "", "status": "failed",
                                 "reason": f"{lr.name}: no scale in the file name"})
                continue
            jobs.append(PairJob(scene.name, s, hr[0], lr, Path(out_dir) / scene.name / f"x{scale_tag(s)}"))
    jobs.sort(key=lambda j: (j.scene, j.scale))
    return jobs, problems


def shard_scenes(jobs: list[PairJob], shard: tuple[int, int]) -> list[PairJob]:
    """Jobs of the i-th of N contiguous shares of the scenes (1-based, as ingest's --shard)."""
    i, n = shard
    if n < 1 or not 1 <= i <= n:
        raise DdirKitError(f"--shard i/N needs 1 <= i <= N, got {i}/{n}")
    scenes = sorted({j.scene for j in jobs})
    mine = set(scenes[(i - 1) * len(scenes) // n: i * len(scenes) // n])
    return [j for j in jobs if j.scene in mine]


def register_captures(captures_dir: str | Path, out_dir: str | Path, *, jobs: int = 1,
                      shard: tuple[int, int] = (1, 1), config: RegistrationConfig = RegistrationConfig(),
                      pool_radial: bool = True, on_pair: Callable[[dict], None] | None = None) -> BatchReport:
    """Register a capture folder into ``out_dir``; see the module docstring.

    on_pair: called with each pair's report row as it finishes (the CLI prints progress; a pair
    refitted with the pooled radial term is reported again).
    """
    out = Path(out_dir)
    all_jobs, problems = find_pair_jobs(captures_dir, out)
    my_jobs = shard_scenes(all_jobs, shard)
    my_scenes = {j.scene for j in my_jobs}
    rows: dict = {}

    def record(key, row):
        rows[key] = row
        if on_pair:
            on_pair(row)

    for i, row in enumerate(problems):
        record(("problem", i), row)
    _remove_stale_work(out, my_scenes)
    todo = []
    for job in my_jobs:
        if _is_done(job, config):
            record(job, {**_row_from_pair_json(job.scene, job.out_dir / "pair.json"), "status": "skipped",
                         "reason": "done in an earlier run (same inputs and settings)"})
        else:
            todo.append((job, config, None))
    for job, row in _run_all(todo, jobs):
        record(job, row)
    if pool_radial and config.radial and config.radial_k1 is None and shard == (1, 1):
        for job, row in _run_all(_pooled_radial_jobs(my_jobs, config), jobs):
            record(job, row)
    report = BatchReport(list(rows.values()))
    write_report(out, extra_rows=[r for r in report.rows if r["status"] == "failed"])
    return report


def _run_all(todo: list, jobs: int):
    """(job, row) for each (job, config, notes), in a process pool when there is work for one."""
    if jobs > 1 and len(todo) > 1:
        with process_pool(jobs) as pool:
            yield from zip((t[0] for t in todo), pool.map(_run_job, *zip(*todo)))
    else:
        for job, cfg, notes in todo:
            yield job, _run_job(job, cfg, notes)


def _pooled_radial_jobs(jobs: list[PairJob], config: RegistrationConfig) -> list:
    """(job, config with the pooled k1, notes) for every ok pair not yet refitted with it."""
    own, applied, by_scale = {}, {}, {}
    for job in jobs:
        path = job.out_dir / "pair.json"
        if not path.is_file():
            continue
        rec = read_json(path)
        pooled = rec.get("radial_pooled")
        k1 = pooled["own_fit_k1"] if pooled else (rec.get("radial") or {}).get("k1")
        if (rec.get("status") == "ok" or pooled) and k1 is not None:
            own[job] = float(k1)
            applied[job] = pooled["k1"] if pooled else None
            by_scale.setdefault(job.scale, []).append(job)
    todo = []
    for scale, members in by_scale.items():
        if len(members) < MIN_POOLED_PAIRS:
            continue
        k1 = statistics.median(own[j] for j in members)
        for job in members:
            if applied[job] is not None and abs(applied[job] - k1) <= 1e-12:
                continue
            notes = {"radial_pooled": {"k1": k1, "own_fit_k1": own[job], "pairs": len(members),
                                       "rule": "median of the own fits of the pairs registered at this scale"}}
            todo.append((job, replace(config, radial_k1=k1), notes))
    return todo


def _run_job(job: PairJob, config: RegistrationConfig, notes: dict | None = None) -> dict:
    import time

    t0 = time.perf_counter()
    try:
        register_pair(job.hr, job.lr, job.scale, job.out_dir, config, notes)
    except DdirKitError as e:
        return {"scene": job.scene, "scale": float(job.scale), "status": "failed", "reason": str(e),
                "seconds": round(time.perf_counter() - t0, 2)}
    row = _row_from_pair_json(job.scene, job.out_dir / "pair.json")
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


def _is_done(job: PairJob, config: RegistrationConfig) -> bool:
    path = job.out_dir / "pair.json"
    if not path.is_file():
        return False
    try:
        rec = read_json(path)
        src = rec.get("sources", {})
        if rec.get("radial_pooled"):  # refitted by the pooling pass: judged by its first-pass settings
            config = replace(config, radial_k1=rec["config"]["radial_k1"])
        return (rec.get("config") == _jsonable(config.to_dict())
                and src.get("hr", {}).get("sha256") == sha256_file(job.hr)
                and src.get("lr", {}).get("sha256") == sha256_file(job.lr))
    except (DdirKitError, OSError, AttributeError):
        return False


def _jsonable(obj):
    import json

    from ..fileio import _json_default

    return json.loads(json.dumps(obj, default=_json_default))


def _remove_stale_work(out: Path, scenes: set[str]) -> None:
    # Hidden work folders are what a killed run leaves; only this shard's scenes are touched,
    # so a concurrent shard's work in progress is never removed.
    for scene in scenes:
        d = out / scene
        if d.is_dir():
            for p in d.iterdir():
                if p.is_dir() and p.name.startswith(".") and (".tmp-" in p.name or ".old-" in p.name):
                    shutil.rmtree(p, ignore_errors=True)


def _row_from_pair_json(scene: str, path: Path) -> dict:
    rec = read_json(path)
    local = rec.get("local_shift") or {}
    res = rec.get("residual") or {}
    return {"scene": scene, "scale": rec.get("scale"), "status": rec.get("status"), "reason": rec.get("reason", ""),
            "scale_measured": _round(rec.get("scale_measured"), 5),
            "hr_crop": " ".join(map(str, rec["hr_crop"])) if rec.get("hr_crop") else "",
            "lr_size": "x".join(map(str, rec["lr_size"])) if rec.get("lr_size") else "",
            "residual_median_abs": res.get("median_abs", ""), "zncc": res.get("zncc_best90", ""),
            "local_bad_tiles": local.get("bad", ""), "local_shift_max_px": _round(local.get("shift_max_px"), 3),
            "coarse_method": (rec.get("coarse") or {}).get("method", ""),
            "seconds": (rec.get("timing_s") or {}).get("total", "")}


def _round(v, n):
    return "" if v is None else round(float(v), n)


def write_report(out_dir: str | Path, extra_rows: list[dict] = ()) -> Path:
    """Rebuild report.csv and manifest.json from every pair.json under ``out_dir`` (plus rows for
    pairs that failed without a folder)."""
    out = Path(out_dir)
    rows, pairs = [], []
    if out.is_dir():
        for scene in sorted(d for d in out.iterdir() if d.is_dir() and not d.name.startswith(".")):
            for pair_dir in sorted(d for d in scene.iterdir() if d.is_dir() and not d.name.startswith(".")):
                pj = pair_dir / "pair.json"
                if not pj.is_file():
                    continue
                row = _row_from_pair_json(scene.name, pj)
                rows.append(row)
                rec = read_json(pj)
                pairs.append({"scene": scene.name, "folder": f"{scene.name}/{pair_dir.name}",
                              "scale": rec.get("scale"), "status": rec.get("status"), "reason": rec.get("reason"),
                              "sources": rec.get("sources"),
                              "outputs": rec.get("outputs", {})})
    rows += list(extra_rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=REPORT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow(r)
    atomic_write_text(out / REPORT_CSV, buf.getvalue())
    atomic_write_json(out / MANIFEST_JSON, {"format": "ddir-kit/aligned@1", "pairs": pairs})
    return out / REPORT_CSV
