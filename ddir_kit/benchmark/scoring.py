"""`ddir-kit score`: any folder of SR results against a folder of ground truth."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..photo.photo_io import read_photo
from ..dataset.layout import image_files
from ..errors import DdirKitError
from ..fileio import atomic_write_text
from .metrics import ImageScore, get_protocol, mean_psnr, mean_ssim, score_pair


@dataclass(frozen=True)
class FolderScore:
    protocol: str
    scale: float
    images: list[ImageScore]

    @property
    def psnr_y_db(self) -> float:
        return mean_psnr(self.images)

    @property
    def ssim_y(self) -> float:
        return mean_ssim(self.images)


def score_folders(sr_dir: str | Path, hr_dir: str | Path, scale, protocol: str = "ddir",
                  out_csv: str | Path | None = None,
                  progress: Callable[[int, int], None] | None = None) -> FolderScore:
    """Score every image of ``sr_dir`` against the image of ``hr_dir`` at the same sorted position.

    Both folders must hold the same number of images of equal sizes. 16-bit files are read
    with all their bits. Writes a per-image CSV (name, sr_file, hr_file, scale, psnr_y, ssim_y)
    to ``out_csv`` when given.
    """
    get_protocol(protocol)
    sr_dir, hr_dir = Path(sr_dir), Path(hr_dir)
    for d in (sr_dir, hr_dir):
        if not d.is_dir():
            raise DdirKitError("not a folder", d)
    srs, hrs = image_files(sr_dir), image_files(hr_dir)
    if not srs:
        raise DdirKitError("no images (png, jpg, tif) found", sr_dir)
    if len(srs) != len(hrs):
        raise DdirKitError(f"{len(srs)} SR images but {len(hrs)} HR images in {hr_dir}; "
                           "files are paired by sorted name", sr_dir)
    scores, rows = [], []
    for i, (s, h) in enumerate(zip(srs, hrs)):
        sr, hr = read_photo(s).rgb, read_photo(h).rgb
        if sr.shape != hr.shape:
            raise DdirKitError(f"size {sr.shape[1]}x{sr.shape[0]} differs from its ground truth {h} "
                               f"({hr.shape[1]}x{hr.shape[0]})", s)
        sc = score_pair(s.stem, sr, hr, scale, protocol)
        scores.append(sc)
        rows.append((sc.name, s.name, h.name, f"{sc.scale:g}", f"{sc.psnr_y_db:.4f}", f"{sc.ssim_y:.5f}"))
        if progress:
            progress(i + 1, len(srs))
    result = FolderScore(protocol, scores[0].scale, scores)
    if out_csv is not None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(("name", "sr_file", "hr_file", "scale", "psnr_y", "ssim_y"))
        w.writerows(rows)
        atomic_write_text(out_csv, buf.getvalue())
    return result
