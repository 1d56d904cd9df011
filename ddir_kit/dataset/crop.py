"""Cut registered pairs into a dataset in the RealArbiSR layout (dataset/layout.py).

    aligned/<scene>/x<tag>/{hr.png, lr.png, pair.json}  (status "ok" only)
        -> DATASET/{Train,Test}/{HR<tag>,LR<tag>}/<name>.png + DATASET/manifest.json

The split is by scene, never by pair or patch, so no scene is on both sides. Whole pairs keep
their names (<scene>.png); with ``patch_hr`` the pairs are cut on a grid whose HR offsets are
multiples of s's numerator p (for s = p/q), so every LR offset is an integer and each HR
patch is exactly s x its LR patch (<scene>_<row>_<col>.png). The same name in HR<tag> and
LR<tag> makes sorted order pair them. Pixels are copied, never resampled; bit depth is kept.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..errors import DdirKitError
from ..fileio import atomic_write_bytes
from ..registration.pair_record import PAIR_JSON, PairRecord
from ..scales import as_fraction, scale_tag
from .layout import scale_dirs
from .manifest import MANIFEST, DatasetFile, DatasetManifest, SkippedPair


@dataclass(frozen=True)
class CropSettings:
    """test_fraction: share of scenes in Test (rounded, at least one scene each side when there
    are two or more). patch_hr, step_hr: HR patch side and grid step in HR px (None: whole
    pairs); per scale both are rounded down to a multiple of s's numerator. train_scales: the
    scales kept in Train (None: all); pairs of training scenes at other scales are left out, so
    those scales stay unseen, as RealArbiSR trains on x1.5-x4 by 0.5 and tests on more."""

    test_fraction: float = 0.2
    seed: int = 0
    patch_hr: int | None = None
    step_hr: int | None = None
    train_scales: tuple[float, ...] | None = None


@dataclass
class CropReport:
    train_scenes: list[str]
    test_scenes: list[str]
    files: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (pair folder, reason)


def parse_split(text: str) -> float:
    """'test=0.2' -> 0.2."""
    key, _, value = str(text).partition("=")
    try:
        frac = float(value)
    except ValueError:
        frac = -1.0
    if key.strip().lower() != "test" or not 0.0 <= frac < 1.0:
        raise DdirKitError(f"--split expects test=FRACTION with 0 <= FRACTION < 1, got {text!r}")
    return frac


def split_scenes(scenes: list[str], test_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Shuffle the scene names with ``seed`` and put round(fraction x n) of them in Test."""
    names = sorted(set(scenes))
    random.Random(seed).shuffle(names)
    n_test = int(round(test_fraction * len(names)))
    if test_fraction > 0 and len(names) >= 2:
        n_test = min(max(n_test, 1), len(names) - 1)
    return sorted(names[n_test:]), sorted(names[:n_test])


def find_ok_pairs(aligned_dir: str | Path) -> tuple[list[tuple[str, Fraction, Path]], list[tuple[str, str]]]:
    """(scene, scale, pair folder) for every pair with status ok, and (folder, reason) for the rest."""
    root = Path(aligned_dir)
    if not root.is_dir():
        raise DdirKitError("not a folder", root)
    ok, skipped = [], []
    for pj in sorted(root.glob(f"*/*/{PAIR_JSON}")):
        pair_dir = pj.parent
        if pair_dir.name.startswith(".") or pair_dir.parent.name.startswith("."):
            continue
        rel = f"{pair_dir.parent.name}/{pair_dir.name}"
        rec = PairRecord.read(pj)
        if not rec.ok:
            skipped.append((rel, f"status {rec.status}: {rec.reason}"))
            continue
        if not (pair_dir / "hr.png").is_file() or not (pair_dir / "lr.png").is_file():
            skipped.append((rel, "hr.png or lr.png missing"))
            continue
        ok.append((pair_dir.parent.name, rec.scale, pair_dir))
    return ok, skipped


