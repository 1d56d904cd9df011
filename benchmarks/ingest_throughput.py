"""Throughput of `ddir-kit capture ingest` on a virtual camera card.

A card of N scenes (default 30) shot by the virtual camera at 1200x800: per scene one HR shot
at 105 mm and one LR shot per scale (default 6: x1.5 ... x4) at the lens's true focal length
for that scale (EXIF rounded to 0.01 mm), written both as a JPEG card and as a DNG card (the
same rendered shots). Rendering is not timed. Timed: a fresh ingest of each card with
--jobs 2 and, side by side on the same loaded machine, --jobs 1, plus a rerun that skips
every scene (manifest check only).

    .venv/bin/python benchmarks/ingest_throughput.py [--scenes 30] [--work /tmp/ddir-ingest-bench]

Prints a table and writes benchmarks/results/ingest_throughput.md with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ddir_kit.capture.ingest import ingest_card  # noqa: E402
from ddir_kit.capture.lens_model import ZoomLens, true_focal_for_scale  # noqa: E402
from ddir_kit.capture.scenes import load_texture, packaged_textures  # noqa: E402
from ddir_kit.capture.virtual_camera import CameraBody, ShotSettings, save_shot, shoot  # noqa: E402

REFERENCE_MM = 105.0
SCALES = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
DISTANCE_MM = 4000.0
TEXTURE_WIDTH_MM = 1800.0


def build_cards(work: Path, n_scenes: int, scales=SCALES, seed: int = 0) -> tuple[Path, Path, Path]:
    """Render the shots once; write them as work/card_jpg, work/card_dng and calibration.json."""
    jpg, dng, calib = work / "card_jpg", work / "card_dng", work / "calibration.json"
    done = work / "cards.done.json"
    spec = dict(n_scenes=n_scenes, scales=list(scales), seed=seed, size=[1200, 800])
    if done.is_file() and json.loads(done.read_text()) == spec:
        return jpg, dng, calib
    shutil.rmtree(jpg, ignore_errors=True)
    shutil.rmtree(dng, ignore_errors=True)
    lens, body = ZoomLens(), CameraBody(width_px=1200, height_px=800, bayer=True)
    focals = {s: round(float(true_focal_for_scale(lens, s, REFERENCE_MM)), 2) for s in scales}
    calib.write_text(json.dumps({"reference_focal_mm": REFERENCE_MM,
                                 "targets": [{"scale": s, "focal_mm": f} for s, f in focals.items()]}))
    textures = [load_texture(p, TEXTURE_WIDTH_MM) for p in packaged_textures()]
    t = datetime(2024, 6, 1, 13, 0, 0)
    n = 0
    for k in range(n_scenes):
        texture = textures[k % len(textures)]
        for focal in [REFERENCE_MM] + [focals[s] for s in scales]:
            rng = np.random.default_rng([seed, k, n])
            settings = ShotSettings.random(rng, lens, body, focal, t)
            shot = shoot(lens, body, settings, texture, DISTANCE_MM)
            n += 1
            save_shot(jpg / f"IMG_{n:04d}.JPG", shot)
            save_shot(dng / f"IMG_{n:04d}.DNG", shot)
            t += timedelta(seconds=8)
        t += timedelta(minutes=5)
        print(f"rendered scene {k + 1}/{n_scenes}", flush=True)
    done.write_text(json.dumps(spec))
    return jpg, dng, calib


def timed_ingest(card: Path, calib: Path, out: Path, jobs: int) -> tuple[float, object]:
    start = time.perf_counter()
    report = ingest_card(card, calib, out, jobs=jobs)
    return time.perf_counter() - start, report


def machine() -> str:
    import cv2
    import torch

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} cores, load average {load:.1f} at start; Python {platform.python_version()}, "
            f"torch {torch.__version__}, OpenCV {cv2.__version__}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=30)
    ap.add_argument("--work", type=Path, default=Path("/tmp/ddir-ingest-bench"))
    ap.add_argument("--formats", default="jpg,dng")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cards = build_cards(args.work, args.scenes)
    render_s = time.perf_counter() - t0
    cards = {"jpg": cards[0], "dng": cards[1]}
    calib = args.work / "calibration.json"
    rows = []
    for fmt in args.formats.split(","):
        card = cards[fmt]
        n_files = sum(1 for _ in card.iterdir())
        for jobs in (2, 1):
            out = args.work / f"out_{fmt}_j{jobs}"
            shutil.rmtree(out, ignore_errors=True)
            seconds, report = timed_ingest(card, calib, out, jobs)
            written = len(report.scenes_with("written"))
            rows.append((fmt, n_files, jobs, "fresh", written, seconds))
            print(f"{fmt} jobs={jobs} fresh: {written} scenes in {seconds:.1f} s", flush=True)
        seconds, report = timed_ingest(card, calib, args.work / f"out_{fmt}_j2", 2)
        rows.append((fmt, n_files, 2, "rerun (all skipped)", len(report.scenes_with("up_to_date")), seconds))
        # both fresh outputs must agree byte for byte (parallelism changes nothing)
        a, b = args.work / f"out_{fmt}_j2", args.work / f"out_{fmt}_j1"
        same = all((a / p.relative_to(b)).read_bytes() == p.read_bytes() for p in b.rglob("*") if p.is_file())
        print(f"{fmt}: jobs 2 and jobs 1 outputs identical: {same}", flush=True)

    header = "| card | files | jobs | run | scenes | seconds | scenes/s |\n| --- | ---: | ---: | --- | ---: | ---: | ---: |\n"
    table = header + "".join(f"| {fmt} | {n} | {j} | {kind} | {s} | {sec:.1f} | {s / sec:.2f} |\n"
                             for fmt, n, j, kind, s, sec in rows)
    speedups = []
    for fmt in args.formats.split(","):
        j2 = next(r[5] for r in rows if r[0] == fmt and r[2] == 2 and r[3] == "fresh")
        j1 = next(r[5] for r in rows if r[0] == fmt and r[2] == 1)
        speedups.append(f"{fmt}: jobs 1 / jobs 2 = {j1 / j2:.2f}x")
    text = (f"# capture ingest throughput\n\n{args.scenes} virtual-camera scenes, 1200x800, HR + {len(SCALES)} LR "
            f"shots each (x{', x'.join(f'{s:g}' for s in SCALES)}); rendering the cards took {render_s:.0f} s "
            f"(not timed below, 0 when cached).\n\nMachine: {machine()}. The machine is shared with other "
            f"agents, so absolute times vary; the jobs 1 and jobs 2 rows ran back to back.\n\n{table}\n"
            f"Speed-up from the process pool: {'; '.join(speedups)}.\nGoal: 30 scenes with --jobs 2 under 60 s.\n")
    print(text)
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "ingest_throughput.md").write_text(text)


if __name__ == "__main__":
    main()
