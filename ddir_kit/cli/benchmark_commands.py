"""Commands of the benchmark half: train, test, bench, score, upscale."""

from __future__ import annotations

import os

import click

from ..errors import DdirKitError

from .options import (FACTOR, PATH, SCALE, SIZE_PX, data_scale_option, dataset_input, device_option,
                      max_memory_option, one_dataset, scales_option, tqdm_progress, training_progress)

PROTOCOLS = ("ddir", "basicsr", "realsr", "rgb", "div2k")  # benchmark.metrics.PROTOCOLS
ENCODERS = ("edsr", "rdn")


def register_commands(cli: click.Group) -> None:
    for command in (train, test, bench, score, upscale, reproduce):
        cli.add_command(command)


def _profile_options(f):
    for option in reversed([
        click.option("--profile", default="paper", show_default=True,
                     help="paper (the official recipe, for GPUs), quick (2-core CPU, minutes), or a YAML file"),
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help="override a profile key (repeatable)"),
        device_option(),
        data_scale_option(),
    ]):
        f = option(f)
    return f


def _json_object(text: str | None, option: str) -> dict:
    import json

    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise DdirKitError(f"{option}: not JSON ({e.msg}); write e.g. '{{\"width\": 32}}'") from None
    if not isinstance(value, dict):
        raise DdirKitError(f"{option}: expected a JSON object of constructor arguments, got {text!r}")
    return value


def _bench_method_args(text: str | None, methods: list[str]) -> dict:
    """--method-args of bench: {METHOD: {args}}, or one object of arguments when only one listed
    method (or only one method from outside) can take it."""
    from ..models.registry import REGISTRY

    given = _json_object(text, "--method-args")
    if not given:
        return {}
    if all(k in methods and isinstance(v, dict) for k, v in given.items()):
        return given
    outside = [m for m in methods if m not in REGISTRY]
    for candidates in (methods, outside):
        if len(candidates) == 1:
            return {candidates[0]: given}
    raise DdirKitError("--method-args: say which method the arguments are for: "
                       "'{\"mypkg.mymodule:MyNet\": {\"width\": 32}}'")


def _is_main_rank() -> bool:
    return os.environ.get("RANK", "0") == "0"  # under torchrun, rank 0 reports


_METHOD_HELP = ("bicubic, liif, lte, ciaosr, ddir, an ablation, fixed-scale, or your own as MODULE:CLASS "
                "(docs/methods.md)")


@click.command()
@click.option("--method", required=True, help=_METHOD_HELP)
@click.option("--encoder", type=click.Choice(ENCODERS), default="edsr", show_default=True)
@click.option("--method-args", default=None, metavar="JSON",
              help="constructor arguments, e.g. '{\"width\": 32}' (a fixed-scale model: '{\"scale\": 2}')")
@dataset_input
@click.option("--out", type=PATH, required=True, help="the run folder")
@click.option("--resume", is_flag=True, help="continue the unfinished run in --out from its last checkpoint")
@_profile_options
def train(method, encoder, method_args, dataset, data_option, out, resume, profile, overrides, device, data_scale):
    """Train one method on a dataset's Train split (torchrun for several processes)."""
    from ..benchmark.profiles import load_profile, parse_set
    from ..benchmark.training import train_method
    from ..models.registry import method_label

    prof = load_profile(profile, parse_set(overrides))
    res = train_method(method, one_dataset(dataset, data_option), out, prof, encoder, resume=resume, device=device,
                       scale=data_scale, progress=training_progress(method_label(method, encoder)),
                       method_args=None if method_args is None else _json_object(method_args, "--method-args"))
    if not _is_main_rank():
        return
    for note in res.notes:
        click.echo(f"note: {note}", err=True)
    if res.skipped:
        click.echo(f"skipped: {res.model_path} exists (finished run)")
    elif res.iters:
        resumed = f", resumed at iteration {res.resumed_at_iter}" if res.resumed_at_iter is not None else ""
        click.echo(f"trained {method}-{encoder}: {res.iters} iterations, final loss {res.final_loss:.4f}, "
                   f"{res.seconds:.0f} s{resumed} -> {res.model_path}")


