"""`ddir-kit bench`: train what has no checkpoint, test everything at every test scale, write
the tables and figures.

    RUN/bench.json                      methods, encoder, profile, dataset (for the record)
    RUN/<method>-<encoder>/             a training run folder (training.py), model.pt when done
    RUN/<method>-<encoder>/scores.json  per-image scores, keyed by checkpoint, protocol, scales
    RUN/<method>-<encoder>/sr/x<tag>/   the first test prediction of each scale (16-bit PNG)
    RUN/results.csv|md|tex, RUN/psnr_vs_scale.png, RUN/crops.png

A rerun skips every finished training run and every evaluation whose key is unchanged, and
resumes an unfinished training run from its last checkpoint.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..photo.photo_io import read_photo
from ..errors import DdirKitError
from ..fileio import sha256_file
from ..scales import scale_tag
from .datasets import SRDataset, load_pair, open_dataset
from .distributed import DistContext, barrier, init_distributed
from .evaluation import evaluate_model, summarize
from .metrics import get_protocol
from .profiles import Profile
from .run_files import BenchRecord, ScoreCache, logged_seconds
from .reports import (ResultRow, method_label, plot_crops, plot_psnr_vs_scale, write_results_csv,
                      write_results_md, write_results_tex)
from .training import train_method


@dataclass(frozen=True)
class BenchResult:
    out_dir: Path
    rows: list[ResultRow]
    trained: list[str]
    skipped: list[str]  # "what: why" lines for work found already done
    timings_s: dict  # label -> (train seconds or None, test seconds or None)


def _find_checkpoint(ckpt_dir: Path | None, method: str, encoder: str) -> Path | None:
    if ckpt_dir is None:
        return None
    for name in (f"{method}-{encoder}.pt", f"{method}_{encoder}.pt", f"{method}.pt"):
        if (ckpt_dir / name).is_file():
            return ckpt_dir / name
    return None


def run_bench(methods: list[str], data: str | Path, out_dir: str | Path, profile: Profile,
              encoder: str = "edsr", checkpoints_dir: str | Path | None = None, device: str = "cpu",
              scale=None, log: Callable[[str], None] | None = None,
              train_progress: Callable[[str], Callable] | None = None,
              test_progress: Callable[[str], Callable] | None = None) -> BenchResult:
    """Run the benchmark; ``log`` receives one-line status messages, ``train_progress(label)``
    and ``test_progress(label)`` return per-method progress callbacks (or None)."""
    from ..models import METHODS, load_checkpoint, make_model

    log = log or (lambda _msg: None)
    out_dir = Path(out_dir)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise DdirKitError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
    ds: SRDataset = open_dataset(data, scale)
    if not ds.test:
        raise DdirKitError("dataset has no Test split to score", ds.root)
    ctx: DistContext = init_distributed(device)
    ckpt_dir = Path(checkpoints_dir) if checkpoints_dir else None
    protocol = get_protocol(profile.protocol)
    if ctx.is_main:
        BenchRecord(tuple(methods), encoder, str(ds.root), ds.kind, profile, protocol.name,
                    tuple(float(s) for s in ds.train_scales), tuple(float(s) for s in ds.test_scales)
                    ).write(out_dir / "bench.json")
    barrier(ctx)

    rows, trained, skipped, timings, figure = [], [], [], {}, {}
    for method in methods:
        probe = make_model(method, encoder)
        trainable = bool(getattr(probe, "trainable", True))
        enc_label = encoder if trainable else "-"
        label = method_label(method, enc_label)
        run_dir = out_dir / (f"{method}-{encoder}" if trainable else method)
        t_train = None
        ckpt = _find_checkpoint(ckpt_dir, method, encoder)
        if not trainable:
            model, ckpt_key = probe, f"{method} (no weights)"
        else:
            if ckpt is None:
                if (run_dir / "model.pt").is_file():
                    skipped.append(f"train {label}: {run_dir / 'model.pt'} exists")
                else:
                    if not ds.train:
                        raise DdirKitError(f"no checkpoint for {label} and no Train split to train it on", ds.root)
                    log(f"training {label} -> {run_dir}")
                    cb = train_progress(label) if train_progress else None
                    summary = train_method(method, ds, run_dir, profile, encoder, resume=True, device=device,
                                           progress=cb, ctx=ctx)
                    t_train = round(summary.seconds)
                    trained.append(label)
                    if summary.resumed_at_iter is not None:
                        log(f"{label}: resumed at iteration {summary.resumed_at_iter}")
                ckpt = run_dir / "model.pt"
            else:
                log(f"{label}: using checkpoint {ckpt}")
            model, _extra = load_checkpoint(ckpt, map_location=device)
            ckpt_key = sha256_file(ckpt)
        model.to(device)

        key = {"checkpoint": ckpt_key, "protocol": protocol.name, "dataset": str(ds.root),
               "scales": [float(s) for s in ds.test_scales],
               "n_images": {str(float(s)): len(v) for s, v in ds.test.items()}}
        score_file = run_dir / "scores.json"
        scores, t_test = None, None
        if t_train is None and (run_dir / "log.csv").is_file():
            t_train = logged_seconds(run_dir / "log.csv")
        if score_file.is_file():
            old = ScoreCache.read(score_file)
            if old.key == key:
                scores = list(old.images)
                t_test = old.test_s
                skipped.append(f"test {label}: scores for this checkpoint, protocol and test set exist")
        if scores is None:
            log(f"testing {label} on {sum(len(v) for v in ds.test.values())} test images")
            t0 = time.monotonic()
            cb = test_progress(label) if test_progress else None
            scores = evaluate_model(model, ds, None, protocol.name, device, profile.eval_max_memory_bytes,
                                    save_dir=run_dir / "sr", save_first=1, progress=cb, ctx=ctx)
            t_test = round(time.monotonic() - t0)
            if ctx.is_main:
                ScoreCache(key, tuple(scores), t_test).write(score_file)
        timings[label] = (t_train, t_test)
        for s in summarize(scores):
            rows.append(ResultRow(method, enc_label, s.scale, s.n_images, s.psnr_y_db, s.ssim_y))
        figure[label] = (run_dir / "sr", {sc.scale: sc.psnr_y_db for sc in scores
                                          if sc.name == ds.test[_frac(ds, sc.scale)][0].hr.stem})

    if ctx.is_main:
        _write_reports(out_dir, ds, rows, profile, protocol, timings, figure)
    barrier(ctx)
    return BenchResult(out_dir, rows, trained, skipped, timings)


def _frac(ds: SRDataset, scale: float):
    return next(s for s in ds.test if float(s) == scale)


def _write_reports(out_dir, ds, rows, profile, protocol, timings, figure) -> None:
    train_scales = [float(s) for s in ds.train_scales]
    test_scales = [float(s) for s in ds.test_scales]
    write_results_csv(out_dir / "results.csv", rows)
    timing_text = {k: tuple("-" if v is None else v for v in t) for k, t in timings.items()}
    write_results_md(out_dir / "results.md", rows, train_scales, test_scales, str(ds.root), protocol.description,
                     profile.name, profile.notes, timing_text)
    write_results_tex(out_dir / "results.tex", rows, train_scales, test_scales, protocol.description, profile.name)
    plot_psnr_vs_scale(out_dir / "psnr_vs_scale.png", rows, train_scales, protocol.name)
    # Figure 4 style: the first test image at the largest test scale
    s = max(ds.test)
    pair = ds.test[s][0]
    _lr, hr = load_pair(pair, ds.lr_stored_at_hr_size)
    preds, psnrs = {}, {}
    for label, (sr_dir, by_scale) in figure.items():
        f = sr_dir / f"x{scale_tag(s)}" / f"{pair.hr.stem}.png"
        if f.is_file():
            preds[label] = read_photo(f).rgb
            psnrs[label] = by_scale.get(float(s), float("nan"))
    if preds:
        plot_crops(out_dir / "crops.png", hr, preds, psnrs,
                   f"{pair.hr.stem}, x{float(s):g} (PSNR-Y of the whole image, protocol {protocol.name})")

