"""`ddir-kit reproduce`: run one of the paper's experiments (experiments.py) and write its table
with the paper's figures beside this run's, cell by cell (docs/experiments.md).

    OUT/runs/<profile>-<digest>/<run>/    a training run (training.py), shared by every experiment
                                          of this OUT made with the same profile
    OUT/runs/.../<run>/scores-<test>-<protocol>.json   per-image scores, keyed by checkpoint
    OUT/<experiment>.md | .csv | .tex     the table; OUT/<experiment>_crops.png for a figure

A rerun trains nothing that is finished (runs are shared: table3 after table2 trains nothing),
resumes what is not, and rescores only what changed.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

from ..errors import DdirKitError
from ..fileio import sha256_file
from ..scales import scale_tag
from .datasets import SRDataset, open_dataset
from .evaluation import evaluate_model, summarize
from .experiments import DATASET_HELP, DATASET_KEYS, Cell, Experiment
from .metrics import get_protocol
from .paper_figures import paper_figure
from .profiles import Profile, apply_overrides
from .reproduce_report import write_experiment_tables
from .run_files import ScoreCache
from .training import _TRAINING_KEYS, check_trained_on, train_method


@dataclass(frozen=True)
class CellResult:
    """One cell: this run's figure per scale (None where a fixed-scale method has no model),
    and the paper's."""

    cell: Cell
    ours: dict[Fraction, float | None]
    paper: dict[Fraction, float | None]
    runs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReproduceResult:
    experiment: Experiment
    cells: list[CellResult]
    files: list[Path]
    trained: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # "what: why" for work found done


def run_experiment(exp: Experiment, datasets: dict[str, str | Path], out_dir: str | Path, profile: Profile,
                   device: str = "cpu", log: Callable[[str], None] | None = None,
                   train_progress: Callable[[str], Callable] | None = None,
                   test_progress: Callable[[str], Callable] | None = None) -> ReproduceResult:
    """Train what the experiment needs (sharing runs), score every cell, write the table.

    datasets: {key: folder} for the keys the experiment reads (experiments.DATASET_KEYS).
    """
    from ..models import load_checkpoint, make_model

    log = log or (lambda _m: None)
    out_dir = Path(out_dir)
    missing = [k for k in exp.datasets() if not datasets.get(k)]
    if missing:
        raise DdirKitError(f"{exp.name} needs " + "; ".join(f"{DATASET_KEYS[k]} DIR ({DATASET_HELP[k]})"
                                                             for k in missing))
    profile = apply_overrides(profile, exp.profile)
    opened = _open(exp, datasets)
    results, trained, kept = [], [], []
    for cell in exp.cells():
        test_ds = opened[cell.group.test]
        ours: dict[Fraction, float | None] = {s: None for s in cell.group.scales}
        runs = []
        for model_scales, run_dir, method_args, prof in _models(cell, profile, out_dir, opened):
            label = f"{cell.row.label} ({cell.group.title})"
            if cell.train is None:
                model, ckpt_key = make_model(cell.method), f"{cell.method} (no weights)"
            else:
                ckpt = run_dir / "model.pt"
                if ckpt.is_file():
                    check_trained_on(run_dir, opened[cell.train])
                    kept.append(f"train {run_dir.name}: kept, model.pt is finished")
                else:
                    log(f"{'resuming' if (run_dir / 'state.pt').is_file() else 'training'} {run_dir.name}")
                    cb = train_progress(run_dir.name) if train_progress else None
                    train_method(cell.method, opened[cell.train], run_dir, prof, cell.encoder or "edsr", resume=True,
                                 device=device, progress=cb, method_args=method_args)
                    trained.append(run_dir.name)
                model, _ = load_checkpoint(ckpt, map_location=device)
                ckpt_key = sha256_file(ckpt)
            runs.append(run_dir.name)
            scales = [s for s in model_scales if s in test_ds.test]
            absent = [s for s in model_scales if s not in test_ds.test]
            if absent:
                raise DdirKitError(f"{exp.name}: the {cell.group.test} dataset has no Test pairs at "
                                   + ", ".join(f"x{float(s):g}" for s in absent), test_ds.root)
            scores = _scores(model.to(device), ckpt_key, test_ds, scales, cell.group.protocol, run_dir, profile,
                             device, exp.crops, log, test_progress(label) if test_progress else None, kept)
            for s in summarize(scores):
                ours[Fraction(s.scale).limit_denominator(100)] = s.psnr_y_db
        paper = {s: paper_figure(exp.paper_table, cell.figure_row, cell.group.id, s) for s in cell.group.scales}
        results.append(CellResult(cell, ours, paper, tuple(runs)))
    files = write_experiment_tables(exp, results, out_dir, profile, {k: str(v.root) for k, v in opened.items()},
                                    {g.id: get_protocol(g.protocol).description for g in exp.groups})
    if exp.crops:
        files.append(_crops_figure(exp, results, out_dir, opened, profile))
    return ReproduceResult(exp, results, files, trained, kept)


