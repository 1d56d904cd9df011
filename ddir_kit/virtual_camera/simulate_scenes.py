"""Scenes shot with the virtual zoom camera: the capture layout with exact ground truth, and
camera cards.

Public API
----------
- ``simulate_scenes(out, n_scenes, targets=... | scales=..., ...)`` -> ``SimulatedScenes``:
  per scene one HR shot at the reference (longest) focal length and one LR shot per scale,
  written as ``OUT/<scene>/hr.png``, ``lr_x<tag>.png``, ``scene.json`` (capture_layout schema,
  the same as `capture ingest` writes) and ``truth.json`` (truth.SceneTruth: lens and camera
  parameters; per LR shot the true scale to HR, the least-squares affine ``lr_to_hr`` over the
  region both shots see, its max deviation from the true map, and a dense grid of the true map
  saved as ``truth_lr_x<tag>_to_hr.npy``; see truth_maps.py).
- ``write_camera_card(out, n_scenes, ...)`` -> ``CameraCard``: the same shots as a camera
  card would hold them: IMG_0001.JPG / IMG_0001.DNG ... in shooting order with EXIF times
  (HR first, then LR from long to short focal length; scenes a few minutes apart), no scene
  folders. The truth (truth.CardTruth) goes to ``truth_path`` (outside the card) when given.
- ``targets_from_calibration(path)`` / ``targets_for_scales(lens, scales)``: the (nominal
  scale, focal length) list of a session, from calibration.json's ``targets`` or, for
  ``--scales``, the TRUE focal length of each scale.
- ``Planting`` (planting.py): per LR scale, a moving object (a patch of another photograph
  present in that shot only) and/or a failed exposure ('over' or 'under'), to test rejection
  downstream.

A scene is a wall of photographs 8 m away (packaged City100 postcards by default; any photos
via ``textures``): the scene's photo in the middle, where the HR shot sees about one texel per
pixel (photos smaller than the sensor are enlarged to fill its height), the others around it,
randomly mirrored, as far as the widest LR view reaches. Deterministic for a seed: every shot
draws from its own generator seeded by (seed, scene, shot), so planting a fault in one shot
leaves every other shot's pixels unchanged.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..calibration.calibration_file import read_calibration
from ..capture.capture_layout import HR_FILE, SceneRecord, ShotRecord, lr_file_name, scene_name, write_scene_json
from ..errors import DdirKitError
from ..photo.photo_io import read_rgb
from ..photo.srgb import srgb_to_linear
from ..scales import as_fraction, scale_tag
from .camera import CameraBody, ShotSettings, save_shot, shoot, shot_geometry
from .lens_model import ZoomLens, true_focal_for_scale, true_scale
from .planting import FAILED_GAIN, Planting
from .scenes import PlanarScene, PlanarTexture, postcard_wall, texture_paths
from .simulate import DEFAULT_START_TIME, check_seed
from .simulation_manifest import SimulationManifest
from .truth import (TRUTH_JSON, CardScene, CardShotTruth, CardTruth, HrShotTruth, LrShotTruth, MovingObject,
                    PlantedFaults, SceneTexture, SceneTruth, TruthGrid, affine_rows, write_truth)
from .truth_maps import lr_to_hr_truth

SCENE_DISTANCE_MM = 8000.0
_SHOT_INTERVAL_S = 5.0
_SCENE_GAP_S = 240.0

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SimulatedScenes:
    out: Path
    scenes: list[Path]
    skipped: list[Path]


@dataclass(frozen=True)
class CameraCard:
    """photos: in shooting order; truth: what truth_path holds (written only when given)."""

    out: Path
    photos: list[Path]
    truth: CardTruth
    truth_path: Path | None


def targets_for_scales(lens: ZoomLens, scales: Sequence, reference_focal_mm: float | None = None
                       ) -> list[tuple[Fraction, float]]:
    """(scale, TRUE focal length) for each scale, ascending."""
    ref = lens.max_focal_mm if reference_focal_mm is None else reference_focal_mm
    fr = sorted({as_fraction(s) for s in scales})
    return [(s, true_focal_for_scale(lens, float(s), ref)) for s in fr]


def targets_from_calibration(path: str | Path) -> tuple[float, list[tuple[Fraction, float]]]:
    """(reference_focal_mm, [(scale, focal_mm), ...] ascending) from a calibration.json."""
    cal = read_calibration(path)
    return cal.reference_focal_mm, list(cal.scale_focals)


# ---------------------------------------------------------------------------------------
# one scene


@dataclass(frozen=True)
class _Scene:
    index: int                 # 1-based
    texture_path: Path         # the photo in the middle of the wall (what HR sees)
    mirrored: bool
    offset_mm: tuple[float, float]
    texel_mm: float            # of the photos on the wall
    footprint_mm: float        # of an HR pixel on the wall
    cover_mm: tuple[float, float]


def _plan_scene(index: int, seed: int, textures: list[Path], lens: ZoomLens, body: CameraBody,
                reference_focal_mm: float, widest_focal_mm: float) -> _Scene:
    rng = np.random.default_rng([seed, index, 0])
    order = np.random.default_rng([seed, 0, 0]).permutation(len(textures))
    tex = textures[int(order[(index - 1) % len(textures)])]
    # about one texel per HR pixel, so that the HR shot has all the photo's detail; a photo
    # smaller than the sensor is enlarged to fill the HR frame's height
    card_h = _linear_photo(tex).shape[0]
    footprint = SCENE_DISTANCE_MM / float(lens.focal_px(reference_focal_mm, body.width_px, body.sensor_width_mm))
    texel_mm = footprint * max(1.0, body.height_px / card_h)
    offset = tuple(float(v) for v in rng.uniform(-0.08, 0.08, 2) * body.height_px * footprint)
    # the wall must fill the widest LR view, tripod disturbance and distortion included
    wide = shot_geometry(lens, body, ShotSettings(widest_focal_mm))
    u = np.array([-0.5, body.width_px - 0.5, -0.5, body.width_px - 0.5, body.width_px / 2])
    v = np.array([-0.5, -0.5, body.height_px - 0.5, body.height_px - 0.5, -0.5])
    x, y = wide.pixel_to_plane(u, v, SCENE_DISTANCE_MM)
    cover = (float(np.abs(x).max() * 1.03), float(np.abs(y).max() * 1.03))
    return _Scene(index, tex, bool((index - 1) // len(textures) % 2), offset, texel_mm, footprint, cover)


@lru_cache(maxsize=16)
def _linear_photo(path: Path) -> np.ndarray:
    img = srgb_to_linear(read_rgb(path))
    img.setflags(write=False)  # shared between scenes: never modified in place
    return img


def _scene_wall(scene: _Scene, textures: list[Path], seed: int) -> PlanarScene:
    centre = _linear_photo(scene.texture_path)
    if scene.mirrored:
        centre = np.ascontiguousarray(centre[:, ::-1])
    others = [_linear_photo(p) for p in textures if p != scene.texture_path]
    return postcard_wall([centre] + others, scene.texel_mm, scene.cover_mm,
                         np.random.default_rng([seed, scene.index, 0, 1]), scene.offset_mm)


def _moving_object(scene: _Scene, textures: list[Path], wall: PlanarScene, body: CameraBody,
                   size: float, rng: np.random.Generator) -> tuple[PlanarScene, MovingObject]:
    others = [p for p in textures if p != scene.texture_path] or textures
    src = _linear_photo(others[int(rng.integers(len(others)))])
    side = max(8, int(round(size * body.height_px * scene.footprint_mm / scene.texel_mm)))
    side = min(side, src.shape[0], src.shape[1])
    top = int(rng.integers(0, src.shape[0] - side + 1))
    left = int(rng.integers(0, src.shape[1] - side + 1))
    patch = np.ascontiguousarray(src[top:top + side, left:left + side])
    # inside the middle of the HR view, where it hides real content in the overlap
    half_w, half_h = 0.3 * body.width_px * scene.footprint_mm, 0.3 * body.height_px * scene.footprint_mm
    centre = (float(rng.uniform(-half_w, half_w)), float(rng.uniform(-half_h, half_h)))
    side_mm = side * scene.texel_mm
    layer = PlanarTexture(patch, (centre[0] - side_mm / 2, centre[1] - side_mm / 2,
                                  centre[0] + side_mm / 2, centre[1] + side_mm / 2), "constant")
    return PlanarScene(wall.layers + (layer,), wall.background), MovingObject(centre, side_mm)


def _box_px(geometry, centre_mm, side_mm) -> list[float]:
    h = side_mm / 2
    xs = np.array([-h, h, h, -h]) + centre_mm[0]
    ys = np.array([-h, -h, h, h]) + centre_mm[1]
    u, v = geometry.plane_to_pixel(xs, ys, SCENE_DISTANCE_MM)
    return [float(u.min()), float(v.min()), float(u.max()), float(v.max())]


def _shoot_scene(scene: _Scene, targets, reference_focal_mm: float, lens: ZoomLens, body: CameraBody,
                 seed: int, planting: Planting, textures: list[Path], start: datetime, disturb: bool,
                 measure_demosaic: bool):
    """Render the HR shot and every LR shot of a scene. Yields (role, scale, shot, PlantedFaults).
    measure_demosaic: whether the shots' photos are demosaicked (a Bayer body or DNG files), so
    that the truth records the demosaic's blur."""
    wall = _scene_wall(scene, textures, seed)
    # HR first, then LR from long to short focal length, as a photographer zooms out
    plan = [("hr", None, reference_focal_mm)] + [("lr", s, f) for s, f in sorted(targets, key=lambda t: -t[1])]
    for k, (role, scale, focal) in enumerate(plan):
        rng = np.random.default_rng([seed, scene.index, k + 1])
        settings = ShotSettings.random(rng, lens, body, focal, start + timedelta(seconds=_SHOT_INTERVAL_S * k),
                                       disturb=disturb, photometric=disturb)
        planted = PlantedFaults()
        tex = wall
        if role == "lr":
            kind = planting.exposure(scale)
            if kind:
                gain = FAILED_GAIN[kind]
                settings = settings.replace(exposure_gain=settings.exposure_gain * gain,
                                            exposure_s=settings.exposure_s * gain)
                planted = PlantedFaults(failed_exposure=kind)
            if planting.has_object(scale):
                tex, obj = _moving_object(scene, textures, wall, body, planting.object_size,
                                          np.random.default_rng([seed, scene.index, k + 1, 1]))
                planted = PlantedFaults(planted.failed_exposure, obj)
        shot = shoot(lens, body, settings, tex, SCENE_DISTANCE_MM, measure_demosaic=measure_demosaic)
        yield role, scale, shot, planted


