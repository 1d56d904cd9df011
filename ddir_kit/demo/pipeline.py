"""The demo's stages, each a library call on the previous stage's files, and their runner.

Every stage writes into OUT and records a summary (figures measured against the virtual
camera's truth; stage_records.py) in OUT/stages/<stage>.json once it has finished, so a rerun
skips finished stages; the library calls inside a stage are themselves resumable, so a killed
stage picks up where it stopped.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DdirKitError
from ..fileio import atomic_write_json, jsonable, read_json
from .config import DemoConfig
from .stage_records import (BenchSummary, CalibrateSummary, CaptureSummary, DatasetSummary, PairError,
                            PairNote, RegisterSummary, SkippedFile, StageRecord, StageSummary, TargetError,
                            read_stage_record, stage_record_path, write_stage_record)


@dataclass(frozen=True)
class StageOutcome:
    """summary: what the stage measured (None when it did not finish)."""

    name: str
    status: str  # "done", "skipped" (finished in an earlier run), "failed", "not run", "left out" (after until)
    seconds: float
    summary: StageSummary | None
    error: str | None = None


@dataclass(frozen=True)
class StagePlan:
    """What a run is about to do with a stage, before it starts.

    action: 'run' (the folder's first run), 'keep' (finished in an earlier run: its record
    and files are used as they are; earlier_seconds is the time it took then) or 'redo' (an
    earlier run in this folder did not finish it: it runs again, and keeps what that run
    finished inside it, STAGE_RESUMES); 'leave' (after the run's ``until`` stage: not run now)."""

    name: str
    action: str
    earlier_seconds: float | None = None


STAGES = ("calibrate", "capture", "register", "dataset", "bench")
# What a stage run again keeps of an earlier, unfinished run (its library calls resume).
STAGE_RESUMES = {
    "calibrate": "the checkerboard detections already made",
    "capture": "the scenes already ingested",
    "register": "the pairs already registered",
    "dataset": "",  # cut again whole: it takes seconds
    "bench": "the methods already trained and tested",
}
STAGE_TITLES = {
    "calibrate": "virtual checkerboard sweep + calibrate",
    "capture": "virtual camera card + capture ingest",
    "register": "register every pair, compare with truth",
    "dataset": "crop into RealArbiSR layout + validate + card",
    "bench": "bench bicubic, LIIF, LTE, CiaoSR, DDIR (pretrained; from scratch)",
}


def run_demo(out: str | Path, config: DemoConfig, keep_going: bool = False,
             on_start: Callable[[str], None] | None = None,
             on_end: Callable[[StageOutcome], None] | None = None,
             log: Callable[[str], None] | None = None,
             on_plan: Callable[[list[StagePlan]], None] | None = None,
             until: str = STAGES[-1]) -> list[StageOutcome]:
    """Run every stage into ``out``, or those up to ``until``; returns one outcome per stage (status
    "left out" for those after ``until``; a later run without it resumes there).

    A stage that fails with DdirKitError stops the run (later stages need its files) unless
    ``keep_going``, which runs the later stages that do not depend on it. A rerun with the same
    config resumes; a folder made with another config is refused. on_plan: called once, before
    the first stage, with what the run will keep and what it will run (again).
    """
    if until not in STAGES:
        raise DdirKitError(f"no demo stage {until!r}; one of {', '.join(STAGES)}")
    last = STAGES.index(until)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    resumed = (out / "demo.json").is_file()
    _claim(out, config)
    if on_plan:
        on_plan(_plan(out, resumed, last))
    _note_left_out(out, STAGES[last + 1:])
    log = log or (lambda _m: None)
    needs = {"capture": {"calibrate"}, "register": {"capture"}, "dataset": {"register"}, "bench": {"dataset"}}
    outcomes: dict[str, StageOutcome] = {}
    for index, name in enumerate(STAGES):
        failed_deps = [d for d in needs.get(name, ()) if outcomes[d].status in ("failed", "not run")]
        if index > last:
            outcomes[name] = StageOutcome(name, "left out", 0.0, None, f"the run stopped after {until}")
        elif failed_deps:
            outcomes[name] = StageOutcome(name, "not run", 0.0, None, f"needs {', '.join(failed_deps)}")
        elif stage_record_path(out, name).is_file():
            saved = read_stage_record(out, name)
            outcomes[name] = StageOutcome(name, "skipped", saved.seconds, saved.summary)
        else:
            if on_start:
                on_start(name)
            t0 = time.monotonic()
            try:
                summary = _STAGE_FUNCS[name](out, config, log)
            except DdirKitError as e:
                outcomes[name] = StageOutcome(name, "failed", time.monotonic() - t0, None, str(e))
            else:
                seconds = time.monotonic() - t0
                write_stage_record(out, name, StageRecord(seconds, summary))
                outcomes[name] = StageOutcome(name, "done", seconds, summary)
        if on_end:
            on_end(outcomes[name])
        if outcomes[name].status == "failed" and not keep_going:
            break
    for name in STAGES:
        outcomes.setdefault(name, StageOutcome(name, "not run", 0.0, None, "an earlier stage failed"))
    return [outcomes[n] for n in STAGES]


def _plan(out: Path, resumed: bool, last: int) -> list[StagePlan]:
    plan = []
    left_out = set(read_json(out / "demo.json").get("left_out", ())) if resumed else set()
    for index, name in enumerate(STAGES):
        if index > last:
            plan.append(StagePlan(name, "leave"))
        elif stage_record_path(out, name).is_file():
            plan.append(StagePlan(name, "keep", read_stage_record(out, name).seconds))
        else:  # never started when an earlier run stopped before it (--until): run, not redo
            plan.append(StagePlan(name, "redo" if resumed and name not in left_out else "run"))
    return plan


def _note_left_out(out: Path, names) -> None:
    """demo.json's ``left_out``: the stages this run leaves out (``until``) that no run finished, so
    that a later run says it runs them for the first time rather than again."""
    path = out / "demo.json"
    record = read_json(path)
    left = [n for n in names if not stage_record_path(out, n).is_file()]
    if record.get("left_out", []) != left:
        atomic_write_json(path, {**record, "left_out": left})


def _claim(out: Path, config: DemoConfig) -> None:
    path = out / "demo.json"
    if path.is_file():
        old = read_json(path)
        if old.get("config") != jsonable(config.to_dict()):
            raise DdirKitError("holds a demo run with other settings (seed, --fast, --device, --epochs, --precision or --models); "
                              "use another --out", out)
    else:
        atomic_write_json(path, {"config": jsonable(config.to_dict())})


# ----------------------------------------------------------------------------------------
# stage 1: calibration


def _stage_calibrate(out: Path, cfg: DemoConfig, log) -> CalibrateSummary:
    from ..calibration.calibrate import calibrate_sweep, write_calibration
    from ..virtual_camera.lens_model import ZoomLens, true_focal_for_scale
    from ..virtual_camera.simulate import simulate_calibration

    lens = ZoomLens()
    sweep = simulate_calibration(out / "sweep", cfg.sweep_focals_mm, seed=cfg.seed, sensor=cfg.sweep_sensor_px,
                                 lens=lens, progress=log)
    shots_dir = out / "sweep"
    cal = calibrate_sweep(shots_dir, scales=list(cfg.all_scales),
                          cache_path=out / "calibration_detections.json")
    files = write_calibration(cal, out / "calibration.json")
    reference = cal.reference_focal_mm
    rows = []
    for t in cal.targets:
        truth = true_focal_for_scale(lens, t.scale, reference)
        rows.append(TargetError(t.scale, t.focal_mm, t.focal_uncertainty_mm, truth, t.naive_focal_mm,
                                t.focal_mm - truth, t.naive_focal_mm - truth))
    return CalibrateSummary(
        photos=len(sweep.photos), sensor_px=tuple(cfg.sweep_sensor_px), reference_focal_mm=reference,
        used=len(cal.used), skipped=tuple(SkippedFile(s.file, s.status) for s in cal.skipped),
        targets=tuple(rows),
        max_error_mm=max(abs(r.error_mm) for r in rows),
        max_naive_error_mm=max(abs(r.naive_error_mm) for r in rows),
        plot=str(Path(files.plot_png).relative_to(out)))


# ----------------------------------------------------------------------------------------
# stage 2: camera card + ingest


def _stage_capture(out: Path, cfg: DemoConfig, log) -> CaptureSummary:
    from ..calibration.calibration_file import read_calibration
    from ..capture.ingest import ingest_card
    from ..capture.scene_preview import write_side_by_side
    from ..virtual_camera.simulate_scenes import write_camera_card

    cal = read_calibration(out / "calibration.json")
    targets = [(t.scale, t.focal_mm) for t in cal.targets]
    card = out / "card"
    truth_path = out / "card_truth.json"
    if not truth_path.is_file():  # the card is written whole before its truth; a killed write restarts
        write_camera_card(card, cfg.n_scenes, targets=targets, reference_focal_mm=cal.reference_focal_mm,
                          formats=cfg.card_formats, seed=cfg.seed, sensor=cfg.scene_sensor_px,
                          truth_path=truth_path)
    report = ingest_card(card, out / "calibration.json", out / "captures", jobs=cfg.jobs,
                         progress=lambda o: log(f"ingest {o.scene}: {o.status}"))
    scenes = report.scenes_with("written") + report.scenes_with("up_to_date")
    preview = out / "figures" / "virtual_camera.png"
    first = sorted(out.glob("captures/scene_*"))
    if first:
        write_side_by_side(preview, first[0], scales=[2, 3, 4])
    kinds: dict[str, int] = {}
    for f in report.findings:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    return CaptureSummary(card_files=report.files_scanned, scenes=len(report.scenes), scenes_ok=len(scenes),
                          formats=tuple(cfg.card_formats), sensor_px=tuple(cfg.scene_sensor_px),
                          findings=kinds, preview=str(preview.relative_to(out)) if first else None)


# ----------------------------------------------------------------------------------------
# stage 3: registration against truth


def _stage_register(out: Path, cfg: DemoConfig, log) -> RegisterSummary:
    from ..capture.capture_layout import list_scene_dirs, read_scene_json
    from ..virtual_camera.shot_geometry import map_pixels
    from ..virtual_camera.truth import read_card_truth
    from ..registration.inspect_figure import inspect_pair
    from ..registration.pair_map import PairMap, apply_affine, grid_to_hr_affine
    from ..registration.pair_record import PAIR_JSON, PairRecord
    from ..registration.register_captures import register_captures
    from ..registration.register_pair import RegistrationConfig
    from ..scales import as_fraction, scale_tag

    # A zoom lens distorts more at the wide end and a tripod tilts a little between shots: the
    # relative radial term and the homography are what a user of a real zoom lens would switch on.
    config = RegistrationConfig(radial=True, perspective=True)
    batch = register_captures(out / "captures", out / "aligned", jobs=cfg.jobs, config=config,
                              on_pair=lambda r: log(f"register {r.get('scene')} x{r.get('scale')}: {r['status']}"))
    # truth of each card file, so that ingested scenes are matched by source file, not by name
    by_file = read_card_truth(out / "card_truth.json").by_file()
    pairs, rejected = [], []
    for scene_dir in list_scene_dirs(out / "captures"):
        record = read_scene_json(scene_dir)
        for shot in record.lr:
            tag = scale_tag(shot.scale)
            pair_json = out / "aligned" / record.scene / f"x{tag}" / PAIR_JSON
            if not pair_json.is_file():
                rejected.append(PairNote(f"{record.scene}/x{tag}", "no pair.json"))
                continue
            rec = PairRecord.read(pair_json)
            if not rec.ok:
                rejected.append(PairNote(f"{record.scene}/x{tag}", rec.reason))
                continue
            lr_truth, hr_truth = by_file[Path(shot.source).name]
            # the four corner pixels of the pair's LR grid, as HR photo points
            x0, y0, w, h = rec.hr_crop
            s = float(rec.scale)
            grid = np.array([[0, 0], [w / s - 1, 0], [0, h / s - 1], [w / s - 1, h / s - 1]], np.float64)
            hr_pts = apply_affine(grid_to_hr_affine(s, (x0, y0)), grid)
            estimate = rec.pair_map.hr_to_lr(hr_pts)
            ex, ey = map_pixels(hr_truth.geometry, lr_truth.geometry, hr_pts[:, 0], hr_pts[:, 1])
            exact_err = np.linalg.norm(estimate - np.stack([ex, ey], axis=1), axis=1)
            best_affine = PairMap(lr_truth.affine).hr_to_lr(hr_pts)
            affine_err = np.linalg.norm(best_affine - np.stack([ex, ey], axis=1), axis=1)
            pairs.append(PairError(f"{record.scene}/x{tag}", float(as_fraction(shot.scale)), float(exact_err.max()),
                                   float(affine_err.max()), rec.scale_measured, lr_truth.true_scale))
    if not pairs:
        raise DdirKitError("no pair registered", out / "aligned")
    best = min(pairs, key=lambda p: abs(p.scale - 3.0))
    overlay = inspect_pair(out / "aligned" / best.pair, out / "figures" / "registration_overlay.png")
    errors = [p.corner_error_lr_px for p in pairs]
    return RegisterSummary(
        pairs=tuple(pairs), rejected=tuple(rejected), ok=len(pairs),
        counts={k: batch.count(k) for k in ("ok", "rejected", "failed", "skipped")},
        model="homography + relative radial term pooled per scale (register --radial --perspective)",
        median_corner_error_lr_px=statistics.median(errors), max_corner_error_lr_px=max(errors),
        median_best_affine_error_lr_px=statistics.median(p.best_affine_error_lr_px for p in pairs),
        overlay=str(Path(overlay).relative_to(out)), overlay_pair=best.pair)


# ----------------------------------------------------------------------------------------
# stage 4: dataset


def _stage_dataset(out: Path, cfg: DemoConfig, log) -> DatasetSummary:
    from ..dataset.card import make_card
    from ..dataset.crop import CropSettings, crop_dataset
    from ..dataset.validate import validate_dataset
    from ..virtual_camera.card_truth import compare_with_truth

    settings = CropSettings(test_fraction=cfg.test_fraction, seed=cfg.seed, train_scales=cfg.train_scales)
    report = crop_dataset(out / "aligned", out / "dataset", settings)
    check = validate_dataset(out / "dataset")
    if not check.ok:
        raise DdirKitError("validate found errors: " + "; ".join(str(f) for f in check.errors[:5]), out / "dataset")
    log("making the dataset card")
    card = make_card(out / "dataset", out / "dataset_card", aligned=out / "aligned",
                     command=f"ddir-kit card {out / 'dataset'} --aligned {out / 'aligned'} --out {out / 'dataset_card'}")
    truth = compare_with_truth(card.out_dir, out / "card_truth.json", out / "captures")
    return DatasetSummary(train_scenes=tuple(report.train_scenes), test_scenes=tuple(report.test_scenes),
                          files=report.files, skipped=tuple(PairNote(p, r) for p, r in report.skipped),
                          validate_pairs={f"{k[0]}/{k[1]}": v for k, v in check.pairs.items()},
                          validate_warnings=tuple(str(w) for w in check.warnings),
                          card=str(card.card_md.relative_to(out)), card_truth=truth.scales,
                          card_from_jpeg=truth.jpeg_sources, card_from_raw=truth.raw_sources,
                          card_demosaic_in_truth=truth.demosaic_in_truth)


# ----------------------------------------------------------------------------------------
# stage 5: bench


def _stage_bench(out: Path, cfg: DemoConfig, log) -> BenchSummary:
    """Two benches on the same test scenes: the pretrained models (the comparison), then every
    method trained here from scratch for the profile's short run (the training path)."""
    from ..benchmark.bench import run_bench
    from ..benchmark.profiles import load_profile
    from ..benchmark.run_files import RunRecord, logged_iterations
    from ..fileio import sha256_file
    from .config import DEMO_METHOD_ARGS
    from .pretrain import MODELS_DIR, verify_demo_models

    models_dir = Path(cfg.models_dir) if cfg.models_dir else MODELS_DIR
    models = verify_demo_models(models_dir)
    learned = [m for m in cfg.methods if m in DEMO_METHOD_ARGS]
    missing = [m for m in learned if not (models_dir / f"{m}-{cfg.encoder}.pt").is_file()]
    if missing:
        raise DdirKitError(f"no pretrained {', '.join(f'{m}-{cfg.encoder}.pt' for m in missing)}", models_dir)
    args = {m: DEMO_METHOD_ARGS[m] for m in learned}
    log(f"scoring the pretrained models of {models_dir}")
    pre = run_bench(list(cfg.methods), out / "dataset", out / "bench_pretrained", load_profile(cfg.profile),
                    encoder=cfg.encoder, checkpoints_dir=models_dir, device=cfg.device, log=log, method_args=args)
    profile = load_profile(cfg.profile, dict(cfg.profile_overrides))
    log(f"training {', '.join(learned)} from scratch ({profile.epochs} epochs each)")
    result = run_bench(list(cfg.methods), out / "dataset", out / "bench", profile, encoder=cfg.encoder,
                       device=cfg.device, log=log, method_args=args)
    iterations = {}
    for run in sorted((out / "bench").glob("*/run.json")):
        rec = RunRecord.read(run)
        label = result.labels.get((rec.method, rec.encoder), run.parent.name)
        iterations[label] = logged_iterations(run.parent / "log.csv") or 0
    return BenchSummary(rows=_float_scales(result.rows), profile=profile.name, profile_notes=profile.notes,
                        overrides=dict(cfg.profile_overrides),
                        timings_s={k: list(v) for k, v in result.timings_s.items()},
                        pretrained_rows=_float_scales(pre.rows),
                        pretrained_timings_s={k: list(v) for k, v in pre.timings_s.items()},
                        pretrained_models=tuple(f"{p.name} {sha256_file(p)[:12]}" for p in models),
                        iterations=iterations)


def _float_scales(rows) -> tuple:
    return tuple(dataclasses.replace(r, scale=float(r.scale)) for r in rows)


_STAGE_FUNCS = {"calibrate": _stage_calibrate, "capture": _stage_capture, "register": _stage_register,
                "dataset": _stage_dataset, "bench": _stage_bench}
