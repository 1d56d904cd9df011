"""Pixel-centre coordinates on [-1, 1] and the LIIF-style local-ensemble geometry.

Coordinates are (y, x) ordered; for n pixels the centres are c_i = -1 + (2 i + 1) / n, the
convention of LIIF's ``make_coord`` (computed with the same formula, so sub-ranges of an axis
give bit-identical values to the whole axis - tiled inference relies on that).

The corner lookup is written with explicit indices instead of ``grid_sample(mode='nearest')``
because the same code must index a *region* of the LR feature map (a tile) with *global*
coordinates; it computes grid_sample's own rule (``nearest_index``: round half to even of the
unnormalised coordinate, in float32), so on the whole map it picks exactly the pixels the
reference code's grid_sample picks, ties included (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Box:
    """A half-open rectangle of LR pixels: rows [y0, y1), columns [x0, x1)."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def height_px(self) -> int:
        return self.y1 - self.y0

    @property
    def width_px(self) -> int:
        return self.x1 - self.x0

    def grow(self, margin_px: int, full_hw: tuple[int, int]) -> "Box":
        """This box widened by ``margin_px`` on every side, clipped to an image of ``full_hw``."""
        h, w = full_hw
        return Box(max(0, self.y0 - margin_px), min(h, self.y1 + margin_px),
                   max(0, self.x0 - margin_px), min(w, self.x1 + margin_px))

    def slices_in(self, outer: "Box") -> tuple[slice, slice]:
        """Row and column slices selecting this box out of an array that covers ``outer``."""
        return (slice(self.y0 - outer.y0, self.y1 - outer.y0),
                slice(self.x0 - outer.x0, self.x1 - outer.x0))

    @staticmethod
    def full(full_hw: tuple[int, int]) -> "Box":
        return Box(0, full_hw[0], 0, full_hw[1])


def axis_coords(n: int, start: int = 0, stop: int | None = None, device=None) -> torch.Tensor:
    """Centres of pixels [start, stop) of an axis of n pixels on [-1, 1]; float32 (stop-start,)."""
    stop = n if stop is None else stop
    r = 1.0 / n
    return -1 + r + (2 * r) * torch.arange(start, stop, device=device, dtype=torch.float32)


def make_coord(shape: tuple[int, int], flatten: bool = True, device=None) -> torch.Tensor:
    """Pixel-centre coordinates of an (H, W) grid: (H*W, 2), or (H, W, 2) if not flatten; (y, x)."""
    ys = axis_coords(shape[0], device=device)
    xs = axis_coords(shape[1], device=device)
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1)
    return grid.reshape(-1, 2) if flatten else grid


def make_cell(shape: tuple[int, int], n_queries: int, device=None) -> torch.Tensor:
    """The cell (2 / H, 2 / W) of an (H, W) output, repeated: (n_queries, 2) float32."""
    cell = torch.tensor([2.0 / shape[0], 2.0 / shape[1]], dtype=torch.float32, device=device)
    return cell.expand(n_queries, 2).clone()


def lr_index(c: torch.Tensor, n: int) -> torch.Tensor:
    """Index of the LR pixel (of n) whose cell contains coordinate c; int64, clamped."""
    return torch.floor((c + 1) * (n / 2)).long().clamp_(0, n - 1)


def nearest_index(c: torch.Tensor, n: int) -> torch.Tensor:
    """The pixel (of n) that ``grid_sample(mode='nearest', align_corners=False)`` reads at
    coordinate c: it unnormalises to x = ((c + 1) n - 1) / 2 and rounds half to even, so a
    coordinate exactly on the boundary between pixels k - 1 and k picks the even one. int64,
    clamped (the reference code clamps every lookup that could reach the border)."""
    return torch.round(((c + 1) * n - 1) / 2).long().clamp_(0, n - 1)


_EPS_SHIFT = 1e-6


@dataclass
class Corners:
    """The four nearest LR latents of each query (LIIF's local ensemble).

    idx:       (N, Q, 4) int64 flat index into the map region ``box`` (row-major).
    rel_coord: (N, Q, 4, 2) query minus latent centre, in LR pixels x 2 (LIIF's scaling by (h, w)).
    weight:    (N, Q, 4) bilinear blend weights (area of the opposite rectangle), sum 1.
    nearest:   (N, Q) flat index of the LR pixel grid_sample reads at the query (no shift).
    """

    idx: torch.Tensor
    rel_coord: torch.Tensor
    weight: torch.Tensor
    nearest: torch.Tensor


