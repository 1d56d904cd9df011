"""The dataset card against the virtual camera's truth: per scale, the card's gain, offset and
relative blur against what the camera was set to do, and what each term of the truth is worth.

Datasets, each built from scratch in --work with the kit's own commands:

- demo: `ddir-kit demo --until dataset` (6 scenes x 11 scales, a DNG + JPEG card; the photos are
  developed from the DNG files, so AHD demosaics them);
- demo-fast: `ddir-kit demo --fast --until dataset` (a JPEG card, no Bayer sensor);
- scenes-png / scenes-bayer: `ddir-kit capture simulate scenes` (4 scenes, x2 x3 x4, 480x320,
  PNG; the second with --bayer, whose photos OpenCV demosaics), then `register --radial
  --perspective`, `crop` and `card --aligned`.

Each dataset is compared with its truth (virtual_camera/card_truth.py compare_with_truth) in full
and without one term at a time: the demosaic's blur the camera measured per shot; the area
average's weight variance (replaced by the continuous box, 1/12 LR px^2); the LR's sampling of
the photometric prediction (replaced by a pixel-wise prediction). The tolerances are the
comparison's own: gain 0.02, offset 0.01, relative blur 0.1 LR px (per-scale means).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from harness import REPO, Run, parser

from ddir_kit.virtual_camera import card_truth

KIT = [sys.executable, "-m", "ddir_kit.cli"]


def _kit(*args: str) -> float:
    t = time.monotonic()
    subprocess.run([*KIT, *args], check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return time.monotonic() - t


def build_demo(work: Path, fast: bool) -> tuple[Path, Path, Path, float]:
    out = work / ("demo-fast" if fast else "demo")
    seconds = _kit("demo", "--out", str(out), "--until", "dataset", *(["--fast"] if fast else []))
    return out / "dataset_card", out / "card_truth.json", out / "captures", seconds


def build_scenes(work: Path, bayer: bool) -> tuple[Path, Path, None, float]:
    out = work / ("scenes-bayer" if bayer else "scenes-png")
    caps, aligned, dataset, card = (out / n for n in ("captures", "aligned", "dataset", "card"))
    seconds = _kit("capture", "simulate", "scenes", str(caps), "--scenes", "4", "--scales", "2,3,4",
                   "--sensor", "480x320", *(["--bayer"] if bayer else []))
    seconds += _kit("register", str(caps), "--out", str(aligned), "--radial", "--perspective")
    seconds += _kit("crop", str(aligned), "--out", str(dataset))
    seconds += _kit("card", str(dataset), "--aligned", str(aligned), "--out", str(card))
    return card, caps, None, seconds


@contextmanager
def _without(term: str):
    """The truth with one of its terms left out (for the ablation rows)."""
    saved = {name: getattr(card_truth, name) for name in
             ("_demosaic_px2", "area_weight_variance_hr_px2", "_predicted_lr_photo")}
    if term == "demosaic":
        card_truth._demosaic_px2 = lambda shot, bayer: 0.0
    elif term == "area weights":
        card_truth.area_weight_variance_hr_px2 = lambda s: float(s) ** 2 / 12.0  # the continuous box
    elif term == "LR sampling":
        card_truth._predicted_lr_photo = lambda hr, origin, h, l, lens, s: card_truth._predicted_lr_values(
            hr, origin, h, l, lens)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(card_truth, name, value)


def _largest(cmp) -> tuple[float, float, float]:
    blur = [s.blur_error for s in cmp.scales if s.blur_error is not None]
    return (max(s.gain_error for s in cmp.scales), max(s.offset_error for s in cmp.scales), max(blur, default=0.0))


def main() -> None:
    ap = parser(__file__, __doc__)
    ap.add_argument("--work", type=Path, default=None, help="where to build the datasets (default: a temporary folder)")
    args = ap.parse_args()
    run = Run()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        builds = {"demo": lambda: build_demo(work, False), "demo-fast": lambda: build_demo(work, True),
                  "scenes-png": lambda: build_scenes(work, False), "scenes-bayer": lambda: build_scenes(work, True)}
        per_scale, summary = [], []
        for name, build in builds.items():
            card, truth, captures, seconds = build()
            load = run.load_now()
            t = time.monotonic()
            full = card_truth.compare_with_truth(card, truth, captures)
            compare_s = time.monotonic() - t
            ablations = {}
            for term in ("demosaic", "area weights", "LR sampling"):
                with _without(term):
                    ablations[term] = _largest(card_truth.compare_with_truth(card, truth, captures))
            g, o, b = _largest(full)
            summary.append(f"| {name} | {len(full.scales)} | {g:.4f} | {o:.4f} | {b:.3f} | "
                           + " | ".join(f"{a[0]:.4f} / {a[1]:.4f} / {a[2]:.3f}" for a in ablations.values())
                           + f" | {'yes' if full.demosaic_in_truth else 'no'} | {seconds:.0f} + {compare_s:.1f} | {load} |")
            for s in full.scales:
                blur = "-" if s.blur_error is None else f"{s.blur_card_lr_px:.3f} / {s.blur_truth_lr_px:.3f} ({s.blur_error:.3f})"
                per_scale.append(f"| {name} | x{s.scale:g} | {s.pairs} | {s.gain_error:.4f} | {s.offset_error:.4f} | {blur} |")
            print(summary[-1], flush=True)
    text = "\n".join([
        "# The dataset card against the virtual camera's truth", "",
        "Largest per-scale error, card against truth (gain, offset: largest channel; blur: LR px); then the same "
        "with one term of the truth left out (gain / offset / blur). Tolerances: gain 0.02, offset 0.01, blur 0.1.", "",
        "| dataset | scales | gain | offset | blur | without demosaic | without area weights | without LR sampling | "
        "demosaic in truth | build + compare (s) | load |",
        "|---|---:|---:|---:|---:|---|---|---|---|---|---|", *summary, "",
        "Per scale, with the full truth:", "", "| dataset | scale | pairs | gain error | offset error | blur card / truth (error) |",
        "|---|---|---:|---:|---:|---|", *per_scale, ""])
    print(text)
    run.write(args.out, text)


if __name__ == "__main__":
    main()
