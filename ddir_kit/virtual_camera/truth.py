"""truth.json: what the virtual camera knows exactly about the shots it wrote; its one reader
and writer.

Three kinds of file, told apart by ``kind``:

- ``calibration_sweep`` (SweepTruth), SWEEP/truth.json of `capture simulate calibration`:
  the board, camera and lens, and per shot its true scale to the reference (longest) focal
  length and the true pixel positions of the board's inner corners; a table of the true
  focal length of scales 1.5..4.0.
- ``scene`` (SceneTruth), CAPTURES/<scene>/truth.json of `capture simulate scenes`: the
  wall's photo, and per LR shot its true scale to HR, the least-squares affine LR -> HR over
  the region both shots see, its largest deviation from the true map and a dense grid of the
  true map (a .npy file beside it, see truth_maps.py).
- ``camera_card`` (CardTruth), the file write_camera_card's ``truth_path`` names (the demo's
  card_truth.json): per scene, per shot the card files, focal length, geometry and, for LR
  shots, the true scale and affine.

Each records the lens (ZoomLens), the camera (CameraBody) and per shot its ShotGeometry and
ShotSettings; ``conventions`` says in words what the numbers mean. ``version`` is 1; files
written before it existed carry none and have the same fields, so they read as version 1. A
later version converts older files in ``_load`` so that callers see one shape.

Longer than 400 lines because the three kinds share their parts (shots, planted faults) and
their reader: split up, the format would be parsed in several modules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DdirKitError
from ..fileio import atomic_write_json, read_json
from .camera import CameraBody, ShotSettings
from .lens_model import ZoomLens
from .shot_geometry import ShotGeometry

TRUTH_JSON = "truth.json"
TRUTH_VERSION = 1
SWEEP_CONVENTIONS = (
    "pixels: x right, y down, (0, 0) = centre of the top-left pixel; scale_to_reference = effective focal of "
    "the reference / effective focal of the shot (magnification ratio on the optical axis); corners_px: board "
    "inner corners row by row (rows x cols), left to right, top row first, in the board's own frame")
SCENE_CONVENTIONS = (
    "pixels: x right, y down, (0, 0) = centre of the top-left pixel; true_scale = effective focal of HR / "
    "effective focal of the LR shot (magnification on the optical axis); lr_to_hr: 2x3 affine, HR (x, y) = "
    "A @ (u, v, 1) for LR pixel (u, v), least squares over the LR pixels the HR frame sees; max_deviation_px "
    "in HR pixels")
GRID_MEANING = "grid[j, i] = HR (x, y) of LR pixel (i*step_px, j*step_px)"
TEXTURE_NOTE = "the photo in the middle of a wall of photos (others around it)"

Affine = tuple[tuple[float, float, float], tuple[float, float, float]]


# ---------------------------------------------------------------------------------------
# planted faults (scenes and cards)


@dataclass(frozen=True)
class MovingObject:
    """A patch of another photo in one LR shot only: centre and side on the wall (mm); in a
    scene's truth also its box [x0, y0, x1, y1] in LR and in HR pixels."""

    centre_mm: tuple[float, float]
    side_mm: float
    box_lr_px: tuple[float, float, float, float] | None = None
    box_hr_px: tuple[float, float, float, float] | None = None

    def to_dict(self) -> dict:
        d = dict(centre_mm=list(self.centre_mm), side_mm=self.side_mm)
        if self.box_lr_px is not None:
            d.update(box_lr_px=list(self.box_lr_px), box_hr_px=list(self.box_hr_px))
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "MovingObject":
        box = lambda k: None if d.get(k) is None else tuple(float(v) for v in d[k])  # noqa: E731
        return cls(tuple(float(v) for v in d["centre_mm"]), float(d["side_mm"]), box("box_lr_px"),
                   box("box_hr_px"))


@dataclass(frozen=True)
class PlantedFaults:
    """What was planted in one shot: a failed exposure ('over' | 'under') and/or a moving object."""

    failed_exposure: str | None = None
    moving_object: MovingObject | None = None

    def to_dict(self) -> dict:
        d: dict = {}
        if self.failed_exposure is not None:
            d["failed_exposure"] = self.failed_exposure
        if self.moving_object is not None:
            d["moving_object"] = self.moving_object.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PlantedFaults":
        obj = d.get("moving_object")
        return cls(d.get("failed_exposure"), None if obj is None else MovingObject.from_dict(obj))


