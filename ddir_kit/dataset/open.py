"""Open an SR dataset in any of the layouts the kit reads, list its pairs and check their sizes.

- ``realarbisr``: ``{Train,Test}/{HR,LR}<tag>/`` (layout.py), any scales.
- ``realsr_v3``: ``<Camera>/{Train,Test}/<s>/<Camera>_<n>_{HR,LR<s>}.png`` (realsr_v3.py).
  Its LR files are stored at the HR size; they are area-downscaled by s on load (HR cropped to
  a multiple of s first), which is stated in ``SRDataset.notes``.
- ``paired``: ``[{Train,Test}/]{HR,LR}/`` at one scale given by the caller (paired_folders.py).

The size check reads only image headers: every HR must be exactly s times its LR in both sides
(the pair convention of layout.py), so that LR pixel (u, v) covers HR point s(u + 0.5) - 0.5.
Here, below the benchmark and the dataset card, so that both read datasets the same way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..errors import DdirKitError
from ..photo.photo_io import Photo, read_photo
from ..scales import as_fraction
from .layout import PairFiles, list_pairs, split_scales
from .paired_folders import is_paired_folders, list_folder_pairs
from .realsr_v3 import is_realsr_v3, list_realsr_pairs


@dataclass(frozen=True)
class SRDataset:
    root: Path
    kind: str
    train: dict[Fraction, list[PairFiles]]
    test: dict[Fraction, list[PairFiles]]
    lr_stored_at_hr_size: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def train_scales(self) -> list[Fraction]:
        return sorted(self.train)

    @property
    def test_scales(self) -> list[Fraction]:
        return sorted(self.test)

    @property
    def unseen_scales(self) -> list[Fraction]:
        """Test scales absent from Train (the paper's out-of-distribution columns)."""
        return [s for s in self.test_scales if s not in self.train]


def open_dataset(root: str | Path, scale=None, validate: bool = True) -> SRDataset:
    """Detect the layout of ``root``, list its pairs and (by default) validate their sizes.

    ``scale`` is required for plain paired folders and refused otherwise (the other layouts
    name their scales). Raises DdirKitError naming the offending file or folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise DdirKitError("dataset folder not found", root)
    if split_scales(root, "Train") or split_scales(root, "Test"):
        if scale is not None:
            raise DdirKitError("a RealArbiSR-layout dataset names its scales in its folders; drop --scale", root)
        train = {s: list_pairs(root, "Train", s) for s in split_scales(root, "Train")}
        test = {s: list_pairs(root, "Test", s) for s in split_scales(root, "Test")}
        ds = SRDataset(root, "realarbisr", _nonempty(train), _nonempty(test))
    elif is_realsr_v3(root):
        if scale is not None:
            raise DdirKitError("a RealSR v3 dataset names its scales in its folders; drop --scale", root)
        ds = SRDataset(root, "realsr_v3", list_realsr_pairs(root, "Train"), list_realsr_pairs(root, "Test"),
                       lr_stored_at_hr_size=True,
                       notes=("RealSR v3 LR files are stored at HR size; they are area-downscaled by s on load",))
    elif is_paired_folders(root):
        if scale is None:
            raise DdirKitError("plain HR/LR folders need the scale (--scale)", root)
        s = as_fraction(scale)
        ds = SRDataset(root, "paired", _nonempty({s: list_folder_pairs(root, "Train", s)}),
                       _nonempty({s: list_folder_pairs(root, "Test", s)}))
    else:
        raise DdirKitError("not a dataset: expected Train/ and Test/ with HR<scale>/LR<scale> folders "
                           "(RealArbiSR), <Camera>/Train|Test/<s>/ (RealSR v3), or HR/ and LR/ folders", root)
    if not ds.train and not ds.test:
        raise DdirKitError("dataset holds no image pairs", root)
    if validate:
        check_pair_sizes(ds)
    return ds


def _nonempty(d: dict) -> dict:
    return {k: v for k, v in d.items() if v}


def check_pair_sizes(ds: SRDataset) -> None:
    """Check every pair's sizes from the image headers; raise on the first bad one."""
    from PIL import Image

    for pairs in list(ds.train.values()) + list(ds.test.values()):
        for p in pairs:
            sizes = []
            for path in (p.hr, p.lr):
                try:
                    with Image.open(path) as im:
                        sizes.append(im.size)
                except Exception as e:  # PIL raises several types for a bad file
                    raise DdirKitError(f"unreadable image ({type(e).__name__})", path) from None
            (hw, hh), (lw, lh) = sizes
            if ds.lr_stored_at_hr_size:
                if (hw, hh) != (lw, lh):
                    raise DdirKitError(f"LR is {lw}x{lh} but RealSR v3 stores LR at the HR size {hw}x{hh}", p.lr)
                continue
            if Fraction(hw) != p.scale * lw or Fraction(hh) != p.scale * lh:
                raise DdirKitError(f"HR {p.hr.name} is {hw}x{hh}, not x{float(p.scale):g} of LR {lw}x{lh}; "
                                   "an aligned pair has HR exactly s times LR", p.lr)


def load_pair_photos(pair: PairFiles, lr_stored_at_hr_size: bool = False) -> tuple[Photo, Photo]:
    """(LR, HR) photos (float32 HxWx3 RGB in [0, 1] and the source bit depth); HR is exactly s
    times LR (a RealSR v3 LR stored at HR size is area-downscaled by s, the HR cropped to match)."""
    lr, hr = read_photo(pair.lr), read_photo(pair.hr)
    if lr_stored_at_hr_size:
        s = int(pair.scale)
        h, w = hr.rgb.shape[0] // s, hr.rgb.shape[1] // s
        hr = dataclasses.replace(hr, rgb=hr.rgb[:h * s, :w * s])
        lr = dataclasses.replace(lr, rgb=cv2.resize(lr.rgb[:h * s, :w * s], (w, h), interpolation=cv2.INTER_AREA))
    return lr, hr


def load_pair(pair: PairFiles, lr_stored_at_hr_size: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(LR, HR) float32 HxWx3 RGB in [0, 1], full bit depth; HR is exactly s times LR."""
    lr, hr = load_pair_photos(pair, lr_stored_at_hr_size)
    return lr.rgb, hr.rgb