def crop_dataset(aligned_dir: str | Path, out_dir: str | Path, settings: CropSettings = CropSettings(),
                 on_pair: Callable[[str, int], None] | None = None) -> CropReport:
    """Write the dataset; see the module docstring. ``on_pair(folder, n_files)`` reports progress.

    Rerunning into the same folder with the same settings rewrites the same bytes; a folder
    made with other settings is refused (stale files would leak across the split).
    """
    out = Path(out_dir)
    pairs, skipped = find_ok_pairs(aligned_dir)
    if not pairs:
        raise DdirKitError("no registered pair with status ok (run `ddir-kit register` first)", aligned_dir)
    _claim_output(out, settings)
    train, test = split_scenes([p[0] for p in pairs], settings.test_fraction, settings.seed)
    split_of = {s: "Train" for s in train} | {s: "Test" for s in test}
    report = CropReport(train, test, skipped=list(skipped))
    records = []
    train_scales = None if settings.train_scales is None else {as_fraction(t) for t in settings.train_scales}
    for scene, scale, pair_dir in pairs:
        split = split_of[scene]
        if split == "Train" and train_scales is not None and scale not in train_scales:
            report.skipped.append((f"{scene}/{pair_dir.name}", f"x{float(scale):g} is not a training scale"))
            continue
        hr = _read_exact(pair_dir / "hr.png")
        lr = _read_exact(pair_dir / "lr.png")
        rel = f"{scene}/{pair_dir.name}"
        if Fraction(hr.shape[1]) != scale * lr.shape[1] or Fraction(hr.shape[0]) != scale * lr.shape[0]:
            report.skipped.append((rel, f"HR {hr.shape[1]}x{hr.shape[0]} is not x{scale} of LR {lr.shape[1]}x{lr.shape[0]}"))
            continue
        hr_dir, lr_dir = scale_dirs(out, split, scale)
        n = 0
        for name, (x, y, w, h) in _pieces(scene, hr.shape[1], hr.shape[0], scale, settings):
            lx, ly, lw, lh = (int(v / scale) for v in (x, y, w, h))
            hr_bytes = _png(hr[y:y + h, x:x + w])
            lr_bytes = _png(lr[ly:ly + lh, lx:lx + lw])
            atomic_write_bytes(hr_dir / name, hr_bytes)
            atomic_write_bytes(lr_dir / name, lr_bytes)
            records.append(DatasetFile(split, scale, scale_tag(scale), scene, name, rel, (x, y, w, h),
                                       str((hr_dir / name).relative_to(out)), str((lr_dir / name).relative_to(out)),
                                       (w, h), (lw, lh), _sha(hr_bytes), _sha(lr_bytes)))
            n += 1
        if n == 0:
            report.skipped.append((rel, "smaller than one patch"))
        report.files += n
        if on_pair:
            on_pair(rel, n)
    DatasetManifest(True, _settings_json(settings), {"Train": train, "Test": test}, records,
                    [SkippedPair(s, r) for s, r in report.skipped]).write(out / MANIFEST)
    return report


def _claim_output(out: Path, settings: CropSettings) -> None:
    path = out / MANIFEST
    if path.is_file():
        if DatasetManifest.read(path).settings != _settings_json(settings):
            raise DdirKitError("holds a dataset made with other settings; choose a new --out folder", out)
    elif out.exists() and any(out.iterdir()):
        raise DdirKitError("is not empty and holds no ddir-kit dataset; choose a new --out folder", out)
    # written first (incomplete) so that a killed run can be resumed with the same settings
    DatasetManifest(False, _settings_json(settings)).write(path)


def _settings_json(settings: CropSettings) -> dict:
    d = asdict(settings)
    if d["train_scales"] is not None:
        d["train_scales"] = [float(t) for t in d["train_scales"]]  # as JSON reads it back
    return d


def _pieces(scene: str, w: int, h: int, scale: Fraction, settings: CropSettings):
    if settings.patch_hr is None:
        yield f"{scene}.png", (0, 0, w, h)
        return
    p = scale.numerator
    size = (settings.patch_hr // p) * p
    step = max(p, ((settings.step_hr or settings.patch_hr) // p) * p)
    if size == 0:
        raise DdirKitError(f"--patch {settings.patch_hr} is smaller than {p} HR px, the least at x{scale}")
    xs, ys = _offsets(w, size, step, p), _offsets(h, size, step, p)
    for r, y in enumerate(ys):
        for c, x in enumerate(xs):
            yield f"{scene}_{r:03d}_{c:03d}.png", (x, y, size, size)


def _offsets(length: int, size: int, step: int, p: int) -> list[int]:
    if length < size:
        return []
    last = ((length - size) // p) * p
    offs = list(range(0, last + 1, step))
    if offs[-1] != last:
        offs.append(last)  # cover the far edge too (BasicSR's extract_subimages does the same)
    return offs


def _read_exact(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # all bits kept; BGR order is irrelevant for copying
    if img is None:
        raise DdirKitError("unreadable image", path)
    return img


def _png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(img))
    if not ok:
        raise DdirKitError("PNG encoding failed")
    return buf.tobytes()


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
