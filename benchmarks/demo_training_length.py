"""How long the demo's learned methods must train on a CPU to beat bicubic.

The demo trains each method with the quick profile for 10 epochs (250 iterations here), which
is what 20 minutes on two cores allow for all four methods. This script trains the given
methods on a demo's dataset for several epoch counts (lr halved after 80 % of the epochs, as
the demo does) and counts the scales at which each beats bicubic. Writes
benchmarks/results/demo_training_length.md (or --out).

    ddir-kit demo --out /tmp/demo            # once, for its dataset/
    python benchmarks/demo_training_length.py --data /tmp/demo/dataset \
        --run liif,lte,ciaosr,ddir:10 --run liif,lte,ciaosr,ddir:10:bf16 --run liif:30

Runs already in --work are reused (bench skips a trained model and a scored checkpoint), so a
demo's own bench/ folder can stand in for the 10-epoch fp32 run.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import harness
from ddir_kit.benchmark.bench import run_bench
from ddir_kit.benchmark.profiles import load_profile
from ddir_kit.benchmark.reports import method_label
from ddir_kit.demo.config import demo_config


def main() -> None:
    ap = harness.parser(__file__, __doc__)
    ap.add_argument("--data", type=Path, required=True, help="a demo run's dataset/ folder")
    ap.add_argument("--run", action="append", metavar="METHODS:EPOCHS[:PRECISION]",
                    help="e.g. liif,ddir:10:bf16 (repeatable; precision fp32 unless given)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--work", type=Path, default=None, help="where to keep the runs (default: a temporary folder)")
    args = ap.parse_args()
    if not (args.data / "manifest.json").is_file():
        raise SystemExit(f"{args.data} is not a dataset folder (no manifest.json); run `ddir-kit demo` first")
    runs = []
    for spec in args.run or ["liif:10", "liif:30"]:
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise SystemExit(f"--run {spec!r}: expected METHODS:EPOCHS[:PRECISION]")
        runs.append(([m for m in parts[0].split(",") if m], int(parts[1]), parts[2] if len(parts) == 3 else "fp32"))
    work = args.work or Path(tempfile.mkdtemp(prefix="demo-train-length-"))
    run = harness.Run()
    scales, bicubic, rows = None, None, []
    for methods, epochs, precision in runs:
        prof = load_profile("quick", demo_config(False, 0, epochs=epochs, precision=precision).profile_overrides)
        t0 = time.monotonic()
        res = run_bench(["bicubic", *methods], args.data, work / f"e{epochs}_{precision}", prof, device=args.device)
        print(f"epochs {epochs} {precision}: {time.monotonic() - t0:.0f} s", flush=True)
        by = {}
        for r in res.rows:
            by.setdefault(r.method, {})[r.scale] = r.psnr_y
        scales = sorted(by["bicubic"])
        bicubic = by["bicubic"]
        for m in methods:
            train_s = res.timings_s.get(method_label(m, "edsr"), (None, None))[0]
            rows.append((m, epochs, precision, train_s, by[m]))
    head = "| method | epochs | precision | train (s) | " + " | ".join(f"x{s:g}" for s in scales) + " | above bicubic |"
    lines = [head, "|---|---:|---|---:|" + "---:|" * (len(scales) + 1),
             "| bicubic | | | | " + " | ".join(f"{bicubic[s]:.2f}" for s in scales) + " | |"]
    for m, epochs, precision, train_s, psnr in rows:
        wins = sum(psnr[s] > bicubic[s] for s in scales)
        lines.append(f"| {m} | {epochs} | {precision} | {'' if train_s is None else f'{train_s:.0f}'} | "
                     + " | ".join(f"{psnr[s]:.2f}" for s in scales) + f" | {wins} of {len(scales)} |")
    text = "\n".join([
        "# Demo: training length against bicubic", "",
        f"Dataset: `{args.data}` (a default `ddir-kit demo` run). Profile `quick`, lr halved after 80 % of the "
        f"epochs (the demo: 10 epochs, halved after 8); precision bf16: forward pass and loss under torch.autocast. "
        f"PSNR-Y (dB), protocol `ddir`, test scenes only. Train (s): training wall clock from the run's log.", "",
        f"Device {args.device}.", "", *lines, ""])
    print(run.write(args.out, text).read_text())


if __name__ == "__main__":
    main()
