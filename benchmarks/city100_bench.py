"""Acceptance run of issue 8: City100 as a x2.9 dataset (native LR = the L image area-downscaled
to 420 x 300; train on 9 pairs, test on 3), `bench --profile quick` with bicubic, LIIF, LTE,
CiaoSR and DDIR on EDSR. Prints the table and wall-clock times, and writes the results file.

    python benchmarks/city100_bench.py [--work RUN] [--device cpu|cuda] [--methods ...]
        [--set KEY=VALUE ...] [--city100 DIR | --data DATASET] [--out FILE]

A rerun with the same --work skips finished work (bench is resumable). Name a --out per device
or recipe (e.g. benchmarks/results/city100_bench_cuda_e40_lr2e-4.md): the default is
benchmarks/results/city100_bench.md.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import harness
from ddir_kit.benchmark.bench import run_bench
from ddir_kit.benchmark.profiles import load_profile, parse_set
from ddir_kit.dataset.city100 import build_city100


def main() -> None:
    ap = harness.parser(__file__, __doc__, city100=True)
    ap.add_argument("--work", type=Path, default=None,
                    help="the run folder: dataset/ and run/ (default: a new temporary folder)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--methods", default="bicubic,liif,lte,ddir,ciaosr")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--data", type=Path, default=None, help="an already built City100 x2.9 dataset")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="city100-bench-"))
    data = args.data or build_city100(harness.city100_dir(args.city100), work / "dataset")
    profile = load_profile("quick", parse_set(args.overrides))
    run = harness.Run()
    t0 = time.monotonic()
    res = run_bench(args.methods.split(","), data, work / "run", profile, "edsr", device=args.device,
                    log=lambda m: print(f"[{time.monotonic() - t0:7.0f} s] {m}", flush=True))
    total = time.monotonic() - t0
    bic = next(r.psnr_y for r in res.rows if r.method == "bicubic")
    lines = ["| method | PSNR-Y x2.9 (dB) | SSIM-Y | vs bicubic (dB) | train (s) | test (s) |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in res.rows:
        label = r.method if r.encoder == "-" else f"{r.encoder}-{r.method}"
        tr, te = res.timings_s.get(next(k for k in res.timings_s if k.lower().endswith(r.method.lower())), (None, None))
        lines.append(f"| {label} | {r.psnr_y:.3f} | {r.ssim_y:.4f} | {r.psnr_y - bic:+.3f} | "
                     f"{'-' if tr is None else tr} | {'-' if te is None else te} |")
    text = "\n".join([
        f"# City100 x2.9 bench, profile quick, device {args.device}", "",
        "Dataset: 9 train / 3 test City100 Nikon pairs, LR = L image area-downscaled to 420x300, HR 1218x870.",
        f"Profile: {profile.notes}", f"Overrides: {args.overrides or 'none'}", "",
        *lines, "",
        f"Total wall clock of this invocation: {total:.0f} s (work skipped on a rerun is not counted; "
        f"train/test columns are the times recorded when that work ran).",
        f"Run folder: {work / 'run'}", ""])
    print(run.write(args.out, text).read_text())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