# ---------------------------------------------------------------------------------------
# calibration sweep


@dataclass(frozen=True)
class SweepBoard:
    cols: int
    rows: int
    square_mm: float
    margin_squares: float


@dataclass(frozen=True)
class SweepShotTruth:
    """corners_px: (rows*cols) true (x, y) of the board's inner corners in this shot."""

    file: str
    focal_mm: float
    effective_focal_mm: float
    scale_to_reference: float
    geometry: ShotGeometry
    settings: ShotSettings
    corners_px: tuple[tuple[float, float], ...]

    def to_dict(self) -> dict:
        return dict(file=self.file, focal_mm=self.focal_mm, effective_focal_mm=self.effective_focal_mm,
                    scale_to_reference=self.scale_to_reference, geometry=self.geometry.to_dict(),
                    settings=self.settings.to_dict(), corners_px=[list(c) for c in self.corners_px])

    @classmethod
    def from_dict(cls, d: dict) -> "SweepShotTruth":
        return cls(d["file"], float(d["focal_mm"]), float(d["effective_focal_mm"]), float(d["scale_to_reference"]),
                   ShotGeometry.from_dict(d["geometry"]), ShotSettings.from_dict(d["settings"]),
                   tuple((float(x), float(y)) for x, y in d["corners_px"]))


@dataclass(frozen=True)
class ScaleFocal:
    scale: float
    focal_mm: float


@dataclass(frozen=True)
class SweepTruth:
    """The truth of a checkerboard sweep. reference_focal_mm: the longest focal length of the
    sweep; format: the photos' file format ('jpg', 'png', 'tif', 'dng'); distance_mm: camera
    to board; shots in shooting order (longest focal length first)."""

    reference_focal_mm: float
    seed: int
    format: str
    distance_mm: float
    board: SweepBoard
    camera: CameraBody
    lens: ZoomLens
    shots: tuple[SweepShotTruth, ...]
    scale_to_focal: tuple[ScaleFocal, ...]
    conventions: str = SWEEP_CONVENTIONS
    kind = "calibration_sweep"

    def to_dict(self) -> dict:
        return dict(kind=self.kind, version=TRUTH_VERSION, conventions=self.conventions,
                    reference_focal_mm=self.reference_focal_mm, seed=self.seed, format=self.format,
                    distance_mm=self.distance_mm, board=asdict(self.board), camera=self.camera.to_dict(),
                    lens=self.lens.to_dict(), shots=[s.to_dict() for s in self.shots],
                    scale_to_focal=[asdict(r) for r in self.scale_to_focal])

    @classmethod
    def from_dict(cls, d: dict) -> "SweepTruth":
        return cls(float(d["reference_focal_mm"]), int(d["seed"]), d["format"], float(d["distance_mm"]),
                   SweepBoard(**d["board"]), CameraBody.from_dict(d["camera"]), ZoomLens.from_dict(d["lens"]),
                   tuple(SweepShotTruth.from_dict(s) for s in d["shots"]),
                   tuple(ScaleFocal(float(r["scale"]), float(r["focal_mm"])) for r in d["scale_to_focal"]),
                   d.get("conventions", SWEEP_CONVENTIONS))


# ---------------------------------------------------------------------------------------
# scenes


@dataclass(frozen=True)
class TruthGrid:
    """The dense true map of an LR shot, saved as ``file`` (.npy, float64 (ny, nx, 2)) beside
    truth.json: grid[j, i] = HR (x, y) of LR pixel (i*step_px, j*step_px)."""

    file: str
    step_px: int
    shape: tuple[int, int, int]
    meaning: str = GRID_MEANING

    def load(self, scene_dir: str | Path) -> np.ndarray:
        return np.load(Path(scene_dir) / self.file)

    def to_dict(self) -> dict:
        return dict(file=self.file, step_px=self.step_px, shape=list(self.shape), meaning=self.meaning)

    @classmethod
    def from_dict(cls, d: dict) -> "TruthGrid":
        return cls(d["file"], int(d["step_px"]), tuple(int(v) for v in d["shape"]), d.get("meaning", GRID_MEANING))