def _write_scene(out: Path, scene: _Scene, targets, reference_focal_mm: float, lens: ZoomLens,
                 body: CameraBody, seed: int, planting: Planting, textures: list[Path], disturb: bool,
                 start: datetime) -> Path:
    name = scene_name(scene.index)
    work = out / f".{name}.tmp"
    if work.exists():
        shutil.rmtree(work)  # our own leftover of a killed run (hidden work folder)
    work.mkdir(parents=True)
    hr_record = hr_truth = None
    lr_records, lr_truth = [], []
    for role, scale, shot, planted in _shoot_scene(scene, targets, reference_focal_mm, lens, body, seed,
                                                   planting, textures, start, disturb, body.bayer):
        file = HR_FILE if role == "hr" else lr_file_name(scale)
        save_shot(work / file, shot)
        record = ShotRecord(role=role, file=file, scale=None if scale is None else float(scale),
                            source=f"virtual camera, {shot.settings.focal_mm:.4f} mm", source_format="rendered",
                            exif=shot.exif.to_dict(), bit_depth=shot.bit_depth,
                            size_px=(body.width_px, body.height_px), target_focal_mm=shot.settings.focal_mm,
                            focal_error_mm=round(shot.exif.focal_mm - shot.settings.focal_mm, 6))
        effective_focal = float(lens.effective_focal_mm(shot.settings.focal_mm))
        if role == "hr":
            hr_record = record
            hr_truth = HrShotTruth(file, shot.settings.focal_mm, effective_focal, shot.geometry, shot.settings,
                                   tuple(shot.white_balance), shot.demosaic_blur_px2)
            continue
        lr_records.append(record)
        tm = lr_to_hr_truth(shot.geometry, hr_truth.geometry)
        grid = TruthGrid(f"truth_lr_x{scale_tag(scale)}_to_hr.npy", tm.step_px, tm.grid.shape)
        np.save(work / grid.file, tm.grid)
        obj = planted.moving_object
        if obj is not None:
            boxes = [_box_px(g, obj.centre_mm, obj.side_mm) for g in (shot.geometry, hr_truth.geometry)]
            planted = PlantedFaults(planted.failed_exposure, MovingObject(obj.centre_mm, obj.side_mm, *boxes))
        lr_truth.append(LrShotTruth(
            file, float(scale), shot.settings.focal_mm, effective_focal,
            true_scale(lens, shot.settings.focal_mm, reference_focal_mm), affine_rows(tm.affine), tm.scale,
            tm.max_deviation_px, tm.overlap_fraction, grid, shot.geometry, shot.settings,
            tuple(shot.white_balance), planted, shot.demosaic_blur_px2))
    write_scene_json(work, SceneRecord(scene=name, hr=hr_record, lr=tuple(lr_records), source="virtual camera",
                                       reference_focal_mm=reference_focal_mm))
    texture = SceneTexture(scene.texture_path.name, scene.mirrored, scene.offset_mm, scene.texel_mm,
                           scene.footprint_mm)
    write_truth(work / TRUTH_JSON, SceneTruth(name, seed, lens, body, SCENE_DISTANCE_MM, texture, reference_focal_mm,
                                              hr_truth, tuple(sorted(lr_truth, key=lambda t: t.scale))))
    final = out / name
    if final.exists():
        shutil.rmtree(final)  # an incomplete scene of ours (no manifest entry): redo it
    work.rename(final)
    return final


