"""Acceptance run of issue 8: City100 as a x2.9 dataset (native LR = the L image area-downscaled
to 420 x 300; train on 9 pairs, test on 3), `bench --profile quick` with bicubic, LIIF, LTE,
CiaoSR and DDIR on EDSR. Prints the table and wall-clock times, and writes
benchmarks/results/city100_bench[_<device>].md with the machine.

    .venv/bin/python benchmarks/city100_bench.py [--out RUN] [--device cpu|cuda] [--methods ...]

A rerun with the same --out skips finished work (bench is resumable).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


from ddir_kit.benchmark.bench import run_bench
from ddir_kit.benchmark.profiles import load_profile, parse_set
from ddir_kit.dataset.city100 import build_city100

REPO = Path(__file__).resolve().parents[1]


from _machine import machine_summary as machine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--methods", default="bicubic,liif,lte,ddir,ciaosr")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--data", type=Path, default=None, help="an already built City100 x2.9 dataset")
    ap.add_argument("--tag", default="", help="suffix of the result file name")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="city100-bench-"))
    shared = REPO.parent / "shared" / "data" / "city100"
    data = args.data or build_city100(shared, out / "dataset")
    profile = load_profile("quick", parse_set(args.overrides))
    t0 = time.monotonic()
    res = run_bench(args.methods.split(","), data, out / "run", profile, "edsr", device=args.device,
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
        f"Command: python benchmarks/city100_bench.py --device {args.device}"
        + "".join(f" --set {o}" for o in args.overrides), "",
        f"Machine: {machine()}", "",
        f"Dataset: 9 train / 3 test City100 Nikon pairs, LR = L image area-downscaled to 420x300, HR 1218x870.",
        f"Profile: {profile.notes}", f"Overrides: {args.overrides or 'none'}", "",
        *lines, "",
        f"Total wall clock of this invocation: {total:.0f} s (work skipped on a rerun is not counted; "
        f"train/test columns are the times recorded when that work ran).",
        f"Run folder: {out / 'run'}", ""])
    print(text)
    suffix = ("" if args.device == "cpu" else f"_{args.device.split(':')[0]}") + (f"_{args.tag}" if args.tag else "")
    dest = REPO / "benchmarks" / "results" / f"city100_bench{suffix}.md"
    dest.write_text(text)
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