@dataclass(frozen=True)
class SceneTexture:
    """The photo in the middle of the wall: its file name, whether it is mirrored, its offset
    on the wall (mm), the size of one of its texels and of an HR pixel on the wall (mm)."""

    file: str
    mirrored: bool
    offset_mm: tuple[float, float]
    texel_mm: float
    hr_pixel_mm: float
    note: str = TEXTURE_NOTE

    def to_dict(self) -> dict:
        return dict(file=self.file, mirrored=self.mirrored, offset_mm=list(self.offset_mm), texel_mm=self.texel_mm,
                    hr_pixel_mm=self.hr_pixel_mm, note=self.note)

    @classmethod
    def from_dict(cls, d: dict) -> "SceneTexture":
        return cls(d["file"], bool(d["mirrored"]), tuple(float(v) for v in d["offset_mm"]), float(d["texel_mm"]),
                   float(d["hr_pixel_mm"]), d.get("note", TEXTURE_NOTE))


@dataclass(frozen=True)
class HrShotTruth:
    file: str
    focal_mm: float
    effective_focal_mm: float
    geometry: ShotGeometry
    settings: ShotSettings
    white_balance: tuple[float, float, float]
    demosaic_blur_px2: dict[str, float] | None = None

    def to_dict(self) -> dict:
        return _with_demosaic(dict(file=self.file, focal_mm=self.focal_mm, effective_focal_mm=self.effective_focal_mm,
                                   geometry=self.geometry.to_dict(), settings=self.settings.to_dict(),
                                   white_balance=list(self.white_balance)), self.demosaic_blur_px2)

    @classmethod
    def from_dict(cls, d: dict) -> "HrShotTruth":
        return cls(d["file"], float(d["focal_mm"]), float(d["effective_focal_mm"]), ShotGeometry.from_dict(d["geometry"]),
                   ShotSettings.from_dict(d["settings"]), tuple(d["white_balance"]), _demosaic(d))


@dataclass(frozen=True)
class LrShotTruth:
    """One LR shot of a scene. scale: nominal; true_scale: effective focal of HR / of this
    shot. lr_to_hr: 2x3 least-squares affine (LR px -> HR px) over overlap_fraction of the LR
    frame; affine_scale: sqrt of its determinant; max_deviation_px: largest distance (HR px)
    between the true map and that affine there."""

    file: str
    scale: float
    focal_mm: float
    effective_focal_mm: float
    true_scale: float
    lr_to_hr: Affine
    affine_scale: float
    max_deviation_px: float
    overlap_fraction: float
    grid: TruthGrid
    geometry: ShotGeometry
    settings: ShotSettings
    white_balance: tuple[float, float, float]
    planted: PlantedFaults = field(default_factory=PlantedFaults)
    demosaic_blur_px2: dict[str, float] | None = None

    @property
    def affine(self) -> np.ndarray:
        """lr_to_hr as a (2, 3) float64 array."""
        return np.array(self.lr_to_hr, np.float64)

    def to_dict(self) -> dict:
        return _with_demosaic(dict(
            file=self.file, scale=self.scale, focal_mm=self.focal_mm, effective_focal_mm=self.effective_focal_mm,
            true_scale=self.true_scale, lr_to_hr=[list(r) for r in self.lr_to_hr], affine_scale=self.affine_scale,
            max_deviation_px=self.max_deviation_px, overlap_fraction=self.overlap_fraction, grid=self.grid.to_dict(),
            geometry=self.geometry.to_dict(), settings=self.settings.to_dict(), white_balance=list(self.white_balance),
            planted=self.planted.to_dict()), self.demosaic_blur_px2)

    @classmethod
    def from_dict(cls, d: dict) -> "LrShotTruth":
        return cls(d["file"], float(d["scale"]), float(d["focal_mm"]), float(d["effective_focal_mm"]),
                   float(d["true_scale"]), _affine(d["lr_to_hr"]), float(d["affine_scale"]),
                   float(d["max_deviation_px"]), float(d["overlap_fraction"]), TruthGrid.from_dict(d["grid"]),
                   ShotGeometry.from_dict(d["geometry"]), ShotSettings.from_dict(d["settings"]),
                   tuple(d["white_balance"]), PlantedFaults.from_dict(d.get("planted") or {}), _demosaic(d))


