"""Throughput of `ddir-kit capture ingest` on a virtual camera card.

A card of N scenes (default 30) shot by the virtual camera (write_camera_card) at 1200x800:
per scene one HR shot at 105 mm and one LR shot per scale (default 6: x1.5 ... x4) at the
lens's true focal length for that scale, each shot written as RAW (DNG) and JPEG and split
into a JPEG card and a DNG card (the same rendered shots). Rendering is not timed. Timed: a fresh ingest of each card with
--jobs 2 and, side by side on the same loaded machine, --jobs 1, plus a rerun that skips
every scene (manifest check only).

    python benchmarks/ingest_throughput.py [--scenes 30] [--work DIR] [--out FILE]

--work (default: ddir-ingest-bench in the system's temporary folder) keeps the rendered cards
between runs. Prints a table and writes benchmarks/results/ingest_throughput.md (or --out).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import harness
from ddir_kit.capture.ingest import ingest_card
from ddir_kit.virtual_camera.simulate_scenes import write_camera_card

SCALES = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)


def build_cards(work: Path, n_scenes: int, scales=SCALES, seed: int = 0) -> tuple[Path, Path, Path]:
    """Shoot the card once with the virtual camera (RAW + JPEG per shot), split it into
    work/card_jpg and work/card_dng, and write the calibration.json a calibration of this lens
    would give (each scale's focal length)."""
    jpg, dng, calib = work / "card_jpg", work / "card_dng", work / "calibration.json"
    done = work / "cards.done.json"
    spec = dict(n_scenes=n_scenes, scales=list(scales), seed=seed, size=[1200, 800], writer="write_camera_card")
    if done.is_file() and json.loads(done.read_text()) == spec:
        return jpg, dng, calib
    both = work / "card_both"
    for d in (jpg, dng, both):
        shutil.rmtree(d, ignore_errors=True)
    card = write_camera_card(both, n_scenes, scales=scales, formats=("jpg", "dng"), sensor=(1200, 800), seed=seed)
    lr = [e for e in card.truth.scenes[0].shots if e.role == "lr"]
    calib.write_text(json.dumps({"reference_focal_mm": card.truth.scenes[0].shots[0].focal_mm,
                                 "targets": [{"scale": e.scale, "focal_mm": e.focal_mm} for e in lr]}))
    jpg.mkdir()
    dng.mkdir()
    for p in both.iterdir():
        p.rename((dng if p.suffix.upper() == ".DNG" else jpg) / p.name)
    both.rmdir()
    done.write_text(json.dumps(spec))
    return jpg, dng, calib


def cpu_seconds() -> float:
    """User + system CPU time of this process and its reaped children (the pool's workers)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed_ingest(card: Path, calib: Path, out: Path, jobs: int) -> tuple[float, float, object]:
    """(wall s, CPU s, report); ingest_card joins its workers, so their CPU time is counted."""
    start, cpu0 = time.perf_counter(), cpu_seconds()
    report = ingest_card(card, calib, out, jobs=jobs)
    return time.perf_counter() - start, cpu_seconds() - cpu0, report


def main() -> None:
    ap = harness.parser(__file__, __doc__)
    ap.add_argument("--scenes", type=int, default=30)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ddir-ingest-bench")
    ap.add_argument("--formats", default="jpg,dng")
    args = ap.parse_args()
    run = harness.Run()
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
            seconds, cpu, report = timed_ingest(card, calib, out, jobs)
            written = len(report.scenes_with("written"))
            rows.append((fmt, n_files, jobs, "fresh", written, seconds, cpu, run.load_now(f"{fmt} jobs {jobs}")))
            print(f"{fmt} jobs={jobs} fresh: {written} scenes in {seconds:.1f} s", flush=True)
        seconds, cpu, report = timed_ingest(card, calib, args.work / f"out_{fmt}_j2", 2)
        rows.append((fmt, n_files, 2, "rerun (all skipped)", len(report.scenes_with("up_to_date")), seconds, cpu,
                     run.load_now(f"{fmt} rerun")))
        # both fresh outputs must agree byte for byte (parallelism changes nothing)
        a, b = args.work / f"out_{fmt}_j2", args.work / f"out_{fmt}_j1"
        same = all((a / p.relative_to(b)).read_bytes() == p.read_bytes() for p in b.rglob("*") if p.is_file())
        print(f"{fmt}: jobs 2 and jobs 1 outputs identical: {same}", flush=True)

    header = ("| card | files | jobs | run | scenes | wall s | CPU s | CPU s / min(jobs, 2) | load avg after |\n"
              "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n")
    table = header + "".join(f"| {fmt} | {n} | {j} | {kind} | {s} | {sec:.1f} | {cpu:.1f} | {cpu / min(j, 2):.1f} "
                             f"| {load} |\n" for fmt, n, j, kind, s, sec, cpu, load in rows)
    speedups = []
    for fmt in args.formats.split(","):
        j2 = next(r[5] for r in rows if r[0] == fmt and r[2] == 2 and r[3] == "fresh")
        j1 = next(r[5] for r in rows if r[0] == fmt and r[2] == 1)  # wall seconds
        speedups.append(f"{fmt}: jobs 1 / jobs 2 = {j1 / j2:.2f}x")
    text = (f"# capture ingest throughput\n\n{args.scenes} virtual-camera scenes, 1200x800, HR + {len(SCALES)} LR "
            f"shots each (x{', x'.join(f'{s:g}' for s in SCALES)}); rendering the cards took {render_s:.0f} s "
            f"(not timed below, 0 when cached).\n\nAbsolute times vary with the machine's load; the jobs 1 "
            f"and jobs 2 rows ran back to back.\n\n{table}\n"
            f"Speed-up from the process pool: {'; '.join(speedups)}.\n\nCPU s counts this process and its "
            f"workers (user + system). On a loaded machine wall time mostly measures the other agents' load; "
            f"CPU s / min(jobs, 2) is what the run would take on two idle cores if it were purely CPU-bound "
            f"(an estimate, not a measurement).\n\nGoal: 30 scenes with --jobs 2 under 60 s.\n")
    print(run.write(args.out, text).read_text())


if __name__ == "__main__":
    main()
