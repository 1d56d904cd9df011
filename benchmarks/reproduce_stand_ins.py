"""Every experiment of `ddir-kit reproduce`, end to end, on small stand-ins, in the order a user
would run them (table2 first, then the ones that share its models), into one --out folder.

The stand-ins are cut from the City100 photos (ddir_kit.dataset.city100.build_stand_ins): a
RealArbiSR layout (LR 60x40, Train at the six training scales, Test at the eleven), a RealSR
version-3 folder (Canon x2/x3/x4) and an HR-only DIV2K folder. The profile is `quick` cut to a
couple of iterations per model, so the figures say nothing about the methods: the table records
that each experiment runs, how long it took here, how many models it trained and how many
results it kept from the experiments before it (table3 after table2 should train none).

    python benchmarks/reproduce_stand_ins.py [--city100 DIR] [--experiments table2,table3,...]
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

import harness
from ddir_kit.cli import cli
from ddir_kit.dataset.city100 import build_stand_ins

ORDER = ("table2", "table3", "table4", "table5", "table6", "table7", "fig1")
TINY = ["--profile", "quick", "--set", "epochs=1", "--set", "repeat=1", "--set", "batch=2", "--set", "num_workers=0",
        "--set", "lr_patch_px=20", "--set", "queries=128", "--set", "torch_threads=1"]


def main() -> None:
    ap = harness.parser(__file__, __doc__, city100=True)
    ap.add_argument("--experiments", default=",".join(ORDER))
    args = ap.parse_args()
    city100 = harness.city100_dir(args.city100)
    run = harness.Run()
    work = Path(tempfile.mkdtemp(prefix="repro_standins_"))
    rows = []
    try:
        data = build_stand_ins(city100, work / "data")
        out = work / "repro"
        for name in args.experiments.split(","):
            cmd = ["reproduce", name, "--data", str(data["realarbisr"]), "--realsr", str(data["realsr"]),
                   "--div2k", str(data["div2k"]), "--out", str(out), *TINY]
            load = harness.load_now()
            t0 = time.monotonic()
            res = CliRunner().invoke(cli, cmd)
            seconds = time.monotonic() - t0
            summary = re.search(rf"{name}: (\d+) cells, trained (\d+) models \((\d+) results kept", res.output)
            table = out / f"{name}.csv"
            n_rows = max(0, len(table.read_text().splitlines()) - 1) if table.is_file() else 0
            rows.append((name, res.exit_code, seconds, *(summary.groups() if summary else ("?", "?", "?")),
                         n_rows, str(load)))
            print(rows[-1], flush=True)
            if res.exit_code != 0:
                print(res.output[-2000:])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = ["# `ddir-kit reproduce`: every experiment end to end on stand-ins", "",
             "Stand-ins cut from City100 (`build_stand_ins`), one --out folder, the experiments in this order; "
             "profile `" + " ".join(TINY[1:]) + "` (a couple of iterations per model: the figures say nothing "
             "about the methods). 'kept': results (trained models and scores) found done by the experiments "
             "before it.", "",
             "| experiment | exit | seconds | cells | trained | kept | table rows | load at start |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name, code, s, cells, trained, kept, n, load in rows:
        lines.append(f"| {name} | {code} | {s:.0f} | {cells} | {trained} | {kept} | {n} | {load} |")
    run.write(args.out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
