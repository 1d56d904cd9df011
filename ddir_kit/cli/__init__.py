"""The `ddir-kit` command line: the only part of the kit that prints or exits.

Each command is thin: it parses its options (one parameter type per kind of value, in
options.py), calls one library function and prints what it returns. Expected failures arrive as
DdirKitError and leave as one line on stderr with exit code 1; anything else is a bug and keeps
its traceback. The commands live by the half of the flow they belong to: flow_commands.py
(calibrate ... card), benchmark_commands.py (train ... upscale), demo_command.py.
"""

from __future__ import annotations

import click

from . import benchmark_commands, demo_command, flow_commands
from .options import Group


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ddir-kit")
def cli():
    """Build real-world scale-arbitrary SR datasets with a zoom lens, and benchmark DDIR,
    LIIF, LTE and CiaoSR on them.

    \b
    The flow, one command per stage:
      calibrate  checkerboard sweep      -> calibration.json
      capture    plan | ingest | simulate -> captures/<scene>/
      register   captures/               -> aligned/<scene>/x<s>/
      crop       aligned/                -> dataset (RealArbiSR layout); validate and card check it
      train, test, bench, score          -> runs/<name>/
      upscale    checkpoint + photo      -> photo at any scale
      demo       all of the above on the virtual zoom camera
    """


for _module in (flow_commands, benchmark_commands, demo_command):
    _module.register_commands(cli)


def main() -> None:
    cli(prog_name="ddir-kit")


__all__ = ["cli", "main"]
