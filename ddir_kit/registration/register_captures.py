"""Register every LR shot of every scene of a capture folder.

    captures/<scene>/{hr.png, lr_x<tag>.png, scene.json}
        -> aligned/<scene>/x<tag>/{hr.png, lr.png, pair.json}, aligned/report.csv, aligned/manifest.json

Resumable: a pair folder appears complete or not at all (written in a hidden folder, then
renamed), and a rerun skips a pair whose pair.json records the same input checksums and the
same settings. Pairs run in a process pool (``jobs``); ``shard`` (i, N) takes the i-th of N
contiguous shares of the scenes so that several machines can split one capture folder (they
may share one output folder: each pair lives in its own folder, and report.csv and
manifest.json are rebuilt from every pair.json present, aligned_folder.py).

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

import shutil
import statistics
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Callable

from ..errors import DdirKitError
from ..fileio import jsonable, sha256_file
from ..parallel import process_pool
from ..photo.photo_io import IMAGE_SUFFIXES
from ..scales import as_fraction, scale_tag
from .aligned_folder import ReportRow, write_report
from .config import RegistrationConfig
from .pair_record import PAIR_JSON, PairRecord, RadialPooled
from .register_pair import register_pair

MIN_POOLED_PAIRS = 3


@dataclass(frozen=True)
class PairJob:
    scene: str
    scale: Fraction
    hr: Path
    lr: Path
    out_dir: Path


@dataclass
class BatchReport:
    """rows: one per pair of this run (status 'ok', 'rejected', 'failed' or 'skipped'), each
    a report.csv row as a dict (ReportRow.to_row)."""

    rows: list[dict] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.rows)


def find_pair_jobs(captures_dir: str | Path, out_dir: str | Path) -> tuple[list[PairJob], list[ReportRow]]:
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
            problems.append(ReportRow(scene.name, status="failed", reason="no hr photo"))
            continue
        for lr in sorted(lrs):
            try:
                s = as_fraction(lr.stem[len("lr_x"):])
            except DdirKitError:
                problems.append(ReportRow(scene.name, status="failed", reason=f"{lr.name}: no scale in the file name"))
                continue
            jobs.append(PairJob(scene.name, s, hr[0], lr, Path(out_dir) / scene.name / f"x{scale_tag(s)}"))
    jobs.sort(key=lambda j: (j.scene, j.scale))
    return jobs, problems


def _no_scene_reason(root: Path) -> str:
    """Why a folder with no usable scene holds nothing to register (before anything is written)."""
    names = {p.stem for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}
    if "hr" in names or any(n.startswith("lr_x") for n in names):
        return "this is one scene folder, not a capture folder: pass the folder that holds it"
    return ("no scene folder in it (a scene is a subfolder holding hr.png and lr_x<scale>.png, "
            "as capture ingest and capture simulate write them); nothing was written")


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
    if not all_jobs and not problems:
        raise DdirKitError(_no_scene_reason(Path(captures_dir)), captures_dir)
    my_jobs = shard_scenes(all_jobs, shard)
    my_scenes = {j.scene for j in my_jobs}
    rows: dict = {}

    def record(key, row: ReportRow):
        rows[key] = row
        if on_pair:
            on_pair(row.to_row())

    for i, row in enumerate(problems):
        record(("problem", i), row)
    _remove_stale_work(out, my_scenes)
    todo = []
    for job in my_jobs:
        if _is_done(job, config):
            row = ReportRow.of_pair(job.scene, PairRecord.read(job.out_dir / PAIR_JSON))
            record(job, row.skipped("done in an earlier run (same inputs and settings)"))
        else:
            todo.append((job, config, None))
    for job, row in _run_all(todo, jobs):
        record(job, row)
    if pool_radial and config.radial and config.radial_k1 is None and shard == (1, 1):
        for job, row in _run_all(_pooled_radial_jobs(my_jobs, config), jobs):
            record(job, row)
    write_report(out, extra_rows=[r for r in rows.values() if r.status == "failed"])
    return BatchReport([r.to_row() for r in rows.values()])


def _run_all(todo: list, jobs: int):
    """(job, row) for each (job, config, radial_pooled), in a process pool when there is work for one."""
    if jobs > 1 and len(todo) > 1:
        with process_pool(jobs) as pool:
            yield from zip((t[0] for t in todo), pool.map(_run_job, *zip(*todo)))
    else:
        for job, cfg, pooled in todo:
            yield job, _run_job(job, cfg, pooled)


def _pooled_radial_jobs(jobs: list[PairJob], config: RegistrationConfig) -> list:
    """(job, config with the pooled k1, RadialPooled) for every ok pair not yet refitted with it."""
    own, applied, by_scale = {}, {}, {}
    for job in jobs:
        path = job.out_dir / PAIR_JSON
        if not path.is_file():
            continue
        rec = PairRecord.read(path)
        pooled = rec.radial_pooled
        if (rec.ok or pooled) and rec.own_fit_k1 is not None:
            own[job] = rec.own_fit_k1
            applied[job] = pooled.k1 if pooled else None
            by_scale.setdefault(job.scale, []).append(job)
    todo = []
    for scale, members in by_scale.items():
        if len(members) < MIN_POOLED_PAIRS:
            continue
        k1 = statistics.median(own[j] for j in members)
        for job in members:
            if applied[job] is not None and abs(applied[job] - k1) <= 1e-12:
                continue
            todo.append((job, replace(config, radial_k1=k1), RadialPooled(k1, own[job], len(members))))
    return todo


def _run_job(job: PairJob, config: RegistrationConfig, radial_pooled: RadialPooled | None = None) -> ReportRow:
    t0 = time.perf_counter()
    try:
        register_pair(job.hr, job.lr, job.scale, job.out_dir, config, radial_pooled)
    except DdirKitError as e:
        return ReportRow(job.scene, float(job.scale), "failed", str(e), seconds=round(time.perf_counter() - t0, 2))
    row = ReportRow.of_pair(job.scene, PairRecord.read(job.out_dir / PAIR_JSON))
    return replace(row, seconds=round(time.perf_counter() - t0, 2))


def _is_done(job: PairJob, config: RegistrationConfig) -> bool:
    path = job.out_dir / PAIR_JSON
    if not path.is_file():
        return False
    try:
        rec = PairRecord.read(path)
        if rec.radial_pooled:  # refitted by the pooling pass: judged by its first-pass settings
            config = replace(config, radial_k1=rec.config_radial_k1)
        hr, lr = rec.sources.hr, rec.sources.lr
        return (rec.config == jsonable(config.to_dict())
                and hr is not None and hr.sha256 == sha256_file(job.hr)
                and lr is not None and lr.sha256 == sha256_file(job.lr))
    except (DdirKitError, OSError):
        return False


def _remove_stale_work(out: Path, scenes: set[str]) -> None:
    # Hidden work folders are what a killed run leaves; only this shard's scenes are touched,
    # so a concurrent shard's work in progress is never removed.
    for scene in scenes:
        d = out / scene
        if d.is_dir():
            for p in d.iterdir():
                if p.is_dir() and p.name.startswith(".") and (".tmp-" in p.name or ".old-" in p.name):
                    shutil.rmtree(p, ignore_errors=True)
