"""OUT/report.md: per stage what went in, what came out, accuracy against the virtual
camera's truth and the time taken; the benchmark tables and figures."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

from ..errors import DdirKitError
from ..fileio import atomic_write_text
from .config import DEFAULT, DemoConfig
from .pipeline import STAGE_TITLES, StageOutcome
from .stage_records import BenchSummary, CalibrateSummary, CaptureSummary, DatasetSummary, RegisterSummary

# Acceptance thresholds the report checks its own figures against (issue: demo).
CALIBRATION_MAX_ERROR_MM = 0.15
REGISTRATION_MEDIAN_MAX_LR_PX = 0.05
# the status of a stage a rerun did not run again (StageOutcome status "skipped")
KEPT = "kept from an earlier run"
# The longer run the report suggests when the learned methods are under-trained, and what it
# cost when it was measured (the default demo's scenes on an H200).
LONGER_EPOCHS = 100
LONGER_RUN_COST = "about four minutes on an H200, `benchmarks/results/demo_cuda_e100_report.md`"


def write_report(out: str | Path, config: DemoConfig, outcomes: list[StageOutcome]) -> Path:
    out = Path(out)
    by_name = {o.name: o for o in outcomes}
    total = sum(o.seconds for o in outcomes)
    lines = ["# ddir-kit demo: the whole flow on the virtual zoom camera", "",
             f"Seed {config.seed}; {_run_kind(config)}; "
             f"machine: {platform.processor() or platform.machine()}, {_cores()} cores{_gpu(config)}. "
             "Every figure below was measured in this run against the virtual camera's truth "
             "(truth.json files beside its photos).", "",
             "| stage | status | time (s) |", "|---|---|---:|"]
    for o in outcomes:
        status = (KEPT if o.status == "skipped" else o.status) + (f": {o.error}" if o.error else "")
        lines.append(f"| {STAGE_TITLES[o.name]} | {status} | {o.seconds:.0f} |")
    lines += [f"| total | | {total:.0f} |", "",
              f"Times of stages marked *{KEPT}* are those recorded when they ran.", ""]
    for name, section in (("calibrate", _calibration), ("capture", _capture), ("register", _registration),
                          ("dataset", _dataset), ("bench", _bench)):
        o = by_name[name]
        lines += [f"## {STAGE_TITLES[name][0].upper()}{STAGE_TITLES[name][1:]}", ""]
        if o.summary:
            lines += section(o.summary, config, out)
        else:
            lines += [f"Not available: {o.status}" + (f" ({o.error})" if o.error else "") + ".", ""]
    return atomic_write_text(out / "report.md", "\n".join(lines) + "\n")


def _gpu(config: DemoConfig) -> str:
    if not config.device.startswith("cuda"):
        return ""
    import torch

    return f"; bench on {torch.cuda.get_device_name(torch.device(config.device))}"


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def _calibration(s: CalibrateSummary, cfg: DemoConfig, out: Path) -> list[str]:
    ok = s.max_error_mm < CALIBRATION_MAX_ERROR_MM
    lines = [f"In: {s.photos} virtual photos of a 9x6 checkerboard, {s.sensor_px[0]}x{s.sensor_px[1]} px, "
             f"EXIF focal lengths {cfg.sweep_focals_mm[0]:g}-{cfg.sweep_focals_mm[-1]:g} mm, through a zoom lens "
             "that breathes (its scale is not the ratio of EXIF focal lengths). "
             f"Out: `calibration.json` ({s.used} shots used, reference {s.reference_focal_mm:g} mm).", ""]
    if s.skipped:
        lines += ["Skipped files: " + "; ".join(f"`{k.file}` ({k.reason})" for k in s.skipped), ""]
    lines += ["| scale | found (mm) | +- (mm) | truth (mm) | error (mm) | naive 105/s (mm) | naive error (mm) |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in s.targets:
        lines.append(f"| x{r.scale:g} | {r.focal_mm:.3f} | {r.uncertainty_mm:.3f} | {r.true_focal_mm:.3f} | "
                     f"{r.error_mm:+.3f} | {r.naive_focal_mm:.3f} | {r.naive_error_mm:+.3f} |")
    lines += ["", f"Largest error {s.max_error_mm:.3f} mm (goal < {CALIBRATION_MAX_ERROR_MM} mm: "
              f"{'met' if ok else 'NOT met'}); the naive answer's largest error {s.max_naive_error_mm:.3f} mm.", "",
              f"![calibration curve]({s.plot})", ""]
    return lines


def _capture(s: CaptureSummary, cfg: DemoConfig, out: Path) -> list[str]:
    findings = ", ".join(f"{k}: {v}" for k, v in sorted(s.findings.items())) or "none"
    lines = [f"In: a camera card of {s.card_files} files ({' + '.join(f.upper() for f in s.formats)}, "
             f"{s.sensor_px[0]}x{s.sensor_px[1]} px): {cfg.n_scenes} scenes, each an HR shot at the "
             f"reference focal length and LR shots at the calibrated focal lengths for "
             f"{', '.join(f'x{v:g}' for v in cfg.all_scales)}. Out: {s.scenes_ok} of {s.scenes} scenes in "
             "`captures/`.", "", f"Ingest report rows by kind: {findings} (`captures/ingest_report.csv`).", ""]
    if s.preview:
        lines += ["What the virtual camera sees (HR, then the LR shots at x2, x3, x4):", "",
                  f"![virtual camera]({s.preview})", ""]
    return lines


def _registration(s: RegisterSummary, cfg: DemoConfig, out: Path) -> list[str]:
    ok = s.median_corner_error_lr_px < REGISTRATION_MEDIAN_MAX_LR_PX
    c = s.counts
    lines = [f"Model: {s.model}. Out: {c['ok'] + c['skipped']} pairs registered, {c['rejected']} rejected, "
             f"{c['failed']} failed (`aligned/report.csv`).", "",
             "Error = the largest distance, over the four corner pixels of each pair's LR grid, between where the "
             "registration and the camera's exact map (lens distortion, tripod tilt and all) put them in the LR "
             "photo, in LR pixels. For scale, `best affine` is the same error for the least-squares affine fit of "
             "the exact map: what any purely affine registration (RealSR's) could at best reach.", "",
             f"Median corner error **{s.median_corner_error_lr_px:.4f} LR px** (goal < "
             f"{REGISTRATION_MEDIAN_MAX_LR_PX}: {'met' if ok else 'NOT met'}); largest "
             f"{s.max_corner_error_lr_px:.4f} LR px; the best affine's median {s.median_best_affine_error_lr_px:.4f}.",
             *([] if ok else [
                 "", "The map family itself fits the exact map to about 0.002 LR px; the rest is estimation, and it "
                 "grows with the scale because the LR grid shrinks (these frames are small: the grid of a x4 pair is "
                 "a sixteenth of the sensor) and its corners may fall on textureless sky, where the map is "
                 "extrapolated. On 1200x800 frames every pair from x1.5 to x4 lands within 0.05 LR px "
                 "(`benchmarks/results/registration_virtual_camera_distortion.md`)."]),
             "", "| pair | corner error (LR px) | best affine (LR px) | scale measured | true scale |",
             "|---|---:|---:|---:|---:|"]
    for p in s.pairs:
        lines.append(f"| {p.pair} | {p.corner_error_lr_px:.4f} | {p.best_affine_error_lr_px:.4f} | "
                     f"{_f(p.scale_measured, 5)} | {_f(p.true_scale, 5)} |")
    lines.append("")
    if s.rejected:
        lines += ["Rejected:", ""] + [f"- `{r.pair}`: {r.reason}" for r in s.rejected] + [""]
    lines += [f"Registration overlay of `{s.overlay_pair}` (side by side, checkerboard of HR and upscaled LR, "
              "residual local shifts):", "", f"![registration overlay]({s.overlay})", ""]
    return lines


def _dataset(s: DatasetSummary, cfg: DemoConfig, out: Path) -> list[str]:
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(s.validate_pairs.items()))
    lines = [f"Out: `dataset/` in the RealArbiSR layout, {s.files} pairs of files. Train scenes: "
             f"{', '.join(s.train_scenes)}; Test scenes: {', '.join(s.test_scenes)} (split by scene). "
             f"Train holds only the training scales {', '.join(f'x{v:g}' for v in cfg.train_scales)}; the "
             "others are unseen.", "", f"`validate`: no errors; pairs per folder: {counts}.", ""]
    if s.validate_warnings:
        lines += ["Warnings:", ""] + [f"- {w}" for w in s.validate_warnings] + [""]
    if s.card:
        lines += _card(s)
    return lines


def _card(s: DatasetSummary) -> list[str]:
    from ..virtual_camera.card_truth import TruthComparison

    truth = TruthComparison(s.card_truth, jpeg_sources=s.card_from_jpeg, raw_sources=s.card_from_raw,
                            demosaic_in_truth=s.card_demosaic_in_truth)
    return [f"The dataset card, `{s.card}` (`ddir-kit card`: per scale the photometric shift of the LR against the "
            "HR and the relative blur registration measured), against the truth:", "", *truth.markdown_lines(), ""]


PROTOCOL_SENTENCE = ("PSNR-Y (dB), protocol `ddir` (docs/protocols.md: Y of float predictions clamped to [0, 1], "
                     "shave ceil(s), mean of per-image PSNRs)")


def _bench(s: BenchSummary, cfg: DemoConfig, out: Path) -> list[str]:
    profile = [f"Profile `{s.profile}`" + (f" with overrides {s.overrides}" if s.overrides else "")
               + f": {s.profile_notes}.", ""]
    psnr, methods, scales = _table_inputs(s.rows)
    if not s.pretrained_rows:  # a record of a release before the pretrained models
        lines = [*profile, f"{PROTOCOL_SENTENCE}. Full tables: `bench/results.md`.", "",
                 *_psnr_tables(psnr, methods, scales, cfg, "###"), *_verdicts(psnr, methods, scales, _epochs(s))]
        figures = (("bench/psnr_vs_scale.png", "PSNR-Y against scale"), ("bench/crops.png", "Qualitative crops"))
    else:
        lines = [f"{PROTOCOL_SENTENCE}, on this run's test scenes, which no model was trained on.", "",
                 *_pretrained(s, cfg),
                 "### Trained here from scratch", "",
                 "Every method trained on this run's Train split, to show that the training path runs and what it "
                 f"costs ({_iterations(s)}); at this length it is no comparison of the methods. Full tables: "
                 "`bench/results.md`.", "", *profile, *_psnr_tables(psnr, methods, scales, cfg, "####"),
                 *_verdicts(psnr, methods, scales, _epochs(s), pretrained_shown=True)]
        # a short run's crops are near-grey: not shown beside the pretrained models' as if results
        figures = (("bench/psnr_vs_scale.png", "PSNR-Y against scale, trained here from scratch"),)
    for fig, caption in figures:
        if (out / fig).is_file():
            lines += [f"![{caption}]({fig})", ""]
    return lines


def _pretrained(s: BenchSummary, cfg: DemoConfig) -> list[str]:
    psnr, methods, scales = _table_inputs(s.pretrained_rows)
    where = cfg.models_dir or "ddir_kit/data/demo_models"
    lines = ["### Pretrained models", "",
             "The kit's four methods at the demo's reduced width (EDSR-baseline of 8 residual blocks of 32 channels, "
             "MLPs 128 wide), trained by `ddir-kit demo pretrain` on virtual-camera scenes of other City100 photos "
             f"than this run's, with another seed (`{where}`, its README.md says how), and only scored here. "
             "Models: " + ", ".join(f"`{m}`" for m in s.pretrained_models) + ". Full tables: "
             "`bench_pretrained/results.md`.", ""]
    lines += _psnr_tables(psnr, methods, scales, cfg, "####")
    verdicts = scale_verdicts(s.pretrained_rows)
    if verdicts:
        lines += ["| scale | above bicubic | DDIR - LIIF (dB) |", "|---|---|---:|"]
        for v in verdicts:
            lines.append(f"| x{v.scale:g} | {', '.join(_label(k) for k in v.above) or 'none'} "
                         f"({len(v.above)} of {v.learned}) | "
                         + ("-" if v.ddir_minus_liif is None else f"{v.ddir_minus_liif:+.2f}") + " |")
        all_above, ddir_wins = verdict_counts(verdicts)
        lines += ["", f"- Every learned method above bicubic at {all_above} of {_count(len(verdicts), 'scale')}."]
        if ddir_wins is not None:
            lines.append(f"- DDIR above LIIF at {ddir_wins} of {_count(len(verdicts), 'scale')}.")
        lines.append("")
    for fig, caption in (("bench_pretrained/psnr_vs_scale.png", "PSNR-Y against scale, pretrained models"),
                         ("bench_pretrained/crops.png", "Qualitative crops, pretrained models")):
        lines += [f"![{caption}]({fig})", ""]
    return lines


@dataclass(frozen=True)
class ScaleVerdict:
    """At one scale: the learned methods ((method, encoder) keys) above bicubic, out of how many,
    and DDIR's PSNR-Y minus LIIF's (None unless both are in the rows)."""

    scale: float
    above: tuple
    learned: int
    ddir_minus_liif: float | None


def scale_verdicts(rows) -> list[ScaleVerdict]:
    """Per scale, which learned methods beat bicubic and DDIR's margin over LIIF, from bench rows;
    empty without a bicubic row or a learned method."""
    psnr, methods, scales = _table_inputs(rows)
    bic = [k for k in methods if k[0] == "bicubic"]
    learned = [k for k in methods if k[0] != "bicubic"]
    if not bic or not learned:
        return []
    ddir = next((k for k in learned if k[0] == "ddir"), None)
    liif = next((k for k in learned if k[0] == "liif"), None)
    return [ScaleVerdict(x, tuple(k for k in learned if psnr.get((*k, x), float("-inf")) > psnr[(*bic[0], x)]),
                         len(learned), psnr[(*ddir, x)] - psnr[(*liif, x)] if ddir and liif else None)
            for x in scales]


def verdict_counts(verdicts: list[ScaleVerdict]) -> tuple[int, int | None]:
    """(scales where every learned method beats bicubic, scales where DDIR beats LIIF or None)."""
    all_above = sum(len(v.above) == v.learned for v in verdicts)
    margins = [v.ddir_minus_liif for v in verdicts]
    return all_above, (None if None in margins else sum(d > 0 for d in margins))


def _iterations(s: BenchSummary) -> str:
    if not s.iterations:
        return "iterations not recorded"
    counts = sorted(set(s.iterations.values()))
    if len(counts) == 1:
        return f"{_count(counts[0], 'iteration')} each"
    return ", ".join(f"{k} {_count(v, 'iteration')}" for k, v in s.iterations.items())


def _table_inputs(rows):
    scales = sorted({r.scale for r in rows})
    methods = list(dict.fromkeys((r.method, r.encoder) for r in rows))
    psnr = {(r.method, r.encoder, r.scale): r.psnr_y for r in rows}
    return psnr, methods, scales


def _label(key) -> str:
    """A method's name as bench's tables write it ('EDSR-LIIF', 'Bicubic')."""
    from ..models.registry import method_label

    m, e = key
    return method_label(m, None if e in ("-", "") else e)


def _psnr_tables(psnr: dict, methods, scales, cfg: DemoConfig, heading: str) -> list[str]:
    lines = []
    seen = [x for x in scales if x in cfg.train_scales]
    unseen = [x for x in scales if x not in cfg.train_scales]
    for title, group in (("training scales", seen), ("unseen scales", unseen)):
        if not group:
            continue
        lines += [f"{heading} {title}", "", "| method | " + " | ".join(f"x{x:g}" for x in group) + " |",
                  "|---|" + "---:|" * len(group)]
        for k in methods:
            vals = [psnr.get((*k, x)) for x in group]
            best = [max(psnr.get((*kk, x), float("-inf")) for kk in methods) for x in group]
            cells = [("-" if v is None else (f"**{v:.2f}**" if v == b else f"{v:.2f}")) for v, b in zip(vals, best)]
            lines.append(f"| {_label(k)} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _verdicts(psnr: dict, methods, scales, epochs, pretrained_shown: bool = False) -> list[str]:
    learned = [(m, e) for m, e in methods if m != "bicubic"]
    bic = [k for k in methods if k[0] == "bicubic"]
    lines, all_beat = [], bool(bic)
    if bic:
        b = bic[0]
        for m, e in learned:
            wins = sum(psnr[(m, e, x)] > psnr[(*b, x)] for x in scales if (m, e, x) in psnr)
            all_beat &= wins == len(scales)
            lines.append(f"- {m} beats bicubic at {wins} of {_count(len(scales), 'scale')}.")
    ddir = [k for k in learned if k[0] == "ddir"]
    liif = [k for k in learned if k[0] == "liif"]
    if ddir and liif:
        d, l = ddir[0], liif[0]
        wins = sum(psnr[(*d, x)] > psnr[(*l, x)] for x in scales)
        lines.append(f"- DDIR beats LIIF at {wins} of {_count(len(scales), 'scale')}.")
    if bic and not all_beat and pretrained_shown:
        lines += ["", "As expected this short: the comparison is that of the pretrained models above. "
                  f"`ddir-kit demo --device cuda --epochs {LONGER_EPOCHS}` trains longer on a GPU; "
                  "`ddir-kit bench --profile paper` is the paper's comparison."]
    elif bic and not all_beat:
        trained = _count(epochs, "epoch") if epochs else "the profile's epochs"
        longer = (f"`ddir-kit demo --device cuda --epochs {LONGER_EPOCHS}` on a GPU to train each method "
                  f"{LONGER_EPOCHS} epochs instead of {epochs} ({LONGER_RUN_COST}), and "
                  if epochs and epochs < LONGER_EPOCHS else "")
        lines += ["", f"**The learned methods are under-trained here.** The profile above trains each method for "
                  f"{trained}, far from the paper's 1000, and this run does not show the "
                  "methods' quality or DDIR's margin over LIIF: it shows that every stage runs and what each "
                  f"costs. Comparisons between learned methods at this length of training mean little. Run {longer}"
                  "`ddir-kit bench --profile paper` for the paper's comparison. How the gap to bicubic "
                  "closes with longer training on a CPU: `benchmarks/demo_training_length.py`."]
    return lines + [""] if lines else []


def _epochs(s: BenchSummary) -> int | None:
    """Epochs each method trained in this run: the override, else the profile's own."""
    if "epochs" in s.overrides:
        return int(s.overrides["epochs"])
    from ..benchmark.profiles import load_profile

    try:
        return int(load_profile(s.profile).epochs)
    except DdirKitError:  # a profile this release no longer knows: the sentence names no number
        return None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _run_kind(config: DemoConfig) -> str:
    if config.n_scenes <= 3:
        return "fast (CI) run"
    changed = {k: v for k, v in config.profile_overrides.items() if DEFAULT.profile_overrides.get(k) != v}
    return "default run" if not changed else "full run, training changed: " + ", ".join(
        f"{k} {v}" for k, v in changed.items() if k != "lr_milestones_epochs")


def _f(v, digits):
    return "-" if v is None else f"{v:.{digits}f}"
