"""DDIR (Li et al., ECCV 2024): dual-level deformable implicit representation.

Two LIIF-style branches with separate weights on the same LR image:

- deformation branch: ``deformencoder`` -> unfolded latent; ``deformnet`` sees per corner
  [latent 9C, relative coordinate 2, relative cell 2, appearance embedding C] and, blended over
  the corners, predicts the deformation (HR minus bicubic-upscaled LR, normalised units);
- SR branch: ``encoder`` -> unfolded latent; ``imnet`` sees per corner [latent 9C, relative
  coordinate 2, relative cell 2, the blended deformation 3] (not detached).

The appearance embedding is the global average of the SR encoder's feature map (over the patch
in training, over the whole LR image at inference). ``appearance=False`` is the paper's
"without appearance embedding" ablation (deformnet input 9C + 4).
"""

from __future__ import annotations

import torch

from .base import ImplicitSRModel, RegionState, receptive_radius_px
from .coords import local_corners
from .encoders import build_encoder
from .liif_arch import encoder_mean
from .local_ensemble import decode, latent_map, rel_cell
from .mlp import MLP


class DDIR(ImplicitSRModel):
    uses_deform_target = True

    def __init__(self, spec: dict, encoder: str = "edsr", encoder_args: dict | None = None,
                 hidden_list: tuple[int, ...] = (256, 256, 256, 256), appearance: bool = True):
        super().__init__(spec)
        self.encoder = build_encoder(encoder, encoder_args)
        self.deformencoder = build_encoder(encoder, encoder_args)
        c = self.encoder.out_dim
        self.latent_dim = 9 * c
        self.appearance = appearance
        self.imnet = MLP(self.latent_dim + 4 + 3, 3, list(hidden_list))
        self.deformnet = MLP(self.latent_dim + 4 + (c if appearance else 0), 3, list(hidden_list))
        self._rf = receptive_radius_px(self.encoder)

    @property
    def halo_px(self) -> int:
        return self._rf + 3

    def _encode_crop(self, crop, crop_box, map_box, full_hw, context) -> RegionState:
        feat = self.encoder(crop)
        dfeat = self.deformencoder(crop)
        state = RegionState(map_box, full_hw)
        if self.appearance:
            state.vectors["appearance"] = feat.mean(dim=(2, 3)) if context is None else context["appearance"]
        for name, f, mlp in (("z", feat, self.imnet), ("zd", dfeat, self.deformnet)):
            state.maps[name] = latent_map(f, mlp, self.latent_dim, self.decode_path, crop_box, map_box)
        return state

    def global_context(self, lr_n, boxes):
        if not self.appearance:
            return None
        return {"appearance": encoder_mean(self.encoder, lr_n, boxes, self._rf + 1)}

    def query(self, state: RegionState, coord: torch.Tensor, cell: torch.Tensor):
        corners = local_corners(coord, state.full_hw, state.box)
        cell_rel = rel_cell(cell, state.full_hw)
        dextras = []
        if self.appearance:
            dextras.append(state.vectors["appearance"].unsqueeze(1).expand(-1, coord.shape[1], -1))
        deform = decode(self.deformnet, state.maps["zd"], corners, cell_rel, self.latent_dim, dextras, self.decode_path)
        rgb = decode(self.imnet, state.maps["z"], corners, cell_rel, self.latent_dim, [deform], self.decode_path)
        return rgb, deform

    def bytes_per_lr_px(self) -> int:
        return self.encoder.activation_bytes_per_px() + 64 * 4 + 2 * self.imnet.first.out_features * 4 * 2

    def bytes_per_query(self) -> int:
        return 2 * 4 * self.imnet.first.out_features * 4 * 4