def _open(exp: Experiment, datasets: dict) -> dict[str, SRDataset]:
    bicubic_scales = sorted({s for g in exp.groups if g.test == "div2k" for s in g.scales}) or None
    out = {}
    for key in exp.datasets():
        kw = {"bicubic_test_scales": bicubic_scales} if key == "div2k" and bicubic_scales else {}
        ds = open_dataset(datasets[key], **kw)
        if key == "div2k" and not ds.bicubic:
            raise DdirKitError("--div2k must be a folder of HR images only (DIV2K_train_HR/, DIV2K_valid_HR/)", ds.root)
        if key != "div2k" and ds.bicubic:
            raise DdirKitError(f"{DATASET_KEYS[key]} must be a paired dataset ({DATASET_HELP[key]})", ds.root)
        out[key] = ds
    return out


def _digest(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _models(cell: Cell, profile: Profile, out_dir: Path, opened: dict):
    """(scales it is scored at, run folder, constructor arguments, training profile) of each model
    of a cell: one, or one per scale for a fixed-scale method."""
    from ..models.registry import method_entry

    prof = profile
    if cell.train_scales:
        prof = apply_overrides(profile, {"train_scales": [float(s) for s in cell.train_scales]})
    training = {k: v for k, v in prof.to_dict().items() if k in _TRAINING_KEYS}
    root = out_dir / "runs" / f"{prof.name}-{_digest(training)}"
    if cell.train is None:
        return [(list(cell.group.scales), root / cell.method, {}, prof)]
    name = f"{cell.method}-{cell.encoder}-on-{cell.train}"
    if cell.train_scales:
        name += "-train-" + "-".join(f"x{scale_tag(s)}" for s in cell.train_scales)
    if cell.row.args:
        name += f"-{_digest(cell.row.args)}"
    if method_entry(cell.method).form == "image":
        from ..models.fixed_scale_arch import SCALES

        trained_at = set(opened[cell.train].train)
        return [([s], root / f"{name}-x{scale_tag(s)}", {**cell.row.args, "scale": int(s)}, prof)
                for s in cell.group.scales if s.denominator == 1 and int(s) in SCALES and s in trained_at]
    return [(list(cell.group.scales), root / name, dict(cell.row.args), prof)]


def _scores(model, ckpt_key: str, ds: SRDataset, scales, protocol: str, run_dir: Path, profile: Profile, device: str,
            save: bool, log, progress, kept: list):
    key = {"checkpoint": ckpt_key, "protocol": protocol, "dataset": str(ds.root),
           "scales": [float(s) for s in scales], "n_images": {str(float(s)): len(ds.test[s]) for s in scales}}
    path = run_dir / f"scores-{_digest({'dataset': str(ds.root), 'protocol': protocol, 'scales': key['scales']})}.json"
    if path.is_file():
        old = ScoreCache.read(path)
        if old.key == key:
            kept.append(f"test {run_dir.name} on {ds.root.name} ({protocol}): kept, the scores exist")
            return list(old.images)
    log(f"testing {run_dir.name} on {ds.root.name} at " + ", ".join(f"x{float(s):g}" for s in scales))
    t0 = time.monotonic()
    scores = evaluate_model(model, ds, scales, protocol, device, profile.eval_max_memory_bytes,
                            save_dir=run_dir / f"sr-{ds.root.name}" if save else None, save_first=1, progress=progress)
    ScoreCache(key, tuple(scores), round(time.monotonic() - t0)).write(path)
    return scores


def _crops_figure(exp: Experiment, results: list[CellResult], out_dir: Path, opened: dict, profile: Profile) -> Path:
    """The first test image of the largest scale, cropped where it is most textured, as each
    row's model predicts it (the paper's Figure 1)."""
    from ..photo.photo_io import read_photo
    from .reports import plot_crops

    group = exp.groups[0]
    ds = opened[group.test]
    s = max(group.scales)
    pair = ds.test[s][0]
    _lr, hr = ds.load_pair(pair)
    preds, psnrs = {}, {}
    for r in results:
        if r.cell.group is not group or not r.runs:
            continue
        run = _models(r.cell, profile, out_dir, opened)[0][1]
        f = run / f"sr-{ds.root.name}" / f"x{scale_tag(s)}" / f"{pair.hr.stem}.png"
        if f.is_file():
            preds[r.cell.row.label] = read_photo(f).rgb
            psnrs[r.cell.row.label] = r.ours.get(s) if r.ours.get(s) is not None else math.nan
    return plot_crops(out_dir / f"{exp.name}_crops.png", hr, preds, psnrs,
                      f"{exp.title}: {pair.hr.stem}; figures: mean PSNR-Y of the test images at x{float(s):g}")
