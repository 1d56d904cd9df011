"""The folder `register` writes for one pair, complete or not at all:

    <out_dir>/hr.png    the HR photo's pixels in the crop, never resampled (its bit depth kept)
    <out_dir>/lr.png    the LR photo resampled on the pair's grid (its bit depth kept)
    <out_dir>/pair.json the pair record (pair_record.py)

The images are written only when a map exists (a rejected pair keeps them for
`register --inspect`; `crop` uses status 'ok' only).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..fileio import sha256_file
from ..photo.photo_io import Photo, write_png
from .config import RegistrationConfig
from .pair_record import PAIR_JSON, Coarse, LocalShift, PairRecord, RadialPooled, Residual, Sources, TemplateBlur
from .pair_resampling import colour_transfer, hr_on_lr_grid, resample_lr

if TYPE_CHECKING:
    from .register_pair import PairRegistration

PAIR_IMAGES = ("hr.png", "lr.png")


def write_pair_folder(out_dir: str | Path, result: "PairRegistration", hr: Photo, lr: Photo,
                      config: RegistrationConfig, sources: Sources | None = None,
                      radial_pooled: RadialPooled | None = None) -> Path:
    """Write the folder beside ``out_dir`` and rename it into place (replacing an older one)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        if result.hr_crop is not None and result.pair_map is not None:
            x0, y0, w, h = result.hr_crop
            # HR pixels are written back exactly (float32 holds every 8- and 16-bit level).
            write_png(tmp / "hr.png", hr.rgb[y0:y0 + h, x0:x0 + w], hr.bit_depth)
            lr_img = resample_lr(lr.rgb, result.pair_map, result.hr_crop, result.scale, config.interpolation)
            if config.colour_transfer:
                lr_img = colour_transfer(lr_img, hr_on_lr_grid(hr.rgb, result.hr_crop, result.scale))
            write_png(tmp / "lr.png", lr_img, lr.bit_depth)
        outputs = {name: sha256_file(tmp / name) for name in PAIR_IMAGES if (tmp / name).is_file()}
        pair_record_of(result, hr, lr, config, outputs, sources, radial_pooled).write(tmp / PAIR_JSON)
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.replace(out_dir, old / "x")
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def pair_record_of(result: "PairRegistration", hr: Photo, lr: Photo, config: RegistrationConfig, outputs: dict,
                   sources: Sources | None = None, radial_pooled: RadialPooled | None = None) -> PairRecord:
    """The pair record of a registration result and the photos it came from."""
    return PairRecord(
        scale=result.scale, status=result.status, reason=result.reason, scale_measured=result.scale_measured,
        pair_map=result.pair_map, hr_crop=result.hr_crop, lr_size=result.lr_size, luminance=result.luminance,
        residual=Residual.from_dict(result.residual),
        local_shift=None if result.local is None else LocalShift.from_dict(result.local.to_dict()),
        coarse=Coarse.from_dict(result.coarse), template_blur=TemplateBlur.from_dict(result.template_blur),
        timing_s={k: round(v, 3) for k, v in result.timing_s.items()}, outputs=outputs,
        hr_bit_depth=hr.bit_depth, lr_bit_depth=lr.bit_depth,
        hr_photo_size=tuple(hr.size), lr_photo_size=tuple(lr.size), sources=sources or Sources(),
        config=config.to_dict(), radial_pooled=radial_pooled)
