"""LTE (Lee & Jin, CVPR 2022): local texture estimator.

From the encoder map: amplitudes ``coef`` (3x3 conv C -> 256) and frequencies ``freq`` (3x3 conv
C -> 256, read as 128 (y, x) pairs); phase = ``phase`` (linear 2 -> 128, no bias) of the
relative cell. Per corner: cos/sin(pi (freq . relative coordinate + phase)) times the
amplitudes -> ``imnet`` (256 -> 256 x 3 -> 3); bilinear blend; plus the LR image sampled
bilinearly (border padding) at the query.

LTE has no unfolded latent: its convolutions already run at LR resolution, so the "fast" and
"reference" paths differ only in how the per-corner values are fetched (the reference path
uses ``grid_sample`` on the whole map, as the public code does; the fast path indexes regions).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import ImplicitSRModel, RegionState, crop_map, receptive_radius_px
from .coords import gather, local_corners, rows_ready, sample_bilinear_border
from .encoders import build_encoder
from .local_ensemble import blend_corners, rel_cell
from .mlp import MLP


class LTE(ImplicitSRModel):
    def __init__(self, spec: dict, encoder: str = "edsr", encoder_args: dict | None = None,
                 hidden_list: tuple[int, ...] = (256, 256, 256), hidden_dim: int = 256):
        super().__init__(spec)
        self.encoder = build_encoder(encoder, encoder_args)
        c = self.encoder.out_dim
        self.coef = nn.Conv2d(c, hidden_dim, 3, padding=1)
        self.freq = nn.Conv2d(c, hidden_dim, 3, padding=1)
        self.phase = nn.Linear(2, hidden_dim // 2, bias=False)
        self.imnet = MLP(hidden_dim, 3, list(hidden_list))
        self._rf = receptive_radius_px(self.encoder)

    @property
    def halo_px(self) -> int:
        return self._rf + 3

    def _encode_crop(self, crop, crop_box, map_box, full_hw, context) -> RegionState:
        feat = self.encoder(crop)
        state = RegionState(map_box, full_hw)
        state.maps["coef"] = rows_ready(crop_map(self.coef(feat), crop_box, map_box))
        state.maps["freq"] = rows_ready(crop_map(self.freq(feat), crop_box, map_box))
        state.maps["lr"] = crop_map(crop, crop_box, map_box)
        return state

    def query(self, state: RegionState, coord: torch.Tensor, cell: torch.Tensor):
        corners = local_corners(coord, state.full_hw, state.box)
        n, q = coord.shape[:2]
        if self.decode_path == "fast":
            q_coef = gather(state.maps["coef"], corners.idx)  # (N, Q, 4, 256)
            q_freq = gather(state.maps["freq"], corners.idx)
        else:
            q_coef, q_freq = self._grid_sample_corners(state, coord)
        # frequency k is channels (2k, 2k+1) = (y, x)
        q_freq = q_freq.view(n, q, 4, -1, 2)
        q_freq = (q_freq * corners.rel_coord.unsqueeze(-2)).sum(-1)
        q_freq = q_freq + self.phase(rel_cell(cell, state.full_hw)).unsqueeze(2)
        basis = torch.cat((torch.cos(math.pi * q_freq), torch.sin(math.pi * q_freq)), dim=-1)
        pred = blend_corners(self.imnet(q_coef * basis), corners)
        return pred + sample_bilinear_border(state.maps["lr"], coord, state.full_hw, state.box), None

    def _grid_sample_corners(self, state: RegionState, coord: torch.Tensor):
        """The public code's lookup: grid_sample(mode='nearest') on the whole map."""
        if (state.box.height_px, state.box.width_px) != tuple(state.full_hw):
            raise ValueError("the reference path of LTE needs the whole image's maps")
        h, w = state.full_hw
        coefs, freqs = [], []
        for vy in (-1, 1):
            for vx in (-1, 1):
                c = coord.clone()
                c[..., 0] += vy / h + 1e-6
                c[..., 1] += vx / w + 1e-6
                grid = c.clamp(-1 + 1e-6, 1 - 1e-6).flip(-1).unsqueeze(1)
                for src, dst in ((state.maps["coef"], coefs), (state.maps["freq"], freqs)):
                    dst.append(F.grid_sample(src, grid, mode="nearest", align_corners=False)[:, :, 0, :].permute(0, 2, 1))
        return torch.stack(coefs, dim=2), torch.stack(freqs, dim=2)

    def bytes_per_lr_px(self) -> int:
        return self.encoder.activation_bytes_per_px() + 2 * self.coef.out_channels * 4 * 2

    def bytes_per_query(self) -> int:
        return 4 * self.coef.out_channels * 4 * 6
