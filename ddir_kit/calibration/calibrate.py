"""Sweep calibration: from a folder of checkerboard shots to the focal length of every scale.

Every file of the folder is one entry of the result: a usable shot gets its measured scale,
any other file the reason it was skipped (not a photo, unreadable, no focal length, board not
found, different image size). The reference is the longest focal length (or the one asked
for); each shot's scale is measured against it (magnification.py), scale(f) is fitted
(scale_model.py) and inverted for the wanted scales.

calibration.json is read by ingest, the virtual camera and the demo; its schema, reader and
writer live in calibration_file.py.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import DdirKitError
from ..fileio import atomic_path, atomic_write_text
from ..scales import as_fraction, scale_tag
from .calibration_file import Calibration, ShotResult, Target, write_calibration_json
from .board_detection import BoardDetection, BoardSize, detect_board_in_rgb, order_like_reference
from .detection_cache import DetectionCache
from .magnification import FIT_MODELS, fit_view, magnification
from .scale_model import fit_scale_model

DEFAULT_SCALES = "1.5,1.7,2,2.3,2.5,2.7,3,3.3,3.5,3.7,4"
# Shots this close (mm) to the asked reference focal length qualify as the reference.
REFERENCE_TOLERANCE_MM = 0.5


@dataclass(frozen=True)
class CalibrationFiles:
    json: Path
    targets_csv: Path
    plot_png: Path


def calibrate_sweep(shots_dir: str | Path, scales: Sequence[float | Fraction] | str = DEFAULT_SCALES,
                    board: BoardSize | str = "9x6", reference_focal_mm: float | None = None,
                    focals_csv: str | Path | None = None, fit_model: str = "radial",
                    progress: Callable[[ShotResult], None] | None = None,
                    cache_path: str | Path | None = None) -> Calibration:
    """Calibrate scale against focal length from a checkerboard sweep.

    shots_dir: folder of photos (JPEG, PNG, TIFF, RAW) of one planar board from a fixed tripod.
    scales: wanted scales (list or '1.5,2,...').
    board: inner corners, BoardSize or 'COLSxROWS'.
    reference_focal_mm: the HR focal length; default the longest of the sweep.
    focals_csv: table with columns file,focal_mm overriding or replacing EXIF focal lengths.
    fit_model: 'radial' (default) or 'similarity', see magnification.py.
    progress: called with each file's ShotResult as it is measured (detection order).
    cache_path: JSON file keeping each file's detection (detection_cache.py): a rerun, or a
        run after a killed one, detects only new or changed files. None: no cache.
    Raises DdirKitError when fewer than three usable shots remain, when no shot qualifies as
    the reference, or when a wanted scale lies outside the measured range.
    """
    from ..photo.exif import read_exif
    from ..photo.photo_io import is_photo
    from ..scales import parse_scale_list

    shots_dir = Path(shots_dir)
    if not shots_dir.is_dir():
        raise DdirKitError("not a folder of shots", shots_dir)
    board = board if isinstance(board, BoardSize) else BoardSize.parse(board)
    wanted = parse_scale_list(scales) if isinstance(scales, str) else [as_fraction(s) for s in scales]
    if fit_model not in FIT_MODELS:
        raise DdirKitError(f"unknown fit model {fit_model!r}; choose from {', '.join(FIT_MODELS)}")
    focal_table = read_focals_csv(focals_csv) if focals_csv else {}
    cache = DetectionCache(cache_path, str(board))

    files = sorted(p for p in shots_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise DdirKitError("empty folder: no shots to calibrate from", shots_dir)

    detections: dict[str, BoardDetection] = {}
    skipped: dict[str, ShotResult] = {}
    focals: dict[str, float | None] = {}
    for path in files:
        name = path.name
        focal = focal_table.get(name)
        if not is_photo(path):
            res = ShotResult(name, focal, None, f"not a photo (unsupported format {path.suffix or 'without extension'})")
        else:
            # Decoding and detection first: a broken file gets that reason, not a missing tag.
            status, det = _detect(path, board, cache)
            res = None if det is not None else ShotResult(name, focal, None, status)
            if res is None and focal is None:
                try:
                    focal = read_exif(path, require=("focal_mm",)).focal_mm
                except DdirKitError as e:
                    reason = e.reason
                    if "missing EXIF focal_mm" in reason:
                        reason = "no focal length (EXIF FocalLength missing; give it in --focals)"
                    res = ShotResult(name, None, None, reason)
            if res is None:
                detections[name] = det
        focals[name] = focal
        if res is not None:
            skipped[name] = res
            if progress:
                progress(res)

    if sum(1 for n in detections if focals.get(n) is not None) < 3:
        _too_few(len([n for n in detections if focals.get(n) is not None]), skipped.values(), shots_dir)
    reference = _choose_reference(detections, focals, reference_focal_mm)
    ref_det = detections[reference]
    for name, det in list(detections.items()):
        if det.image_size_px != ref_det.image_size_px:
            w, h = det.image_size_px
            skipped[name] = ShotResult(name, focals[name], None,
                                       f"image size {w}x{h} differs from the reference's "
                                       f"{ref_det.image_size_px[0]}x{ref_det.image_size_px[1]}")
            del detections[name]
            if progress:
                progress(skipped[name])

    ref_corners = ref_det.corners_px
    ref_fit = fit_view(ref_corners, ref_det.image_size_px) if fit_model == "radial" else None
    measured: dict[str, ShotResult] = {}
    for name, det in detections.items():
        corners = order_like_reference(det.corners_px, ref_corners)
        try:
            mag = magnification(corners, ref_corners, det.image_size_px, fit_model, ref_fit)
        except DdirKitError as e:
            measured[name] = ShotResult(name, focals[name], None, f"board fit failed ({e.reason})")
        else:
            scale = 1.0 if name == reference else float(mag.scale)
            measured[name] = ShotResult(name, focals[name], scale, "ok", float(mag.residual_px),
                                        float(mag.rotation_deg), float(det.square_px))
        if progress:
            progress(measured[name])

    shots = tuple(measured.get(p.name) or skipped[p.name] for p in files)
    used = [s for s in shots if s.ok]
    if len(used) < 3:
        _too_few(len(used), [s for s in shots if not s.ok], shots_dir)
    model = fit_scale_model(np.array([s.focal_mm for s in used]), np.array([s.scale for s in used]))
    ref_focal = float(focals[reference])
    targets = []
    for s in wanted:
        f = model.focal_for_scale(float(s))
        targets.append(Target(float(s), scale_tag(s), f, model.focal_std_mm(f), ref_focal / float(s)))
    w, h = ref_det.image_size_px
    return Calibration(reference, ref_focal, str(board), (w, h), fit_model, shots, tuple(targets), model)


def _detect(path: Path, board: BoardSize, cache: DetectionCache) -> tuple[str, BoardDetection | None]:
    from ..photo.photo_io import read_photo

    cached = cache.get(path)
    if cached is not None:
        return cached
    try:
        det = detect_board_in_rgb(read_photo(path).rgb, board, path)
        status = "ok"
    except DdirKitError as e:
        det, status = None, e.reason
    cache.put(path, status, det)
    return status, det


def _too_few(n_used: int, skipped, shots_dir: Path) -> None:
    reasons: dict[str, int] = {}
    for s in skipped:
        reasons[s.status] = reasons.get(s.status, 0) + 1
    why = "; ".join(f"{n} x {r}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
    raise DdirKitError(f"only {n_used} usable shot(s) in the sweep; at least 3 are needed"
                       + (f" (skipped: {why})" if why else ""), shots_dir)


def _choose_reference(detections: dict[str, BoardDetection], focals: dict[str, float | None],
                      reference_focal_mm: float | None) -> str:
    candidates = [n for n in detections if focals.get(n) is not None]
    if not candidates:
        raise DdirKitError("no shot with a detected board and a known focal length; nothing to calibrate from")
    if reference_focal_mm is None:
        longest = max(focals[n] for n in candidates)
        return next(n for n in candidates if focals[n] == longest)
    near = [n for n in candidates if abs(focals[n] - reference_focal_mm) <= REFERENCE_TOLERANCE_MM]
    if not near:
        have = ", ".join(f"{f:g}" for f in sorted({focals[n] for n in candidates}))
        raise DdirKitError(f"no usable shot at the reference focal length {reference_focal_mm:g} mm "
                           f"(usable shots are at {have} mm)")
    return min(near, key=lambda n: abs(focals[n] - reference_focal_mm))


def read_focals_csv(path: str | Path) -> dict[str, float]:
    """A table with columns ``file`` and ``focal_mm`` -> {file name: focal length in mm}."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DdirKitError(f"cannot read focal-length table ({e})", path) from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not {"file", "focal_mm"} <= set(rows[0]):
        raise DdirKitError("focal-length table needs the columns file,focal_mm", path)
    out = {}
    for i, row in enumerate(rows, start=2):
        try:
            out[Path(row["file"].strip()).name] = float(row["focal_mm"])
        except (TypeError, ValueError):
            raise DdirKitError(f"line {i}: focal_mm is not a number ({row['focal_mm']!r})", path) from None
    return out


