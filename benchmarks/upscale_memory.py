"""Peak resident memory and time of `ddir-kit upscale` with EDSR-DDIR on whole photos.

Each case runs the real CLI in a child process; its peak RSS comes from the kernel's rusage of
that child (os.wait4). The photo is a real one (a City100 HR image resized to the case's size);
the EDSR-DDIR weights are random but seeded - time and memory do not depend on their values.

    python benchmarks/upscale_memory.py [--device cpu] [--cases 1500x1000@4,3000x2000@2]
        [--max-memory 2GB] [--source PATH] [--results benchmarks/results/upscale_memory.md]

Goal (issue 7): under 4 GB peak RSS on CPU for 1500x1000 at x4 and 3000x2000 at x2.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

GOAL_BYTES = 4 * 1024 ** 3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cases", default="1500x1000@4,3000x2000@2")
    ap.add_argument("--max-memory", default="2GB")
    ap.add_argument("--time-limit-s", type=float, default=0, help="stop a case after this long (0: no limit)")
    ap.add_argument("--source", default=str(REPO.parent / "shared" / "data" / "city100" / "nikon_001H.png"))
    ap.add_argument("--results", default=str(REPO / "benchmarks" / "results" / "upscale_memory.md"))
    args = ap.parse_args()

    import cv2
    import torch

    from _machine import machine_lines
    from ddir_kit.models import make_model, save_checkpoint

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        torch.manual_seed(0)
        ckpt = save_checkpoint(tmp / "edsr-ddir.pt", make_model("ddir", "edsr"))
        source = cv2.imread(args.source, cv2.IMREAD_COLOR)
        if source is None:
            raise SystemExit(f"cannot read the source photo {args.source}")
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
            child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                                     env={**os.environ, "PYTHONPATH": str(REPO)})
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
            rows.append((f"{w}x{h}", f"x{scale}", out_size, rss, wall_s, ok))
            print(f"{w}x{h} x{scale} -> {out_size}: peak RSS {rss / 2**30:.2f} GiB, {wall_s:.1f} s, "
                  f"{'ok' if ok else 'FAILED: ' + (tmp / 'log.txt').read_text()[-500:]}", flush=True)
            write_results(args, rows, machine_lines())


def _verdict(ok: bool, rss: int, scale_note: str) -> str:
    if "stopped" in scale_note:
        return f"not finished; so far {'under' if rss < GOAL_BYTES else 'OVER'}"
    return "yes" if ok and rss < GOAL_BYTES else "NO"


def write_results(args, rows, machine) -> None:
    lines = ["# upscale memory: `ddir-kit upscale` with EDSR-DDIR", "",
             f"Device `{args.device}`, `--max-memory {args.max_memory}`; peak RSS of the CLI child process "
             "(os.wait4 rusage); a real photo resized to each size; seeded random weights.", "",
             "| input | scale | output | peak RSS (GiB) | time (s) | under 4 GiB |", "| --- | --- | --- | --- | --- | --- |"]
    for inp, sc, outs, rss, wall_s, ok in rows:
        lines.append(f"| {inp} | {sc} | {outs} | {rss / 2**30:.2f} | {wall_s:.1f} | "
                     f"{_verdict(ok, rss, sc)} |")
    lines += ["", "Machine:", *machine, ""]
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text("\n".join(lines))


if __name__ == "__main__":
    main()
