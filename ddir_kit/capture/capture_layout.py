"""The capture layout: one scene per folder, shared by `capture ingest` (camera cards), the
virtual camera (`capture simulate scenes`) and `register` (the reader).

    CAPTURES/<scene>/hr.png            the HR shot (reference focal length)
    CAPTURES/<scene>/lr_x<tag>.png     one LR shot per nominal scale (tag: '1dot5', '2', ...)
    CAPTURES/<scene>/scene.json        what every shot is (schema below)
    CAPTURES/<scene>/manifest.json     checksums of inputs and outputs (written last; optional
                                       for writers that are not resumable)
    CAPTURES/ingest_report.csv         written by ingest only

Photos are PNG, 16-bit where the source had more than 8 bits. Folders whose name starts with
'.' are work in progress (a scene is written in a hidden folder and renamed into place), so a
reader lists only finished scenes.

scene.json (``format`` = SCENE_FORMAT):
    scene: folder name
    source: "camera card" | "virtual camera" | ...
    reference_focal_mm: float | null
    development: RAW development parameters used for every RAW shot of the scene, or null
    hr: ShotRecord
    lr: [ShotRecord, ...] in ascending scale
    findings: [{kind, level, scale, file, message}, ...] (checks made while writing the scene)
ShotRecord: role ("hr" | "lr"), file (in the scene folder), scale (null for HR), source (the
original file, relative to the card folder), source_format ("raw" | "jpeg" | "png" | "tiff" |
"rendered"), exif (PhotoExif.to_dict()), bit_depth (8 | 16), size_px [w, h],
target_focal_mm (the calibrated focal length for its scale, or the reference for HR; null when
unknown), focal_error_mm (EXIF focal minus target), development (dict or null).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..errors import DdirKitError
from ..fileio import atomic_write_json, read_json
from ..scales import as_fraction, scale_tag

SCENE_FORMAT = "ddir-kit/scene@1"
SCENE_JSON = "scene.json"
SCENE_MANIFEST = "manifest.json"
HR_FILE = "hr.png"
INGEST_REPORT = "ingest_report.csv"


def scene_name(index: int) -> str:
    """Folder name of the index-th scene (1-based): scene_0001, scene_0002, ..."""
    if index < 1:
        raise DdirKitError(f"scene index starts at 1, got {index}")
    return f"scene_{index:04d}"


def lr_file_name(scale: float | str | Fraction) -> str:
    """lr_x1dot5.png, lr_x2.png, ..."""
    return f"lr_x{scale_tag(scale)}.png"


@dataclass(frozen=True)
class ShotRecord:
    """One photo of a scene as written in the scene folder (see the module docstring)."""

    role: str
    file: str
    scale: float | None
    source: str
    source_format: str
    exif: dict
    bit_depth: int
    size_px: tuple[int, int]
    target_focal_mm: float | None = None
    focal_error_mm: float | None = None
    development: dict | None = None

    @property
    def scale_fraction(self) -> Fraction | None:
        return None if self.scale is None else as_fraction(self.scale)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["size_px"] = list(self.size_px)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ShotRecord":
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        d["size_px"] = tuple(d.get("size_px") or (0, 0))
        return cls(**d)


@dataclass(frozen=True)
class SceneRecord:
    """The contents of scene.json."""

    scene: str
    hr: ShotRecord
    lr: tuple[ShotRecord, ...]
    source: str = "camera card"
    reference_focal_mm: float | None = None
    development: dict | None = None
    findings: tuple[dict, ...] = field(default_factory=tuple)

    @property
    def scales(self) -> list[Fraction]:
        return [as_fraction(s.scale) for s in self.lr]

    def lr_for(self, scale) -> ShotRecord:
        frac = as_fraction(scale)
        for shot in self.lr:
            if as_fraction(shot.scale) == frac:
                return shot
        raise DdirKitError(f"scene {self.scene} has no LR shot at x{float(frac):g}")

    def to_dict(self) -> dict:
        return {
            "format": SCENE_FORMAT,
            "scene": self.scene,
            "source": self.source,
            "reference_focal_mm": self.reference_focal_mm,
            "development": self.development,
            "hr": self.hr.to_dict(),
            "lr": [s.to_dict() for s in self.lr],
            "findings": [dict(f) for f in self.findings],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "SceneRecord":
        return cls(
            scene=d["scene"],
            hr=ShotRecord.from_dict(d["hr"]),
            lr=tuple(ShotRecord.from_dict(s) for s in d.get("lr", [])),
            source=d.get("source", "camera card"),
            reference_focal_mm=d.get("reference_focal_mm"),
            development=d.get("development"),
            findings=tuple(d.get("findings", [])),
        )


def write_scene_json(scene_dir: str | Path, record: SceneRecord) -> Path:
    """Write scene.json atomically; LR shots sorted by ascending scale."""
    lr = tuple(sorted(record.lr, key=lambda s: as_fraction(s.scale)))
    return atomic_write_json(Path(scene_dir) / SCENE_JSON, dataclasses.replace(record, lr=lr).to_dict())


def read_scene_json(scene_dir: str | Path) -> SceneRecord:
    """Read a scene folder's scene.json; DdirKitError naming the file when absent or malformed."""
    path = Path(scene_dir) / SCENE_JSON
    d = read_json(path)
    if not isinstance(d, dict) or d.get("format") != SCENE_FORMAT:
        raise DdirKitError(f"not a scene description (expected format {SCENE_FORMAT!r})", path)
    try:
        return SceneRecord.from_dict(d)
    except (KeyError, TypeError) as e:
        raise DdirKitError(f"malformed scene description ({type(e).__name__}: {e})", path) from None


def list_scene_dirs(captures_dir: str | Path) -> list[Path]:
    """Finished scene folders (those holding scene.json, not hidden), sorted by name."""
    root = Path(captures_dir)
    if not root.is_dir():
        raise DdirKitError("not a folder", root)
    return sorted(d for d in root.iterdir()
                  if d.is_dir() and not d.name.startswith(".") and (d / SCENE_JSON).is_file())
