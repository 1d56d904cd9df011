"""What an experiment's training costs with the `paper` profile: the FLOPs of one training step
of each method (measured by benchmarks/paper_profile_cost.py into
ddir_kit/experiments/training_cost.csv) times the profile's iterations, at the rate the kit
measured on an H200 (an estimate: docs/experiments.md)."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from .experiments import EXPERIMENTS_DIR, Experiment

TRAINING_COST_CSV = EXPERIMENTS_DIR / "training_cost.csv"
H200_TFLOPS = 25.05  # EDSR-LIIF's measured fp32 training rate on one H200
EPOCHS = 1000
# iterations per epoch at batch 16 and repeat 20: the largest training folder's pairs x 20 / 16
ITERATIONS_PER_EPOCH = {"realarbisr": 200 * 20 // 16, "realsr": 400 * 20 // 16, "div2k": 800 * 20 // 16}


@lru_cache(maxsize=None)
def step_gflop(path: Path = TRAINING_COST_CSV) -> dict[tuple[str, str, str], float]:
    if not path.is_file():
        return {}
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return {(r["method"], r["encoder"], r["scale"]): float(r["gflop_per_step"]) for r in csv.DictReader(lines)}


def experiment_gpu_hours(exp: Experiment) -> float | None:
    """H200 hours of every distinct training run the experiment needs, or None when a method's
    step was not measured."""
    costs = step_gflop()
    runs = set()
    for cell in exp.cells():
        if cell.train is None:
            continue
        scales = [str(int(s)) for s in cell.group.scales if s.denominator == 1 and int(s) in (2, 3, 4)] \
            if cell.method == "fixed-scale" else [""]
        for s in scales:
            runs.add((cell.method, cell.encoder, s, cell.train, cell.train_scales))
    hours = 0.0
    for method, encoder, s, train, _ in runs:
        g = costs.get((method, encoder, s))
        if g is None:
            return None
        hours += EPOCHS * ITERATIONS_PER_EPOCH[train] * g / (H200_TFLOPS * 1e3) / 3600
    return hours


def experiment_cost_text(exp: Experiment) -> str:
    hours = experiment_gpu_hours(exp)
    if hours is None:
        return "paper profile: cost not measured (benchmarks/paper_profile_cost.py)"
    return (f"paper profile: about {hours:.0f} GPU-hours on one H200 ({hours / 8:.0f} h on 8), estimated from "
            "its FLOPs, not measured")
