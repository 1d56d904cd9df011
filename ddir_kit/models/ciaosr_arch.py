"""CiaoSR (Cao et al., CVPR 2023): attention-in-attention implicit SR.

Inner, local implicit attention over the four corners: the query is the unfolded latent (9C)
at the query's own LR pixel; per corner a key (unfolded latent, 9C) and a value (unfolded latent
plus the non-local feature, 10C), each multiplied element-wise by the output of its own MLP
(``imnet_k``: [key, rel. coordinate, rel. cell] -> 9C; ``imnet_v``: [value, rel. coordinate,
rel. cell] -> 10C). Softmax over the corners of query . key replaces the bilinear weights; the
weighted value goes through ``imnet_q`` (10C -> 3, the public code's name); plus the
bilinearly upsampled LR image.

Outer, non-local cross-scale attention (``cs_attn``) on the encoder map; see
``CrossScaleAttention``. Its memory grows with (h w)^2, so the LR image is processed in fixed
windows (``nonlocal_tile_px`` core, ``nonlocal_overlap_px`` context on each side, a grid anchored
at the image's top-left corner): encoder and non-local features per window, cores stitched,
then all queries decoded on the stitched maps. An image no larger than one window (a training
patch) is one window. Because the windows are fixed by the image, memory tiling of inference
reproduces them exactly, at any scale.

Input normalisation: subtract the RGB mean (0.4488, 0.4371, 0.4040); no division.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import ImplicitSRModel, RegionState, crop_map, latent_conv, unfold3x3
from .coords import Box, gather, local_corners, rows_ready, sample_bilinear_border
from .encoders import build_encoder
from .local_ensemble import decode_fast, decode_reference, rel_cell
from .mlp import MLP


class CrossScaleAttention(nn.Module):
    """Non-local cross-scale attention (CSNLN's, as CiaoSR uses it at scale 2).

    Embeddings by 1x1 conv + PReLU (``conv_match_1``/``conv_match_2``: C -> C/2 to match,
    ``conv_assembly``: C -> C to assemble). The map is downscaled by 2 (bilinear); its 3x3
    patches, L2-normalised, are correlated with every full-resolution position; softmax
    (scale 10) over patches; the weights paste 6x6 patches of the assembly embedding with
    stride 2 (a transposed convolution), divided by 6; ``down`` (3x3, stride 2) returns to the
    input size. (N, C, h, w) -> (N, C, h, w); odd sizes are reflect-padded to even and cropped.
    """

    def __init__(self, channels: int = 64, reduction: int = 2, softmax_scale: float = 10.0):
        super().__init__()
        self.softmax_scale = softmax_scale
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
        score = kernels.transpose(1, 2) @ F.unfold(match, 3, padding=1)  # (N, L, hp*wp)
        attn = F.softmax(score * self.softmax_scale, dim=1)
        # 6x6 patches of the assembly embedding at stride 2, 'same' padding (2 on each side)
        patches = F.unfold(F.pad(embed, (2, 2, 2, 2)), 6, stride=2)  # (N, C*36, L)
        n_patches = patches.shape[-1]
        out = torch.stack([
            F.conv_transpose2d(attn[i].view(1, n_patches, hp, wp),
                               patches[i].t().reshape(n_patches, c, 6, 6), stride=2, padding=2)[0]
            for i in range(n)])
        out = self.down(out / 6.0)
        return out[..., :h, :w]


class CiaoSR(ImplicitSRModel):
    rgb_mean = (0.4488, 0.4371, 0.4040)
    rgb_std = (1.0, 1.0, 1.0)

    def __init__(self, spec: dict, encoder: str = "edsr", encoder_args: dict | None = None,
                 hidden_list: tuple[int, ...] = (256, 256, 256, 256), nonlocal_tile_px: int = 48,
                 nonlocal_overlap_px: int = 8):
        super().__init__(spec)
        self.encoder = build_encoder(encoder, encoder_args)
        c = self.encoder.out_dim
        self.latent_dim = 9 * c
        self.value_dim = 9 * c + c
        self.imnet_q = MLP(self.value_dim, 3, list(hidden_list))
        self.imnet_k = MLP(self.latent_dim + 4, self.latent_dim, list(hidden_list))
        self.imnet_v = MLP(self.value_dim + 4, self.value_dim, list(hidden_list))
        self.cs_attn = CrossScaleAttention(c)
        self.tile_px = int(nonlocal_tile_px)
        self.overlap_px = int(nonlocal_overlap_px)

    @property
    def halo_px(self) -> int:
        # context a memory tile computes beyond its box: up to a whole window
        return self.tile_px + self.overlap_px

    def windows(self, full_hw: tuple[int, int]) -> list[Box]:
        """The non-local window cores, a grid anchored at (0, 0)."""
        h, w = full_hw
        t = self.tile_px
        return [Box(y, min(h, y + t), x, min(w, x + t)) for y in range(0, h, t) for x in range(0, w, t)]

    def window_features(self, lr_n: torch.Tensor, feat_box: Box) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder and non-local maps over ``feat_box``, stitched from the window cores."""
        full_hw = (lr_n.shape[-2], lr_n.shape[-1])
        wins = [b for b in self.windows(full_hw) if _intersect(b, feat_box) is not None]
        if len(wins) == 1 and wins[0] == Box.full(full_hw):
            feat = self.encoder(lr_n)
            return crop_map(feat, wins[0], feat_box), crop_map(self.cs_attn(feat), wins[0], feat_box)
        n, c = lr_n.shape[0], self.encoder.out_dim
        feat = lr_n.new_zeros(n, c, feat_box.height_px, feat_box.width_px)
        nonlocal_feat = torch.zeros_like(feat)
        for core in wins:
            win = core.grow(self.overlap_px, full_hw)
            f = self.encoder(lr_n[..., win.y0:win.y1, win.x0:win.x1])
            g = self.cs_attn(f)
            part = _intersect(core, feat_box)
            dst = part.slices_in(feat_box)
            src = part.slices_in(win)
            feat[(..., *dst)] = f[(..., *src)]
            nonlocal_feat[(..., *dst)] = g[(..., *src)]
        return feat, nonlocal_feat

    def encode_region(self, lr_n, box=None, context=None) -> RegionState:
        full_hw = (lr_n.shape[-2], lr_n.shape[-1])
        box = Box.full(full_hw) if box is None else box
        map_box = box.grow(1, full_hw)
        feat_box = box.grow(2, full_hw)  # the 3x3 unfold/conv around map_box
        feat, nonlocal_feat = self.window_features(lr_n, feat_box)
        state = RegionState(map_box, full_hw)
        latent = unfold3x3(feat)
        state.maps["latent"] = rows_ready(crop_map(latent, feat_box, map_box))
        state.maps["nonlocal"] = rows_ready(crop_map(nonlocal_feat, feat_box, map_box))
        state.maps["lr"] = crop_map(lr_n[..., feat_box.y0:feat_box.y1, feat_box.x0:feat_box.x1], feat_box, map_box)
        if self.decode_path == "fast":
            k1, v1 = self.imnet_k.first, self.imnet_v.first
            zk = latent_conv(feat, k1.weight[:, :self.latent_dim], k1.bias)
            wv = v1.weight
            zv = latent_conv(feat, wv[:, :self.latent_dim], v1.bias) + F.conv2d(
                nonlocal_feat, wv[:, self.latent_dim:self.value_dim, None, None])
            state.maps["zk"] = rows_ready(crop_map(zk, feat_box, map_box))
            state.maps["zv"] = rows_ready(crop_map(zv, feat_box, map_box))
        return state

    def query(self, state: RegionState, coord: torch.Tensor, cell: torch.Tensor):
        corners = local_corners(coord, state.full_hw, state.box)
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


def _intersect(a: Box, b: Box) -> Box | None:
    y0, y1, x0, x1 = max(a.y0, b.y0), min(a.y1, b.y1), max(a.x0, b.x0), min(a.x1, b.x1)
    return Box(y0, y1, x0, x1) if y0 < y1 and x0 < x1 else None
