"""The demo: the whole flow on the virtual zoom camera."""

from __future__ import annotations

import click

from ..errors import DdirKitError
from .options import PATH, device_option, training_progress


def register_commands(cli: click.Group) -> None:
    cli.add_command(demo)


@click.group(invoke_without_command=True)
@click.option("--out", type=PATH, default="demo-out", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--fast", is_flag=True, help="a smaller run (CI): fewer scenes and shots, one epoch")
@click.option("--keep-going", is_flag=True, help="run the stages that do not need a failed one")
@device_option("where the bench trains and tests: cpu or cuda")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="train each method of the from-scratch run this many epochs (default 10)")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
              help="training precision; bf16 trains in about 0.55x the time on a CPU with native bf16")
@click.option("--models", type=PATH, default=None,
              help="pretrained models to score: a folder `ddir-kit demo pretrain` wrote (default: the shipped ones)")
@click.option("--until", type=click.Choice(["calibrate", "capture", "register", "dataset", "bench"]), default="bench",
              show_default=True, help="stop after this stage (dataset: the dataset and its card, no bench); "
                                      "a later run without it resumes there")
@click.pass_context
def demo(ctx, out, seed, fast, keep_going, device, epochs, precision, models, until):
    """Run the whole flow on the virtual zoom camera and write OUT/report.md.

    Calibrate a virtual zoom lens from a checkerboard sweep, shoot scenes at the calibrated
    focal lengths onto a camera card, ingest, register, crop into a dataset, validate it, make
    its card, and bench bicubic, LIIF, LTE, CiaoSR and DDIR on its test scenes: the shipped
    pretrained models (trained on other scenes), and each method trained here from scratch
    for a short run. Every stage is compared with the camera's truth. A rerun resumes where the
    last one stopped. `ddir-kit demo pretrain` remakes the pretrained models.
    """
    if ctx.invoked_subcommand is not None:
        return
    import time

    from ..demo.config import demo_config
    from ..demo.pipeline import STAGE_RESUMES, STAGE_TITLES, run_demo
    from ..demo.report import write_report
    from ..devices import resolve_device

    resolve_device(device)  # before minutes of stages, not at the bench
    config = demo_config(fast, seed, device, epochs, precision, models)
    started, redo = {}, set()

    def on_plan(plan):
        kept = [p.name for p in plan if p.action == "keep"]
        redo.update(p.name for p in plan if p.action == "redo")
        if kept or redo:
            again = [p.name for p in plan if p.action in ("run", "redo")]
            click.echo(f"resuming {out}: keeping {', '.join(kept) or 'no stage'} (finished in an earlier run); "
                       f"running {', '.join(again) or 'nothing'}")

    def on_start(name):
        started[name] = time.monotonic()
        if name in redo:
            keeps = STAGE_RESUMES[name]
            again = f"keeps {keeps}" if keeps else "is redone whole"
            click.echo(f"[{name:9s}] {STAGE_TITLES[name]} ... again: the earlier run did not finish it; it {again}")
        else:
            click.echo(f"[{name:9s}] {STAGE_TITLES[name]} ...")

    def on_end(o):
        figure = _stage_figure(o)
        if o.status == "skipped":
            click.echo(f"[{o.name:9s}] kept from an earlier run (it took {o.seconds:.0f} s then)"
                       + (f": {figure}" if figure else ""))
            return
        if o.status == "left out":
            click.echo(f"[{o.name:9s}] left out: {o.error} (--until)")
            return
        extra = f": {o.error}" if o.error else (f" ({figure})" if figure else "")
        click.echo(f"[{o.name:9s}] {o.status} in {o.seconds:.0f} s{extra}")

    outcomes = run_demo(out, config, keep_going=keep_going, on_start=on_start, on_end=on_end, on_plan=on_plan,
                        until=until)
    report = write_report(out, config, outcomes)
    click.echo(f"report: {report}")
    failed = [o.name for o in outcomes if o.status in ("failed", "not run")]
    if failed:
        raise DdirKitError(f"stages failed or not run: {', '.join(failed)} (see {report})")


def _stage_figure(o) -> str:
    s = o.summary
    if s is None:
        return ""
    if o.name == "calibrate":
        return f"largest focal error {s.max_error_mm:.3f} mm, naive {s.max_naive_error_mm:.3f} mm"
    if o.name == "capture":
        return f"{s.scenes_ok} scenes from {s.card_files} card files"
    if o.name == "register":
        kept = s.counts.get("skipped", 0) if o.status == "done" else 0  # pairs an unfinished earlier run made
        return (f"{s.ok} pairs" + (f" ({kept} kept from the earlier run)" if kept else "")
                + f", median corner error {s.median_corner_error_lr_px:.4f} LR px, {len(s.rejected)} rejected")
    if o.name == "dataset":
        line = f"{s.files} pairs of files, {len(s.test_scenes)} test scenes"
        if s.card_truth:
            from ..virtual_camera.card_truth import TruthComparison

            line += (f"; the card agrees with the camera's settings at {TruthComparison(s.card_truth).scales_within} "
                     f"of {len(s.card_truth)} scales")
        return line
    if o.name == "bench":
        return _bench_figure(s)
    return ""


def _bench_figure(s) -> str:
    from ..demo.report import scale_verdicts, verdict_counts

    verdicts = scale_verdicts(s.pretrained_rows)
    if not verdicts:
        return f"{len(s.rows)} method x scale results"
    above, ddir_wins = verdict_counts(verdicts)
    text = f"pretrained: every learned method above bicubic at {above} of {len(verdicts)} scales"
    if ddir_wins is not None:
        text += f", DDIR above LIIF at {ddir_wins}"
    return text + f"; from scratch: {len(s.rows)} method x scale results"


@demo.command("pretrain")
@click.option("--textures", type=PATH, required=True,
              help="a folder holding City100's HR photos (nikon_NNNH.png); the demo's own six are left out")
@click.option("--work", type=PATH, default="demo-pretrain-work", show_default=True,
              help="where the scenes, the dataset and the training runs go (a rerun resumes)")
@click.option("--out", type=PATH, default="demo-models", show_default=True,
              help="where the models, SHA256SUMS and README.md go; `ddir-kit demo --models OUT` scores them")
@device_option("where the methods train: cpu or cuda")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="epochs per method (default 40)")
@click.option("--jobs", type=click.IntRange(min=1), default=2, show_default=True, help="registration workers")
def pretrain(textures, work, out, device, epochs, jobs):
    """Make the demo's pretrained models: shoot 12 virtual-camera scenes (seed 1000) on City100
    photos the demo does not use, register and crop them, train LIIF, LTE, CiaoSR and DDIR at
    the demo's width (quick profile, 40 epochs: about an hour on two CPU cores), and write the
    models with their checksums and recipe."""
    from ..demo.pretrain import PRETRAIN_EPOCHS, pretrain_demo_models
    from ..devices import resolve_device

    resolve_device(device)
    res = pretrain_demo_models(work, textures, out, device=device, epochs=epochs or PRETRAIN_EPOCHS, jobs=jobs,
                               log=click.echo, train_progress=training_progress)
    for path in res.models:
        click.echo(f"wrote {path}")
    click.echo(f"wrote {res.out_dir / 'SHA256SUMS'} and {res.out_dir / 'README.md'}")
