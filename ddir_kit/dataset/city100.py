"""City100 (Chen et al., CVPR 2019) Nikon pairs as a small scale-arbitrary dataset.

City100's Nikon set holds aligned pairs ``nikon_NNNL.png`` (short focal length, upsampled to the
HR grid by its authors) and ``nikon_NNNH.png`` (long focal length), both 1218 x 870 (the copies in
tests/data/city100 are crops of twelve of them, and work the same at their own size).
A native LR at x2.9 is the L image area-downscaled to 420 x 300, which keeps the real lens
blur of the short focal length; HR is the H image unchanged. Written in the RealArbiSR layout.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2

from ..errors import DdirKitError
from ..fileio import atomic_path, atomic_write_json
from ..scales import as_fraction
from .layout import scale_dirs


def build_city100(src_dir: str | Path, out_dir: str | Path, scale: float | str = "2.9",
                  n_train: int = 9, n_test: int = 3) -> Path:
    """Write ``out_dir/{Train,Test}/{HR,LR}<tag>/nikon_NNN.png`` from the first n_train and the
    next n_test pairs in name order. Existing files are kept (a rerun is a no-op).

    Raises DdirKitError when the source has too few pairs or sizes not divisible by the scale.
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    s = as_fraction(scale)
    hrs = sorted(src_dir.glob("nikon_*H.png"))
    if len(hrs) < n_train + n_test:
        raise DdirKitError(f"needs {n_train + n_test} nikon_NNNH.png/nikon_NNNL.png pairs, found {len(hrs)}", src_dir)
    for i, hr_path in enumerate(hrs[:n_train + n_test]):
        split = "Train" if i < n_train else "Test"
        hr_dir, lr_dir = scale_dirs(out_dir, split, s)
        name = hr_path.name.replace("H.png", ".png")
        if (hr_dir / name).is_file() and (lr_dir / name).is_file():
            continue
        lr_path = hr_path.with_name(hr_path.name.replace("H.png", "L.png"))
        hr = cv2.imread(str(hr_path), cv2.IMREAD_UNCHANGED)
        low = cv2.imread(str(lr_path), cv2.IMREAD_UNCHANGED)
        if hr is None or low is None:
            raise DdirKitError("unreadable pair (HR or its L partner)", hr_path)
        h, w = hr.shape[:2]
        lw, lh = Fraction(w) / s, Fraction(h) / s
        if lw.denominator != 1 or lh.denominator != 1:
            raise DdirKitError(f"{w}x{h} is not divisible by the scale {float(s):g}", hr_path)
        lr = cv2.resize(low, (int(lw), int(lh)), interpolation=cv2.INTER_AREA)
        for folder, img in ((hr_dir, hr), (lr_dir, lr)):
            with atomic_path(folder / name) as tmp:
                if not cv2.imwrite(str(tmp), img):
                    raise DdirKitError("PNG write failed", folder / name)
    atomic_write_json(out_dir / "city100.json", {
        "source": "City100 Nikon pairs", "source_dir": str(src_dir), "scale": float(s),
        "lr": "L image area-downscaled (cv2.INTER_AREA) by the scale", "n_train": n_train, "n_test": n_test})
    return out_dir
