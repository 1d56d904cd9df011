"""LIIF-style local ensemble decoding, in the reference and the fast exact formulation.

Reference: per corner, gather the unfolded latent (9C values), concatenate the relative
coordinate, relative cell and any extra inputs, run the whole MLP; blend the four predictions.

Fast: the first layer's latent columns were applied once per LR pixel as a 3x3 convolution
(``base.latent_conv``, bias included), so per corner only that hidden-width vector is gathered
and the small remaining columns (coordinate, cell, extras) are added before the ReLU. Both give
the same numbers up to float rounding.
"""

from __future__ import annotations

import torch

from .base import crop_map, latent_conv, unfold3x3
from .coords import Corners, gather, rows_ready
from .mlp import MLP


def rel_cell(cell: torch.Tensor, full_hw: tuple[int, int]) -> torch.Tensor:
    """The query cell in LR pixels x 2: (N, Q, 2)."""
    return cell * cell.new_tensor([float(full_hw[0]), float(full_hw[1])])


def decode_reference(mlp: MLP, latent: torch.Tensor, corners: Corners, cell_rel: torch.Tensor,
                     extras: list[torch.Tensor] = (), blend: bool = True) -> torch.Tensor:
    """latent (N, 9C, h, w) over the corners' region; extras: (N, Q, k) per-query inputs
    appended after the cell. Returns the blended (N, Q, out), or (N, Q, 4, out) if not blend."""
    preds = []
    for k in range(4):
        inp = torch.cat([gather(latent, corners.idx[..., k]), corners.rel_coord[:, :, k], cell_rel, *extras], dim=-1)
        preds.append(mlp(inp))
    preds = torch.stack(preds, dim=2)
    return blend_corners(preds, corners) if blend else preds


def decode_fast(mlp: MLP, z: torch.Tensor, corners: Corners, cell_rel: torch.Tensor, latent_dim: int,
                extras: list[torch.Tensor] = (), blend: bool = True) -> torch.Tensor:
    """z (N, hidden, h, w): the first layer's latent part plus bias at every LR pixel.
    extras as in ``decode_reference`` (their columns follow the cell's)."""
    w = mlp.first.weight
    n, q = corners.idx.shape[:2]
    small = [corners.rel_coord] + [t.unsqueeze(2).expand(n, q, 4, t.shape[-1]) for t in (cell_rel, *extras)]
    small = torch.cat(small, dim=-1)  # (N, Q, 4, 4 + extras): every non-latent input of the first layer
    h1 = gather(z, corners.idx)  # (N, Q, 4, hidden)
    # one addmm adds all the small columns in a single pass over the (N, Q, 4, hidden) tensor
    # (measured: faster than separate adds, and than an in-place addmm_ on the gathered rows)
    h1 = torch.addmm(h1.view(-1, h1.shape[-1]), small.view(-1, small.shape[-1]),
                     w[:, latent_dim:latent_dim + small.shape[-1]].t())
    preds = mlp.after_first(h1).view(n, q, 4, -1)
    return blend_corners(preds, corners) if blend else preds


def latent_map(feat: torch.Tensor, mlp: MLP, latent_dim: int, decode_path: str, crop_box, map_box) -> torch.Tensor:
    """What ``decode`` gathers per corner, for one encoder branch, cropped to ``map_box``:
    the first layer's latent part at every LR pixel (fast) or the unfolded latent (reference)."""
    if decode_path == "fast":
        z = latent_conv(feat, mlp.first.weight[:, :latent_dim], mlp.first.bias)
    else:
        z = unfold3x3(feat)
    return rows_ready(crop_map(z, crop_box, map_box))


def decode(mlp: MLP, zmap: torch.Tensor, corners: Corners, cell_rel: torch.Tensor, latent_dim: int,
           extras: list[torch.Tensor], decode_path: str) -> torch.Tensor:
    """Blended prediction from a ``latent_map`` of the same ``decode_path``."""
    if decode_path == "fast":
        return decode_fast(mlp, zmap, corners, cell_rel, latent_dim, extras)
    return decode_reference(mlp, zmap, corners, cell_rel, extras)


def blend_corners(preds: torch.Tensor, corners: Corners) -> torch.Tensor:
    """(N, Q, 4, out) -> (N, Q, out) with the bilinear area weights."""
    return (preds * corners.weight.unsqueeze(-1)).sum(dim=2)