def write_calibration(cal: Calibration, out_json: str | Path) -> CalibrationFiles:
    """Write calibration.json, <stem>_targets.csv and <stem>_scale.png beside it, atomically."""
    out_json = Path(out_json)
    files = CalibrationFiles(out_json, out_json.with_name(out_json.stem + "_targets.csv"),
                             out_json.with_name(out_json.stem + "_scale.png"))
    atomic_write_text(files.targets_csv, targets_csv_text(cal))
    plot_calibration(cal, files.plot_png)
    write_calibration_json(files.json, cal)
    return files


def targets_csv_text(cal: Calibration) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["scale", "scale_tag", "focal_mm", "focal_uncertainty_mm", "naive_focal_mm"])
    for t in cal.targets:
        writer.writerow([f"{t.scale:g}", t.scale_tag, f"{t.focal_mm:.3f}", f"{t.focal_uncertainty_mm:.3f}",
                         f"{t.naive_focal_mm:.3f}"])
    return buf.getvalue()


def plot_calibration(cal: Calibration, out_png: str | Path) -> Path:
    """Measured scale against focal length, the fitted curve, the naive f_ref / f curve and
    the targets; below, the departure from the naive curve and the residuals of the fit, in
    percent. PNG via matplotlib's Agg."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    used = cal.used
    f = np.array([s.focal_mm for s in used])
    s = np.array([s.scale for s in used])
    lo, hi = cal.model.focal_range_mm
    grid = np.linspace(lo, hi, 400)
    fig = Figure(figsize=(8, 9), dpi=110)
    FigureCanvasAgg(fig)
    ax, ax_dep, ax_res = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2, 1]})
    ax.plot(grid, cal.model.scale(grid), "-", color="C0", label=f"fitted model (degree {cal.model.degree})")
    ax.plot(grid, cal.reference_focal_mm / grid, ":", color="0.5", label="naive f_ref / f")
    ax.plot(f, s, "o", color="C1", ms=4, label=f"measured ({len(used)} shots)")
    for t in cal.targets:
        ax.plot([t.focal_mm], [t.scale], "x", color="C3", ms=8)
        ax.annotate(f"x{t.scale:g}: {t.focal_mm:.2f} mm", (t.focal_mm, t.scale), xytext=(6, 4),
                    textcoords="offset points", fontsize=7, color="C3")
    ax.set_ylabel("scale (field of view / reference)")
    ax.set_title(f"Zoom calibration: reference {cal.reference_focal_mm:g} mm ({cal.reference_file})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    # The lens's departure from the naive curve is ~1 % and invisible above; shown on its own.
    naive = lambda x: cal.reference_focal_mm / x  # noqa: E731
    ax_dep.axhline(0, color="0.5", lw=0.8, ls=":")
    ax_dep.plot(grid, 100 * (cal.model.scale(grid) / naive(grid) - 1), "-", color="C0")
    ax_dep.plot(f, 100 * (s / naive(f) - 1), "o", color="C1", ms=4)
    for t in cal.targets:
        ax_dep.plot([t.focal_mm], [100 * (t.scale / naive(t.focal_mm) - 1)], "x", color="C3", ms=6)
    ax_dep.set_ylabel("scale vs f_ref / f (%)")
    ax_dep.grid(alpha=0.3)
    ax_res.axhline(0, color="0.5", lw=0.8)
    ax_res.plot(f, 100 * (s / cal.model.scale(f) - 1), "o", color="C1", ms=4)
    ax_res.set_ylabel("residual (%)")
    ax_res.set_xlabel("focal length (mm, EXIF)")
    ax_res.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png")
    return Path(out_png)
