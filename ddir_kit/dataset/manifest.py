"""DATASET/manifest.json, written by `crop` and read by `validate`: the one module that parses it.

`crop` writes it twice: first with ``complete`` false and only the settings (so that a killed
run can be resumed with the same settings and `validate` sees an unfinished dataset), then in
full. A dataset downloaded elsewhere has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..errors import DdirKitError
from ..fileio import atomic_write_json, read_json
from ..scales import as_fraction

MANIFEST = "manifest.json"
DATASET_FORMAT = "ddir-kit/dataset@1"
_FORMAT_NAME, _FORMAT_VERSION = DATASET_FORMAT.split("@")


@dataclass(frozen=True)
class DatasetFile:
    """One HR/LR file pair of the dataset. split: 'Train' or 'Test'; scale (written as ``scale``,
    a float, ``scale_fraction`` and the folder ``tag``); scene and source: the scene and the pair
    folder under aligned/ it was cut from; name: the file name in HR<tag> and LR<tag>;
    hr_box_in_pair: [x, y, w, h] of the piece in the pair's hr.png, HR px; hr, lr: paths
    relative to the dataset folder; hr_size, lr_size: (w, h); hr_sha256, lr_sha256 of the
    files' bytes."""

    split: str
    scale: Fraction | None
    tag: str
    scene: str
    name: str
    source: str
    hr_box_in_pair: tuple[int, int, int, int] | None
    hr: str
    lr: str
    hr_size: tuple[int, int] | None
    lr_size: tuple[int, int] | None
    hr_sha256: str | None = None
    lr_sha256: str | None = None

    @classmethod
    def from_dict(cls, d: dict) -> "DatasetFile":
        scale = d.get("scale_fraction") or d.get("scale")
        return cls(d.get("split") or "", None if scale is None else as_fraction(scale), d.get("tag") or "",
                   d.get("scene") or "", d.get("name") or "", d.get("source") or "",
                   _int_tuple(d.get("hr_box_in_pair")), d["hr"], d["lr"], _int_tuple(d.get("hr_size")),
                   _int_tuple(d.get("lr_size")), d.get("hr_sha256"), d.get("lr_sha256"))

    def to_dict(self) -> dict:
        s = self.scale
        return {"split": self.split, "scale": None if s is None else float(s),
                "scale_fraction": None if s is None else str(s), "tag": self.tag,
                "scene": self.scene, "name": self.name, "source": self.source,
                "hr_box_in_pair": _list_or_none(self.hr_box_in_pair), "hr": self.hr, "lr": self.lr,
                "hr_size": _list_or_none(self.hr_size), "lr_size": _list_or_none(self.lr_size),
                "hr_sha256": self.hr_sha256, "lr_sha256": self.lr_sha256}


@dataclass(frozen=True)
class SkippedPair:
    """A pair folder under aligned/ that `crop` left out, and why."""

    source: str
    reason: str


@dataclass
class DatasetManifest:
    """complete: false while `crop` runs. settings: the CropSettings as written (kept as read:
    a rerun into the folder compares them whole). splits: {'Train': [scenes], 'Test': [scenes]}
    (None in the first, incomplete write, as are files and skipped)."""

    complete: bool
    settings: dict
    splits: dict[str, list[str]] | None = None
    files: list[DatasetFile] = field(default_factory=list)
    skipped: list[SkippedPair] = field(default_factory=list)

    @classmethod
    def read(cls, path: str | Path) -> "DatasetManifest":
        """DdirKitError naming the file when it is not a ddir-kit dataset manifest (or one newer
        than this ddir-kit). A manifest without ``complete`` is taken as complete."""
        d = read_json(path)
        if not isinstance(d, dict):
            raise DdirKitError("not a dataset manifest (expected a JSON object)", path)
        fmt = d.get("format", DATASET_FORMAT)
        name, _, version = str(fmt).partition("@")
        if name != _FORMAT_NAME:
            raise DdirKitError(f"not a ddir-kit dataset manifest (format {fmt!r}, expected {DATASET_FORMAT})", path)
        if not version.isdigit() or int(version) > int(_FORMAT_VERSION):
            raise DdirKitError(f"manifest format {fmt!r} is newer than this ddir-kit reads; update ddir-kit", path)
        try:
            return cls(bool(d.get("complete", True)), dict(d.get("settings") or {}), d.get("splits"),
                       [DatasetFile.from_dict(f) for f in d.get("files") or []],
                       [SkippedPair(s["source"], s.get("reason", "")) for s in d.get("skipped") or []])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise DdirKitError(f"malformed dataset manifest ({type(e).__name__}: {e})", path) from None

    def write(self, path: str | Path) -> Path:
        out = {"format": DATASET_FORMAT, "complete": self.complete, "settings": self.settings}
        if self.splits is not None:
            out.update({"splits": self.splits, "files": [f.to_dict() for f in self.files],
                        "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped]})
        return atomic_write_json(path, out)

    def split_scenes(self, split: str) -> list[str]:
        """The scenes listed for a split ([] in an incomplete manifest)."""
        return list((self.splits or {}).get(split, []))

    def scenes_by_split(self) -> dict[str, set[str]]:
        """Split names of each scene, from the files listed."""
        out: dict[str, set[str]] = {}
        for f in self.files:
            out.setdefault(f.scene, set()).add(f.split)
        return out


def _int_tuple(v) -> tuple | None:
    return None if v is None else tuple(int(x) for x in v)


def _list_or_none(v) -> list | None:
    return None if v is None else list(v)
