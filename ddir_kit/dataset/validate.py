"""Check a dataset in the RealArbiSR layout (ours or a downloaded RealArbiSR): pairing, HR
exactly s x LR, readable files, duplicates, and scene leakage across the split.

Scenes are known from manifest.json when ddir-kit wrote it; without one (a downloaded copy)
leakage can only be seen as identical images on both sides, and the report says so.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2

from ..errors import DdirKitError
from ..scales import scale_tag
from .layout import SPLITS, image_files, scale_dirs, split_dir, split_scales
from .manifest import MANIFEST, DatasetManifest


@dataclass(frozen=True)
class Finding:
    """level: 'error' or 'warning'; kind: a short key ('size', 'missing', 'duplicate', ...)."""

    level: str
    kind: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.path}: {self.message}"


@dataclass
class ValidationReport:
    root: Path
    pairs: dict = field(default_factory=dict)  # (split, tag) -> number of pairs checked
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, level: str, kind: str, path, message: str) -> None:
        self.findings.append(Finding(level, kind, str(path), message))


def validate_dataset(root: str | Path) -> ValidationReport:
    """Check every split and scale folder; see the module docstring. Never raises for a problem
    found in the data (it becomes an error finding); raises DdirKitError when ``root`` is not a
    folder."""
    root = Path(root)
    if not root.is_dir():
        raise DdirKitError("not a folder", root)
    rep = ValidationReport(root)
    if not any(split_dir(root, s).is_dir() for s in SPLITS):
        rep.add("error", "layout", root, f"no {' or '.join(SPLITS)} folder")
        return rep
    hashes: dict[str, list[tuple[str, str]]] = defaultdict(list)  # sha256 -> [(split, relative path)]
    for split in SPLITS:
        for scale in split_scales(root, split):
            _check_scale(rep, root, split, scale, hashes)
    _check_duplicates(rep, hashes)
    _check_manifest(rep, root)
    return rep


def _check_scale(rep: ValidationReport, root: Path, split: str, scale: Fraction, hashes) -> None:
    hr_dir, lr_dir = scale_dirs(root, split, scale)
    tag = scale_tag(scale)
    for d, other in ((hr_dir, lr_dir), (lr_dir, hr_dir)):
        if not d.is_dir():
            rep.add("error", "missing", d, f"folder missing (its partner {other.name} exists)")
            return
    hr_files, lr_files = image_files(hr_dir), image_files(lr_dir)
    hr_names, lr_names = {p.stem for p in hr_files}, {p.stem for p in lr_files}
    for name in sorted(hr_names - lr_names):
        rep.add("error", "missing", lr_dir / name, f"no LR file for HR {name} (pairs are matched by sorted order)")
    for name in sorted(lr_names - hr_names):
        rep.add("error", "missing", hr_dir / name, f"no HR file for LR {name} (pairs are matched by sorted order)")
    if len(hr_files) != len(lr_files):
        rep.add("error", "count", hr_dir.parent, f"x{tag}: {len(hr_files)} HR but {len(lr_files)} LR images")
        lr_by_stem = {p.stem: p for p in lr_files}
        pairs = [(h, lr_by_stem[h.stem]) for h in hr_files if h.stem in lr_by_stem]
    else:
        pairs = list(zip(hr_files, lr_files))
        for h, l in pairs:
            if h.stem != l.stem:
                rep.add("warning", "names", h, f"paired by sorted order with {l.name}, whose name differs")
    checked = 0
    for h, l in pairs:
        hs, ls = _image_size(rep, h), _image_size(rep, l)
        for p in (h, l):
            hashes[_sha256(p)].append((split, str(p.relative_to(root))))
        if hs is None or ls is None:
            continue
        checked += 1
        if Fraction(hs[0]) != scale * ls[0] or Fraction(hs[1]) != scale * ls[1]:
            rep.add("error", "size", h, f"HR {hs[0]}x{hs[1]} is not exactly x{float(scale):g} of LR "
                                        f"{l.name} {ls[0]}x{ls[1]}")
        elif hs[2] != ls[2]:
            rep.add("warning", "bit_depth", h, f"HR is {hs[2]}-bit, LR {l.name} is {ls[2]}-bit")
    rep.pairs[(split, tag)] = checked


def _image_size(rep: ValidationReport, path: Path):
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # a full decode: also catches truncation
    if img is None or img.size == 0:
        rep.add("error", "unreadable", path, "not a decodable image")
        return None
    return img.shape[1], img.shape[0], 16 if img.dtype.itemsize == 2 else 8


_SHA_CACHE: dict = {}


def _sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _SHA_CACHE[key]


def _check_duplicates(rep: ValidationReport, hashes) -> None:
    # One HR photo per scene often serves every scale, so the same HR image in HR2 and HR3 of
    # one split is expected; twice in one folder, or on both sides of the split, is not.
    for places in hashes.values():
        if len(places) < 2:
            continue
        splits = {s for s, _ in places}
        paths = ", ".join(p for _, p in places)
        if len(splits) > 1:
            rep.add("error", "leak", places[0][1], f"the same image is in Train and Test: {paths}")
            continue
        folders = [str(Path(p).parent) for _, p in places]
        if len(set(folders)) < len(folders):
            rep.add("error", "duplicate", places[0][1], f"identical files in one folder: {paths}")


def _check_manifest(rep: ValidationReport, root: Path) -> None:
    path = root / MANIFEST
    if not path.is_file():
        rep.add("warning", "manifest", root, "no manifest.json: scene leakage checked by identical images only")
        return
    try:
        man = DatasetManifest.read(path)
    except DdirKitError as e:
        rep.add("error", "manifest", path, e.reason)
        return
    if not man.complete:
        rep.add("error", "manifest", path, "the dataset was not finished (crop was interrupted); rerun crop")
    for f in man.files:
        for rel, sha in ((f.hr, f.hr_sha256), (f.lr, f.lr_sha256)):
            p = root / rel
            if not p.is_file():
                rep.add("error", "missing", p, "listed in manifest.json but absent")
            elif sha and _sha256(p) != sha:
                rep.add("error", "checksum", p, "content differs from manifest.json")
    for scene, splits in sorted(man.scenes_by_split().items()):
        if len(splits) > 1:
            rep.add("error", "leak", root, f"scene {scene} is in both {' and '.join(sorted(splits))}")
    both = set(man.split_scenes("Train")) & set(man.split_scenes("Test"))
    for scene in sorted(both):
        rep.add("error", "leak", path, f"scene {scene} is listed in both splits")
