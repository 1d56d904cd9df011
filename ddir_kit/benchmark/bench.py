"""`ddir-kit bench`: train what has no checkpoint, test everything at every test scale, write
the tables and figures.

    RUN/bench.json                      methods, encoder, profile, dataset (for the record)
    RUN/<run name>/                     a training run folder (training.py), model.pt when done
    RUN/<run name>/scores.json          per-image scores, keyed by checkpoint, protocol, scales
    RUN/<run name>/sr/x<tag>/           the first test prediction of each scale (16-bit PNG)
    RUN/results.csv|md|tex, RUN/psnr_vs_scale.png, RUN/crops.png

Run names: ``<method>-<encoder>`` for the kit's methods, ``bicubic``, ``fixed-scale-<encoder>-x<s>``
for the one model per scale of a fixed-scale method, and the import path made a folder name for
a method from outside (with a short digest of its arguments when it has any).

A rerun skips every finished training run and every evaluation whose key is unchanged, resumes
an unfinished training run from its last checkpoint, and says which for every method.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

from ..errors import DdirKitError
from ..fileio import sha256_file
from ..photo.photo_io import read_photo
from ..scales import scale_tag
from .datasets import SRDataset, open_dataset
from .distributed import DistContext, barrier, init_distributed
from .evaluation import evaluate_model, summarize
from .metrics import get_protocol
from .profiles import Profile
from .reports import (MethodInfo, ResultRow, plot_crops, plot_psnr_vs_scale, row_label, write_results_csv,
                      write_results_md, write_results_tex)
from .run_files import BenchRecord, ScoreCache, logged_seconds
from .training import check_trained_on, train_method


@dataclass(frozen=True)
class BenchResult:
    out_dir: Path
    rows: list[ResultRow]
    trained: list[str]
    skipped: list[str]  # "what: why" lines for work found already done
    timings_s: dict  # label -> (train seconds or None, test seconds or None)
    methods: list[MethodInfo] = field(default_factory=list)
    labels: dict = field(default_factory=dict)  # (method, encoder) -> label in tables

    def label(self, row: ResultRow) -> str:
        return row_label(row, self.labels)


@dataclass(frozen=True)
class BenchEntry:
    """One model of a bench run. method: the name it was given as; encoder: '-' for a method
    without one; args: its constructor arguments; scale: the one scale of a fixed-scale model."""

    method: str
    encoder: str
    args: dict
    run_name: str
    scale: float | None = None


def plan_entries(methods: list[str], encoder: str, method_args: dict, train_scales, test_scales) -> list[BenchEntry]:
    """The models to train and test: one per method, and one per scale for a method built per
    scale (the kit's fixed-scale, or an outside image method with ``scales``), at the scales
    that are both trained on and tested at (the test scales when nothing is trained)."""
    from ..models.method_interface import import_class
    from ..models.registry import method_entry

    both = sorted(set(train_scales) & set(test_scales)) or sorted(test_scales)
    entries = []
    for m in methods:
        entry = method_entry(m)
        args = dict(method_args.get(m, {}))
        if entry.form == "outside":
            cls = import_class(entry.target)
            per_scale = getattr(cls, "scales", None) if "scale" not in args else None
            base = _folder_name(m) + (f"-{_digest(args)}" if args else "")
            if per_scale:
                entries += [BenchEntry(m, "-", {**args, "scale": _plain(s)}, f"{base}-x{scale_tag(s)}", float(s))
                            for s in both if float(s) in {float(x) for x in per_scale}]
            else:
                entries.append(BenchEntry(m, "-", args, base))
        elif entry.form == "image":
            from ..models.fixed_scale_arch import SCALES

            for s in both:
                if float(s) in SCALES:
                    entries.append(BenchEntry(m, encoder, {**args, "scale": int(s)},
                                              f"{m}-{encoder}-x{scale_tag(s)}", float(s)))
        elif entry.uses_encoder:
            entries.append(BenchEntry(m, encoder, args, f"{m}-{encoder}" + (f"-{_digest(args)}" if args else "")))
        else:
            entries.append(BenchEntry(m, "-", args, m))
    return entries


def _folder_name(method: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "-", method.replace(":", "-"))


def _digest(args: dict) -> str:
    return hashlib.sha1(json.dumps(args, sort_keys=True).encode()).hexdigest()[:8]


def _plain(s: Fraction):
    return int(s) if s.denominator == 1 else float(s)


def _find_checkpoint(ckpt_dir: Path | None, e: BenchEntry) -> Path | None:
    if ckpt_dir is None:
        return None
    for name in (f"{e.run_name}.pt", f"{e.method}-{e.encoder}.pt", f"{e.method}_{e.encoder}.pt", f"{e.method}.pt"):
        if (ckpt_dir / name).is_file():
            return ckpt_dir / name
    return None


def run_bench(methods: list[str], data: str | Path | SRDataset, out_dir: str | Path, profile: Profile,
              encoder: str = "edsr", checkpoints_dir: str | Path | None = None, device: str = "cpu",
              scale=None, log: Callable[[str], None] | None = None,
              train_progress: Callable[[str], Callable] | None = None,
              test_progress: Callable[[str], Callable] | None = None,
              method_args: dict | None = None, test_data: str | Path | SRDataset | None = None) -> BenchResult:
    """Run the benchmark; ``log`` receives one-line status messages, ``train_progress(label)``
    and ``test_progress(label)`` return per-method progress callbacks (or None).

    method_args: {method name: constructor arguments}. test_data: score on this dataset's Test
    split instead of ``data``'s (training still uses ``data``'s Train split).
    """
    from ..models import count_parameters, load_checkpoint, make_model

    log = log or (lambda _msg: None)
    out_dir = Path(out_dir)
    method_args = dict(method_args or {})
    unknown = [k for k in method_args if k not in methods]
    if unknown:
        raise DdirKitError(f"--method-args names {', '.join(unknown)}, which --methods does not list")
    # the profile's arguments for the methods of this run, where the command line gives none
    method_args = {**{m: a for m, a in profile.method_args.items() if m in methods}, **method_args}
    ds: SRDataset = data if isinstance(data, SRDataset) else open_dataset(data, scale)
    test_ds = ds if test_data is None else (test_data if isinstance(test_data, SRDataset) else open_dataset(test_data))
    if not test_ds.test:
        raise DdirKitError("dataset has no Test split to score", test_ds.root)
    ctx: DistContext = init_distributed(device)
    ckpt_dir = Path(checkpoints_dir) if checkpoints_dir else None
    protocol = get_protocol(profile.protocol)
    entries = plan_entries(methods, encoder, method_args, ds.train_scales, test_ds.test_scales)
    # every model built (and an outside one probed) before any work, so a bad one fails first
    probes = [make_model(e.method, e.encoder if e.encoder != "-" else encoder, **e.args) for e in entries]
    if ctx.is_main:
        BenchRecord(tuple(methods), encoder, str(ds.root), ds.kind, profile, protocol.name,
                    tuple(float(s) for s in ds.train_scales), tuple(float(s) for s in test_ds.test_scales)
                    ).write(out_dir / "bench.json")
    barrier(ctx)

    rows, trained, skipped, timings, figure, infos, names = [], [], [], {}, {}, [], {}
    for e, probe in zip(entries, probes):
        trainable = bool(getattr(probe, "trainable", True))
        label = _entry_label(probe, e)
        run_dir = out_dir / e.run_name
        t_train = None
        ckpt = _find_checkpoint(ckpt_dir, e)
        if not trainable:
            model, ckpt_key, weights = probe, f"{e.method} (no weights)", "none (no weights to learn)"
        else:
            if ckpt is None:
                if (run_dir / "model.pt").is_file():
                    check_trained_on(run_dir, ds)
                    skipped.append(f"train {label}: kept, {run_dir / 'model.pt'} is finished")
                    weights = f"trained here ({run_dir.name}/model.pt, kept from an earlier run)"
                else:
                    if not ds.train and not ds.train_hr:
                        raise DdirKitError(f"no checkpoint for {label} and no Train split to train it on", ds.root)
                    resuming = (run_dir / "state.pt").is_file()
                    log(f"{'resuming' if resuming else 'training'} {label} -> {run_dir}")
                    cb = train_progress(label) if train_progress else None
                    summary = train_method(e.method, ds, run_dir, profile, e.encoder if e.encoder != "-" else encoder,
                                           resume=True, device=device, progress=cb, ctx=ctx, method_args=e.args)
                    t_train = round(summary.seconds)
                    trained.append(label)
                    if summary.resumed_at_iter is not None:
                        log(f"{label}: resumed at iteration {summary.resumed_at_iter}")
                    weights = f"trained here ({run_dir.name}/model.pt)"
                ckpt = run_dir / "model.pt"
            else:
                log(f"{label}: using checkpoint {ckpt}")
                weights = f"checkpoint {ckpt}"
            model, _extra = load_checkpoint(ckpt, map_location=device)
            ckpt_key = sha256_file(ckpt)
        model.to(device)
        # a fixed-scale method is one model per scale, each with its own parameter count
        infos.append(MethodInfo(label if e.scale is None else f"{label} x{e.scale:g}", e.method,
                                count_parameters(model), weights))

        score_scales = [s for s in test_ds.test_scales if e.scale is None or float(s) == e.scale]
        key = {"checkpoint": ckpt_key, "protocol": protocol.name, "dataset": str(test_ds.root),
               "scales": [float(s) for s in score_scales],
               "n_images": {str(float(s)): len(test_ds.test[s]) for s in score_scales}}
        score_file = run_dir / "scores.json"
        scores, t_test = None, None
        if t_train is None and (run_dir / "log.csv").is_file():
            t_train = logged_seconds(run_dir / "log.csv")
        if score_file.is_file():
            old = ScoreCache.read(score_file)
            if old.key == key:
                scores = list(old.images)
                t_test = old.test_s
                skipped.append(f"test {label}: kept, the scores for this checkpoint, protocol and test set exist")
            else:
                log(f"testing {label} again: {_what_changed(old.key, key)}")
        if scores is None:
            log(f"testing {label} on {sum(len(test_ds.test[s]) for s in score_scales)} test images")
            t0 = time.monotonic()
            cb = test_progress(label) if test_progress else None
            scores = evaluate_model(model, test_ds, score_scales, protocol.name, device, profile.eval_max_memory_bytes,
                                    save_dir=run_dir / "sr", save_first=1, progress=cb, ctx=ctx)
            t_test = round(time.monotonic() - t0)
            if ctx.is_main:
                ScoreCache(key, tuple(scores), t_test).write(score_file)
        timings[label if e.scale is None else f"{label} x{e.scale:g}"] = (t_train, t_test)
        names[(e.method, e.encoder if trainable else "-")] = label
        for s in summarize(scores):
            rows.append(ResultRow(e.method, e.encoder if trainable else "-", s.scale, s.n_images, s.psnr_y_db, s.ssim_y))
        # the crops figure: the first test image of each scale, saved under sr/
        figure.setdefault(label, {}).update({sc.scale: (run_dir / "sr", sc.psnr_y_db) for sc in scores
                                             if sc.name == test_ds.test[_frac(test_ds, sc.scale)][0].hr.stem})

    if ctx.is_main:
        _write_reports(out_dir, ds, test_ds, rows, profile, protocol, timings, figure, infos, names)
    barrier(ctx)
    return BenchResult(out_dir, rows, trained, skipped, timings, infos, names)


def _entry_label(model, e: BenchEntry) -> str:
    """The kit's label of its own methods ('EDSR-LIIF', 'EDSR-baseline'); an outside method's own."""
    from ..models.registry import REGISTRY, method_label

    return method_label(e.method, e.encoder) if e.method in REGISTRY else str(getattr(model, "label", e.method))


def _what_changed(old: dict, new: dict) -> str:
    changed = [k for k in new if old.get(k) != new.get(k)]
    return "changed since the stored scores: " + ", ".join(changed or ["the key"])


def _frac(ds: SRDataset, scale: float):
    return next(s for s in ds.test if float(s) == scale)


def _write_reports(out_dir, ds, test_ds, rows, profile, protocol, timings, figure, infos, names) -> None:
    train_scales = [float(s) for s in ds.train_scales]
    if ds.bicubic:  # trained at every scale of the range
        lo, hi = profile.bicubic_scales
        train_scales = [float(s) for s in test_ds.test_scales if lo <= s <= hi]
    test_scales = [float(s) for s in test_ds.test_scales]
    write_results_csv(out_dir / "results.csv", rows)
    timing_text = {k: tuple("-" if v is None else v for v in t) for k, t in timings.items()}
    where = str(test_ds.root) if test_ds is ds else f"{test_ds.root} (trained on {ds.root})"
    write_results_md(out_dir / "results.md", rows, train_scales, test_scales, where, protocol.description,
                     profile.name, profile.notes, timing_text, infos, names)
    write_results_tex(out_dir / "results.tex", rows, train_scales, test_scales, protocol.description, profile.name,
                      names)
    plot_psnr_vs_scale(out_dir / "psnr_vs_scale.png", rows, train_scales, protocol.name, names)
    # Figure 4 style: the first test image at the largest test scale
    s = max(test_ds.test)
    pair = test_ds.test[s][0]
    _lr, hr = test_ds.load_pair(pair)
    preds, psnrs = {}, {}
    for label, by_scale in figure.items():
        if float(s) not in by_scale:
            continue
        sr_dir, psnr = by_scale[float(s)]
        f = sr_dir / f"x{scale_tag(s)}" / f"{pair.hr.stem}.png"
        if f.is_file():
            preds[label] = read_photo(f).rgb
            psnrs[label] = psnr
    if preds:
        plot_crops(out_dir / "crops.png", hr, preds, psnrs,
                   f"{pair.hr.stem}, x{float(s):g} (PSNR-Y of the whole image, protocol {protocol.name})")
