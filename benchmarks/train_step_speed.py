"""One training step (forward, L1 loss, backward, Adam) of EDSR-LIIF and EDSR-DDIR at the
paper's shapes (batch 16, 48x48 LR patches, 2304 queries), fast decoding path vs reference.

Both paths are timed alternately in one run (the CPU is shared, so only side-by-side ratios
mean much); each step's floating-point work is counted with torch's FlopCounterMode and
compared with this CPU's fp32 matmul peak, measured here with a large torch.mm.

    python benchmarks/train_step_speed.py [--threads 1] [--rounds 3] [--results ...]

Goal (issue 7): fast at least 1.5x faster than reference.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

BATCH, PATCH_PX, QUERIES, SCALE = 16, 48, 2304, 2.5


def matmul_peak_flops(n: int = 2048, repeats: int = 5) -> float:
    import torch

    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


def make_batch(gen):
    import torch

    from ddir_kit.models.coords import make_coord

    hr_px = int(PATCH_PX * SCALE)
    lr = torch.rand(BATCH, 3, PATCH_PX, PATCH_PX, generator=gen)
    coords = make_coord((hr_px, hr_px))
    idx = torch.stack([torch.randperm(hr_px * hr_px, generator=gen)[:QUERIES] for _ in range(BATCH)])
    coord = coords[idx]
    cell = torch.full((BATCH, QUERIES, 2), 2.0 / hr_px)
    target = torch.rand(BATCH, QUERIES, 3, generator=gen)
    deform = torch.rand(BATCH, QUERIES, 3, generator=gen) - 0.5
    return lr, coord, cell, target, deform


def train_step(model, opt, batch) -> None:
    lr, coord, cell, target, deform = batch
    out = model(lr, coord, cell)
    loss = model.loss(out, target, deform if model.uses_deform_target else None)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def count_flops(model, opt, batch) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        train_step(model, opt, batch)
    return counter.get_total_flops()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--methods", default="liif,ddir")
    ap.add_argument("--results", default=str(REPO / "benchmarks" / "results" / "train_step_speed.md"))
    args = ap.parse_args()

    import torch

    from _machine import machine_lines
    from ddir_kit.models import make_model

    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    batch = make_batch(gen)
    peak_before = matmul_peak_flops()
    rows = []
    for method in args.methods.split(","):
        torch.manual_seed(0)
        model = make_model(method, "edsr")
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        flops, times = {}, {"fast": [], "reference": []}
        for path in ("fast", "reference"):
            model.decode_path = path
            flops[path] = count_flops(model, opt, batch)  # doubles as the warm-up step
        for _ in range(args.rounds):
            for path in ("fast", "reference"):
                model.decode_path = path
                t = time.perf_counter()
                train_step(model, opt, batch)
                times[path].append(time.perf_counter() - t)
                print(f"EDSR-{method.upper()} {path}: {times[path][-1]:.2f} s", flush=True)
        rows.append((method, flops, {k: statistics.median(v) for k, v in times.items()}))
        del model, opt
    peak = max(peak_before, matmul_peak_flops())

    lines = ["# training-step speed: fast vs reference decoding path", "",
             f"Batch {BATCH}, {PATCH_PX}x{PATCH_PX} LR patches, {QUERIES} queries per patch (x{SCALE} HR grid), "
             f"forward + L1 loss + backward + Adam; median of {args.rounds} alternating rounds; "
             f"{args.threads} torch thread(s).", "",
             f"fp32 matmul peak measured in this run (2048^3 torch.mm, best of 5, before and after): "
             f"{peak / 1e9:.1f} GFLOP/s", "",
             "| model | path | step (s) | speed-up | GFLOP per step | GFLOP/s | fraction of matmul peak |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for method, flops, med in rows:
        for path in ("reference", "fast"):
            rate = flops[path] / med[path]
            speedup = med["reference"] / med[path]
            lines.append(f"| EDSR-{method.upper()} | {path} | {med[path]:.2f} | {speedup:.2f}x | "
                         f"{flops[path] / 1e9:.1f} | {rate / 1e9:.1f} | {rate / peak:.1%} |")
    lines += ["", "Fraction of peak counts each path's own matmul/conv FLOPs (FlopCounterMode); the fast "
              "path does less arithmetic for the same result, so its speed-up exceeds its FLOP ratio "
              "only where memory traffic (gathering 576-channel latents) dominated.", "",
              "Machine:", *machine_lines(), ""]
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
