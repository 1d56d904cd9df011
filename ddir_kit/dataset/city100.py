"""City100 (Chen et al., CVPR 2019) Nikon pairs as a small scale-arbitrary dataset.

City100's Nikon set holds aligned pairs ``nikon_NNNL.png`` (short focal length, upsampled to the
HR grid by its authors) and ``nikon_NNNH.png`` (long focal length), both 1218 x 870 (the copies in
tests/data/city100 are crops of twelve of them, and work the same at their own size).
A native LR at x2.9 is the L image area-downscaled to 420 x 300, which keeps the real lens
blur of the short focal length; HR is the H image unchanged. Written in the RealArbiSR layout.

``build_stand_ins`` cuts small stand-ins for the paper's three datasets from the H images (LR by
area downscaling): enough for every experiment of ``ddir-kit reproduce`` to run end to end in
minutes, to check the machinery before a long run; their figures mean nothing.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2

from ..errors import DdirKitError
from ..fileio import atomic_path, atomic_write_json
from ..scales import as_fraction
from .layout import scale_dirs

STAND_IN_TRAIN_SCALES = tuple(Fraction(s).limit_denominator(10) for s in (1.5, 2, 2.5, 3, 3.5, 4))
STAND_IN_TEST_SCALES = tuple(Fraction(s).limit_denominator(10)
                             for s in (1.5, 1.7, 2, 2.3, 2.5, 2.7, 3, 3.3, 3.5, 3.7, 4))


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
            _write_png(folder / name, img)
    atomic_write_json(out_dir / "city100.json", {
        "source": "City100 Nikon pairs", "source_dir": str(src_dir), "scale": float(s),
        "lr": "L image area-downscaled (cv2.INTER_AREA) by the scale", "n_train": n_train, "n_test": n_test})
    return out_dir


def build_stand_ins(src_dir: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Write three tiny datasets from nikon_001H ... nikon_009H.png (the top-left 480 x 320 at most):
    ``realarbisr`` (Train: 001-002 at the six training scales, Test: 003 at the eleven; LR
    60 x 40), ``realsr`` (RealSR version 3, Canon x2/x3/x4: Train 004-005, Test 006) and
    ``div2k`` (HR only: train 007-008, valid 009). Returns {name: folder}."""
    src_dir, out_dir = Path(src_dir), Path(out_dir)

    def crop(i: int, least_hw: tuple[int, int]):
        path = src_dir / f"nikon_{i:03d}H.png"
        img = cv2.imread(str(path))
        if img is None or img.shape[0] < least_hw[0] or img.shape[1] < least_hw[1]:
            raise DdirKitError(f"needs a readable City100 HR photo of at least {least_hw[1]} x {least_hw[0]} px", path)
        return img[0:320, 0:480]  # at most 480 x 320: the stand-ins stay small

    arbi = out_dir / "realarbisr"
    for split, idx, scales in (("Train", (1, 2), STAND_IN_TRAIN_SCALES), ("Test", (3,), STAND_IN_TEST_SCALES)):
        for i in idx:
            img = crop(i, (40, 60))
            lw, lh = 60, 40  # multiples of every denominator (2, 10)
            lr = cv2.resize(img, (lw, lh), interpolation=cv2.INTER_AREA)
            for s in scales:
                hr_dir, lr_dir = scale_dirs(arbi, split, s)
                _write_png(hr_dir / f"p{i}.png", cv2.resize(img, (int(lw * s), int(lh * s)), interpolation=cv2.INTER_AREA))
                _write_png(lr_dir / f"p{i}.png", lr)
    realsr = out_dir / "realsr"
    for split, idx in (("Train", (4, 5)), ("Test", (6,))):
        for i in idx:
            img = crop(i, (243, 363))
            for s in (2, 3, 4):
                d = realsr / "Canon" / split / str(s)
                _write_png(d / f"Canon_{i:03d}_HR.png", img[:240 + s - 1, :360 + s - 1])  # version 3: HR beyond s x LR
                _write_png(d / f"Canon_{i:03d}_LR{s}.png",
                      cv2.resize(img[:240, :360], (360 // s, 240 // s), interpolation=cv2.INTER_AREA))
    div2k = out_dir / "div2k"
    for folder, idx in (("DIV2K_train_HR", (7, 8)), ("DIV2K_valid_HR", (9,))):
        for i in idx:
            _write_png(div2k / folder / f"{i:04d}.png", crop(i, (200, 300))[:200, :300])
    return {"realarbisr": arbi, "realsr": realsr, "div2k": div2k}


def _write_png(path: Path, img) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), img):
            raise DdirKitError("PNG write failed", path)
