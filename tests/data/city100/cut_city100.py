"""Cut the test copy of City100 (tests/data/city100/) from the full Nikon D5500 pairs.

    python tests/data/city100/cut_city100.py SRC [--out tests/data/city100]

SRC holds the twelve first pairs of City100's Nikon D5500 set, 1218 x 870 each, named either
as upstream (City100/City100_NikonD5500/NNNH.PNG, NNNL.PNG) or as ``nikon_NNNH.png`` /
``nikon_NNNL.png``. Every source file is checked against the SHA-256 in CROPS_JSON before it
is read, and each output is written as ``nikon_NNN{H,L}.png`` with the SHA-256 of its decoded
pixels recorded, so a re-cut can be compared whatever PNG encoder wrote it.

H and L of a pair are cut at the same rectangle (they stay an aligned pair). Each side is a
multiple of 29 so that ``build_city100`` can area-reduce every pair by exactly 2.9. CROPS
below lists the rectangles, in pixels of the uncut frame, and the tests each one serves.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
CROPS_JSON = HERE / "crops.json"
FRAME = (1218, 870)  # (width, height) of every uncut City100 Nikon photo

# pair -> (x, y, w, h) in the uncut frame. The registration pairs (004, 009, 011) share one
# origin, a multiple of 10 from the frame's, so the tests' area reduction by 2 and by 2.5 (5/2)
# sees the same pixel blocks as on the uncut photo (007's, read at x2 only, is even); their
# extent covers every pixel the registration tests read (the 720 x 540 test region, the
# simulated LR's perturbation and its Lanczos taps). The others start at frame (200, 100) and
# hold the fixed regions the dataset, metric and training tests cut; 006 and 008 are as large
# as the stand-in datasets of the reproduce tests need.
CROPS = {
    "001": (200, 100, 435, 319),  # metrics (PSNR pin, SSIM), crop/validate, training resume
    "002": (200, 100, 435, 319),  # metrics (PSNR pin, score CLI), crop/validate, training resume
    "003": (200, 100, 435, 319),  # metrics (PSNR pin, protocols), crop/validate, training resume
    "004": (230, 90, 812, 638),   # registration, relative blur (even sides), overfit, crop/validate, training
    "005": (200, 100, 406, 319),  # crop/validate
    "006": (493, 348, 377, 261),  # City100 x2.9 builder; a RealSR stand-in (reproduce)
    "007": (290, 180, 522, 406),  # the wrong-scene LR of the register CLI test; upscale CLI
    "008": (493, 348, 319, 203),  # City100 x2.9 builder; a DIV2K stand-in (reproduce)
    "009": (230, 90, 841, 638),   # registration (its far-off coarse guess needs the widest margin)
    "010": (300, 100, 406, 406),  # the occluding object of the registration tests
    "011": (230, 90, 783, 638),   # registration
    "012": (200, 100, 406, 319),  # crop/validate (the rejected pair)
}


def _source(src: Path, pair: str, side: str) -> Path:
    for name in (f"nikon_{pair}{side}.png", f"{pair}{side}.PNG", f"{pair}{side}.png"):
        if (src / name).is_file():
            return src / name
    raise SystemExit(f"{src}: no {pair}{side}.PNG or nikon_{pair}{side}.png")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cut(src: Path, out: Path) -> dict:
    """Write the crops of CROPS into ``out``; returns the record written to ``out/crops.json``."""
    expected = json.loads(CROPS_JSON.read_text())["pairs"] if CROPS_JSON.is_file() else {}
    record = {}
    out.mkdir(parents=True, exist_ok=True)
    for pair, (x, y, w, h) in CROPS.items():
        assert w % 29 == 0 and h % 29 == 0 and x + w <= FRAME[0] and y + h <= FRAME[1], pair
        entry = {"frame_xywh": [x, y, w, h]}
        for side in "HL":
            path = _source(src, pair, side)
            data = path.read_bytes()
            want = expected.get(pair, {}).get(f"source_sha256_{side}")
            if want and _sha256(data) != want:
                raise SystemExit(f"{path}: not the City100 file this copy was cut from (SHA-256 differs)")
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
            if img is None or img.shape[1::-1] != FRAME:
                raise SystemExit(f"{path}: not a {FRAME[0]}x{FRAME[1]} City100 photo")
            crop = np.ascontiguousarray(img[y:y + h, x:x + w])
            if not cv2.imwrite(str(out / f"nikon_{pair}{side}.png"), crop, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
                raise SystemExit(f"could not write {out / f'nikon_{pair}{side}.png'}")
            entry[f"source_sha256_{side}"] = _sha256(data)
            entry[f"pixels_sha256_{side}"] = _sha256(crop.tobytes())
        record[pair] = entry
    doc = {"source": "City100, Nikon D5500 version (github.com/ngchc/CameraSR, City100/City100_NikonD5500)",
           "frame_wh": list(FRAME),
           "pixels_sha256": "SHA-256 of the decoded uint8 array, rows x columns x BGR, C order",
           "pairs": record}
    (out / "crops.json").write_text(json.dumps(doc, indent=1) + "\n")
    return doc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path, help="folder of the full City100 Nikon D5500 pairs")
    ap.add_argument("--out", type=Path, default=HERE, help="where to write the crops (default: beside this script)")
    args = ap.parse_args()
    cut(args.src, args.out)
    total = sum(p.stat().st_size for p in args.out.glob("nikon_*.png"))
    print(f"{len(CROPS)} pairs written to {args.out}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
