"""Open an SR dataset in any of the layouts the kit reads, list its pairs and check their sizes.

- ``realarbisr``: ``{Train,Test}/{HR,LR}<tag>/`` (layout.py), any scales.
- ``realsr_v3``: ``<Camera>/{Train,Test}/<s>/<Camera>_<n>_{HR,LR<s>}.png`` (realsr_v3.py).
  RealSR version 3 stores its LR at the reduced size, with HR sides a few pixels beyond s times
  the LR's: the HR is cropped (top left) to exactly s times the LR, as LIIF's paired reader does.
  Versions 1 and 2 stored the LR at the HR size: such a dataset is read by area-downscaling its
  LR by s (the HR cropped to a multiple of s first). ``SRDataset.notes`` says which.
- ``paired``: ``[{Train,Test}/]{HR,LR}/`` at one scale given by the caller (paired_folders.py).
- ``bicubic``: HR images only (hr_only.py): training makes its LR on the fly at a random scale,
  the Test split is synthetic at fixed scales (``bicubic_test_scales``, x2, x3, x4 by default).

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
from .hr_only import hr_only_files, is_hr_only
from .realsr_v3 import is_realsr_v3, list_realsr_pairs


@dataclass(frozen=True)
class SRDataset:
    """train, test: {scale: pairs}. lr_stored_at_hr_size: LR files at the HR size (RealSR v1/v2),
    area-downscaled on load. hr_trimmed_to_lr: HR files a few pixels larger than s times their LR
    (RealSR v3), cropped on load. train_hr: HR-only training images (a bicubic dataset, whose
    test pairs have no LR file: ``PairFiles.lr`` is None, made by ``hr_only.synthetic_lr``)."""

    root: Path
    kind: str
    train: dict[Fraction, list[PairFiles]]
    test: dict[Fraction, list[PairFiles]]
    lr_stored_at_hr_size: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
    hr_trimmed_to_lr: bool = False
    train_hr: tuple[Path, ...] = ()

    @property
    def bicubic(self) -> bool:
        return self.kind == "bicubic"

    def load_pair(self, pair: PairFiles) -> tuple[np.ndarray, np.ndarray]:
        """(LR, HR) float32 HxWx3 RGB in [0, 1] of one of this dataset's pairs; HR exactly s x LR."""
        return load_pair(pair, self.lr_stored_at_hr_size, self.hr_trimmed_to_lr)

    def load_pair_photos(self, pair: PairFiles) -> tuple[Photo, Photo]:
        return load_pair_photos(pair, self.lr_stored_at_hr_size, self.hr_trimmed_to_lr)

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


BICUBIC_TEST_SCALES = (Fraction(2), Fraction(3), Fraction(4))


