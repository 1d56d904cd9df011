"""Folders of HR images only, for training and testing with bicubic degradation (DIV2K-style):

    ROOT/DIV2K_train_HR/*.png  ROOT/DIV2K_valid_HR/*.png   (DIV2K's own folders: Train, Test)
    ROOT/Train/*.png           ROOT/Test/*.png             (any images, HR only)
    ROOT/*.png                                            (all Train)

There are no LR files: training makes each LR crop from its HR crop at a random scale (the
sampler's bicubic mode, as LIIF's ``sr-implicit-downsampled``), and the Test split is a
synthetic test set at fixed scales, each LR made from its HR by Pillow's 8-bit bicubic
(``synthetic_lr``), as LIIF makes its test images beyond x4 (its x2-x4 DIV2K test images are
MATLAB's, which the kit does not have: docs/experiments.md).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .layout import image_files

# DIV2K's folder names, then the kit's own
_SPLIT_FOLDERS = {"Train": ("DIV2K_train_HR", "Train"), "Test": ("DIV2K_valid_HR", "Test")}


def hr_only_files(root: str | Path, split: str) -> list[Path]:
    """The HR images of a split ([] when it has none)."""
    root = Path(root)
    for name in _SPLIT_FOLDERS[split]:
        files = image_files(root / name)
        if files and not any(p.is_dir() for p in (root / name).iterdir() if p.name.startswith(("HR", "LR"))):
            return files
    return image_files(root) if split == "Train" else []


def is_hr_only(root: str | Path) -> bool:
    return bool(hr_only_files(root, "Train") or hr_only_files(root, "Test"))


def synthetic_lr_size(hr_hw: tuple[int, int], scale: float) -> tuple[int, int]:
    """LR (h, w) of an HR image at ``scale``: floor(H / s), as LIIF's full-image mode."""
    return math.floor(hr_hw[0] / scale + 1e-9), math.floor(hr_hw[1] / scale + 1e-9)


def synthetic_lr(hr_u8: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(LR, HR) 8-bit images of a synthetic test pair: the HR cropped (top left) to
    round(h_lr s) x round(w_lr s) and downscaled to h_lr x w_lr by Pillow's bicubic."""
    from ..photo.resize import pil_bicubic_uint8

    h_lr, w_lr = synthetic_lr_size(hr_u8.shape[:2], scale)
    hr = hr_u8[:round(h_lr * scale), :round(w_lr * scale)]
    return pil_bicubic_uint8(hr, (h_lr, w_lr)), hr
