"""What the commands share: the command group, one parameter type per kind of value (one parser
and one message for each), the options that several commands take, and progress bars."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from ..errors import DdirKitError

# the RealArbiSR scales: its six training scales and its five unseen ones
ALL_SCALES = "1.5,1.7,2,2.3,2.5,2.7,3,3.3,3.5,3.7,4"

PATH = click.Path(exists=False, path_type=Path)


class Group(click.Group):
    """A click group whose commands fail with one line: a DdirKitError (an expected failure:
    bad input, nothing useful produced) leaves as ``error: <path>: <reason>`` and exit code 1;
    anything else is a bug and keeps its traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DdirKitError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(1)

    def list_commands(self, ctx):
        return list(self.commands)  # in the order of the flow, as they were added


class DefaultCommandGroup(Group):
    """A group that runs ``default_command`` when its first argument names no subcommand, so
    that `ddir-kit calibrate SHOTS_DIR ...` and `ddir-kit calibrate check ...` both work.
    ``routes`` sends the spellings of an earlier release to a subcommand: an option that
    appears in the arguments picks it (`register --hr ...` -> `register pair --hr ...`)."""

    default_command: str = ""
    routes: dict[str, tuple[str, bool]] = {}  # option -> (subcommand, option's value becomes positional)

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            for option, (command, positional) in self.routes.items():
                if option in args:
                    if positional:
                        i = args.index(option)
                        args = [command, *args[i + 1:i + 2], *args[:i], *args[i + 2:]]
                    else:
                        args = [command, *args]
                    break
            else:
                args = [self.default_command, *args]
        return super().parse_args(ctx, args)


class _Parsed(click.ParamType):
    """A parameter read by one of the kit's parsers. A bad value fails like any expected failure:
    one line naming the option and the reason, exit code 1."""

    def __init__(self, name: str, parse):
        self.name, self._parse = name, parse

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        try:
            return self._parse(value)
        except DdirKitError as e:
            option = param.opts[0] if param is not None and param.opts else self.name
            raise DdirKitError(f"{option}: {e.reason}") from None


def _scale(text):
    from ..scales import as_fraction

    return as_fraction(text)


def _scale_list(text):
    from ..scales import parse_scale_list

    return parse_scale_list(text)


def _factor(text):
    """Any positive factor (upscale makes an image of any size); written like a scale."""
    import math

    try:
        value = float(str(text).strip().lower().lstrip("x").replace("dot", "."))
    except ValueError:
        raise DdirKitError(f"not a scale: {text!r}; write a number such as 3.7") from None
    if not (value > 0 and math.isfinite(value)):
        raise DdirKitError(f"scale must be a positive number, got {text!r}")
    return value


def _quantity(name):
    def parse(text):
        from .. import quantities

        return getattr(quantities, name)(text)

    return parse


SCALE = _Parsed("scale", _scale)  # an SR scale > 1, as an exact fraction (2.3 -> 23/10)
SCALE_LIST = _Parsed("scales", _scale_list)  # '1.5,2,2.5'
FACTOR = _Parsed("factor", _factor)  # any positive upscaling factor
SIZE_PX = _Parsed("WxH", _quantity("parse_size_px"))
SIZE_MM = _Parsed("WxH", _quantity("parse_size_mm"))
BYTES = _Parsed("bytes", _quantity("parse_bytes"))
SHARD = _Parsed("i/N", _quantity("parse_shard"))


def device_option(help_text: str = "cpu, cuda or cuda:N (under torchrun each rank takes its own GPU)"):
    return click.option("--device", default="cpu", show_default=True, help=help_text)


def max_memory_option(default: str = "2GB"):
    return click.option("--max-memory", "max_memory_bytes", type=BYTES, default=default, show_default=True,
                        help="working memory for activations, e.g. 4GB (tiles and query chunks are sized to it)")


def data_scale_option():
    return click.option("--scale", "data_scale", type=SCALE, default=None,
                        help="the scale of plain HR/LR folders (other layouts name their scales)")


def dataset_input(f):
    """The dataset a command reads: positional DATASET or --data DATASET, the same in every
    command (validate, card, train, test, bench)."""
    f = click.option("--data", "data_option", type=PATH, default=None, help="the dataset (instead of DATASET)")(f)
    return click.argument("dataset", required=False, type=PATH)(f)


def one_dataset(dataset: Path | None, data_option: Path | None) -> Path:
    if dataset is not None and data_option is not None and dataset != data_option:
        raise DdirKitError(f"two datasets given ({dataset} and --data {data_option}); give one")
    chosen = dataset if dataset is not None else data_option
    if chosen is None:
        raise DdirKitError("no dataset given: name it as DATASET or with --data DATASET")
    return chosen


def scales_option(default: str | None = ALL_SCALES, help_text: str = "comma list of scales"):
    return click.option("--scales", type=SCALE_LIST, default=default, show_default=default is not None,
                        help=help_text)


def tqdm_progress(desc: str, with_loss: bool, unit: str | None = None):
    """A progress callback drawing a tqdm bar, created on the first call (when the total is known
    and the input has been checked, so a bad input never draws a bar)."""
    from tqdm import tqdm

    state = {}

    def cb(done, total, loss=None):
        if "bar" not in state:
            state["bar"] = tqdm(total=total, initial=done - 1 if with_loss else 0, desc=desc, unit=unit or ("it" if with_loss else "img"),
                                unit_scale=unit == "px", dynamic_ncols=True, file=sys.stderr)
        bar = state["bar"]
        bar.update(done - bar.n)
        if loss is not None:
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        if done >= total:
            bar.close()

    return cb


# iterations timed before the estimate is printed; the first iteration (warm-up: allocation,
# kernel choice) is left out of the timing
ESTIMATE_AFTER_ITERS = 3


def training_progress(label: str):
    """The training bar of ``label``, and, once ESTIMATE_AFTER_ITERS iterations after the first
    have run, one line with the time the rest of the run takes at their measured pace: a run
    of the paper's recipe on a CPU takes days, and says so within its first minute."""
    from tqdm import tqdm

    bar = tqdm_progress(f"train {label}", True)
    state: dict = {}

    def cb(done, total, loss=None):
        now = time.monotonic()
        if "t0" not in state:
            state.update(t0=now, i0=done)
        elif not state.get("said") and done - state["i0"] >= ESTIMATE_AFTER_ITERS and done < total:
            each = (now - state["t0"]) / (done - state["i0"])
            state["said"] = True
            tqdm.write(f"train {label}: {each:.3g} s per iteration (measured over {done - state['i0']}); the "
                       f"remaining {total - done:,} iterations take about {duration_text(each * (total - done))}",
                       file=sys.stderr)
        bar(done, total, loss)

    return cb


def duration_text(seconds: float) -> str:
    """'40 s', '12 min', '3.4 h', '9.1 days'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