def _resolve(lens, targets, scales, reference_focal_mm):
    ref = lens.max_focal_mm if reference_focal_mm is None else lens.check_focal(reference_focal_mm)
    if (targets is None) == (scales is None):
        raise DdirKitError("give either targets (from a calibration) or scales")
    if targets is None:
        targets = targets_for_scales(lens, scales, ref)
    targets = sorted((as_fraction(s), lens.check_focal(f)) for s, f in targets)
    if len({s for s, _ in targets}) != len(targets):
        raise DdirKitError("a scale is listed twice")
    return ref, targets


def simulate_scenes(out: str | Path, n_scenes: int, *, targets: Sequence[tuple] | None = None,
                    scales: Sequence | None = None, reference_focal_mm: float | None = None, seed: int = 0,
                    sensor: tuple[int, int] = (1200, 800), bit_depth: int = 8, bayer: bool = False,
                    planting: Planting | None = None, disturb: bool = True, textures: Sequence | None = None,
                    lens: ZoomLens | None = None, body: CameraBody | None = None,
                    progress: Progress | None = None) -> SimulatedScenes:
    """Write ``n_scenes`` scenes in the capture layout with truth (see the module docstring).

    targets: [(nominal scale, focal_mm)] as set on the zoom ring (e.g. from calibration.json;
        the true scale then differs from the nominal one by the calibration's error).
    scales: alternatively, nominal scales shot at their TRUE focal lengths.
    reference_focal_mm: the HR focal length (default: the lens's longest).
    sensor (width, height), bit_depth (8 | 16 PNG), bayer: shorthands when ``body`` is None.
    """
    lens = lens or ZoomLens()
    body = body or CameraBody(width_px=int(sensor[0]), height_px=int(sensor[1]), bit_depth=bit_depth, bayer=bayer)
    planting = planting or Planting()
    check_seed(seed)
    if n_scenes < 1:
        raise DdirKitError(f"need at least one scene, got {n_scenes}")
    ref, targets = _resolve(lens, targets, scales, reference_focal_mm)
    planting.check_scales(s for s, _ in targets)
    tex_paths = texture_paths(textures)
    out = Path(out)
    params = dict(kind="scenes", n_scenes=n_scenes, seed=seed, reference_focal_mm=ref,
                  targets=[[float(s), f] for s, f in targets], planting=planting.to_dict(), disturb=disturb,
                  textures=[str(p) for p in tex_paths], lens=lens.to_dict(), camera=body.to_dict())
    manifest = SimulationManifest.open(out, params)
    written, skipped = [], []
    for index in range(1, n_scenes + 1):
        name = scene_name(index)
        if manifest.is_done(f"{name}/{TRUTH_JSON}"):
            skipped.append(out / name)
            continue
        scene = _plan_scene(index, seed, tex_paths, lens, body, ref, min(f for _, f in targets))
        start = DEFAULT_START_TIME + timedelta(seconds=_SCENE_GAP_S * (index - 1))
        path = _write_scene(out, scene, targets, ref, lens, body, seed, planting, tex_paths, disturb, start)
        manifest.mark_done(f"{name}/{TRUTH_JSON}")
        written.append(path)
        if progress:
            progress(f"{name}: HR + {len(targets)} LR shots ({scene.texture_path.name})")
    manifest.finish()
    return SimulatedScenes(out, written, skipped)


