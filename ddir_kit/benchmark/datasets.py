"""SR datasets for training and testing: the in-memory training cache, over the datasets that
dataset/open.py opens (``open_dataset``, ``load_pair`` and ``SRDataset`` are re-exported here for
the callers that import them from this module).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..dataset.open import SRDataset, check_pair_sizes, load_pair, open_dataset  # noqa: F401 (re-exported)

validate_dataset = check_pair_sizes  # its name before the move to dataset/open.py


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def load_hr_cache(ds: SRDataset, progress=None) -> list[np.ndarray]:
    """The HR-only training images of a bicubic dataset as uint8 arrays."""
    from ..photo.photo_io import read_photo

    out = []
    for i, path in enumerate(ds.train_hr):
        out.append(to_uint8(read_photo(path).rgb))
        if progress:
            progress(i + 1, len(ds.train_hr))
    return out


def load_cache(ds: SRDataset, split: str = "Train",
               progress=None) -> dict[Fraction, list[tuple[np.ndarray, np.ndarray]]]:
    """Every pair of a split as uint8 (LR, HR) arrays, by scale: the in-memory training cache
    (uint8 keeps 200 RealArbiSR pairs x 6 scales in a few GB; forked workers share it)."""
    pairs = ds.train if split == "Train" else ds.test
    total = sum(len(v) for v in pairs.values())
    out, done = {}, 0
    for s in sorted(pairs):
        out[s] = []
        for p in pairs[s]:
            lr, hr = ds.load_pair(p)
            out[s].append((to_uint8(lr), to_uint8(hr)))
            done += 1
            if progress:
                progress(done, total)
    return out
