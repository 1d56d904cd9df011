"""The demo: the whole flow on the virtual zoom camera."""

from __future__ import annotations

import click

from ..errors import DdirKitError
from .options import PATH, device_option


def register_commands(cli: click.Group) -> None:
    cli.add_command(demo)


@click.command()
@click.option("--out", type=PATH, default="demo-out", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--fast", is_flag=True, help="a smaller run (CI): fewer scenes and shots, one epoch")
@click.option("--keep-going", is_flag=True, help="run the stages that do not need a failed one")
@device_option("where the bench trains and tests: cpu or cuda")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="train each method this many epochs (default 10; 100 takes about a minute a method on a GPU)")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
              help="training precision; bf16 trains in about 0.55x the time on a CPU with native bf16")
def demo(out, seed, fast, keep_going, device, epochs, precision):
    """Run the whole flow on the virtual zoom camera and write OUT/report.md.

    Calibrate a virtual zoom lens from a checkerboard sweep, shoot scenes at the calibrated
    focal lengths onto a camera card, ingest, register, crop into a dataset, validate it and
    bench bicubic, LIIF, LTE, CiaoSR and DDIR on it; every stage is compared with the camera's
    truth. A rerun resumes where the last one stopped.
    """
    import time

    from ..demo.config import demo_config
    from ..demo.pipeline import STAGE_RESUMES, STAGE_TITLES, run_demo
    from ..demo.report import write_report
    from ..devices import resolve_device

    resolve_device(device)  # before minutes of stages, not at the bench
    config = demo_config(fast, seed, device, epochs, precision)
    started, redo = {}, set()

    def on_plan(plan):
        kept = [p.name for p in plan if p.action == "keep"]
        redo.update(p.name for p in plan if p.action == "redo")
        if kept or redo:
            again = [p.name for p in plan if p.action != "keep"]
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
        extra = f": {o.error}" if o.error else (f" ({figure})" if figure else "")
        click.echo(f"[{o.name:9s}] {o.status} in {o.seconds:.0f} s{extra}")

    outcomes = run_demo(out, config, keep_going=keep_going, on_start=on_start, on_end=on_end, on_plan=on_plan)
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
        return f"{s.files} pairs of files, {len(s.test_scenes)} test scenes"
    if o.name == "bench":
        return f"{len(s.rows)} method x scale results"
    return ""
