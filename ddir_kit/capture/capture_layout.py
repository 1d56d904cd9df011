"""The capture layout: one scene per folder, shared by `capture ingest` (camera cards), the
virtual camera (`capture simulate scenes`) and `register` (the reader).

    CAPTURES/<scene>/hr.png            the HR shot (reference focal length)
    CAPTURES/<scene>/lr_x<tag>.png     one LR shot per nominal scale (tag: '1dot5', '2', ...)
    CAPTURES/<scene>/scene.json        what every shot is (schema below)
    CAPTURES/<scene>/manifest.json     checksums of inputs and outputs (SceneManifest; written
                                       last; optional for writers that are not resumable)
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

manifest.json (``format`` = SCENE_MANIFEST_FORMAT), written by ingest:
    fingerprint: SHA-256 of everything the scene was made from (plan, source bytes, RAW
        development), so a rerun knows whether the folder is still current
    sources: [{file, sha256}] the card files read (relative to the card folder)
    outputs: [{file, sha256}] the files of the scene folder, scene.json included

Versions: scene.json and manifest.json have had one format each (@1). A reader refuses any
other by name; a later version converts @1 files in read_scene_json / read_scene_manifest, so
that callers see one shape.
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
SCENE_MANIFEST_FORMAT = "ddir-kit/ingest-manifest@1"
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
    return _read(Path(scene_dir) / SCENE_JSON, SCENE_FORMAT, "scene description", SceneRecord.from_dict)


@dataclass(frozen=True)
class FileChecksum:
    file: str     # relative to the scene folder (outputs) or the card folder (sources)
    sha256: str


@dataclass(frozen=True)
class SceneManifest:
    """The contents of a scene folder's manifest.json (see the module docstring)."""

    fingerprint: str
    sources: tuple[FileChecksum, ...]
    outputs: tuple[FileChecksum, ...]

    def to_dict(self) -> dict:
        return {"format": SCENE_MANIFEST_FORMAT, "fingerprint": self.fingerprint,
                "sources": [dataclasses.asdict(c) for c in self.sources],
                "outputs": [dataclasses.asdict(c) for c in self.outputs]}

    @classmethod
    def from_dict(cls, d: dict) -> "SceneManifest":
        return cls(str(d["fingerprint"]), tuple(FileChecksum(c["file"], c["sha256"]) for c in d["sources"]),
                   tuple(FileChecksum(c["file"], c["sha256"]) for c in d["outputs"]))


def write_scene_manifest(scene_dir: str | Path, manifest: SceneManifest) -> Path:
    return atomic_write_json(Path(scene_dir) / SCENE_MANIFEST, manifest.to_dict())


def read_scene_manifest(scene_dir: str | Path) -> SceneManifest:
    """Read a scene folder's manifest.json; DdirKitError naming the file when absent or malformed."""
    return _read(Path(scene_dir) / SCENE_MANIFEST, SCENE_MANIFEST_FORMAT, "scene manifest", SceneManifest.from_dict)


def _read(path: Path, expected: str, what: str, from_dict):
    d = read_json(path)
    _check_format(d, expected, what, path)
    try:
        return from_dict(d)
    except (KeyError, TypeError, AttributeError) as e:
        raise DdirKitError(f"malformed {what} ({type(e).__name__}: {e})", path) from None


def _check_format(d, expected: str, what: str, path: Path) -> None:
    fmt = d.get("format") if isinstance(d, dict) else None
    if fmt == expected:
        return
    family = expected.split("@")[0] + "@"
    if isinstance(fmt, str) and fmt.startswith(family):
        raise DdirKitError(f"{what} in format {fmt!r}, which this version of ddir-kit does not read "
                           f"(it reads {expected!r})", path)
    raise DdirKitError(f"not a {what} (expected format {expected!r})", path)


def list_scene_dirs(captures_dir: str | Path) -> list[Path]:
    """Finished scene folders (those holding scene.json, not hidden), sorted by name."""
    root = Path(captures_dir)
    if not root.is_dir():
        raise DdirKitError("not a folder", root)
    return sorted(d for d in root.iterdir()
                  if d.is_dir() and not d.name.startswith(".") and (d / SCENE_JSON).is_file())
