"""What `bench --profile quick` on City100 x2.9 costs on this machine, per method: seconds per
training iteration (quick recipe: batch 4, 40 px LR crops at x2.9, 1024 queries) and seconds per
full test image (420x300 -> 1218x870), measured side by side in one run, and the bench wall
time they imply (the profile's iterations + 3 test images per method). Writes
benchmarks/results/city100_cpu_cost.md (or --out).

    python benchmarks/city100_cpu_cost.py [--iters 3] [--methods liif,lte,ddir,ciaosr] [--city100 DIR] [--out FILE]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import harness
from ddir_kit.benchmark.datasets import load_cache, load_pair, open_dataset
from ddir_kit.benchmark.profiles import load_profile
from ddir_kit.benchmark.sampler import BatchStream, SamplerConfig, TrainPatches
from ddir_kit.dataset.city100 import build_city100
from ddir_kit.models import make_model, upscale


def main() -> None:
    ap = harness.parser(__file__, __doc__, city100=True)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--methods", default="liif,lte,ddir,ciaosr")
    args = ap.parse_args()
    city100 = harness.city100_dir(args.city100)
    prof = load_profile("quick")
    torch.set_num_threads(prof.torch_threads)
    data = build_city100(city100, Path(tempfile.mkdtemp()) / "c100")
    ds = open_dataset(data)
    cache = load_cache(ds, "Train")
    lr_img, hr_img = load_pair(next(iter(ds.test.values()))[0])
    lr_t = torch.from_numpy(np.ascontiguousarray(lr_img.transpose(2, 0, 1)))
    run = harness.Run()
    rows = []
    for method in args.methods.split(","):
        torch.manual_seed(0)
        model = make_model(method, "edsr")
        patches = TrainPatches(cache, SamplerConfig(prof.lr_patch_px, prof.queries, prof.repeat, True,
                                                    model.uses_deform_target), prof.seed)
        per_epoch = patches.epoch_length // prof.batch
        stream = iter(BatchStream(patches.epoch_length, prof.batch, 0, args.iters + 1))
        opt = torch.optim.Adam(model.parameters(), lr=2e-4)
        times = []
        for _ in range(args.iters + 1):
            keys = next(stream)
            batch = torch.utils.data.default_collate([patches[k] for k in keys])
            t = time.perf_counter()
            out = model(batch["lr"], batch["coord"], batch["cell"])
            loss = model.loss(out, batch["rgb"], batch.get("deform"))
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t)
        s_iter = float(np.median(times[1:]))
        model.eval()
        t = time.perf_counter()
        with torch.no_grad():
            upscale(model, lr_t, out_size=hr_img.shape[:2], max_memory_bytes=prof.eval_max_memory_bytes)
        s_img = time.perf_counter() - t
        total_iters = per_epoch * prof.epochs
        rows.append((method, s_iter, s_img, total_iters, total_iters * s_iter + 3 * s_img, run.load_now(method)))
        print(f"{method}: {s_iter:.2f} s/iteration, {s_img:.1f} s/test image, "
              f"implied bench share {rows[-1][4] / 60:.1f} min", flush=True)
    lines = ["# Cost of `bench --profile quick` on City100 x2.9, per method (CPU)", "",
             f"torch with the profile's {prof.torch_threads} threads; on a loaded machine the figures are "
             "pessimistic.", "",
             f"| method | s / training iteration (median of {args.iters}) | s / full test image | iterations "
             "| implied minutes | load avg after |",
             "|---|---:|---:|---:|---:|---:|"]
    for m, si, sm, n, tot, load in rows:
        lines.append(f"| edsr-{m} | {si:.2f} | {sm:.1f} | {n} | {tot / 60:.1f} | {load} |")
    lines += ["", f"Implied total for the {len(rows)} methods: {sum(r[4] for r in rows) / 60:.1f} min "
              "(bicubic adds seconds).", ""]
    print(run.write(args.out, "\n".join(lines)).read_text())


if __name__ == "__main__":
    main()
