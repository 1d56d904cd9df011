"""The RealArbiSR folder layout, shared by the writer (`crop`) and the readers (`validate`,
`bench`).

    DATASET/Train/HR<tag>/<name>.png   DATASET/Train/LR<tag>/<name>.png
    DATASET/Test/HR<tag>/<name>.png    DATASET/Test/LR<tag>/<name>.png
    DATASET/manifest.json              (written by ddir-kit; absent in a downloaded copy)

Tags are scale tags ('1dot5', '2', '2dot3'); within one scale folder pair, HR and LR files
are paired by sorted order (the published dataset's convention), so names only need to sort
alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..photo.photo_io import IMAGE_SUFFIXES
from ..errors import DdirKitError
from ..scales import as_fraction, scale_tag

SPLITS = ("Train", "Test")
_TAG_DIR = re.compile(r"^(HR|LR)(\d+(?:dot\d+)?)$")


@dataclass(frozen=True)
class PairFiles:
    hr: Path
    lr: Path
    scale: Fraction


def split_dir(root: str | Path, split: str) -> Path:
    if split not in SPLITS:
        raise DdirKitError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
    return Path(root) / split


def scale_dirs(root: str | Path, split: str, scale) -> tuple[Path, Path]:
    """(HR folder, LR folder) of one scale in one split."""
    tag = scale_tag(scale)
    base = split_dir(root, split)
    return base / f"HR{tag}", base / f"LR{tag}"


def split_scales(root: str | Path, split: str) -> list[Fraction]:
    """Scales that have an HR or an LR folder in a split, ascending."""
    base = split_dir(root, split)
    if not base.is_dir():
        return []
    found = {as_fraction(m.group(2)) for d in base.iterdir() if d.is_dir() and (m := _TAG_DIR.match(d.name))}
    return sorted(found)


def image_files(folder: Path) -> list[Path]:
    """Image files of a folder in sorted name order (hidden and temporary files ignored)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)


def list_pairs(root: str | Path, split: str, scale) -> list[PairFiles]:
    """HR/LR file pairs of one scale in one split, paired by sorted order.

    Raises DdirKitError when a folder is missing or the two folders hold different numbers
    of images (the pairing by order would then be wrong).
    """
    hr_dir, lr_dir = scale_dirs(root, split, scale)
    for d in (hr_dir, lr_dir):
        if not d.is_dir():
            raise DdirKitError("missing folder", d)
    hr, lr = image_files(hr_dir), image_files(lr_dir)
    if len(hr) != len(lr):
        raise DdirKitError(f"{len(hr)} HR images but {len(lr)} LR images; pairs are matched by sorted order",
                           hr_dir.parent)
    frac = as_fraction(scale)
    return [PairFiles(h, l, frac) for h, l in zip(hr, lr)]