def write_camera_card(out: str | Path, n_scenes: int, *, targets: Sequence[tuple] | None = None,
                      scales: Sequence | None = None, reference_focal_mm: float | None = None,
                      formats: Sequence[str] = ("jpg",), seed: int = 0, sensor: tuple[int, int] = (1200, 800),
                      planting: Planting | None = None, disturb: bool = True, textures: Sequence | None = None,
                      lens: ZoomLens | None = None, body: CameraBody | None = None,
                      truth_path: str | Path | None = None, first_number: int = 1) -> CameraCard:
    """Shoot ``n_scenes`` scenes onto a camera card folder: IMG_0001.JPG (and/or .DNG), ...

    formats: any of 'jpg', 'dng' (both: each shot written twice, RAW + JPEG, same number).
    The shots are the same as simulate_scenes renders for the same arguments.
    truth_path: where to write the truth (kept off the card, which holds photos only).
    """
    lens = lens or ZoomLens()
    body = body or CameraBody(width_px=int(sensor[0]), height_px=int(sensor[1]), bayer="dng" in formats)
    planting = planting or Planting()
    check_seed(seed)
    if n_scenes < 1:
        raise DdirKitError(f"need at least one scene, got {n_scenes}")
    formats = [f.lower().lstrip(".") for f in formats]
    if not formats or any(f not in ("jpg", "dng") for f in formats):
        raise DdirKitError(f"card formats are 'jpg' and 'dng', got {', '.join(formats) or 'none'}")
    ref, targets = _resolve(lens, targets, scales, reference_focal_mm)
    planting.check_scales(s for s, _ in targets)
    tex_paths = texture_paths(textures)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    number = first_number
    photos, scenes = [], []
    for index in range(1, n_scenes + 1):
        scene = _plan_scene(index, seed, tex_paths, lens, body, ref, min(f for _, f in targets))
        start = DEFAULT_START_TIME + timedelta(seconds=_SCENE_GAP_S * (index - 1))
        hr_geom, shots_truth = None, []
        for role, scale, shot, planted in _shoot_scene(scene, targets, ref, lens, body, seed, planting,
                                                       tex_paths, start, disturb, body.bayer or "dng" in formats):
            stem = f"IMG_{number:04d}"
            number += 1
            files = []
            for fmt in formats:
                path = out / f"{stem}.{fmt.upper()}"
                save_shot(path, shot)  # the writer is chosen from the suffix, any case
                photos.append(path)
                files.append(path.name)
            entry = CardShotTruth(tuple(files), role, None if scale is None else float(scale), shot.settings.focal_mm,
                                  shot.geometry, shot.settings, planted, demosaic_blur_px2=shot.demosaic_blur_px2)
            if role == "hr":
                hr_geom = shot.geometry
            else:
                tm = lr_to_hr_truth(shot.geometry, hr_geom)
                entry = dataclasses.replace(entry, true_scale=true_scale(lens, shot.settings.focal_mm, ref),
                                            lr_to_hr=affine_rows(tm.affine), max_deviation_px=tm.max_deviation_px)
            shots_truth.append(entry)
        scenes.append(CardScene(scene_name(index), scene.texture_path.name, tuple(shots_truth)))
    truth = CardTruth(seed, ref, lens, body, tuple(scenes))
    written = None if truth_path is None else write_truth(truth_path, truth)
    return CameraCard(out, photos, truth, written)
