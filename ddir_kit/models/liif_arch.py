"""LIIF (Chen et al. 2021): encoder + local implicit decoding; optionally with DDIR's
appearance embedding (the paper's LIIF(+a), also DDIR's "no deformation field" ablation, which
concatenates the same embedding to the SR latent - the two are one architecture).

MLP input per corner: [unfolded latent 9C, relative coordinate 2, relative cell 2
(, appearance embedding C)].
"""

from __future__ import annotations

import torch

from .base import ImplicitSRModel, RegionState, crop_map, receptive_radius_px
from .coords import local_corners
from .encoders import build_encoder
from .local_ensemble import decode, latent_map, rel_cell
from .mlp import MLP


class LIIF(ImplicitSRModel):
    def __init__(self, spec: dict, encoder: str = "edsr", encoder_args: dict | None = None,
                 hidden_list: tuple[int, ...] = (256, 256, 256, 256), appearance: bool = False):
        super().__init__(spec)
        self.encoder = build_encoder(encoder, encoder_args)
        c = self.encoder.out_dim
        self.latent_dim = 9 * c
        self.appearance = appearance
        self.imnet = MLP(self.latent_dim + 4 + (c if appearance else 0), 3, list(hidden_list))
        self._rf = receptive_radius_px(self.encoder)

    @property
    def halo_px(self) -> int:
        # maps on box+1 need features on box+2 (3x3 unfold/conv), which need rf more pixels
        return self._rf + 3

    def _encode_crop(self, crop, crop_box, map_box, full_hw, context) -> RegionState:
        feat = self.encoder(crop)
        state = RegionState(map_box, full_hw)
        if self.appearance:
            state.vectors["appearance"] = feat.mean(dim=(2, 3)) if context is None else context["appearance"]
        state.maps["z"] = latent_map(feat, self.imnet, self.latent_dim, self.decode_path, crop_box, map_box)
        return state

    def global_context(self, lr_n, boxes):
        if not self.appearance:
            return None
        return {"appearance": encoder_mean(self.encoder, lr_n, boxes, self._rf + 1)}

    def query(self, state: RegionState, coord: torch.Tensor, cell: torch.Tensor):
        corners = local_corners(coord, state.full_hw, state.box)
        cell_rel = rel_cell(cell, state.full_hw)
        extras = []
        if self.appearance:
            extras.append(state.vectors["appearance"].unsqueeze(1).expand(-1, coord.shape[1], -1))
        return decode(self.imnet, state.maps["z"], corners, cell_rel, self.latent_dim, extras, self.decode_path), None

    def bytes_per_lr_px(self) -> int:
        return self.encoder.activation_bytes_per_px() + self.imnet.first.out_features * 4 * 2

    def bytes_per_query(self) -> int:
        return 4 * self.imnet.first.out_features * 4 * 4


def encoder_mean(encoder, lr_n: torch.Tensor, boxes, halo_px: int) -> torch.Tensor:
    """Mean of ``encoder``'s feature map over the whole image, computed box by box: (N, C)."""
    full_hw = (lr_n.shape[-2], lr_n.shape[-1])
    total = None
    for box in boxes:
        crop_box = box.grow(halo_px, full_hw)
        feat = encoder(lr_n[..., crop_box.y0:crop_box.y1, crop_box.x0:crop_box.x1])
        part = crop_map(feat, crop_box, box).sum(dim=(2, 3), dtype=torch.float64)
        total = part if total is None else total + part
    return (total / (full_hw[0] * full_hw[1])).to(lr_n.dtype)
