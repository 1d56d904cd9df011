"""Plain paired folders at one given scale:

    ROOT/HR/*.png  ROOT/LR/*.png                    (a test set)
    ROOT/{Train,Test}/HR/*.png  ROOT/{Train,Test}/LR/*.png   (train and test)

Files are paired by sorted name order, like the RealArbiSR layout.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from ..errors import DdirKitError
from .layout import PairFiles, image_files


def is_paired_folders(root: str | Path) -> bool:
    root = Path(root)
    return (root / "HR").is_dir() or (root / "Train" / "HR").is_dir() or (root / "Test" / "HR").is_dir()


def list_folder_pairs(root: str | Path, split: str, scale: Fraction) -> list[PairFiles]:
    """Pairs of one split; ``ROOT/HR`` + ``ROOT/LR`` count as the Test split.

    Raises DdirKitError when the LR folder is missing or the counts differ.
    """
    root = Path(root)
    base = root / split
    if not (base / "HR").is_dir():
        if split == "Test" and (root / "HR").is_dir():
            base = root
        else:
            return []
    hr_dir, lr_dir = base / "HR", base / "LR"
    if not lr_dir.is_dir():
        raise DdirKitError("missing folder", lr_dir)
    hr, lr = image_files(hr_dir), image_files(lr_dir)
    if len(hr) != len(lr):
        raise DdirKitError(f"{len(hr)} HR images but {len(lr)} LR images; pairs are matched by sorted order", base)
    return [PairFiles(h, l, scale) for h, l in zip(hr, lr)]
