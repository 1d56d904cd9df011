"""What the `paper` profile costs: the arithmetic of one training step of every method and
encoder at the paper's shapes (48 px LR crops, 2304 queries, batch 16: counted on one sample and
multiplied by 16, forward, loss and backward), and from it the hours of one model's 1000 epochs
on one H200 at the rate the kit measured there (EDSR-LIIF: 25.05 TFLOP/s in fp32,
benchmarks/results/train_step_speed_cuda.md). Writes the results table and the data file that
`ddir-kit reproduce --list` reads (ddir_kit/experiments/training_cost.csv).

The hours are estimates: FLOPs divided by one measured rate. A method that spends more of its
step on memory traffic than EDSR-LIIF (CiaoSR's attention, RDN's dense concatenations) runs
slower than its FLOPs say; one that keeps the GPU busier runs faster (EDSR-DDIR ran at 29.3).
"""

from __future__ import annotations

import csv
import io

import harness
import torch
from torch.utils.flop_counter import FlopCounterMode

from ddir_kit.benchmark.training_cost import H200_TFLOPS, TRAINING_COST_CSV
from ddir_kit.models import make_model


BATCH, PATCH, QUERIES = 16, 48, 2304


def step_gflop(method: str, encoder: str, scale: float = 2.5) -> float:
    torch.manual_seed(0)
    kw = {"scale": int(scale)} if method == "fixed-scale" else {}
    model = make_model(method, encoder, **kw)
    hside = round(PATCH * scale)
    lr = torch.rand(1, 3, PATCH, PATCH)
    counter = FlopCounterMode(display=False)
    with counter:
        if method == "fixed-scale":
            loss = model.loss(model(lr, size=(hside, hside)), torch.rand(1, 3, hside, hside))
        else:
            coord = torch.rand(1, QUERIES, 2) * 1.9 - 0.95
            cell = torch.full((1, QUERIES, 2), 2.0 / hside)
            out = model(lr, coord, cell)
            target = torch.rand(1, QUERIES, 3)
            loss = model.loss(out, target, target - 0.5 if model.uses_deform_target else None)
        loss.backward()
    return counter.get_total_flops() * BATCH / 1e9


def main():
    ap = harness.parser(__file__, __doc__)
    ap.add_argument("--encoders", default="edsr,rdn")
    args = ap.parse_args()
    run = harness.Run()
    torch.set_num_threads(harness.core_count())
    rows = []
    for encoder in args.encoders.split(","):
        for method in ("liif", "lte", "ciaosr", "ddir", "ddir-noapp", "ddir-nodeform", "ddir-none", "liif+a"):
            rows.append((method, encoder, "", step_gflop(method, encoder)))
            print(rows[-1], flush=True)
        for s in (2, 3, 4):
            rows.append(("fixed-scale", encoder, str(s), step_gflop("fixed-scale", encoder, s)))
            print(rows[-1], flush=True)
    buf = io.StringIO()
    buf.write("# FLOPs of one training step at the paper's shapes (benchmarks/paper_profile_cost.py); "
              f"hours: 1000 epochs of 250 iterations at {H200_TFLOPS} TFLOP/s (one H200, fp32)\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("method", "encoder", "scale", "gflop_per_step"))
    for method, encoder, scale, g in rows:
        w.writerow((method, encoder, scale, f"{g:.1f}"))
    harness.atomic_write_text(TRAINING_COST_CSV, buf.getvalue())
    lines = ["# What the paper profile costs per model", "",
             f"FLOPs of one training step (batch {BATCH}, {PATCH} px LR crops, {QUERIES} queries; fixed-scale: the "
             "whole HR crop), counted by torch.utils.flop_counter on the CPU; hours of the paper profile's 1000 "
             f"epochs of 250 iterations (RealArbiSR: 200 pairs x 20 / 16) on one H200 at {H200_TFLOPS} TFLOP/s, the "
             "rate the kit measured for EDSR-LIIF in fp32 there: an estimate, not a measurement. FLOPs are counted, "
             "not timed: the load average does not change them.", "",
             "| method | encoder | scale | GFLOP per step | H200 hours (estimate) |", "|---|---|---|---:|---:|"]
    for method, encoder, scale, g in rows:
        hours = 1000 * 250 * g / (H200_TFLOPS * 1e3) / 3600
        lines.append(f"| {method} | {encoder} | {scale or 'any'} | {g:.1f} | {hours:.1f} |")
    run.write(args.out, "\n".join(lines) + "\n")
    print(f"wrote {args.out} and {TRAINING_COST_CSV}")


if __name__ == "__main__":
    main()
