"""Choosing the quick profile's learning rate without touching the test pairs.

City100's nine training pairs are split 8 / 1 (pair 9 validates); each candidate learning rate
trains every method with the quick recipe on the 8 and scores it on the 1. The rate with the
largest worst-case gain over bicubic on the validation pair wins; only then is the real
benchmark (train on 9, test on 3) run once with it. Writes the results file: name a --out per
device and epoch count (e.g. benchmarks/results/city100_quick_lr_cuda_e15.md); the default is
benchmarks/results/city100_quick_lr.md.

    python benchmarks/city100_quick_lr.py --device cuda [--lrs 2e-4,5e-4,1e-3] [--epochs N]
        [--city100 DIR] [--work DIR] [--out FILE]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import harness
from ddir_kit.benchmark.bench import run_bench
from ddir_kit.benchmark.profiles import load_profile
from ddir_kit.dataset.city100 import build_city100

METHODS = ["bicubic", "liif", "lte", "ddir", "ciaosr"]


def gains(rows) -> dict:
    bic = next(r.psnr_y for r in rows if r.method == "bicubic")
    return {r.method: r.psnr_y - bic for r in rows if r.method != "bicubic"}


def main() -> None:
    ap = harness.parser(__file__, __doc__, city100=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--lrs", default="2e-4,5e-4,1e-3")
    ap.add_argument("--work", type=Path, default=None,
                    help="the run folder: datasets and runs (default: a new temporary folder)")
    ap.add_argument("--epochs", type=int, default=None)
    args = ap.parse_args()
    city100 = harness.city100_dir(args.city100)
    work = args.work or Path(tempfile.mkdtemp(prefix="quick-lr-"))
    val = build_city100(city100, work / "val", n_train=8, n_test=1)  # pairs 1-8 / 9: all from Train
    test = build_city100(city100, work / "test")  # pairs 1-9 / 10-12
    run = harness.Run()
    lines = ["| lr | " + " | ".join(f"{m} gain on val (dB)" for m in METHODS[1:]) + " | worst |",
             "|---|" + "---:|" * len(METHODS)]
    best = None
    for lr in args.lrs.split(","):
        prof = load_profile("quick", {"lr": float(lr), **({"epochs": args.epochs} if args.epochs else {})})
        res = run_bench(METHODS, val, work / f"val_{lr}", prof, device=args.device)
        g = gains(res.rows)
        worst = min(g.values())
        lines.append(f"| {lr} | " + " | ".join(f"{g[m]:+.3f}" for m in METHODS[1:]) + f" | {worst:+.3f} |")
        print(lines[-1], flush=True)
        if best is None or worst > best[1]:
            best = (float(lr), worst)
    prof = load_profile("quick", {"lr": best[0], **({"epochs": args.epochs} if args.epochs else {})})
    t0 = time.monotonic()
    res = run_bench(METHODS, test, work / "test_run", prof, device=args.device)
    wall = time.monotonic() - t0
    g = gains(res.rows)
    bic = next(r.psnr_y for r in res.rows if r.method == "bicubic")
    text = "\n".join([
        f"# Quick profile learning rate chosen on a validation pair (device {args.device}, epochs {prof.epochs})", "",
        "Validation: City100 training pairs 1-8 train, pair 9 validates; quick recipe otherwise unchanged.", "",
        *lines, "",
        f"Chosen: lr {best[0]:g} (largest worst-case gain). Test run (train on pairs 1-9, test on 10-12), "
        f"bicubic {bic:.3f} dB:", "",
        "| method | PSNR-Y x2.9 (dB) | gain over bicubic (dB) |", "|---|---:|---:|",
        *[f"| edsr-{m} | {bic + g[m]:.3f} | {g[m]:+.3f} |" for m in METHODS[1:]], "",
        f"Test-run wall clock: {wall:.0f} s.", ""])
    print(run.write(args.out, text).read_text())


if __name__ == "__main__":
    main()