@click.command()
@click.option("--checkpoint", type=PATH, required=True)
@dataset_input
@scales_option(default=None, help_text="comma list; default: every test scale of the dataset")
@click.option("--protocol", type=click.Choice(PROTOCOLS), default="ddir", show_default=True)
@click.option("--out", "out_csv", type=PATH, default=None, help="per-image CSV")
@click.option("--save-dir", type=PATH, default=None, help="also write the predictions (16-bit PNG)")
@device_option()
@max_memory_option(default="1GB")
@click.option("--max-memory-mb", "max_memory_mb", type=click.IntRange(min=1), default=None, hidden=True)
@data_scale_option()
def test(checkpoint, dataset, data_option, scales, protocol, out_csv, save_dir, device, max_memory_bytes,
         max_memory_mb, data_scale):
    """Score a checkpoint on a dataset's Test split: full images, PSNR-Y / SSIM-Y per image and scale."""
    from ..benchmark.evaluation import test_checkpoint
    from ..benchmark.metrics import get_protocol

    if max_memory_mb is not None:  # the spelling of earlier releases
        max_memory_bytes = max_memory_mb << 20
    res = test_checkpoint(checkpoint, one_dataset(dataset, data_option), scales, protocol, device,
                          max_memory_bytes, out_csv, save_dir, data_scale, tqdm_progress("test", False))
    if not res.is_main:
        return
    for im in res.images:
        click.echo(f"x{im.scale:g} {im.name}: PSNR-Y {im.psnr_y_db:.3f} dB, SSIM-Y {im.ssim_y:.4f}")
    for s in res.per_scale:
        click.echo(f"x{s.scale:g}: {s.n_images} images, PSNR-Y {s.psnr_y_db:.3f} dB, SSIM-Y {s.ssim_y:.4f}")
    click.echo(f"protocol: {get_protocol(protocol).description}")


@click.command()
@click.option("--methods", default="bicubic,liif,lte,ciaosr,ddir", show_default=True,
              help="comma list of " + _METHOD_HELP)
@click.option("--encoder", type=click.Choice(ENCODERS), default="edsr", show_default=True)
@click.option("--method-args", default=None, metavar="JSON",
              help="constructor arguments: '{\"METHOD\": {...}, ...}', or one object when one listed method "
                   "from outside takes it")
@dataset_input
@click.option("--out", type=PATH, required=True, help="the bench folder")
@click.option("--checkpoints", type=PATH, default=None,
              help="folder of <run name>.pt checkpoints (e.g. liif-edsr.pt) to test instead of training")
@click.option("--test-data", type=PATH, default=None,
              help="score on this dataset's Test split (train on DATASET's Train split)")
@_profile_options
def bench(methods, encoder, method_args, dataset, data_option, out, checkpoints, test_data, profile, overrides,
          device, data_scale):
    """Train what has no checkpoint, test every method at every test scale, write the paper's tables."""
    from ..benchmark.bench import run_bench
    from ..benchmark.profiles import load_profile, parse_set

    prof = load_profile(profile, parse_set(overrides))
    names = [m.strip() for m in methods.split(",") if m.strip()]
    res = run_bench(names, one_dataset(dataset, data_option), out, prof, encoder, checkpoints, device, data_scale,
                    log=lambda msg: click.echo(msg, err=True),
                    train_progress=training_progress,
                    test_progress=lambda label: tqdm_progress(f"test {label}", False),
                    method_args=_bench_method_args(method_args, names), test_data=test_data)
    for line in res.skipped:
        click.echo(f"skipped {line}")
    for r in res.rows:
        click.echo(f"{res.label(r):>18} x{r.scale:<4g} {r.n_images:3d} images  "
                   f"PSNR-Y {r.psnr_y:.3f} dB  SSIM-Y {r.ssim_y:.4f}")
    click.echo(f"wrote {res.out_dir / 'results.md'}, results.csv, results.tex, psnr_vs_scale.png, crops.png")


