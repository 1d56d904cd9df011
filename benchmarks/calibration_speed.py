"""Speed (and accuracy) of `ddir-kit calibrate` on virtual-camera checkerboard sweeps.

Sweeps rendered by the virtual camera (rendering not timed; cached in --work):
- 18 photos, 2400x1600 JPEG, every 4-5 mm from 24 to 105 mm (goal: calibrates in under 30 s);
- full frame 5760x3840 JPEG, the same 18 focal lengths (--full-frame-shots N: fewer, spread
  geometrically, because rendering takes ~25 s a photo here).
Timed: the whole calibration (read, detect, refine, fit, write json/csv/png), and per shot the
photo decoding and the board detection + full-resolution refinement. Side by side, on the
same loaded machine: OpenCV's detector run directly on a full-resolution full-frame photo,
against the downscaled detection used here.

    python benchmarks/calibration_speed.py [--work DIR] [--full-frame-shots 18] [--out FILE]

--work (default: ddir-calib-bench in the system's temporary folder) keeps the rendered sweeps
between runs. Prints a table and writes benchmarks/results/calibration_speed.md (or --out).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

import harness
from ddir_kit.calibration.board_detection import BoardSize, detect_board, to_gray
from ddir_kit.calibration.calibrate import calibrate_sweep, write_calibration
from ddir_kit.virtual_camera.lens_model import true_focal_for_scale
from ddir_kit.photo.photo_io import read_photo
from ddir_kit.virtual_camera.simulate import simulate_calibration
from ddir_kit.virtual_camera.simulation_manifest import read_simulation_manifest
from ddir_kit.virtual_camera.truth import read_sweep_truth

SWEEP_FOCALS_MM = tuple(int(round(f)) for f in np.linspace(24, 105, 18))
EVERY_SCALE = [round(1.5 + 0.1 * i, 1) for i in range(26)]


def render(out: Path, focals, size) -> float:
    """Render a sweep unless a finished one is there; returns the seconds its rendering took
    (remembered beside the sweep, not inside it: calibrate lists every file of the folder)."""
    manifest = out / "manifest.json"
    record = out.with_name(out.name + "_render_s.txt")
    if manifest.is_file() and read_simulation_manifest(out).complete and record.is_file():
        return float(record.read_text())
    t0 = time.perf_counter()
    simulate_calibration(out, focals, seed=11, sensor=size)
    seconds = time.perf_counter() - t0
    record.write_text(f"{seconds:.1f}")
    return seconds


def per_shot_times(sweep: Path, board: BoardSize) -> tuple[float, float]:
    """Median seconds per shot: decode, detect + refine."""
    reads, detects = [], []
    for p in sorted(sweep.glob("*.jpg")):
        t0 = time.perf_counter()
        gray = to_gray(read_photo(p).rgb)
        t1 = time.perf_counter()
        detect_board(gray, board, p)
        t2 = time.perf_counter()
        reads.append(t1 - t0)
        detects.append(t2 - t1)
    return float(np.median(reads)), float(np.median(detects))


def accuracy(sweep: Path, cal) -> tuple[float, float]:
    """Max |focal error| (mm) over x1.5..x4.0 of the calibration and of the naive f_ref / s."""
    truth = read_sweep_truth(sweep)
    true = np.array([true_focal_for_scale(truth.lens, t.scale, truth.reference_focal_mm) for t in cal.targets])
    found = np.array([t.focal_mm for t in cal.targets])
    naive = np.array([t.naive_focal_mm for t in cal.targets])
    return float(np.abs(found - true).max()), float(np.abs(naive - true).max())


def direct_full_resolution_detection(photo: Path, board: BoardSize) -> tuple[float, bool]:
    """OpenCV's detector on the full-resolution photo, without downscaling (seconds, found)."""
    import cv2

    gray8 = np.clip(np.rint(to_gray(read_photo(photo).rgb) * 255), 0, 255).astype(np.uint8)
    t0 = time.perf_counter()
    ok, _ = cv2.findChessboardCornersSB(gray8, (board.cols, board.rows),
                                        flags=cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_EXHAUSTIVE)
    return time.perf_counter() - t0, bool(ok)


