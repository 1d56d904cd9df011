"""Upscaling a whole image at any scale within a memory budget.

Queries are decoded in chunks; when the encoder maps of the whole LR image would not fit, the
LR image is split into tiles whose maps are computed from the tile widened by the model's halo
(wider than the encoder's receptive field), so every tile's maps equal the whole image's and
the stitched result equals the untiled one. Queries use global coordinates, so any scale (and
any output size) works. Whole-image quantities (DDIR's appearance embedding) are computed over
all tiles first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..devices import resolve_device
from ..errors import DdirKitError

from .bicubic import BicubicUpsampler
from .method_interface import ImageMethod, QueryMethod
from .coords import Box, axis_coords, lr_index

DEFAULT_MEMORY_BYTES = 2 * 1024 ** 3
_ENCODE_SHARE = 0.6  # of the budget for one tile's encoder activations and maps
# Queries decoded at once on a CPU, at most: bigger chunks do not make the matrix products
# faster, and their per-layer tensors (queries x 4 corners x 256 floats) outgrow what the C
# allocator recycles, so every chunk pays for fresh pages. Measured (1 thread, EDSR, 120x160 ->
# 480x640): LIIF 30.7 -> 36.5 kpx/s, DDIR 15.7 -> 20.6 kpx/s with 2048 instead of the budget's chunk.
# GPUs have no such cost (their caching allocator recycles), and there fewer, bigger chunks
# keep the device busy: a CUDA chunk takes up to half the device memory free once the region is
# encoded (torch.cuda.mem_get_info, plus what torch's cache holds unused), and at least the
# budget's chunk. Other devices keep the budget's chunk.
MAX_CPU_CHUNK_QUERIES = 2048
_CUDA_FREE_SHARE = 0.5
# at most this many floats in one chunk's working set, so no tensor outgrows 32-bit indexing
_MAX_CHUNK_FLOATS = 2 ** 31


def upscale(model: torch.nn.Module, lr: torch.Tensor, out_size: tuple[int, int],
            max_memory_bytes: int | None = None, progress: Callable[[int, int], None] | None = None,
            tile_px: int | None = None) -> torch.Tensor:
    """Upscale one image.

    lr: (3, h, w) or (1, 3, h, w) float in [0, 1]; out_size: (H, W) output pixels.
    max_memory_bytes: working-memory budget for activations (default 2 GiB); it picks the
    tile size and the query chunk (on CUDA the chunk grows into free device memory:
    ``query_chunk``). tile_px forces LR tiles of that side (tests).
    progress(done, total) is called with output pixels decoded so far.
    Returns (3, H, W) float32 clamped to [0, 1], on lr's device; computes on the model's device.

    A model with ``test_tiles`` (CiaoSR) is evaluated as its official test does: each of its
    tiles is upscaled as an image of its own and overlapping predictions are averaged.
    """
    if lr.dim() == 3:
        lr = lr.unsqueeze(0)
    if lr.dim() != 4 or lr.shape[0] != 1 or lr.shape[1] != 3:
        raise ValueError(f"lr must be (3, h, w) or (1, 3, h, w), got {tuple(lr.shape)}")
    out_h, out_w = int(out_size[0]), int(out_size[1])
    budget = int(max_memory_bytes or DEFAULT_MEMORY_BYTES)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if isinstance(model, BicubicUpsampler):
                out = model.upscale_image(lr.float(), (out_h, out_w))[0].clamp_(0, 1)
                if progress:
                    progress(out_h * out_w, out_h * out_w)
                return out
            if isinstance(model, (ImageMethod, QueryMethod)):
                return upscale_outside(model, lr, (out_h, out_w), budget, progress, tile_px).clamp_(0, 1)
            device = next(model.parameters()).device
            lr_n = model.normalise(lr.to(device=device, dtype=torch.float32))
            h, w = lr_n.shape[-2:]
            tiles = model.test_tiles((h, w), (out_h, out_w)) if hasattr(model, "test_tiles") else None
            if tiles is None:
                counter = _Progress(out_h * out_w, progress)
                pred = _predict(model, lr_n, axis_coords(out_h, device=device), axis_coords(out_w, device=device),
                                (2.0 / out_h, 2.0 / out_w), budget, tile_px, counter)
            else:
                pred = _predict_test_tiles(model, lr_n, tiles, (h, w), (out_h, out_w), budget, progress)
            return model.to_rgb(pred.permute(1, 2, 0).reshape(1, -1, 3)).clamp_(0, 1)[0].t() \
                .reshape(3, out_h, out_w).to(lr.device)
    finally:
        model.train(was_training)


class _Progress:
    def __init__(self, total: int, callback: Callable[[int, int], None] | None):
        self.total, self.callback, self.done = total, callback, 0

    def add(self, n: int) -> None:
        self.done += n
        if self.callback:
            self.callback(self.done, self.total)


def _predict(model, lr_n: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, cell_hw: tuple[float, float],
             budget: int, tile_px: int | None, progress: _Progress) -> torch.Tensor:
    """The normalised prediction (3, len(ys), len(xs)) at the grid of query coordinates ys x xs
    (increasing, on [-1, 1] of ``lr_n``) with the given cell, region by region and chunk by
    chunk within the memory budget."""
    device = lr_n.device
    h, w = lr_n.shape[-2:]
    boxes = plan_tiles(model, (h, w), budget, tile_px)
    context = model.global_context(lr_n, boxes) if len(boxes) > 1 else None
    out = torch.empty(3, len(ys), len(xs), dtype=torch.float32, device=device)
    row_owner, col_owner = lr_index(ys, h), lr_index(xs, w)
    cell = torch.tensor(cell_hw, dtype=torch.float32, device=device)
    for box in boxes:
        r0, r1 = _owned(row_owner, box.y0, box.y1)
        c0, c1 = _owned(col_owner, box.x0, box.x1)
        if r0 == r1 or c0 == c1:
            continue
        state = model.encode_region(lr_n, box, context)
        chunk = query_chunk(model.bytes_per_query(), budget, device)
        rows_per_chunk = max(1, chunk // (c1 - c0))
        for ra in range(r0, r1, rows_per_chunk):
            rb = min(r1, ra + rows_per_chunk)
            coord = torch.stack(torch.meshgrid(ys[ra:rb], xs[c0:c1], indexing="ij"), dim=-1).view(1, -1, 2)
            pred_n, _ = model.query(state, coord, cell.expand(1, coord.shape[1], 2))
            out[:, ra:rb, c0:c1] = pred_n[0].t().reshape(3, rb - ra, c1 - c0)
            progress.add((rb - ra) * (c1 - c0))
        del state
    return out


def query_chunk(bytes_per_query: int, budget: int, device: torch.device, free_bytes: int | None = None) -> int:
    """Queries decoded at once: the budget's share for queries on a CPU (at most
    ``MAX_CPU_CHUNK_QUERIES``); on CUDA as many as half the free device memory holds
    (``free_bytes``, default: measured now) if that is more."""
    chunk = max(1, int(budget * (1 - _ENCODE_SHARE)) // bytes_per_query)
    if device.type == "cpu":
        return min(chunk, MAX_CPU_CHUNK_QUERIES)
    if device.type == "cuda":
        free = cuda_free_bytes(device) if free_bytes is None else free_bytes
        roomy = min(int(free * _CUDA_FREE_SHARE), _MAX_CHUNK_FLOATS * 4) // bytes_per_query
        chunk = max(chunk, roomy)
    return chunk


def cuda_free_bytes(device: torch.device) -> int:
    """Bytes a CUDA device can still give this process: free in the driver plus what torch's
    caching allocator holds reserved but unused."""
    free, _total = torch.cuda.mem_get_info(device)
    return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))


def _predict_test_tiles(model, lr_n: torch.Tensor, tiles, lr_hw, out_hw, budget: int,
                        progress: Callable[[int, int], None] | None) -> torch.Tensor:
    """The official tiled test: every tile upscaled as an image of its own, overlaps averaged
    (in normalised units, before the mean is added back and the result clamped)."""
    h, w = lr_hw
    out_h, out_w = out_hw
    device = lr_n.device
    acc = torch.zeros(3, out_h, out_w, dtype=torch.float32, device=device)
    weight = torch.zeros(out_h, out_w, dtype=torch.float32, device=device)
    counter = _Progress(sum((t.out_rows[1] - t.out_rows[0]) * (t.out_cols[1] - t.out_cols[0]) for t in tiles),
                        progress)
    for t in tiles:
        b = t.lr_box
        sub = lr_n[..., b.y0:b.y1, b.x0:b.x1]
        if t.exact_hw is not None:
            th, tw = t.exact_hw
            ys, xs, cell = axis_coords(th, device=device), axis_coords(tw, device=device), (2.0 / th, 2.0 / tw)
        else:
            # the global pixel centres, in the tile's own coordinates
            ys = _local_coords(t.out_rows, b.y0, b.height_px, h, out_h, device)
            xs = _local_coords(t.out_cols, b.x0, b.width_px, w, out_w, device)
            cell = (2.0 * h / (out_h * b.height_px), 2.0 * w / (out_w * b.width_px))
        pred = _predict(model, sub, ys, xs, cell, budget, None, counter)
        (r0, r1), (c0, c1) = t.out_rows, t.out_cols
        acc[:, r0:r1, c0:c1] += pred
        weight[r0:r1, c0:c1] += 1
    return acc / weight.clamp_min(1)


def _local_coords(rows: tuple[int, int], lo: int, n_tile: int, n_lr: int, n_out: int, device) -> torch.Tensor:
    """Coordinates on [-1, 1] of a tile of n_tile LR pixels starting at lo, of output pixels
    rows[0] .. rows[1] - 1 of an axis of n_out (whose centres lie at (i + 0.5) n_lr / n_out)."""
    i = torch.arange(rows[0], rows[1], device=device, dtype=torch.float64)
    centre_lr = (i + 0.5) * (n_lr / n_out) - lo
    return (-1 + 2 * centre_lr / n_tile).to(torch.float32)


def plan_tiles(model, lr_hw: tuple[int, int], budget_bytes: int, tile_px: int | None = None) -> list[Box]:
    """LR tiles (cores, a partition of the image) whose encoding fits the budget; one box if
    the whole image fits, or if the model's maps of a region need the whole image
    (``splits_into_regions = False``)."""
    h, w = lr_hw
    if not getattr(model, "splits_into_regions", True):
        return [Box(0, h, 0, w)]
    per_px = model.bytes_per_lr_px()
    if tile_px is None:
        if h * w * per_px <= budget_bytes * _ENCODE_SHARE:
            return [Box(0, h, 0, w)]
        side = int(math.sqrt(budget_bytes * _ENCODE_SHARE / per_px)) - 2 * model.halo_px
        tile_px = max(16, side)
    return [Box(y, min(h, y + tile_px), x, min(w, x + tile_px))
            for y in range(0, h, tile_px) for x in range(0, w, tile_px)]


def upscale_outside(model, lr: torch.Tensor, out_hw: tuple[int, int], budget: int,
                    progress: Callable[[int, int], None] | None, tile_px: int | None = None) -> torch.Tensor:
    """An image-form or outside query-form method (method_interface.py) on one image, unclamped:
    (3, H, W) on lr's device.

    Query form: the queries are decoded in chunks; with ``receptive_radius_px`` declared the LR
    image is cut into tiles (each widened by the radius plus the one pixel a corner lookup
    reaches) and every query is asked of its tile in the tile's own coordinates, so the tiles
    give the untiled result (to float rounding); without it the whole image is encoded once
    (``encode``/``decode`` when the model has them, else forward per chunk). Image form: the
    whole image at once (its own forward decides how it spends memory)."""
    device = next(model.parameters()).device
    x = lr.to(device=device, dtype=torch.float32)
    out_h, out_w = out_hw
    if isinstance(model, ImageMethod):
        out = model.upscale_image(x, (out_h, out_w))[0]
        if progress:
            progress(out_h * out_w, out_h * out_w)
        return out.to(lr.device)
    h, w = x.shape[-2:]
    ys, xs = axis_coords(out_h, device=device), axis_coords(out_w, device=device)
    radius = model.receptive_radius_px
    if radius is None:
        boxes, halo = [Box(0, h, 0, w)], 0
    else:
        side = tile_px or max(16, int(math.sqrt(budget * _ENCODE_SHARE / _OUTSIDE_BYTES_PER_LR_PX)))
        boxes = [Box(y, min(h, y + side), x0, min(w, x0 + side)) for y in range(0, h, side) for x0 in range(0, w, side)]
        halo = radius + 1
    chunk = max(1, int(budget * (1 - _ENCODE_SHARE)) // _OUTSIDE_BYTES_PER_QUERY)
    counter = _Progress(out_h * out_w, progress)
    out = torch.empty(3, out_h, out_w, dtype=torch.float32, device=device)
    row_owner, col_owner = lr_index(ys, h), lr_index(xs, w)
    for box in boxes:
        r0, r1 = _owned(row_owner, box.y0, box.y1)
        c0, c1 = _owned(col_owner, box.x0, box.x1)
        if r0 == r1 or c0 == c1:
            continue
        crop = box.grow(halo, (h, w))
        whole = crop == Box(0, h, 0, w)
        features = model.encode(x[..., crop.y0:crop.y1, crop.x0:crop.x1])
        # a query's coordinates and cell in the crop's own [-1, 1] frame
        ly = ys if whole else _to_crop(ys, h, crop.y0, crop.height_px)
        lx = xs if whole else _to_crop(xs, w, crop.x0, crop.width_px)
        cell = torch.tensor([2.0 / out_h * h / crop.height_px, 2.0 / out_w * w / crop.width_px], device=device)
        rows_per_chunk = max(1, chunk // (c1 - c0))
        for ra in range(r0, r1, rows_per_chunk):
            rb = min(r1, ra + rows_per_chunk)
            coord = torch.stack(torch.meshgrid(ly[ra:rb], lx[c0:c1], indexing="ij"), dim=-1).view(1, -1, 2)
            rgb = model.decode(features, coord, cell.expand(1, coord.shape[1], 2))
            out[:, ra:rb, c0:c1] = rgb[0].t().reshape(3, rb - ra, c1 - c0)
            counter.add((rb - ra) * (c1 - c0))
    return out.to(lr.device)


# rough costs for methods from outside, whose memory the kit cannot estimate
_OUTSIDE_BYTES_PER_LR_PX = 4096
_OUTSIDE_BYTES_PER_QUERY = 16384


def _to_crop(c: torch.Tensor, n: int, lo: int, n_crop: int) -> torch.Tensor:
    """Coordinates on [-1, 1] of an axis of n pixels -> those of pixels [lo, lo + n_crop)."""
    return (((c.double() + 1) * n / 2 - lo) * 2 / n_crop - 1).to(c.dtype)


def _owned(owner: torch.Tensor, lo: int, hi: int) -> tuple[int, int]:
    """The contiguous range of output rows (or columns) whose LR pixel index is in [lo, hi)."""
    return (int(torch.searchsorted(owner, torch.tensor(lo))),
            int(torch.searchsorted(owner, torch.tensor(hi))))


# ---------------------------------------------------------------------------------------
# files


@dataclass(frozen=True)
class UpscaleResult:
    """What ``upscale_file`` wrote: output path, sizes in pixels (width, height), bit depth."""

    out_path: Path
    in_size_px: tuple[int, int]
    out_size_px: tuple[int, int]
    bit_depth: int
    method: str


def upscale_file(image: str | Path, checkpoint: str | Path, out: str | Path, scale: float | str | None = None,
                 size_px: tuple[int, int] | None = None, device: str = "cpu", max_memory_bytes: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> UpscaleResult:
    """Read a photo, upscale it by ``scale`` or to ``size_px`` (width, height) with the model in
    ``checkpoint``, and write ``out`` (format by extension; 16-bit PNG/TIFF when the input
    had more than 8 bits). Raises DdirKitError for bad input."""
    from ..photo.photo_io import read_photo, write_image
    from .checkpoint import load_checkpoint

    if (scale is None) == (size_px is None):
        raise DdirKitError("give exactly one of --scale and --size")
    dev = resolve_device(device)
    photo = read_photo(image)
    w, h = photo.size
    if size_px is None:
        try:
            s = float(scale)
        except ValueError:
            raise DdirKitError(f"cannot read scale {scale!r}; write a number such as 3.7") from None
        if not (s > 0 and math.isfinite(s)):
            raise DdirKitError(f"scale must be a positive number, got {scale!r}")
        size_px = (max(1, round(w * s)), max(1, round(h * s)))
    model, _ = load_checkpoint(checkpoint, map_location=dev)
    lr = torch.from_numpy(np.ascontiguousarray(photo.rgb.transpose(2, 0, 1)))
    sr = upscale(model, lr, (size_px[1], size_px[0]), max_memory_bytes, progress)
    rgb = sr.permute(1, 2, 0).cpu().numpy()
    write_image(out, rgb, bit_depth=photo.bit_depth)
    return UpscaleResult(Path(out), (w, h), size_px, photo.bit_depth, model.spec["method"])