@dataclass(frozen=True)
class SceneTruth:
    """The truth of one simulated scene; lr in ascending scale. distance_mm: camera to wall."""

    scene: str
    seed: int
    lens: ZoomLens
    camera: CameraBody
    distance_mm: float
    texture: SceneTexture
    reference_focal_mm: float
    hr: HrShotTruth
    lr: tuple[LrShotTruth, ...]
    conventions: str = SCENE_CONVENTIONS
    kind = "scene"

    def lr_for(self, scale: float) -> LrShotTruth:
        for shot in self.lr:
            if shot.scale == float(scale):
                return shot
        raise DdirKitError(f"scene {self.scene} has no LR truth at x{float(scale):g}")

    def to_dict(self) -> dict:
        return dict(kind=self.kind, version=TRUTH_VERSION, scene=self.scene, seed=self.seed,
                    conventions=self.conventions, lens=self.lens.to_dict(), camera=self.camera.to_dict(),
                    distance_mm=self.distance_mm, texture=self.texture.to_dict(),
                    reference_focal_mm=self.reference_focal_mm, hr=self.hr.to_dict(),
                    lr=[s.to_dict() for s in self.lr])

    @classmethod
    def from_dict(cls, d: dict) -> "SceneTruth":
        return cls(d["scene"], int(d["seed"]), ZoomLens.from_dict(d["lens"]), CameraBody.from_dict(d["camera"]),
                   float(d["distance_mm"]), SceneTexture.from_dict(d["texture"]), float(d["reference_focal_mm"]),
                   HrShotTruth.from_dict(d["hr"]), tuple(LrShotTruth.from_dict(s) for s in d["lr"]),
                   d.get("conventions", SCENE_CONVENTIONS))


# ---------------------------------------------------------------------------------------
# camera cards


@dataclass(frozen=True)
class CardShotTruth:
    """One exposure on the card: its files (one per format, same number), role 'hr' | 'lr',
    nominal scale (None for HR); for LR shots the true scale, the least-squares affine LR ->
    HR and its largest deviation from the true map (HR px)."""

    files: tuple[str, ...]
    role: str
    scale: float | None
    focal_mm: float
    geometry: ShotGeometry
    settings: ShotSettings
    planted: PlantedFaults = field(default_factory=PlantedFaults)
    true_scale: float | None = None
    lr_to_hr: Affine | None = None
    max_deviation_px: float | None = None
    demosaic_blur_px2: dict[str, float] | None = None

    @property
    def affine(self) -> np.ndarray:
        """lr_to_hr as a (2, 3) float64 array (LR shots only)."""
        if self.lr_to_hr is None:
            raise DdirKitError("an HR shot has no LR -> HR map")
        return np.array(self.lr_to_hr, np.float64)

    def to_dict(self) -> dict:
        d = dict(files=list(self.files), role=self.role, scale=self.scale, focal_mm=self.focal_mm,
                 geometry=self.geometry.to_dict(), settings=self.settings.to_dict(), planted=self.planted.to_dict())
        if self.lr_to_hr is not None:
            d.update(true_scale=self.true_scale, lr_to_hr=[list(r) for r in self.lr_to_hr],
                     max_deviation_px=self.max_deviation_px)
        return _with_demosaic(d, self.demosaic_blur_px2)

    @classmethod
    def from_dict(cls, d: dict) -> "CardShotTruth":
        lr = d.get("lr_to_hr")
        return cls(tuple(d["files"]), d["role"], None if d.get("scale") is None else float(d["scale"]),
                   float(d["focal_mm"]), ShotGeometry.from_dict(d["geometry"]), ShotSettings.from_dict(d["settings"]),
                   PlantedFaults.from_dict(d.get("planted") or {}),
                   None if d.get("true_scale") is None else float(d["true_scale"]),
                   None if lr is None else _affine(lr),
                   None if d.get("max_deviation_px") is None else float(d["max_deviation_px"]), _demosaic(d))