def main() -> None:
    ap = harness.parser(__file__, __doc__)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ddir-calib-bench")
    ap.add_argument("--full-frame-shots", type=int, default=18)
    args = ap.parse_args()
    run = harness.Run()
    args.work.mkdir(parents=True, exist_ok=True)
    board = BoardSize(9, 6)

    ff_focals = (SWEEP_FOCALS_MM if args.full_frame_shots == len(SWEEP_FOCALS_MM)
                 else tuple(int(round(f)) for f in np.geomspace(24, 105, args.full_frame_shots)))
    sweeps = [("2400x1600", (2400, 1600), SWEEP_FOCALS_MM), ("5760x3840", (5760, 3840), ff_focals)]
    rows, render_notes = [], []
    for name, size, focals in sweeps:
        sweep = args.work / f"sweep_{name}_{len(focals)}"
        seconds = render(sweep, focals, size)
        render_notes.append(f"{name} x {len(focals)}: {seconds:.0f} s")
        print(f"rendered {sweep} ({seconds:.0f} s)", flush=True)
        t0 = time.perf_counter()
        cal = calibrate_sweep(sweep, EVERY_SCALE)
        write_calibration(cal, args.work / f"calibration_{name}.json")
        total = time.perf_counter() - t0
        read_s, detect_s = per_shot_times(sweep, board)
        err, naive = accuracy(sweep, cal)
        rows.append((name, len(focals), total, read_s, detect_s, err, naive, run.load_now(name)))
        print(f"{name}: {len(focals)} photos calibrated in {total:.1f} s (per shot: decode {read_s:.2f} s, "
              f"detect {detect_s:.2f} s); max focal error {err:.3f} mm, naive {naive:.3f} mm", flush=True)

    ff_sweep = args.work / f"sweep_5760x3840_{len(ff_focals)}"
    compare = []
    for photo in (sorted(ff_sweep.glob("*.jpg"))[0], sorted(ff_sweep.glob("*.jpg"))[-1]):
        t_direct, found = direct_full_resolution_detection(photo, board)
        gray = to_gray(read_photo(photo).rgb)
        t0 = time.perf_counter()
        det = detect_board(gray, board, photo)
        t_ours = time.perf_counter() - t0
        compare.append((photo.name, t_direct, found, t_ours, det.detect_side_px))
        print(f"{photo.name}: direct full-resolution {t_direct:.2f} s (found {found}), "
              f"downscaled + refined {t_ours:.2f} s", flush=True)

    table = ("| sweep | photos | calibrate, total s | s per photo | decode s/photo | detect+refine s/photo "
             "| max focal error mm | naive max error mm | load avg after |\n"
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
    table += "".join(f"| {n} | {k} | {t:.1f} | {t / k:.2f} | {r:.2f} | {d:.2f} | {e:.3f} | {nv:.3f} | {ld} |\n"
                     for n, k, t, r, d, e, nv, ld in rows)
    cmp_table = ("| full-frame photo | SB on full resolution, s | found | downscaled SB + full-res refine, s "
                 "| detector side px | ratio |\n| --- | ---: | --- | ---: | ---: | ---: |\n")
    cmp_table += "".join(f"| {n} | {a:.2f} | {f} | {b:.2f} | {s} | {a / b:.1f}x |\n" for n, a, f, b, s in compare)
    goal = rows[0][2] < 30.0
    text = (f"# calibration speed\n\n"
            f"Virtual-camera checkerboard sweeps (JPEG, board 9x6, seed 11); rendering not timed "
            f"({', '.join(render_notes)}, on this machine). Focal errors are over every scale x1.5-x4.0 "
            f"(step 0.1) against the lens's truth.\n\n"
            f"Absolute times vary with the machine's load; the rows below ran back to back in one process."
            f"\n\n{table}\n"
            f"Goal: the 18-photo 2400x1600 sweep in under 30 s: {'met' if goal else 'NOT met'} "
            f"({rows[0][2]:.1f} s).\n\n"
            f"Detection on a full-frame photo, side by side:\n\n{cmp_table}")
    print()
    print(run.write(args.out, text).read_text())


if __name__ == "__main__":
    main()
