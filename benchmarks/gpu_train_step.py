"""The training step on a GPU at the paper's shapes (batch 16, 48x48 LR patches, 2304 queries):
every method and precision against the card's measured matmul peak, where the time goes,
and the wall time of the `paper` profile; or (--parity) whether bf16 and TF32 training reach
the fp32 PSNR on the demo's data.

Step mode (default). For each method (EDSR encoder; --encoders edsr,rdn adds RDN) it times:
  today      the step as the kit ran it before the acceleration keys: fp32 with torch's
             defaults (TF32 convolutions, fp32 matmuls), foreach Adam, contiguous tensors and
             a host synchronisation every step (the loop read the loss each iteration);
  fp32 / tf32 / bf16, each with and without channels_last: fused Adam, no per-step sync, as
             `ddir-kit train --set precision=... --set channels_last=...` runs it (the kit's
             benchmark/acceleration.py builds the model, the optimizer and the autocast);
  compile    with --compile METHODS: bf16 + channels_last + torch.compile for those methods.
Each step's matmul/conv FLOPs (FlopCounterMode) over its time is given as a fraction of the
peak that a large torch.matmul reaches in the same run at the row's precision. The fastest
setting of EDSR-LIIF and EDSR-DDIR is profiled (torch.profiler: the top kernels, and the
device time by kind). The paper profile's wall time is estimated per method: 1000 epochs of
RealArbiSR's 200 training scenes x6 scales at repeat 20 and batch 16 (200 x 20 / 16 = 250
iterations an epoch, as the official config counts it), i.e. 250,000 steps; with the sampler's
measured rate per worker process, the DataLoader workers that keep the step fed.

Parity mode (--parity --data DIR, e.g. the dataset of `python -m ddir_kit.cli demo --fast`):
trains each of --parity-methods with the quick profile for --epochs at fp32, tf32 and bf16
(equal iterations, same seed) and scores the Test split: the PSNR-Y difference to fp32 should
be within 0.05 dB.

    python benchmarks/gpu_train_step.py [--methods liif,lte,ciaosr,ddir] [--encoders edsr]
        [--compile liif,ddir] [--steps 10] [--rounds 3] [--out benchmarks/results/gpu_train_step.md]
    python benchmarks/gpu_train_step.py --parity --data DIR [--epochs 50] [--parity-methods liif,ddir]
    python benchmarks/gpu_train_step.py --cpu-smoke [--parity --data DIR]   # tiny shapes on a CPU

Without a CUDA device the GPU measurements are refused; --cpu-smoke runs every code path on
tiny shapes instead (its figures say nothing about a GPU).

One file of about 450 lines: the device session that runs it gets a few minutes, so the step
table, the profile, the wall-time estimate and the parity check travel as one script.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import harness

from ddir_kit.benchmark.training_cost import EPOCHS, ITERATIONS_PER_EPOCH

PAPER_SHAPES = (16, 48, 2304)  # batch, LR patch px, queries
SMOKE_SHAPES = (2, 16, 64)
# the smoke run's small EDSR (2 blocks of 16 channels), so every code path runs in about a minute
SMOKE_ENCODER = {"n_resblocks": 2, "n_feats": 16}
PAPER_STEPS = EPOCHS * ITERATIONS_PER_EPOCH["realarbisr"]  # 1000 x 250
PRECISIONS = ("fp32", "tf32", "bf16")
PARITY_DB = 0.05


@dataclass(frozen=True)
class Setting:
    precision: str
    channels_last: bool = False
    compile: bool = False
    today: bool = False

    @property
    def label(self) -> str:
        if self.today:
            return "today (fp32 defaults, foreach, sync)"
        extras = [name for name, on in (("channels_last", self.channels_last), ("compile", self.compile)) if on]
        return " + ".join([self.precision, *extras])


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def _tf32(matmul: bool, conv: bool):
    import torch

    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, conv
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def matmul_peaks(device, n: int, repeats: int = 10) -> dict[str, float]:
    """FLOP/s of an n x n torch.matmul, best of ``repeats``, per precision."""
    import torch

    peaks = {}
    for precision in PRECISIONS:
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        a, b = (torch.rand(n, n, device=device).to(dtype) for _ in range(2))
        with _tf32(precision == "tf32", precision == "tf32"):
            torch.matmul(a, b)
            _sync(device)
            best = math.inf
            for _ in range(repeats):
                t = time.perf_counter()
                torch.matmul(a, b)
                _sync(device)
                best = min(best, time.perf_counter() - t)
        peaks[precision] = 2 * n ** 3 / best
    return peaks


def build(method: str, encoder: str, setting: Setting, device):
    """(model, optimizer, acceleration) for ``setting``, from the same initial weights (the
    small smoke encoder on a CPU)."""
    import torch

    from ddir_kit.benchmark.acceleration import Acceleration, prepare_model
    from ddir_kit.models import make_model

    torch.manual_seed(0)
    args = {"encoder_args": SMOKE_ENCODER} if device.type == "cpu" else {}
    model = make_model(method, encoder, **args).to(device)
    acc = Acceleration(device.type, setting.precision, setting.precision == "tf32", setting.precision == "bf16",
                       setting.channels_last, "foreach" if setting.today or device.type == "cpu" else "fused",
                       setting.compile, 0, False)
    prepare_model(model, acc)
    return model, acc.adam(model.parameters(), 1e-4), acc


def device_settings(setting: Setting, acc):
    """today: torch's defaults (TF32 convolutions, fp32 matmuls, no cuDNN search); else the
    settings `ddir-kit train` applies (acceleration.cuda_settings)."""
    from ddir_kit.benchmark.acceleration import cuda_settings

    return _tf32(False, True) if setting.today else cuda_settings(acc)


def steps_fn(model, opt, batch, setting: Setting, device, steps: int):
    """A callable running ``steps`` training steps and waiting for the device at the end
    (after every step for ``today``, as its loop read the loss each iteration)."""
    def run():
        for _ in range(steps):
            harness.train_step(model, opt, batch, setting.precision == "bf16")
            if setting.today:
                _sync(device)
        _sync(device)
    return run


def count_flops(method, encoder, device, batch) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    model, opt, _ = build(method, encoder, Setting("fp32"), device)
    with FlopCounterMode(display=False) as counter:
        harness.train_step(model, opt, batch)
    return counter.get_total_flops()


@dataclass(frozen=True)
class Row:
    encoder: str
    method: str
    setting: Setting
    step_s: float
    flops: int
    memory_gib: float
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.encoder.upper()}-{self.method.upper()}"


def time_setting(method, encoder, setting, device, batches, flops, steps, rounds, run) -> Row:
    """One setting's median step; a setting that fails (e.g. compile) is a row, not the end."""
    import torch

    model = opt = None
    try:
        model, opt, acc = build(method, encoder, setting, device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        with device_settings(setting, acc):
            fn = steps_fn(model, opt, batches[setting.channels_last], setting, device, steps)
            timing, _ = harness.time_call(fn, repeats=rounds, warmup=1)
        run.note(timing, f"{method} {setting.label}")
        mem = torch.cuda.max_memory_allocated(device) / 2 ** 30 if device.type == "cuda" else math.nan
        row = Row(encoder, method, setting, statistics.median(timing.wall_s) / steps, flops, mem)
    except Exception as e:
        row = Row(encoder, method, setting, math.nan, flops, math.nan, f"{type(e).__name__}: {e}"[:160])
    finally:
        del model, opt
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print(f"{row.name} {setting.label}: {row.step_s * 1e3:.2f} ms" + (f" ({row.error})" if row.error else ""),
          flush=True)
    return row


def step_table(rows: list[Row], peaks: dict) -> list[str]:
    lines = ["| model | setting | step (ms) | vs today | GFLOP a step | TFLOP/s | fraction of the precision's peak "
             "| peak memory (GiB) |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        if r.error:
            lines.append(f"| {r.name} | {r.setting.label} | failed: {r.error} | | | | | |")
            continue
        today = next((x.step_s for x in rows if (x.encoder, x.method) == (r.encoder, r.method) and x.setting.today),
                     math.nan)
        rate = r.flops / r.step_s
        lines.append(f"| {r.name} | {r.setting.label} | {r.step_s * 1e3:.2f} | {today / r.step_s:.2f}x | "
                     f"{r.flops / 1e9:.0f} | {rate / 1e12:.2f} | {rate / peaks[r.setting.precision]:.1%} | "
                     f"{r.memory_gib:.2f} |")
    return lines + ["", "today's fraction is of the fp32 peak although its convolutions ran in TF32 "
                        "(torch's default)."]


def fastest_settings(rows: list[Row]) -> dict:
    """(encoder, method) -> (fastest row other than today, today's row)."""
    out = {}
    for r in rows:
        key = (r.encoder, r.method)
        best, today = out.get(key, (None, None))
        if r.setting.today:
            today = r
        elif not r.error and (best is None or r.step_s < best.step_s):
            best = r
        out[key] = (best, today)
    return {k: v for k, v in out.items() if v[0] is not None}


def wall_time_section(fastest: dict, shapes) -> list[str]:
    lines = ["## the `paper` profile's wall time", "",
             f"{PAPER_STEPS:,} steps (1000 epochs x 250 iterations of batch 16); training steps only (no "
             "evaluation), with the loader keeping up (workers below).", "",
             "| model | fastest setting | step (ms) | paper profile | today's step (ms) | paper profile today |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for best, today in fastest.values():
        t_today = today.step_s if today else math.nan
        lines.append(f"| {best.name} | {best.setting.label} | {best.step_s * 1e3:.2f} | "
                     f"{best.step_s * PAPER_STEPS / 3600:.1f} h | {t_today * 1e3:.2f} | "
                     f"{t_today * PAPER_STEPS / 3600:.1f} h |")
    rates = {"ddir": sampler_rate(True, shapes), "other": sampler_rate(False, shapes)}
    def workers(row: Row) -> int:
        return math.ceil(shapes[0] / row.step_s / rates["ddir" if row.method == "ddir" else "other"])

    need = ", ".join(f"{best.name} {workers(best)}" for best, _ in fastest.values())
    return lines + ["", f"Sampler, one process on this machine's CPU: DDIR {rates['ddir']:,.0f} samples/s, the "
                        f"other methods {rates['other']:,.0f} samples/s. DataLoader workers a rank needs for the "
                        f"fastest step: {need} (num_workers=auto gives up to 8)."]


def _categories(events, attr: str) -> dict[str, float]:
    """Self time (us) of profiler events by kind of work, from their names."""
    import re

    kinds = (("optimizer (Adam)", r"adam|multi_tensor|foreach"),
             ("gather / index (query lookups)", r"index|gather|scatter"),
             ("matmul / convolution",
              r"gemm|cutlass|xmma|cudnn|conv|wgrad|dgrad|sm\d\d_|\bmm\b|addmm|bmm|matmul|linear"),
             ("elementwise / reductions",
              r"elementwise|vectorized|reduce|unrolled|relu|add|mul|copy|fill|sum|mean|abs"))
    out = {}
    for e in events:
        t = float(getattr(e, attr, 0.0) or 0.0)
        if t <= 0:
            continue
        kind = next((k for k, pat in kinds if re.search(pat, e.key.lower())), "other")
        out[kind] = out.get(kind, 0.0) + t
    return out


def profile_table(method, encoder, setting, device, batch, steps: int = 5) -> list[str]:
    import torch
    from torch.profiler import ProfilerActivity, profile

    model, opt, acc = build(method, encoder, setting, device)
    run = steps_fn(model, opt, batch, setting, device, steps)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with device_settings(setting, acc):
        run()  # warm-up (and compile)
        t = time.perf_counter()
        with profile(activities=acts) as prof:
            run()
        wall_us = (time.perf_counter() - t) * 1e6
    events = prof.key_averages()
    attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    if device.type == "cuda" and not hasattr(events[0], attr):
        attr = "self_cuda_time_total"
    kinds = _categories(events, attr)
    busy = sum(kinds.values())
    lines = [f"### EDSR-{method.upper()}, {setting.label}: {steps} steps, {wall_us / steps / 1e3:.2f} ms a step", "",
             f"{'Device' if device.type == 'cuda' else 'CPU'} time by kind of work ({attr}):", "",
             "| kind | ms a step | share of the step's wall time |", "| --- | ---: | ---: |"]
    for kind, us in sorted(kinds.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {kind} | {us / steps / 1e3:.2f} | {us / wall_us:.1%} |")
    if device.type == "cuda":
        lines.append(f"| device idle (launch gaps, host work) | {max(0.0, wall_us - busy) / steps / 1e3:.2f} | "
                     f"{max(0.0, 1 - busy / wall_us):.1%} |")
    lines += ["", "```", events.table(sort_by=attr, row_limit=15), "```", ""]
    del model, opt
    return lines


def sampler_rate(deform: bool, shapes, seconds: float = 1.0) -> float:
    """Training samples a second that one process draws at ``shapes`` (synthetic 8-bit images
    at the paper's six scales; DDIR's deformation target if ``deform``)."""
    import numpy as np

    from ddir_kit.benchmark.sampler import SamplerConfig, TrainPatches

    rng = np.random.default_rng(0)
    lr_px = 128
    cache = {Fraction(s): [(rng.integers(0, 256, (lr_px, lr_px, 3), dtype=np.uint8),
                            rng.integers(0, 256, (int(lr_px * s), int(lr_px * s), 3), dtype=np.uint8))]
             for s in (1.5, 2, 2.5, 3, 3.5, 4)}
    patches = TrainPatches(cache, SamplerConfig(shapes[1], shapes[2], 20, True, deform_target=deform), 0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        patches[(0, n % patches.epoch_length)]
        n += 1
    return n / (time.perf_counter() - t0)


def step_mode(args, run, device) -> str:
    import torch

    shapes = SMOKE_SHAPES if args.cpu_smoke else PAPER_SHAPES
    steps, rounds = (1, 1) if args.cpu_smoke else (args.steps, args.rounds)
    batch = harness.synthetic_train_batch(torch.Generator().manual_seed(0), device, *shapes)
    batches = {False: batch, True: (batch[0].contiguous(memory_format=torch.channels_last),) + batch[1:]}
    peak_n = 512 if args.cpu_smoke else 8192
    peaks = matmul_peaks(device, peak_n)
    shape_text = (f"batch {shapes[0]}, {shapes[1]}x{shapes[1]} LR patches, {shapes[2]} queries "
                  f"(x{harness.SYNTHETIC_SCALE:g} HR grid)")
    if args.cpu_smoke:
        shape_text += ", small EDSR (2 blocks, 16 channels)"
    head = ["# training step on the GPU: precision, memory format, Adam, compile" if not args.cpu_smoke else
            "# training step, CPU SMOKE RUN (tiny shapes; no GPU figures)", "",
            f"{shape_text}; forward + L1 loss + backward + Adam; median of {rounds} timed calls of {steps} steps "
            f"after one untimed call; device {device.type}. Settings: see the script's docstring.", "",
            f"Matmul peak measured in this run (torch.matmul, n = {peak_n}): " +
            ", ".join(f"{p} {peaks[p] / 1e12:.1f} TFLOP/s" for p in PRECISIONS) + ".", ""]
    rows, flops = [], {}
    pairs = [(e, m) for e in args.encoders.split(",") for m in args.methods.split(",")]
    eager = [Setting("fp32", today=True)] + [Setting(p, cl) for p in PRECISIONS for cl in (False, True)]
    for encoder, method in pairs:
        flops[encoder, method] = count_flops(method, encoder, device, batch)
        for setting in eager:
            rows.append(time_setting(method, encoder, setting, device, batches, flops[encoder, method], steps,
                                     rounds, run))
        run.write(args.out, "\n".join(head + step_table(rows, peaks)))  # partial results survive a timeout
    compiled = set(filter(None, args.compile.split(",")))
    for encoder, method in pairs:  # last: compiling takes the longest
        if method in compiled:
            rows.append(time_setting(method, encoder, Setting("bf16", True, compile=True), device, batches,
                                     flops[encoder, method], steps, rounds, run))
            run.write(args.out, "\n".join(head + step_table(rows, peaks)))
    fastest = fastest_settings(rows)
    lines = head + step_table(rows, peaks) + [""] + wall_time_section(fastest, shapes)
    lines += ["", "## where the time goes (torch.profiler)", ""]
    for (encoder, method), (best, _) in fastest.items():
        if method in ("liif", "ddir") and encoder == "edsr":
            lines += profile_table(method, encoder, best.setting, device, batches[best.setting.channels_last])
            run.write(args.out, "\n".join(lines))
    return "\n".join(lines)


def parity_mode(args, run, device) -> str:
    import numpy as np

    from ddir_kit.benchmark.datasets import open_dataset
    from ddir_kit.benchmark.evaluation import evaluate_model
    from ddir_kit.benchmark.profiles import load_profile
    from ddir_kit.benchmark.training import train_method
    from ddir_kit.models import load_checkpoint

    if args.data is None:
        raise SystemExit("--parity needs --data DIR: a dataset such as the one `python -m ddir_kit.cli demo --fast` "
                         "writes to demo-out/dataset")
    ds = open_dataset(args.data)
    epochs = 1 if args.cpu_smoke else args.epochs
    base = {"epochs": epochs, "learning_rate_milestones_epochs": [max(1, round(0.8 * epochs))], "num_workers": "auto"}
    if args.cpu_smoke:
        base.update(lr_patch_px=16, queries=64, batch=2, repeat=2, num_workers=0)
    work = Path(args.work or tempfile.mkdtemp(prefix="gpu_train_step_parity_"))
    rows = []
    for method in args.parity_methods.split(","):
        for precision in PRECISIONS:
            prof = load_profile("quick", {**base, "precision": precision})
            t = time.perf_counter()
            res = train_method(method, ds, work / f"{method}-{precision}", prof, device=str(device))
            train_s = time.perf_counter() - t
            model, _ = load_checkpoint(res.model_path, map_location=device)
            scores = evaluate_model(model, ds, None, "ddir", str(device), prof.eval_max_memory_bytes)
            rows.append((method, precision, res.iters, train_s, float(np.mean([s.psnr_y_db for s in scores])),
                         len(scores), res.notes))
            print(f"{method} {precision}: {res.iters} iterations, {train_s:.0f} s, PSNR-Y {rows[-1][4]:.3f} dB",
                  flush=True)
    smoke = " (CPU SMOKE RUN: no GPU figures)" if args.cpu_smoke else ""
    lines = ["# bf16 and TF32 training against fp32: PSNR parity" + smoke, "",
             f"Dataset {ds.root}; the quick profile for {epochs} epoch(s) (learning rate halved after epoch "
             f"{base['learning_rate_milestones_epochs'][0]}), "
             f"same seed and iterations for every precision; device {device.type}; fp32 with TF32 off. PSNR-Y: the "
             f"mean over every Test image and scale (ddir protocol). Target: within {PARITY_DB} dB of fp32.", "",
             "| method | precision | iterations | train (s) | PSNR-Y (dB) | minus fp32 (dB) | within target |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for method, precision, iters, train_s, psnr, n, notes in rows:
        ref = next(r[4] for r in rows if r[0] == method and r[1] == "fp32")
        diff = psnr - ref
        verdict = "-" if precision == "fp32" else ("yes" if abs(diff) <= PARITY_DB else "NO")
        lines.append(f"| {method} | {precision} | {iters} | {train_s:.0f} | {psnr:.3f} | {diff:+.3f} | {verdict} |")
    notes = sorted({note for row in rows for note in row[6]})
    lines += ["", f"{rows[0][5] if rows else 0} test images x scales scored per run; runs in {work}."]
    lines += [f"Note: {n}" for n in notes] + [""]
    return "\n".join(lines)


def main() -> None:
    ap = harness.parser(__file__, __doc__)
    ap.add_argument("--methods", default="liif,lte,ciaosr,ddir")
    ap.add_argument("--encoders", default="edsr", help="edsr, or edsr,rdn")
    ap.add_argument("--compile", default="", metavar="METHODS", help="also time bf16 + channels_last + compile")
    ap.add_argument("--steps", type=int, default=10, help="steps a timed call")
    ap.add_argument("--rounds", type=int, default=3, help="timed calls a setting")
    ap.add_argument("--parity", action="store_true", help="bf16/TF32 against fp32 PSNR on --data")
    ap.add_argument("--data", type=Path, default=None, help="the dataset for --parity")
    ap.add_argument("--epochs", type=int, default=50, help="training length for --parity")
    ap.add_argument("--parity-methods", default="liif,ddir")
    ap.add_argument("--work", type=Path, default=None, help="folder for the --parity runs (default: a temp folder)")
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny shapes on the CPU: the code paths, no GPU figures")
    args = ap.parse_args()
    if args.out == harness.RESULTS_DIR / "gpu_train_step.md":  # the default: one file per mode
        args.out = harness.RESULTS_DIR / ("gpu_train_step" + ("_parity" if args.parity else "")
                                          + ("_cpu_smoke" if args.cpu_smoke else "") + ".md")
    import torch

    if not args.cpu_smoke and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: the GPU figures need one (pass --cpu-smoke to run the code paths on tiny "
                         "shapes on this CPU)")
    run = harness.Run()
    device = torch.device("cpu" if args.cpu_smoke else "cuda")
    if args.cpu_smoke:
        torch.set_num_threads(1)
    text = parity_mode(args, run, device) if args.parity else step_mode(args, run, device)
    print(run.write(args.out, text).read_text())


if __name__ == "__main__":
    main()
