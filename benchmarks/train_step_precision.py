"""One training step (forward, L1 loss, backward, Adam) in fp32 and under bf16 autocast
(`--set precision=bf16`), side by side, for each method with the EDSR encoder.

Both precisions are timed alternately in one run on the same batch (the machine is shared, so
only side-by-side ratios mean much). Shapes: the quick profile's (batch 4, 32x32 LR patches,
1024 queries) by default, the paper's with --paper. What bf16 does to accuracy is measured by
training whole runs: benchmarks/demo_training_length.py.

    python benchmarks/train_step_precision.py [--threads 2] [--rounds 5] [--paper] [--methods ...]
        [--out benchmarks/results/train_step_precision.md]

With --paper, name another --out (e.g. benchmarks/results/train_step_precision_paper.md): the
default file holds the quick profile's shapes.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import harness


def native_bf16_flags() -> str:
    """The CPU's bf16 instruction-set flags as Linux lists them ('unknown' elsewhere)."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return "unknown"
    have = [f for f in ("avx512_bf16", "amx_bf16") if f in flags.split()]
    return ", ".join(have) if have else "none"


def main() -> None:
    ap = harness.parser(__file__, __doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--methods", default="liif,lte,ciaosr,ddir")
    ap.add_argument("--paper", action="store_true", help="the paper's shapes (batch 16, 48 px, 2304 queries)")
    args = ap.parse_args()
    run = harness.Run()

    import torch

    from ddir_kit.benchmark.cpu_allocator import keep_freed_memory
    from ddir_kit.models import make_model

    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as `ddir-kit train` runs on a CPU
    shapes = (16, 48, 2304) if args.paper else (4, 32, 1024)
    batch = harness.synthetic_train_batch(torch.Generator().manual_seed(0), "cpu", *shapes)
    rows = []
    for method in args.methods.split(","):
        times = {"fp32": [], "bf16": []}
        models = {}
        for name in times:  # one model per precision, from the same initial weights
            torch.manual_seed(0)
            model = make_model(method, "edsr")
            opt = torch.optim.Adam(model.parameters(), lr=1e-4)
            models[name] = (model, opt)
            harness.train_step(model, opt, batch, name == "bf16")  # warm-up
        for _ in range(args.rounds):
            for name, (model, opt) in models.items():
                t = time.perf_counter()
                harness.train_step(model, opt, batch, name == "bf16")
                times[name].append(time.perf_counter() - t)
                print(f"EDSR-{method.upper()} {name}: {times[name][-1]:.3f} s", flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append((method, med))
        del models

    lines = ["# training-step speed: fp32 against bf16 autocast", "",
             f"Batch {shapes[0]}, {shapes[1]}x{shapes[1]} LR patches, {shapes[2]} queries per patch "
             f"(x{harness.SYNTHETIC_SCALE:g} HR grid), fast decoding path, forward + L1 loss + backward + Adam; "
             f"median of {args.rounds} alternating rounds; CPU, {args.threads} torch thread(s); freed memory kept "
             "in the process (as `ddir-kit train`).",
             "", "| model | fp32 step (s) | bf16 step (s) | bf16 / fp32 |", "| --- | ---: | ---: | ---: |"]
    for method, med in rows:
        lines.append(f"| EDSR-{method.upper()} | {med['fp32']:.3f} | {med['bf16']:.3f} | {med['bf16'] / med['fp32']:.2f} |")
    lines += ["", f"CPU bf16 flags: {native_bf16_flags()}", ""]
    print(run.write(args.out, "\n".join(lines)).read_text())


if __name__ == "__main__":
    main()
