"""Shooting sessions with the virtual zoom camera, written to disk with their ground truth.

The virtual camera, module by module:
    lens_model.py        ZoomLens (breathing, distortion, PSF, vignetting, axis wander),
                         true_scale, true_focal_for_scale
    shot_geometry.py     ShotGeometry (pixel <-> ray <-> plane, exact), TripodPose, map_pixels
    scenes.py            Checkerboard, PlanarTexture, PlanarScene, postcard_wall, packaged_textures
    camera.py            CameraBody, ShotSettings, shoot -> VirtualShot, save_shot
    truth_maps.py        lr_to_hr_truth: least-squares affine + dense grid of the true map
    truth.py             truth.json (SweepTruth, SceneTruth, CardTruth): reader and writer
    simulation_manifest.py  OUT/manifest.json: the parameters and finished files of a run
    simulate.py          (this) checkerboard sweeps for calibration
    simulate_scenes.py   scenes in the capture layout, camera cards
    planting.py          faults planted in LR shots (moving object, failed exposure)

Public API of this module
-------------------------
- ``simulate_calibration(out, focals_mm, ...)`` -> ``CalibrationSweep``: one checkerboard photo
  per focal length (EXIF included) and ``truth.json`` (truth.SweepTruth): for every shot its
  true scale relative to the reference (longest) focal length and the true pixel positions of
  the board's inner corners; a table of the true focal length for scales 1.5..4.0 (step 0.1).
  The true focal for any other scale: ``lens_model.true_focal_for_scale(truth.lens, scale,
  truth.reference_focal_mm)`` with ``truth = read_sweep_truth(out)``.
- ``sweep_distance_mm(...)``: the board distance that makes it fill a given part of the frame.

Scale convention: ``scale`` of a shot is how many times smaller it shows the scene than the
reference shot, i.e. effective focal length of the reference over that of the shot (the
magnification ratio on the optical axis).

Reruns: every output folder has ``manifest.json`` (simulation_manifest.py) with the parameters
and the finished files; a rerun with the same parameters skips finished files, one with other
parameters is refused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DdirKitError
from .camera import SHOT_FORMATS, CameraBody, ShotSettings, save_shot, shoot, shot_geometry, shot_times
from .lens_model import ZoomLens, true_focal_for_scale, true_scale
from .scenes import Checkerboard
from .simulation_manifest import SimulationManifest
from .truth import TRUTH_JSON, ScaleFocal, SweepBoard, SweepShotTruth, SweepTruth, write_truth

DEFAULT_FOCALS_MM = (24, 28, 32, 35, 40, 45, 50, 55, 60, 70, 80, 90, 105)
SCALE_TABLE = tuple(round(1.5 + 0.1 * i, 1) for i in range(26))  # 1.5 .. 4.0
DEFAULT_START_TIME = datetime(2024, 5, 4, 10, 0, 0)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CalibrationSweep:
    """What simulate_calibration wrote: the folder, the photos in shooting order, truth.json,
    and the files it skipped because a previous run had finished them."""

    out: Path
    photos: list[Path]
    truth_path: Path
    skipped: list[Path]


def sweep_distance_mm(lens: ZoomLens, body: CameraBody, board: Checkerboard, reference_focal_mm: float,
                      board_fill: float) -> float:
    """Distance at which the board's squares (without quiet zone) span ``board_fill`` of the
    frame height at the reference focal length."""
    board_h_mm = (board.rows + 1) * board.square_mm
    sensor_h_mm = body.sensor_width_mm * body.height_px / body.width_px
    return float(lens.effective_focal_mm(reference_focal_mm) * board_h_mm / (board_fill * sensor_h_mm))


def simulate_calibration(out: str | Path, focals_mm=DEFAULT_FOCALS_MM, *, seed: int = 0,
                         sensor: tuple[int, int] = (1200, 800), bayer: bool = False,
                         board_corners: tuple[int, int] = (9, 6), fmt: str = "jpg", board_fill: float = 0.65,
                         disturb: bool = True, body: CameraBody | None = None, lens: ZoomLens | None = None,
                         board: Checkerboard | None = None, progress: Progress | None = None) -> CalibrationSweep:
    """Shoot a checkerboard on a tripod at every focal length in ``focals_mm``.

    out: folder for the photos, truth.json and manifest.json (created).
    focals_mm: EXIF focal lengths in mm (any order; shot from the longest to the shortest,
        as one sweeps a zoom ring); the longest is the reference.
    fmt: 'jpg', 'png', 'tif' or 'dng'. board_fill: part of the frame height the board's
        squares span at the reference focal length (the board is smaller in wider shots).
    disturb: tripod and photometric disturbances per shot (off: an ideal tripod).
    sensor (width, height) px, bayer, board_corners (cols, rows): shorthands used when
    ``body`` / ``board`` are not given. progress: called with one line per shot written.
    """
    body = body or CameraBody(width_px=int(sensor[0]), height_px=int(sensor[1]), bayer=bayer)
    lens = lens or ZoomLens()
    board = board or Checkerboard(cols=int(board_corners[0]), rows=int(board_corners[1]))
    check_seed(seed)
    fmt = fmt.lower().lstrip(".")
    if fmt not in SHOT_FORMATS:
        raise DdirKitError(f"unknown format {fmt!r}; one of {', '.join(SHOT_FORMATS)}")
    focals = sorted({lens.check_focal(f) for f in focals_mm}, reverse=True)
    if len(focals) < 2:
        raise DdirKitError("a sweep needs at least two different focal lengths")
    if not 0.1 <= board_fill <= 0.8:
        raise DdirKitError(f"board_fill must be within 0.1-0.8, got {board_fill}")
    reference = focals[0]
    distance = sweep_distance_mm(lens, body, board, reference, board_fill)
    out = Path(out)
    params = dict(kind="calibration_sweep", focals_mm=focals, seed=seed, format=fmt, board_fill=board_fill,
                  disturb=disturb, camera=body.to_dict(), lens=lens.to_dict(), board=dataclasses.asdict(board))
    manifest = SimulationManifest.open(out, params)

    times = shot_times(DEFAULT_START_TIME, len(focals))
    shots, photos, skipped = [], [], []
    for i, focal in enumerate(focals):
        rng = np.random.default_rng([seed, i])
        settings = ShotSettings.random(rng, lens, body, focal, times[i], disturb=disturb, photometric=disturb)
        name = f"board_{i:02d}_{focal:06.2f}mm.{fmt}"
        geometry = shot_geometry(lens, body, settings)
        corners = np.stack(geometry.plane_to_pixel(*board.corners_mm().T, distance), axis=1)
        _check_board_inside(corners, body, out / name)
        path = out / name
        if manifest.is_done(name):
            skipped.append(path)
        else:
            texture = board.texture(distance / geometry.focal_px)
            shot = shoot(lens, body, settings, texture, distance)
            save_shot(path, shot)
            manifest.mark_done(name)
            if progress:
                progress(f"{name}: {focal:g} mm")
        photos.append(path)
        shots.append(SweepShotTruth(name, focal, float(lens.effective_focal_mm(focal)),
                                    true_scale(lens, focal, reference), geometry, settings,
                                    tuple(map(tuple, corners.round(4).tolist()))))

    table = tuple(ScaleFocal(s, round(true_focal_for_scale(lens, s, reference), 6))
                  for s in SCALE_TABLE if s <= true_scale(lens, focals[-1], reference))
    truth = SweepTruth(reference, seed, fmt, distance, SweepBoard(board.cols, board.rows, board.square_mm,
                                                                  board.margin_squares),
                       body, lens, tuple(shots), table)
    truth_path = write_truth(out / TRUTH_JSON, truth)
    manifest.finish()
    return CalibrationSweep(out, photos, truth_path, skipped)


def _check_board_inside(corners: np.ndarray, body: CameraBody, path: Path) -> None:
    # the corner finder needs the whole board with a margin; refuse a sweep that cannot work
    margin = 0.02 * body.height_px
    if (corners.min() < margin or corners[:, 0].max() > body.width_px - 1 - margin
            or corners[:, 1].max() > body.height_px - 1 - margin):
        raise DdirKitError("the board would leave the frame; lower board_fill", path)


def parse_focals(text: str) -> list[float]:
    """'24,28,35' -> [24.0, 28.0, 35.0] (mm)."""
    try:
        focals = [float(t) for t in (v.strip() for v in str(text).split(",")) if t]
    except ValueError:
        raise DdirKitError(f"focal lengths must be numbers in mm separated by commas, got {text!r}") from None
    if not focals:
        raise DdirKitError("empty list of focal lengths")
    return focals


def check_seed(seed: int) -> int:
    """Seeds are non-negative integers (numpy's SeedSequence refuses others)."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DdirKitError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)