@dataclass(frozen=True)
class CardScene:
    """One scene on the card: its name, the photo in the middle of its wall and its shots in
    shooting order (HR first)."""

    scene: str
    texture: str
    shots: tuple[CardShotTruth, ...]

    @property
    def hr(self) -> CardShotTruth:
        return next(s for s in self.shots if s.role == "hr")

    def to_dict(self) -> dict:
        return dict(scene=self.scene, texture=self.texture, shots=[s.to_dict() for s in self.shots])

    @classmethod
    def from_dict(cls, d: dict) -> "CardScene":
        return cls(d["scene"], d["texture"], tuple(CardShotTruth.from_dict(s) for s in d["shots"]))


@dataclass(frozen=True)
class CardTruth:
    seed: int
    reference_focal_mm: float
    lens: ZoomLens
    camera: CameraBody
    scenes: tuple[CardScene, ...]
    kind = "camera_card"

    def by_file(self) -> dict[str, tuple[CardShotTruth, CardShotTruth]]:
        """{card file name: (its shot, the HR shot of its scene)}."""
        return {f: (shot, scene.hr) for scene in self.scenes for shot in scene.shots for f in shot.files}

    def to_dict(self) -> dict:
        return dict(kind=self.kind, version=TRUTH_VERSION, seed=self.seed, reference_focal_mm=self.reference_focal_mm,
                    lens=self.lens.to_dict(), camera=self.camera.to_dict(), scenes=[s.to_dict() for s in self.scenes])

    @classmethod
    def from_dict(cls, d: dict) -> "CardTruth":
        return cls(int(d["seed"]), float(d["reference_focal_mm"]), ZoomLens.from_dict(d["lens"]),
                   CameraBody.from_dict(d["camera"]), tuple(CardScene.from_dict(s) for s in d["scenes"]))


# ---------------------------------------------------------------------------------------
# files


def write_truth(path: str | Path, truth: SweepTruth | SceneTruth | CardTruth) -> Path:
    """Write a truth file atomically."""
    return atomic_write_json(path, truth.to_dict())


def read_sweep_truth(sweep_dir: str | Path) -> SweepTruth:
    """SWEEP/truth.json of a calibration sweep."""
    return _load(Path(sweep_dir) / TRUTH_JSON, SweepTruth)


def read_scene_truth(scene_dir: str | Path) -> SceneTruth:
    """CAPTURES/<scene>/truth.json of a simulated scene (its grids: ``lr.grid.load(scene_dir)``)."""
    return _load(Path(scene_dir) / TRUTH_JSON, SceneTruth)


def read_card_truth(path: str | Path) -> CardTruth:
    """The truth file write_camera_card wrote (its ``truth_path``)."""
    return _load(Path(path), CardTruth)


def _load(path: Path, cls):
    d = read_json(path)
    kind = d.get("kind") if isinstance(d, dict) else None
    if kind != cls.kind:
        raise DdirKitError(f"not the truth of a {cls.kind.replace('_', ' ')} (kind {kind!r}, expected "
                           f"{cls.kind!r})", path)
    version = d.get("version", 1)
    if version != TRUTH_VERSION:
        raise DdirKitError(f"truth file version {version!r}, which this version of ddir-kit does not read "
                           f"(it reads version {TRUTH_VERSION})", path)
    try:
        return cls.from_dict(d)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise DdirKitError(f"malformed truth file ({type(e).__name__}: {e})", path) from None


def _with_demosaic(d: dict, demosaic: dict | None) -> dict:
    if demosaic is not None:
        d["demosaic_blur_px2"] = {k: float(v) for k, v in demosaic.items()}
    return d


def _demosaic(d: dict) -> dict[str, float] | None:
    """A shot's demosaic blur; None in files written before the camera measured it."""
    v = d.get("demosaic_blur_px2")
    return None if v is None else {str(k): float(x) for k, x in v.items()}


def affine_rows(a: np.ndarray) -> Affine:
    """A (2, 3) affine as truth.json stores it: rounded to 1e-9 px."""
    return _affine(np.asarray(a, np.float64).round(9).tolist())


def _affine(rows) -> Affine:
    a = tuple(tuple(float(v) for v in r) for r in rows)
    if len(a) != 2 or any(len(r) != 3 for r in a):
        raise ValueError("lr_to_hr is not a 2x3 matrix")
    return a
