"""Full-image evaluation of a model on a dataset's Test split, per image and per scale.

Each LR image goes whole through ``models.upscale`` (which chunks the queries, and tiles
where a method needs it) to exactly the HR size; the float prediction is scored against the
full-bit-depth HR under a named protocol (metrics.py). Under torchrun the images are split
across ranks and the scores gathered on every rank.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..photo.photo_io import write_png
from ..errors import DdirKitError
from ..scales import scale_tag
from .datasets import SRDataset
from .distributed import DistContext, gather_to_main
from .metrics import ImageScore, score_pair


@dataclass(frozen=True)
class ScaleSummary:
    scale: float
    n_images: int
    psnr_y_db: float
    ssim_y: float


def evaluate_model(model: torch.nn.Module, ds: SRDataset, scales=None, protocol: str = "ddir",
                   device: str = "cpu", max_memory_bytes: int | None = None,
                   save_dir: str | Path | None = None, save_first: int | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   ctx: DistContext | None = None) -> list[ImageScore]:
    """Score ``model`` on every Test pair at ``scales`` (default: all test scales).

    save_dir: also write the predictions as 16-bit PNGs to ``save_dir/x<tag>/<name>.png``
    (only the first ``save_first`` images of each scale when given).
    Returns the per-image scores of all ranks, ordered by scale then name.
    """
    from ..models import upscale

    ctx = ctx or DistContext(device=device)
    scales = scored_scales(model, ds, scales)
    missing = [s for s in scales if s not in ds.test]
    if missing:
        raise DdirKitError("no Test pairs at scale(s) " + ", ".join(f"x{float(s):g}" for s in missing)
                           + "; test scales: " + ", ".join(f"x{float(s):g}" for s in ds.test_scales), ds.root)
    items = [(s, i, p) for s in scales for i, p in enumerate(ds.test[s])]
    mine = items[ctx.rank::ctx.world]
    model.eval()
    scores = []
    for k, (s, i, pair) in enumerate(mine):
        lr, hr = ds.load_pair(pair)
        lr_t = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1))).to(device)
        with torch.no_grad():
            sr = upscale(model, lr_t, out_size=hr.shape[:2], max_memory_bytes=max_memory_bytes)
        sr = sr.float().cpu().numpy().transpose(1, 2, 0)
        scores.append((float(s), pair.hr.stem, score_pair(pair.hr.stem, sr, hr, s, protocol)))
        if save_dir is not None and (save_first is None or i < save_first):
            write_png(Path(save_dir) / f"x{scale_tag(s)}" / f"{pair.hr.stem}.png", np.clip(sr, 0, 1), 16)
        if progress:
            progress(k + 1, len(mine))
    allscores = gather_to_main(ctx, scores)
    return [sc for _, _, sc in sorted(allscores, key=lambda t: (t[0], t[1]))]


def scored_scales(model, ds: SRDataset, scales=None) -> list[Fraction]:
    """The test scales a model is scored at: the asked ones (default: every test scale), or, for
    a model built for one scale (a fixed-scale model), that scale only."""
    fixed = getattr(model, "scale", None)
    if fixed is None:
        return ds.test_scales if scales is None else [Fraction(s) for s in scales]
    if scales is not None and any(float(s) != fixed for s in scales):
        raise DdirKitError(f"this model upscales by x{fixed:g} only; ask for --scales {fixed:g}")
    own = [s for s in ds.test_scales if float(s) == fixed]
    if not own:
        raise DdirKitError(f"this x{fixed:g} model has no Test pairs at x{fixed:g} to be scored on", ds.root)
    return own


def summarize(scores: list[ImageScore]) -> list[ScaleSummary]:
    """Per scale: the mean of per-image PSNR-Y and SSIM-Y (the protocol's aggregate)."""
    by = {}
    for sc in scores:
        by.setdefault(sc.scale, []).append(sc)
    return [ScaleSummary(s, len(v), float(np.mean([x.psnr_y_db for x in v])), float(np.mean([x.ssim_y for x in v])))
            for s, v in sorted(by.items())]



@dataclass(frozen=True)
class TestResult:
    checkpoint: Path
    protocol: str
    images: list[ImageScore]
    per_scale: list[ScaleSummary]
    is_main: bool  # False on torchrun ranks other than 0 (they hold the same results; only rank 0 reports)


def test_checkpoint(checkpoint: str | Path, data: str | Path, scales=None, protocol: str = "ddir",
                    device: str = "cpu", max_memory_bytes: int | None = None, out_csv: str | Path | None = None,
                    save_dir: str | Path | None = None, scale=None,
                    progress: Callable[[int, int], None] | None = None) -> TestResult:
    """Load a checkpoint (models.load_checkpoint), score it on the Test split of ``data`` and
    write the per-image CSV (name, scale, psnr_y, ssim_y) to ``out_csv`` when given.
    Joins the torchrun process group when launched under torchrun."""
    import csv
    import io

    from ..fileio import atomic_write_text
    from ..models import load_checkpoint
    from .datasets import open_dataset
    from .distributed import init_distributed
    from .metrics import get_protocol

    get_protocol(protocol)
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise DdirKitError("checkpoint not found", checkpoint)
    ds = open_dataset(data, scale)
    ctx = init_distributed(device)
    try:
        model, _extra = load_checkpoint(checkpoint, map_location=ctx.device)
    except DdirKitError:
        raise
    except Exception as e:  # torch.load raises many types for a file that is not a checkpoint
        raise DdirKitError(f"not a ddir-kit checkpoint ({type(e).__name__}: {e})", checkpoint) from None
    model.to(ctx.device)
    scores = evaluate_model(model, ds, scales, protocol, ctx.device, max_memory_bytes, save_dir,
                            progress=progress, ctx=ctx)
    if out_csv is not None and ctx.is_main:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(("name", "scale", "psnr_y", "ssim_y"))
        w.writerows((s.name, f"{s.scale:g}", f"{s.psnr_y_db:.4f}", f"{s.ssim_y:.5f}") for s in scores)
        atomic_write_text(out_csv, buf.getvalue())
    return TestResult(checkpoint, protocol, scores, summarize(scores), ctx.is_main)
