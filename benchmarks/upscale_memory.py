"""Peak resident memory and time of `ddir-kit upscale` with EDSR-DDIR on whole photos.

Each case runs the real CLI in a child process; its peak RSS comes from the kernel's rusage of
that child (os.wait4). The photo is a real one (a City100 HR image, nikon_001H.png of --city100
unless --source names another, resized to the case's size); the EDSR-DDIR weights are random
but seeded - time and memory do not depend on their values.

    python benchmarks/upscale_memory.py [--device cpu] [--cases 1500x1000@4,3000x2000@2]
        [--max-memory 2GB] [--city100 DIR | --source PATH] [--out benchmarks/results/upscale_memory.md]

Goal (issue 7): under 4 GB peak RSS on CPU for 1500x1000 at x4 and 3000x2000 at x2.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness

GOAL_BYTES = 4 * 1024 ** 3


def main() -> None:
    ap = harness.parser(__file__, __doc__, city100=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cases", default="1500x1000@4,3000x2000@2")
    ap.add_argument("--max-memory", default="2GB")
    ap.add_argument("--time-limit-s", type=float, default=0, help="stop a case after this long (0: no limit)")
    ap.add_argument("--source", type=Path, default=None,
                    help="the photo to resize (default: nikon_001H.png of --city100)")
    args = ap.parse_args()
    source_path = args.source or harness.city100_dir(args.city100) / "nikon_001H.png"
    run = harness.Run()

    import cv2
    import torch

    from ddir_kit.models import make_model, save_checkpoint

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        torch.manual_seed(0)
        ckpt = save_checkpoint(tmp / "edsr-ddir.pt", make_model("ddir", "edsr"))
        source = cv2.imread(str(source_path), cv2.IMREAD_COLOR)
        if source is None:
            raise SystemExit(f"cannot read the source photo {source_path}")
        for case in args.cases.split(","):
            size, scale = case.split("@")
            w, h = (int(v) for v in size.lower().split("x"))
            photo = tmp / f"photo_{w}x{h}.png"
            cv2.imwrite(str(photo), cv2.resize(source, (w, h), interpolation=cv2.INTER_CUBIC))
            out = tmp / f"out_{w}x{h}.png"
            cmd = [sys.executable, "-m", "ddir_kit.cli", "upscale", str(photo), "--scale", scale,
                   "--checkpoint", str(ckpt), "--out", str(out), "--device", args.device,
                   "--max-memory", args.max_memory]
            log = open(tmp / "log.txt", "w")
            start = time.perf_counter()
            child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=harness.REPO,
                                     env={**os.environ, "PYTHONPATH": str(harness.REPO)})
            stopped = False
            while True:
                pid, status, usage = os.wait4(child.pid, os.WNOHANG)
                if pid:
                    break
                if args.time_limit_s and time.perf_counter() - start > args.time_limit_s:
                    child.kill()  # our own child; its rusage still reports the peak so far
                    _, status, usage = os.wait4(child.pid, 0)
                    stopped = True
                    break
                time.sleep(0.5)
            wall_s = time.perf_counter() - start
            log.close()
            ok = os.waitstatus_to_exitcode(status) == 0 and out.is_file()
            if stopped:
                done = re.findall(r"(\d+)%\|", (tmp / "log.txt").read_text())
                ok = False
                scale = f"{scale} (stopped at the time limit, {done[-1] if done else 0}% of pixels done)"
            out_img = cv2.imread(str(out), cv2.IMREAD_UNCHANGED) if ok else None
            out_size = f"{out_img.shape[1]}x{out_img.shape[0]}" if out_img is not None else "not written"
            rss = usage.ru_maxrss * 1024
            rows.append((f"{w}x{h}", f"x{scale}", out_size, rss, wall_s, ok, run.load_now(f"{w}x{h}")))
            print(f"{w}x{h} x{scale} -> {out_size}: peak RSS {rss / 2**30:.2f} GiB, {wall_s:.1f} s, "
                  f"{'ok' if ok else 'FAILED: ' + (tmp / 'log.txt').read_text()[-500:]}", flush=True)
            write_results(run, args, rows)


def _verdict(ok: bool, rss: int, scale_note: str) -> str:
    if "stopped" in scale_note:
        return f"not finished; so far {'under' if rss < GOAL_BYTES else 'OVER'}"
    return "yes" if ok and rss < GOAL_BYTES else "NO"


def write_results(run: harness.Run, args, rows) -> None:
    lines = ["# upscale memory: `ddir-kit upscale` with EDSR-DDIR", "",
             f"Device `{args.device}`, `--max-memory {args.max_memory}`; peak RSS of the CLI child process "
             "(os.wait4 rusage); a real photo resized to each size; seeded random weights.", "",
             "| input | scale | output | peak RSS (GiB) | time (s) | under 4 GiB | load avg after |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for inp, sc, outs, rss, wall_s, ok, load in rows:
        lines.append(f"| {inp} | {sc} | {outs} | {rss / 2**30:.2f} | {wall_s:.1f} | "
                     f"{_verdict(ok, rss, sc)} | {load} |")
    run.write(args.out, "\n".join(lines))


if __name__ == "__main__":
    main()
