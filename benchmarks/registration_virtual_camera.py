"""Registration accuracy on the virtual zoom camera, over several scenes and every scale.

Renders N scenes (`ddir-kit capture simulate scenes`, tripod and photometric disturbances on,
lens distortion off unless --distortion) at x1.5 ... x4.0 and registers every pair with the
default settings (affine) and with --perspective (homography). For each pair: the largest
corner error of the LR grid, in LR px, against truth.json's least-squares affine and against
its dense truth grid (the exact map, which includes the perspective of the small pan/tilt
between shots). Timings are not the point here (see registration_vs_ecc.py).

    python benchmarks/registration_virtual_camera.py [--scenes 4] [--seed 11] [--distortion] [--out FILE]

Prints a table and writes benchmarks/results/registration_virtual_camera.md (or --out).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from click.testing import CliRunner

import harness
from ddir_kit.virtual_camera.truth import LrShotTruth, read_scene_truth
from ddir_kit.virtual_camera.truth_maps import grid_lr_to_hr
from ddir_kit.cli import cli
from ddir_kit.registration.pair_map import PairMap, apply_affine, grid_to_hr_affine
from ddir_kit.registration.pair_record import PairRecord
from ddir_kit.registration.register_captures import register_captures
from ddir_kit.registration.register_pair import RegistrationConfig

SCALES = "1.5,2,2.5,3,3.5,4"


def corner_errors(res, lr_truth: LrShotTruth, grid: np.ndarray) -> tuple[float, float]:
    s = float(res.scale)
    x0, y0, _, _ = res.hr_crop
    wl, hl = res.lr_size
    g = np.array([[0, 0], [wl - 1, 0], [0, hl - 1], [wl - 1, hl - 1]], float)
    hr = apply_affine(grid_to_hr_affine(s, (x0, y0)), g)
    lr = res.pair_map.hr_to_lr(hr)
    affine = np.linalg.norm(lr - PairMap(lr_truth.affine).hr_to_lr(hr), axis=1).max()
    exact = (np.linalg.norm(grid_lr_to_hr(grid, lr_truth.grid.step_px, lr) - hr, axis=1) / s).max()
    return float(affine), float(exact)


def main() -> None:
    ap = harness.parser(__file__, __doc__)
    ap.add_argument("--scenes", type=int, default=4)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--distortion", action="store_true", help="lens distortion on (then --radial is added)")
    args = ap.parse_args()
    run = harness.Run()
    work = Path(tempfile.mkdtemp(prefix="ddir-reg-vc-"))
    try:
        r = CliRunner().invoke(cli, ["capture", "simulate", "scenes", str(work), "--scenes", str(args.scenes),
                                     "--scales", SCALES, "--seed", str(args.seed),
                                     "--distortion" if args.distortion else "--no-distortion"])
        if r.exit_code != 0:
            raise SystemExit(r.output)
        configs = {"affine (default)": RegistrationConfig(radial=args.distortion),
                   "perspective": RegistrationConfig(radial=args.distortion, perspective=True)}
        rows = []
        # the batch command, as a user runs it (with the radial term, pooled per scale)
        for i, (name, cfg) in enumerate(configs.items()):
            register_captures(work, work.parent / f"{work.name}-aligned-{i}", jobs=2, config=cfg)
        for scene in sorted(p for p in work.iterdir() if p.is_dir()):
            for lr_truth in read_scene_truth(scene).lr:
                grid = lr_truth.grid.load(scene)
                tag = lr_truth.file[len("lr_"):].rsplit(".", 1)[0]
                for i, name in enumerate(configs):
                    rec = PairRecord.read(work.parent / f"{work.name}-aligned-{i}" / scene.name / tag / "pair.json")
                    ea, eg = corner_errors(rec, lr_truth, grid)
                    rows.append((scene.name, lr_truth.scale, name, rec.status, ea, eg,
                                 lr_truth.max_deviation_px / lr_truth.scale))
                    print(rows[-1], flush=True)
    finally:
        for path in [work, *work.parent.glob(f"{work.name}-aligned-*")]:
            shutil.rmtree(path, ignore_errors=True)
    lines = ["# Registration accuracy on the virtual camera", "",
             f"{args.scenes} scenes (seed {args.seed}), scales x1.5 ... x4.0, 1200x800 sensor, tripod and photometric "
             f"disturbances on, lens distortion {'on (radial term fitted, pooled per scale)' if args.distortion else 'off'}; "
             "`register` on the capture folder. Corner "
             "error: the largest of the four LR-grid corners, LR px. 'vs affine': against truth.json's least-squares "
             "lr_to_hr; 'vs exact': against its dense truth grid (the true map; it departs from the affine by "
             "'truth non-affine', the grid's max_deviation_px over s).", "",
             "| scene | scale | model | status | vs affine | vs exact | truth non-affine |",
             "| --- | ---: | --- | --- | ---: | ---: | ---: |"]
    for scene, s, name, status, ea, eg, dev in rows:
        lines.append(f"| {scene} | {s:g} | {name} | {status} | {ea:.3f} | {eg:.3f} | {dev:.3f} |")
    lines.append("")
    for name in configs:
        sel = [r for r in rows if r[2] == name]
        ea, eg = np.array([r[4] for r in sel]), np.array([r[5] for r in sel])
        lines.append(f"- {name}: {sum(r[3] == 'ok' for r in sel)}/{len(sel)} ok; vs affine max {ea.max():.3f}, "
                     f"mean {ea.mean():.3f}, {int((ea <= 0.1).sum())}/{len(sel)} within 0.1; vs exact max "
                     f"{eg.max():.3f}, mean {eg.mean():.3f}, {int((eg <= 0.1).sum())}/{len(sel)} within 0.1.")
    print(run.write(args.out, "\n".join(lines)).read_text())


if __name__ == "__main__":
    main()