def local_corners(coord: torch.Tensor, full_hw: tuple[int, int], box: Box,
                  shift: tuple | None = None) -> Corners:
    """Corner geometry for queries ``coord`` (N, Q, 2) over an LR image of ``full_hw`` pixels,
    with indices relative to the map region ``box`` (which must contain every corner).

    shift: how far each corner lookup moves the query along (y, x), before the reference's
    1e-6 nudge and clamp: LIIF's half LR pixel (1/h, 1/w) by default, or per-image tensors of
    shape (N, 1) (CiaoSR's cell-dependent offsets)."""
    h, w = full_hw
    sy, sx = (1.0 / h, 1.0 / w) if shift is None else shift
    idxs, rels, areas = [], [], []
    for vy in (-1, 1):
        for vx in (-1, 1):
            cy = (coord[..., 0] + (vy * sy + _EPS_SHIFT)).clamp(-1 + 1e-6, 1 - 1e-6)
            cx = (coord[..., 1] + (vx * sx + _EPS_SHIFT)).clamp(-1 + 1e-6, 1 - 1e-6)
            iy, ix = nearest_index(cy, h), nearest_index(cx, w)
            # latent centres exactly as make_coord computes them
            ly = -1 + 1.0 / h + (2.0 / h) * iy.to(coord.dtype)
            lx = -1 + 1.0 / w + (2.0 / w) * ix.to(coord.dtype)
            rel = torch.stack(((coord[..., 0] - ly) * h, (coord[..., 1] - lx) * w), dim=-1)
            idxs.append(_flat(iy, ix, box))
            rels.append(rel)
            areas.append((rel[..., 0] * rel[..., 1]).abs() + 1e-9)
    area = torch.stack(areas, dim=-1)
    # each corner is weighted by the area of the rectangle opposite to it (LIIF swaps 0<->3, 1<->2)
    weight = area.flip(-1) / area.sum(dim=-1, keepdim=True)
    nearest = _flat(nearest_index(coord[..., 0], h), nearest_index(coord[..., 1], w), box)
    return Corners(torch.stack(idxs, dim=-1), torch.stack(rels, dim=-2), weight, nearest)


def ciaosr_shift(cell: torch.Tensor, full_hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """CiaoSR's corner offsets along (y, x), per image, from the first query's cell: its
    reference computes t = (h - 1) / (1 - cell_y) and moves by 1 / t, i.e. (1 - cell_y) / (h - 1)
    (a little more than LIIF's 1 / h, so a query near an LR centre takes the two neighbours
    on either side). Written in the reference's order of operations, so the float32 values
    are the same. (N, 1) each; an axis of one pixel has no neighbour and no shift."""
    h, w = full_hw
    out = []
    for n, c in ((h, cell[:, 0, 0]), (w, cell[:, 0, 1])):
        out.append((1 / ((n - 1) / (1 - c))).view(-1, 1) if n > 1 else torch.zeros_like(c).view(-1, 1))
    return out[0], out[1]


def _flat(iy: torch.Tensor, ix: torch.Tensor, box: Box) -> torch.Tensor:
    ry, rx = iy - box.y0, ix - box.x0
    if ry.numel() and (int(ry.min()) < 0 or int(ry.max()) >= box.height_px
                       or int(rx.min()) < 0 or int(rx.max()) >= box.width_px):
        raise ValueError("a query's corner lies outside the feature region (tile too small)")
    return ry * box.width_px + rx


def gather(feature_map: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Rows of a map at flat indices: map (N, C, h, w), idx (N, ...) -> (N, ..., C). Never copies
    the map; for a map gathered from many times, store it with ``rows_ready`` first."""
    n, c = feature_map.shape[:2]
    if feature_map.is_contiguous(memory_format=torch.channels_last):
        rows = feature_map.permute(0, 2, 3, 1).reshape(n, -1, c)  # a view: whole rows
    else:
        rows = feature_map.flatten(2).transpose(1, 2)  # a view: channel-strided elements
    batch = torch.arange(n, device=idx.device).view(n, *([1] * (idx.dim() - 1)))
    return rows[batch, idx]


def rows_ready(feature_map: torch.Tensor) -> torch.Tensor:
    """The same (N, C, h, w) map stored channels-last, so that ``gather`` reads whole rows:
    several times faster than channel-strided elements. Make this copy once per map (per
    region at inference), not per query chunk."""
    return feature_map.contiguous(memory_format=torch.channels_last)


def sample_bilinear_border(image: torch.Tensor, coord: torch.Tensor, full_hw: tuple[int, int],
                           box: Box) -> torch.Tensor:
    """Bilinear sample of an image region at global coordinates, border padding.

    Same values as ``grid_sample(..., mode='bilinear', padding_mode='border',
    align_corners=False)`` on the whole image; image (N, C, box.h, box.w) covers ``box``.
    Returns (N, Q, C).
    """
    h, w = full_hw
    py = (((coord[..., 0] + 1) * h - 1) / 2).clamp(0, h - 1)
    px = (((coord[..., 1] + 1) * w - 1) / 2).clamp(0, w - 1)
    y0, x0 = py.floor(), px.floor()
    fy, fx = (py - y0).unsqueeze(-1), (px - x0).unsqueeze(-1)
    y0, x0 = y0.long(), x0.long()
    y1, x1 = (y0 + 1).clamp(max=h - 1), (x0 + 1).clamp(max=w - 1)
    v00 = gather(image, _flat(y0, x0, box))
    v01 = gather(image, _flat(y0, x1, box))
    v10 = gather(image, _flat(y1, x0, box))
    v11 = gather(image, _flat(y1, x1, box))
    return (v00 * (1 - fx) + v01 * fx) * (1 - fy) + (v10 * (1 - fx) + v11 * fx) * fy
