"""One training step (forward, L1 loss, backward, Adam) of EDSR-LIIF and EDSR-DDIR at the
paper's shapes (batch 16, 48x48 LR patches, 2304 queries), fast decoding path vs reference.

Both paths are timed alternately in one run (the CPU is shared, so only side-by-side ratios
mean much); each step's floating-point work is counted with torch's FlopCounterMode and
compared with this CPU's fp32 matmul peak, measured here with a large torch.mm.

    python benchmarks/train_step_speed.py [--threads 1] [--rounds 3] [--device cpu|cuda]
        [--allocator kit|system] [--out benchmarks/results/train_step_speed.md]

On the CPU the steps run with the allocator settings `ddir-kit train` uses
(ddir_kit/benchmark/cpu_allocator.py); `--allocator system` keeps glibc's defaults.

Goal (issue 7): fast at least 1.5x faster than reference (on the CPU). On CUDA the steps run with
torch's default precision settings (TF32 convolutions, fp32 matmuls) and the peak is an fp32
torch.mm with TF32 off, so the fraction can exceed 100 % where cuDNN used TF32.
"""

from __future__ import annotations

import statistics
import time

import harness

BATCH, PATCH_PX, QUERIES = 16, 48, 2304


def matmul_peak_flops(device, n: int = 2048, repeats: int = 5) -> float:
    import torch

    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    a, b = torch.rand(n, n, device=device), torch.rand(n, n, device=device)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t)
    torch.backends.cuda.matmul.allow_tf32 = tf32
    return 2 * n ** 3 / best


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def count_flops(model, opt, batch) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        harness.train_step(model, opt, batch)
    return counter.get_total_flops()


def main() -> None:
    ap = harness.parser(__file__, __doc__)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--methods", default="liif,ddir")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--allocator", choices=("kit", "system"), default="kit")
    args = ap.parse_args()
    run = harness.Run()

    import torch

    from ddir_kit.benchmark.cpu_allocator import keep_freed_memory
    from ddir_kit.models import make_model

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    kept = device.type == "cpu" and args.allocator == "kit" and keep_freed_memory()
    allocator = ("freed memory kept in the process (as `ddir-kit train` runs)" if kept
                 else "the C library's default allocator settings")
    peak_n = 8192 if device.type == "cuda" else 2048
    gen = torch.Generator().manual_seed(0)
    batch = harness.synthetic_train_batch(gen, device, BATCH, PATCH_PX, QUERIES)
    peak_before = matmul_peak_flops(device, peak_n)
    rows = []
    for method in args.methods.split(","):
        torch.manual_seed(0)
        model = make_model(method, "edsr").to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        flops, times = {}, {"fast": [], "reference": []}
        for path in ("fast", "reference"):
            model.decode_path = path
            flops[path] = count_flops(model, opt, batch)  # doubles as the warm-up step
        for _ in range(args.rounds):
            for path in ("fast", "reference"):
                model.decode_path = path
                t = time.perf_counter()
                harness.train_step(model, opt, batch)
                _sync(device)
                times[path].append(time.perf_counter() - t)
                print(f"EDSR-{method.upper()} {path}: {times[path][-1]:.3f} s", flush=True)
        rows.append((method, flops, {k: statistics.median(v) for k, v in times.items()}))
        del model, opt
    peak = max(peak_before, matmul_peak_flops(device, peak_n))

    lines = ["# training-step speed: fast vs reference decoding path", "",
             f"Batch {BATCH}, {PATCH_PX}x{PATCH_PX} LR patches, {QUERIES} queries per patch (x{harness.SYNTHETIC_SCALE:g} "
             f"HR grid), forward + L1 loss + backward + Adam; median of {args.rounds} alternating rounds; "
             f"device {device.type}, {args.threads} torch thread(s); {allocator}.", "",
             f"fp32 matmul peak measured in this run ({peak_n}^3 torch.mm, TF32 off, best of 5, before and after): "
             f"{peak / 1e9:.1f} GFLOP/s", "",
             "| model | path | step (s) | speed-up | GFLOP per step | GFLOP/s | fraction of matmul peak |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for method, flops, med in rows:
        for path in ("reference", "fast"):
            rate = flops[path] / med[path]
            speedup = med["reference"] / med[path]
            lines.append(f"| EDSR-{method.upper()} | {path} | {med[path]:.3f} | {speedup:.2f}x | "
                         f"{flops[path] / 1e9:.1f} | {rate / 1e9:.1f} | {rate / peak:.1%} |")
    lines += ["", "Fraction of peak counts each path's own matmul/conv FLOPs (FlopCounterMode); the fast "
              "path does less arithmetic for the same result, so its speed-up exceeds its FLOP ratio "
              "only where memory traffic (gathering 576-channel latents) dominated.", ""]
    print(run.write(args.out, "\n".join(lines)).read_text())


if __name__ == "__main__":
    main()
