"""A side-by-side picture of one scene's shots (HR and LR), for the README and for eyes.

``side_by_side(scene_dir, scales=None, height_px=240)`` -> float32 HxWx3 RGB in [0, 1]:
the HR shot and the LR shots at ``scales`` (default: all), each scaled to ``height_px``
(area interpolation) and labelled with its scale and EXIF focal length.
``write_side_by_side(path, scene_dir, ...)`` writes it as an 8-bit PNG.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..scales import as_fraction
from .capture_layout import read_scene_json
from ..photo.photo_io import read_rgb, write_png


def side_by_side(scene_dir: str | Path, scales=None, height_px: int = 240, gap_px: int = 6) -> np.ndarray:
    scene_dir = Path(scene_dir)
    record = read_scene_json(scene_dir)
    shots = [record.hr] + [record.lr_for(s) for s in (scales if scales is not None else record.scales)]
    tiles = []
    for shot in shots:
        img = read_rgb(scene_dir / shot.file)
        h, w = img.shape[:2]
        tile = cv2.resize(img, (max(1, round(w * height_px / h)), height_px), interpolation=cv2.INTER_AREA)
        focal = shot.exif.get("focal_mm")
        label = "HR" if shot.scale is None else f"x{float(as_fraction(shot.scale)):g}"
        if focal:
            label += f"  {focal:.1f} mm"
        tiles.append(_label(tile, label))
        tiles.append(np.ones((height_px, gap_px, 3), np.float32))
    return np.concatenate(tiles[:-1], axis=1)


def write_side_by_side(path: str | Path, scene_dir: str | Path, scales=None, height_px: int = 240) -> Path:
    return write_png(path, side_by_side(scene_dir, scales, height_px), 8)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    img = np.clip(np.rint(tile * 255), 0, 255).astype(np.uint8)  # OpenCV draws text on 8-bit only
    scale = max(0.4, tile.shape[0] / 480)
    org = (8, int(30 * scale) + 6)
    # dark outline under white text: readable on any content
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return img.astype(np.float32) / 255.0