@click.command()
@click.argument("sr_dir", type=PATH)
@click.argument("hr_dir", type=PATH)
@click.option("--scale", type=SCALE, required=True, help="the SR factor (sets the shave, ceil(s) px)")
@click.option("--protocol", type=click.Choice(PROTOCOLS), default="ddir", show_default=True)
@click.option("--out", "out_csv", type=PATH, default=None, help="per-image CSV")
def score(sr_dir, hr_dir, scale, protocol, out_csv):
    """PSNR-Y / SSIM-Y of a folder of results against ground truth (files paired by sorted name)."""
    from ..benchmark.metrics import get_protocol
    from ..benchmark.scoring import score_folders

    result = score_folders(sr_dir, hr_dir, scale, protocol, out_csv)
    for im in result.images:
        click.echo(f"{im.name}: PSNR-Y {im.psnr_y_db:.3f} dB, SSIM-Y {im.ssim_y:.4f}")
    click.echo(f"mean of {len(result.images)} images at x{result.scale:g}: PSNR-Y {result.psnr_y_db:.3f} dB, "
               f"SSIM-Y {result.ssim_y:.4f}  [{get_protocol(protocol).description}]")
    if out_csv:
        click.echo(f"wrote {out_csv}")


@click.command()
@click.argument("image", type=PATH)
@click.option("--checkpoint", type=PATH, required=True)
@click.option("--out", type=PATH, required=True)
@click.option("--scale", type=FACTOR, default=None, help="any factor, e.g. 3.7")
@click.option("--size", "size_px", type=SIZE_PX, default=None, help="exact output size WIDTHxHEIGHT, instead of --scale")
@device_option()
@max_memory_option()
def upscale(image, checkpoint, out, scale, size_px, device, max_memory_bytes):
    """Upscale a photo by any factor with a trained checkpoint (16-bit in, 16-bit out)."""
    from ..models.inference import upscale_file

    progress = tqdm_progress("upscale", False, unit="px")
    result = upscale_file(image, checkpoint, out, scale=scale, size_px=size_px, device=device,
                          max_memory_bytes=max_memory_bytes, progress=progress)
    click.echo(f"wrote {result.out_path}: {result.out_size_px[0]}x{result.out_size_px[1]} "
               f"({result.bit_depth}-bit) from {result.in_size_px[0]}x{result.in_size_px[1]} with {result.method}")


@click.command()
@click.argument("experiment", required=False)
@click.option("--list", "list_only", is_flag=True, help="name every experiment, one line each")
@click.option("--data", type=PATH, default=None, help="RealArbiSR (or a dataset the kit built in its layout)")
@click.option("--realsr", type=PATH, default=None, help="RealSR (version 3)")
@click.option("--div2k", type=PATH, default=None, help="HR images only (DIV2K): bicubic degradation")
@click.option("--out", type=PATH, default=None, help="the folder of every experiment's runs and tables")
@click.option("--profile", default="paper", show_default=True,
              help="paper (the official recipe, for GPUs), quick (2-core CPU, minutes), or a YAML file")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="override a profile key (repeatable)")
@device_option()
def reproduce(experiment, list_only, data, realsr, div2k, out, profile, overrides, device):
    """Run one of the paper's experiments (table2 ... table7, fig1, or your own YAML file) and
    write OUT/EXPERIMENT.md, .csv and .tex: the paper's table with this run's figures beside its
    own. Experiments share their training runs under OUT/runs/ (docs/experiments.md)."""
    from ..benchmark.experiments import DATASET_KEYS, experiment_names, load_experiment
    from ..benchmark.profiles import load_profile, parse_set

    if list_only:
        from ..benchmark.training_cost import experiment_cost_text

        for name in experiment_names():
            exp = load_experiment(name)
            needs = ", ".join(DATASET_KEYS[k] for k in exp.datasets())
            click.echo(f"{name:7s} {exp.title}")
            click.echo(f"        trains {exp.trains}; needs {needs}; {experiment_cost_text(exp)}")
        return
    if experiment is None:
        raise DdirKitError("name an experiment (ddir-kit reproduce --list shows them) or give --list")
    if out is None:
        raise DdirKitError("--out DIR is required (where the runs and tables go)")
    from ..benchmark.reproduce import run_experiment

    exp = load_experiment(experiment)
    prof = load_profile(profile, parse_set(overrides))
    res = run_experiment(exp, {"realarbisr": data, "realsr": realsr, "div2k": div2k}, out, prof, device,
                         log=lambda msg: click.echo(msg, err=True),
                         train_progress=training_progress,
                         test_progress=lambda label: tqdm_progress(f"test {label}", False))
    for line in res.kept:
        click.echo(f"kept {line}")
    click.echo(f"{exp.name}: {len(res.cells)} cells, trained {len(res.trained)} models "
               f"({len(res.kept)} results kept from earlier runs)")
    click.echo("wrote " + ", ".join(str(f) for f in res.files))
