"""Speed of the virtual zoom camera: one shot at 1200x800 (goal < 2 s) and 5760x3840 (goal < 30 s).

Per sensor size, timed separately (best of --repeats, after one warm-up for the small sensor):
  - scene shot: the postcard-wall scene at 105 mm (HR) and at the true focal length of x4
    (the widest LR view: most photos on the wall, strongest prefiltering), rendering only
    (geometry, antialiased sampling, PSF, vignetting, noise, tone curve) = ``shoot``;
  - board shot: the checkerboard at 50 mm, rendering only;
  - the same scene shot with a Bayer sensor (mosaic + OpenCV demosaic);
  - writing it: 8-bit PNG, JPEG, 12-bit DNG.
The wall itself (loading the photos) is built once per size and not timed.
The machine is shared, so the table also gives the ratio full frame / small sensor beside the
pixel ratio (24x): a ratio near it means the cost is per pixel, not overhead. A time taken
while the load average exceeded the cores is marked LOADED.

    python benchmarks/virtual_camera_speed.py [--repeats 3] [--skip-full-frame] [--out FILE]

Prints a table and writes benchmarks/results/virtual_camera_speed.md (or --out).
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np

import harness
from ddir_kit.virtual_camera.lens_model import ZoomLens, true_focal_for_scale
from ddir_kit.virtual_camera.scenes import Checkerboard, packaged_textures
from ddir_kit.virtual_camera.simulate import sweep_distance_mm
from ddir_kit.virtual_camera.simulate_scenes import SCENE_DISTANCE_MM, _plan_scene, _scene_wall
from ddir_kit.virtual_camera.camera import CameraBody, ShotSettings, save_shot, shoot, shot_geometry

GOALS_S = {(1200, 800): 2.0, (5760, 3840): 30.0}


def bench_size(size: tuple[int, int], repeats: int) -> dict[str, harness.Timing]:
    lens = ZoomLens()
    body = CameraBody(width_px=size[0], height_px=size[1])
    bayer_body = CameraBody(width_px=size[0], height_px=size[1], bayer=True)
    x4 = true_focal_for_scale(lens, 4.0)
    textures = packaged_textures()
    scene = _plan_scene(1, 0, textures, lens, body, 105.0, x4)
    wall = _scene_wall(scene, textures, 0)
    rng = np.random.default_rng(0)
    when = datetime(2024, 5, 4, 10, 0, 0)
    hr = ShotSettings.random(rng, lens, body, 105.0, when)
    lr = ShotSettings.random(rng, lens, body, x4, when)
    board = Checkerboard()
    distance = sweep_distance_mm(lens, body, board, 105.0, 0.65)
    bs = ShotSettings.random(rng, lens, body, 50.0, when)
    board_tex = board.texture(distance / shot_geometry(lens, body, bs).focal_px)
    if size == (1200, 800):
        shoot(lens, body, hr, wall, SCENE_DISTANCE_MM)  # warm-up: imports, caches, thread pools
    def timed(fn):
        return harness.time_call(fn, repeats)

    row = {}
    row["scene HR 105 mm"], shot = timed(lambda: shoot(lens, body, hr, wall, SCENE_DISTANCE_MM))
    row["scene LR x4"], _ = timed(lambda: shoot(lens, body, lr, wall, SCENE_DISTANCE_MM))
    row["board 50 mm"], _ = timed(lambda: shoot(lens, body, bs, board_tex, distance))
    row["scene HR, Bayer"], _ = timed(lambda: shoot(lens, bayer_body, hr, wall, SCENE_DISTANCE_MM))
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("png", "jpg", "dng"):
            row[f"write {fmt}"], _ = timed(lambda: save_shot(Path(tmp) / f"shot.{fmt}", shot))
    return row


def cell(t: harness.Timing) -> str:
    """Best wall s (its CPU s), LOADED if the load exceeded the cores around it."""
    return f"{t.best[0]:.2f} ({t.best[1]:.2f})" + (" LOADED" if t.loaded else "")


def main() -> None:
    ap = harness.parser(__file__, __doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-full-frame", action="store_true")
    args = ap.parse_args()
    run = harness.Run()
    import cv2

    cv2.setNumThreads(2)
    sizes = [(1200, 800)] + ([] if args.skip_full_frame else [(5760, 3840)])
    rows = {}
    for size in sizes:
        rows[size] = bench_size(size, args.repeats if size == (1200, 800) else 1)
        for task, timing in rows[size].items():
            run.note(timing, f"{size[0]}x{size[1]} {task}")
    tasks = list(rows[sizes[0]])
    cols = ["task"] + [f"{w}x{h} wall (CPU) s" for w, h in sizes] + (["wall ratio"] if len(sizes) > 1 else [])
    lines = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    for task in tasks:
        cells = [cell(rows[s][task]) for s in sizes]
        ratio = [f"{rows[sizes[1]][task].best[0] / rows[sizes[0]][task].best[0]:.1f}x"] if len(sizes) > 1 else []
        lines.append("| " + " | ".join([task, *cells, *ratio]) + " |")
    verdict = []
    for size in sizes:
        worst = max(rows[size][t].best[0] for t in tasks if not t.startswith("write"))
        goal = GOALS_S[size]
        verdict.append(f"- {size[0]}x{size[1]}: slowest shot renders in {worst:.2f} s (goal < {goal:g} s): "
                       f"{'met' if worst < goal else 'NOT met'}")
    text = "\n".join([
        "# Virtual camera speed", "",
        f"Repeats: best of {args.repeats} at 1200x800, 1 at full frame; OpenCV 2 threads.",
        "Rendering = `shoot` (geometry, antialiased sampling, PSF, vignetting, noise, demosaic if Bayer, "
        "tone curve); writing timed separately. Pixel ratio full frame / small: 23.0x.", "",
        *lines, "", *verdict, ""])
    print(run.write(args.out, text).read_text())


if __name__ == "__main__":
    main()