def open_dataset(root: str | Path, scale=None, validate: bool = True,
                 bicubic_test_scales=BICUBIC_TEST_SCALES) -> SRDataset:
    """Detect the layout of ``root``, list its pairs and (by default) validate their sizes.

    ``scale`` is required for plain paired folders and refused otherwise (the other layouts
    name their scales). bicubic_test_scales: the scales of an HR-only dataset's synthetic Test
    split. Raises DdirKitError naming the offending file or folder.
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
            raise DdirKitError("a RealSR dataset names its scales in its folders; drop --scale", root)
        train, test = list_realsr_pairs(root, "Train"), list_realsr_pairs(root, "Test")
        if _lr_at_hr_size(train, test):
            ds = SRDataset(root, "realsr_v3", train, test, lr_stored_at_hr_size=True,
                           notes=("RealSR LR files stored at the HR size (versions 1 and 2) are area-downscaled "
                                  "by s on load",))
        else:
            ds = SRDataset(root, "realsr_v3", train, test, hr_trimmed_to_lr=True,
                           notes=("RealSR HR files are cropped (top left) to exactly s times their LR",))
    elif is_paired_folders(root):
        if scale is None:
            raise DdirKitError("plain HR/LR folders need the scale (--scale)", root)
        s = as_fraction(scale)
        ds = SRDataset(root, "paired", _nonempty({s: list_folder_pairs(root, "Train", s)}),
                       _nonempty({s: list_folder_pairs(root, "Test", s)}))
    elif is_hr_only(root):
        if scale is not None:
            raise DdirKitError("an HR-only dataset has no fixed scale; drop --scale", root)
        scales = sorted(as_fraction(s) for s in bicubic_test_scales)
        test_hr = hr_only_files(root, "Test")
        ds = SRDataset(root, "bicubic", {}, {s: [PairFiles(p, None, s) for p in test_hr] for s in scales if test_hr},
                       train_hr=tuple(hr_only_files(root, "Train")),
                       notes=("HR images only: LR made by Pillow's 8-bit bicubic (training at a random scale, "
                              "the test pairs at " + ", ".join(f"x{float(s):g}" for s in scales) + ")",))
        if not ds.train_hr and not ds.test:
            raise DdirKitError("HR-only dataset holds no images", root)
        return ds
    else:
        raise DdirKitError("not a dataset: expected Train/ and Test/ with HR<scale>/LR<scale> folders "
                           "(RealArbiSR), <Camera>/Train|Test/<s>/ (RealSR), HR/ and LR/ folders, or HR images "
                           "only (DIV2K_train_HR/, DIV2K_valid_HR/)", root)
    if not ds.train and not ds.test:
        raise DdirKitError("dataset holds no image pairs", root)
    if validate:
        check_pair_sizes(ds)
    return ds


def _nonempty(d: dict) -> dict:
    return {k: v for k, v in d.items() if v}


def _lr_at_hr_size(*splits) -> bool:
    """Whether a RealSR dataset stores its LR at the HR size (read from its first pair)."""
    from PIL import Image

    for pairs in (p for split in splits for p in split.values()):
        with Image.open(pairs[0].hr) as hr, Image.open(pairs[0].lr) as lr:
            return hr.size == lr.size
    return False


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
                    raise DdirKitError(f"LR is {lw}x{lh} but this RealSR dataset stores LR at the HR size "
                                       f"{hw}x{hh}", p.lr)
                continue
            if ds.hr_trimmed_to_lr:
                if hw < p.scale * lw or hh < p.scale * lh:
                    raise DdirKitError(f"HR {p.hr.name} is {hw}x{hh}, smaller than x{float(p.scale):g} of LR "
                                       f"{lw}x{lh}", p.lr)
                continue
            if Fraction(hw) != p.scale * lw or Fraction(hh) != p.scale * lh:
                raise DdirKitError(f"HR {p.hr.name} is {hw}x{hh}, not x{float(p.scale):g} of LR {lw}x{lh}; "
                                   "an aligned pair has HR exactly s times LR", p.lr)


def load_pair_photos(pair: PairFiles, lr_stored_at_hr_size: bool = False,
                     hr_trimmed_to_lr: bool = False) -> tuple[Photo, Photo]:
    """(LR, HR) photos (float32 HxWx3 RGB in [0, 1] and the source bit depth); HR is exactly s
    times LR (a RealSR LR stored at HR size is area-downscaled by s, the HR cropped to match; a
    RealSR v3 HR is cropped to s times its LR; an HR-only pair's LR is made from its HR)."""
    hr = read_photo(pair.hr)
    if pair.lr is None:
        from .hr_only import synthetic_lr

        hr_u8 = np.clip(np.rint(hr.rgb * 255.0), 0, 255).astype(np.uint8)
        lr_u8, hr_u8 = synthetic_lr(hr_u8, float(pair.scale))
        return (Photo(pair.hr, lr_u8.astype(np.float32) / 255.0, 8), Photo(pair.hr, hr_u8.astype(np.float32) / 255.0, 8))
    lr = read_photo(pair.lr)
    if hr_trimmed_to_lr:
        s = pair.scale
        h, w = int(lr.rgb.shape[0] * s), int(lr.rgb.shape[1] * s)
        hr = dataclasses.replace(hr, rgb=hr.rgb[:h, :w])
    if lr_stored_at_hr_size:
        s = int(pair.scale)
        h, w = hr.rgb.shape[0] // s, hr.rgb.shape[1] // s
        hr = dataclasses.replace(hr, rgb=hr.rgb[:h * s, :w * s])
        lr = dataclasses.replace(lr, rgb=cv2.resize(lr.rgb[:h * s, :w * s], (w, h), interpolation=cv2.INTER_AREA))
    return lr, hr


def load_pair(pair: PairFiles, lr_stored_at_hr_size: bool = False,
              hr_trimmed_to_lr: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(LR, HR) float32 HxWx3 RGB in [0, 1], full bit depth; HR is exactly s times LR."""
    lr, hr = load_pair_photos(pair, lr_stored_at_hr_size, hr_trimmed_to_lr)
    return lr.rgb, hr.rgb
