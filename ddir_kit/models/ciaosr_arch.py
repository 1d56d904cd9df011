"""CiaoSR (Cao et al., CVPR 2023): attention-in-attention implicit SR, as its official code computes it.

Inner, local implicit attention over four corner latents: the query is the unfolded latent
(9C) at the LR pixel grid_sample reads at the query; per corner a key (unfolded latent, 9C) and
a value (unfolded latent plus the non-local feature, 10C), each multiplied element-wise by the
output of its own MLP (``imnet_k``: [key, rel. coordinate, rel. cell] -> 9C; ``imnet_v``:
[value, rel. coordinate, rel. cell] -> 10C). Softmax over the corners of query . key replaces
LIIF's area weights; the weighted value goes through ``imnet_q`` (10C -> 3); plus the LR image
sampled bilinearly (border padding) at the query. The corners are found with CiaoSR's own
offsets, (1 - cell) / (h - 1) rather than LIIF's 1 / h (``coords.ciaosr_shift``).

Outer, non-local cross-scale attention (``cs_attn``) over the whole input; see
``CrossScaleAttention``.

Evaluation follows the official test: images are cut into square tiles of
``min(test_tile_px, h, w)`` LR pixels overlapping by ``test_overlap_px`` (192 and 32), the last
tile flush with the border; each tile is upscaled as an image of its own and the overlaps are
averaged (``test_tiles``). The official code defines this for integer scales up to 4 (above 4
it upscales the whole image at once, and so does this class). For other scales it has no tiled
test; here the tiles' sides and offsets are then rounded down to multiples of the scale's
denominator, so each tile's output is whole pixels, and outputs of any other size take their
pixels from the tiles whose LR extent holds their centres (docs/methods.md).

Input normalisation: subtract the RGB mean (0.4488, 0.4371, 0.4040); no division.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import nn

from .base import ImplicitSRModel, RegionState, crop_map, latent_conv, unfold3x3
from .coords import Box, ciaosr_shift, gather, local_corners, rows_ready, sample_bilinear_border
from .encoders import build_encoder
from .local_ensemble import decode_fast, decode_reference, rel_cell
from .mlp import MLP

# Working memory of one band of the cross-scale attention's score matrix; the matrix of a
# 192 px tile would take 1.4 GB at once, a 48 px training patch 5 MB (one band).
_ATTENTION_BAND_BYTES = 256 << 20


class CrossScaleAttention(nn.Module):
    """Non-local cross-scale attention (CSNLN's, as CiaoSR uses it at scale 2).

    Embeddings by 1x1 conv + PReLU (``conv_match_1``/``conv_match_2``: C -> C/2 to match,
    ``conv_assembly``: C -> C to assemble). The map is reflect-padded to even sides and
    downscaled by 2 (bilinear); its 3x3 patches, L2-normalised (norm at least 1e-4), are
    correlated with every full-resolution position; softmax (scale 10) over patches; the
    weights paste 6x6 patches of the assembly embedding with stride 2 (a transposed
    convolution); ``down`` (3x3, stride 2) returns to the input size and the result is divided
    by 6 (after ``down``, bias included, as the official code does). (N, C, h, w) -> (N, C, h, w).

    The score matrix is (h w / 4) x (h w): it is computed in bands of query rows, each band's
    transposed convolution added into the output where its 6x6 patches land, which gives the
    same sums in another order (float rounding).
    """

    def __init__(self, channels: int = 64, reduction: int = 2, softmax_scale: float = 10.0,
                 band_bytes: int = _ATTENTION_BAND_BYTES):
        super().__init__()
        self.softmax_scale = softmax_scale
        self.band_bytes = band_bytes
        self.conv_match_1 = nn.Sequential(nn.Conv2d(channels, channels // reduction, 1), nn.PReLU())
        self.conv_match_2 = nn.Sequential(nn.Conv2d(channels, channels // reduction, 1), nn.PReLU())
        self.conv_assembly = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.PReLU())
        self.down = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        pad_h, pad_w = h % 2, w % 2
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect" if min(h, w) > 1 else "replicate")
        hp, wp = x.shape[-2:]
        embed = self.conv_assembly(x)
        match = self.conv_match_1(x)
        ref = self.conv_match_2(F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False))
        kernels = F.unfold(ref, 3, padding=1)  # (N, C/2*9, L)
        kernels = kernels / kernels.norm(dim=1, keepdim=True).clamp_min(1e-4)
        queries = F.unfold(match, 3, padding=1).view(n, -1, hp, wp)  # (N, C/2*9, hp, wp)
        # 6x6 patches of the assembly embedding at stride 2, 'same' padding (2 on each side)
        patches = F.unfold(F.pad(embed, (2, 2, 2, 2)), 6, stride=2)  # (N, C*36, L)
        n_patches = patches.shape[-1]
        band = max(1, self.band_bytes // (3 * 4 * n_patches * wp))
        out = []
        for i in range(n):
            weight = patches[i].t().reshape(n_patches, c, 6, 6)
            # the transposed convolution of the whole map, padding 2 undone at the end: a band of
            # query rows [a, b) lands on output rows [2a, 2b + 4) of the unpadded canvas
            canvas = x.new_zeros(1, c, 2 * hp + 4, 2 * wp + 4)
            for a in range(0, hp, band):
                b = min(hp, a + band)
                score = kernels[i].t() @ queries[i, :, a:b].reshape(queries.shape[1], -1)  # (L, rows * wp)
                attn = F.softmax(score * self.softmax_scale, dim=0).view(1, n_patches, b - a, wp)
                canvas[..., 2 * a:2 * b + 4, :] += F.conv_transpose2d(attn, weight, stride=2)
            out.append(canvas[0, :, 2:-2, 2:-2])
        out = self.down(torch.stack(out)) / 6.0
        return out[..., :h, :w]


@dataclass(frozen=True)
class TestTile:
    """One tile of the official tiled test: LR pixels ``lr_box``; the output pixels it predicts,
    ``out_rows`` x ``out_cols`` (half-open ranges of the whole output); their coordinates within
    the tile (pixel centres on [-1, 1], y then x) and the tile's cell. ``exact``: the tile's
    output is a whole grid of its own (coordinates as make_coord computes them)."""

    lr_box: Box
    out_rows: tuple[int, int]
    out_cols: tuple[int, int]
    exact_hw: tuple[int, int] | None


def tile_offsets(length_px: int, tile_px: int, stride_px: int) -> list[int]:
    """The official clip test's tile starts along one axis: every stride, then one flush with
    the end (``list(range(0, length - tile, stride)) + [length - tile]``)."""
    return list(range(0, length_px - tile_px, max(1, stride_px))) + [length_px - tile_px]


class CiaoSR(ImplicitSRModel):
    rgb_mean = (0.4488, 0.4371, 0.4040)
    rgb_std = (1.0, 1.0, 1.0)
    # The non-local attention spans the whole input, so a region's maps need the whole input:
    # inference never splits an image into regions (its tiles are ``test_tiles``).
    splits_into_regions = False

    def __init__(self, spec: dict, encoder: str = "edsr", encoder_args: dict | None = None,
                 hidden_list: tuple[int, ...] = (256, 256, 256, 256), test_tile_px: int | None = 192,
                 test_overlap_px: int = 32):
        super().__init__(spec)
        self.encoder = build_encoder(encoder, encoder_args)
        c = self.encoder.out_dim
        self.latent_dim = 9 * c
        self.value_dim = 9 * c + c
        self.imnet_q = MLP(self.value_dim, 3, list(hidden_list))
        self.imnet_k = MLP(self.latent_dim + 4, self.latent_dim, list(hidden_list))
        self.imnet_v = MLP(self.value_dim + 4, self.value_dim, list(hidden_list))
        self.cs_attn = CrossScaleAttention(c)
        self.test_tile_px = None if test_tile_px is None else int(test_tile_px)
        self.test_overlap_px = int(test_overlap_px)

    @property
    def halo_px(self) -> int:
        return 1 << 30  # the whole input (see splits_into_regions)

    # -- the official tiled test -----------------------------------------------------------
    def test_tiles(self, lr_hw: tuple[int, int], out_hw: tuple[int, int]) -> list[TestTile] | None:
        """The tiles of the official test for an LR image of ``lr_hw`` upscaled to ``out_hw``,
        or None when the whole image is upscaled at once (no tiling configured, a scale above 4,
        or an image no larger than one tile)."""
        h, w = lr_hw
        out_h, out_w = out_hw
        if self.test_tile_px is None or max(out_h / h, out_w / w) > 4:
            return None
        tile = min(self.test_tile_px, h, w)
        stride = tile - self.test_overlap_px
        scale = Fraction(out_h, h) if Fraction(out_h, h) == Fraction(out_w, w) else None
        q = scale.denominator if scale is not None and h % scale.denominator == 0 \
            and w % scale.denominator == 0 else None
        if q is not None and q > 1:
            tile, stride = tile // q * q, max(q, stride // q * q)
        if tile <= 0 or (tile >= h and tile >= w):
            return None
        tiles = []
        for y0 in tile_offsets(h, tile, stride):
            for x0 in tile_offsets(w, tile, stride):
                box = Box(y0, y0 + tile, x0, x0 + tile)
                if q is not None:
                    rows = (int(y0 * scale), int((y0 + tile) * scale))
                    cols = (int(x0 * scale), int((x0 + tile) * scale))
                    tiles.append(TestTile(box, rows, cols, (rows[1] - rows[0], cols[1] - cols[0])))
                else:
                    tiles.append(TestTile(box, _owned_range(y0, y0 + tile, h, out_h),
                                          _owned_range(x0, x0 + tile, w, out_w), None))
        return tiles

    # -- the two stages -------------------------------------------------------------------
    def encode_region(self, lr_n, box=None, context=None) -> RegionState:
        full_hw = (lr_n.shape[-2], lr_n.shape[-1])
        box = Box.full(full_hw)
        feat = self.encoder(lr_n)
        nonlocal_feat = self.cs_attn(feat)
        state = RegionState(box, full_hw)
        latent = unfold3x3(feat)
        state.maps["latent"] = rows_ready(latent)
        state.maps["nonlocal"] = rows_ready(nonlocal_feat)
        state.maps["lr"] = lr_n
        if self.decode_path == "fast":
            k1, v1 = self.imnet_k.first, self.imnet_v.first
            zk = latent_conv(feat, k1.weight[:, :self.latent_dim], k1.bias)
            wv = v1.weight
            zv = latent_conv(feat, wv[:, :self.latent_dim], v1.bias) + F.conv2d(
                nonlocal_feat, wv[:, self.latent_dim:self.value_dim, None, None])
            state.maps["zk"] = rows_ready(crop_map(zk, box, box))
            state.maps["zv"] = rows_ready(crop_map(zv, box, box))
        return state

    def query(self, state: RegionState, coord: torch.Tensor, cell: torch.Tensor):
        corners = local_corners(coord, state.full_hw, state.box, shift=ciaosr_shift(cell, state.full_hw))
        cell_rel = rel_cell(cell, state.full_hw)
        latent, nonlocal_feat = state.maps["latent"], state.maps["nonlocal"]
        q = gather(latent, corners.nearest)  # (N, Q, 9C)
        key = gather(latent, corners.idx)  # (N, Q, 4, 9C)
        value = torch.cat([key, gather(nonlocal_feat, corners.idx)], dim=-1)  # (N, Q, 4, 10C)
        if self.decode_path == "fast":
            wk = decode_fast(self.imnet_k, state.maps["zk"], corners, cell_rel, self.latent_dim, blend=False)
            wv = decode_fast(self.imnet_v, state.maps["zv"], corners, cell_rel, self.value_dim, blend=False)
        else:
            wk = decode_reference(self.imnet_k, latent, corners, cell_rel, blend=False)
            wv = decode_reference(self.imnet_v, torch.cat([latent, nonlocal_feat], dim=1), corners, cell_rel, blend=False)
        attn = torch.softmax((q.unsqueeze(2) * (key * wk)).sum(-1), dim=-1)  # (N, Q, 4)
        x = (attn.unsqueeze(-1) * (value * wv)).sum(dim=2)
        pred = self.imnet_q(x)
        return pred + sample_bilinear_border(state.maps["lr"], coord, state.full_hw, state.box), None

    def bytes_per_lr_px(self) -> int:
        hidden = self.imnet_k.first.out_features
        return self.encoder.activation_bytes_per_px() + (self.value_dim + self.latent_dim + 2 * hidden) * 4 * 2

    def bytes_per_query(self) -> int:
        return 4 * (self.value_dim * 6 + self.imnet_k.first.out_features * 8) * 4


def _owned_range(lo: int, hi: int, n_lr: int, n_out: int) -> tuple[int, int]:
    """Output pixels (of n_out) whose centres fall in LR pixels [lo, hi) of n_lr."""
    # centre of output pixel i in LR units: (i + 0.5) n_lr / n_out
    first = math.ceil(lo * n_out / n_lr - 0.5)
    last = math.ceil(hi * n_out / n_lr - 0.5)
    return max(0, first), min(n_out, last)
