"""What every method shares: the output type, input normalisation, region-wise encoding (so
inference can tile) and the loss.

A model computes in two stages so that the same code serves training and tiled inference:

- ``encode_region(lr_n, box, context)`` computes the LR-resolution maps a decoder needs for the
  LR pixels of ``box`` (plus a one-pixel margin for the corners), from the normalised whole LR
  image ``lr_n``; it reads only ``box`` widened by ``halo_px`` so that the maps equal those of
  the whole image;
- ``query(state, coord, cell)`` decodes queries (global coordinates) whose LR pixel lies in box.

``forward`` is both stages over the whole input. ``decode_path`` selects the fast exact path
("fast": the first MLP layer's latent part as a 3x3 convolution at LR resolution) or the
straightforward one ("reference": unfolded 576-channel latents gathered per query and corner).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .coords import Box


class ModelOutput(NamedTuple):
    """rgb: (N, Q, 3) in [0, 1] units, not clamped; deform: (N, Q, 3) predicted HR minus
    bicubic-upscaled LR in [0, 1]-difference units (DDIR), or None."""

    rgb: torch.Tensor
    deform: torch.Tensor | None


@dataclass
class RegionState:
    """LR-resolution maps covering ``box`` of an LR image of ``full_hw`` pixels."""

    box: Box
    full_hw: tuple[int, int]
    maps: dict[str, torch.Tensor] = field(default_factory=dict)
    vectors: dict[str, torch.Tensor] = field(default_factory=dict)


DECODE_PATHS = ("fast", "reference")


def receptive_radius_px(module: nn.Module) -> int:
    """Receptive-field radius in pixels of a conv encoder: the sum of every conv's reach.

    Exact for EDSR and RDN, whose convolutions all lie on one path (RDN's dense connections
    concatenate, so its longest path passes through every conv); an upper bound in general.
    """
    return sum(((m.kernel_size[0] - 1) // 2) * m.dilation[0] for m in module.modules()
               if isinstance(m, nn.Conv2d))


def unfold3x3(feat: torch.Tensor) -> torch.Tensor:
    """(N, C, h, w) -> (N, 9C, h, w): the 3x3 neighbourhood stacked channel-major, zero padded."""
    n, c, h, w = feat.shape
    return F.unfold(feat, 3, padding=1).view(n, c * 9, h, w)


def latent_conv(feat: torch.Tensor, weight_cols: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """A linear layer applied to unfolded latents, computed as a 3x3 convolution.

    ``weight_cols`` (out, 9C) are the layer's columns for the unfolded latent; unfold stacks
    channel c, offset (ky, kx) at column 9c + 3ky + kx, which is exactly a conv kernel's
    (out, C, 3, 3) layout, so the result at each LR pixel equals the layer on its unfolded
    latent. (N, C, h, w) -> (N, out, h, w).
    """
    out = weight_cols.shape[0]
    c = feat.shape[1]
    return F.conv2d(feat, weight_cols.reshape(out, c, 3, 3), bias, padding=1)


class ImplicitSRModel(nn.Module):
    """Base class of the learned methods. Subclasses set ``method`` and implement
    ``_encode_crop``/``query`` (and ``halo_px``)."""

    trainable = True
    uses_deform_target = False
    rgb_mean = (0.5, 0.5, 0.5)
    rgb_std = (0.5, 0.5, 0.5)
    # How the deformation target (HR minus bicubic-upscaled LR) is normalised for the branch
    # that regresses it: the official DDIR config's data_norm for diff_rgb (sub 0.5, div 0.5),
    # so the branch learns (diff - 0.5) / 0.5, and the SR branch consumes that normalised value.
    deform_mean = 0.5
    deform_std = 0.5

    def __init__(self, spec: dict):
        super().__init__()
        self.spec = dict(spec)
        self.decode_path = "fast"

    # -- normalisation -------------------------------------------------------------------
    def _mean_std(self, ref: torch.Tensor, dims: int):
        shape = (1, 3) + (1,) * (dims - 2) if dims == 4 else (1, 1, 3)
        mean = torch.tensor(self.rgb_mean, dtype=ref.dtype, device=ref.device).view(shape)
        std = torch.tensor(self.rgb_std, dtype=ref.dtype, device=ref.device).view(shape)
        return mean, std

    def normalise(self, lr: torch.Tensor) -> torch.Tensor:
        mean, std = self._mean_std(lr, 4)
        return (lr - mean) / std

    def to_rgb(self, pred_n: torch.Tensor) -> torch.Tensor:
        """(N, Q, 3) normalised prediction -> [0, 1] units."""
        mean, std = self._mean_std(pred_n, 3)
        return pred_n * std + mean

    # -- the two stages ------------------------------------------------------------------
    @property
    def halo_px(self) -> int:
        """LR pixels of context around a box that make its maps equal the whole image's."""
        raise NotImplementedError

    def encode_region(self, lr_n: torch.Tensor, box: Box | None = None, context: dict | None = None) -> RegionState:
        """Maps for ``box`` (default: the whole image) of the normalised LR image (N, 3, h, w)."""
        full_hw = (lr_n.shape[-2], lr_n.shape[-1])
        box = Box.full(full_hw) if box is None else box
        map_box = box.grow(1, full_hw)  # the corners of a query reach one pixel out
        crop_box = box.grow(self.halo_px, full_hw)
        crop = lr_n[..., crop_box.y0:crop_box.y1, crop_box.x0:crop_box.x1]
        return self._encode_crop(crop, crop_box, map_box, full_hw, context)

    def _encode_crop(self, crop, crop_box: Box, map_box: Box, full_hw, context) -> RegionState:
        raise NotImplementedError

    def query(self, state: RegionState, coord: torch.Tensor, cell: torch.Tensor):
        """Decode (N, Q, 2) queries -> (rgb_n (N, Q, 3), deform_n (N, Q, 3) or None), normalised."""
        raise NotImplementedError

    def global_context(self, lr_n: torch.Tensor, boxes: list[Box]) -> dict | None:
        """Whole-image quantities (DDIR's appearance embedding) computed tile by tile."""
        return None

    def forward(self, lr: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor) -> ModelOutput:
        state = self.encode_region(self.normalise(lr))
        rgb_n, deform_n = self.query(state, coord, cell)
        deform = None if deform_n is None else deform_n * self.deform_std + self.deform_mean
        return ModelOutput(self.to_rgb(rgb_n), deform)

    def loss(self, out: ModelOutput, target_rgb: torch.Tensor, target_deform: torch.Tensor | None = None) -> torch.Tensor:
        """L1 in the method's normalised units; plus, for DDIR, L1 of the deformation in its
        normalised units (1:1), i.e. |deform_n - (target_deform - 0.5) / 0.5| as the official
        training script computes it."""
        std = torch.tensor(self.rgb_std, dtype=out.rgb.dtype, device=out.rgb.device)
        loss = ((out.rgb - target_rgb) / std).abs().mean()
        if self.uses_deform_target:
            if target_deform is None:
                raise ValueError(f"{self.spec['method']} is trained with a deformation target; none given")
            loss = loss + ((out.deform - target_deform) / self.deform_std).abs().mean()
        return loss

    # -- memory estimates for inference planning -----------------------------------------
    def bytes_per_lr_px(self) -> int:
        raise NotImplementedError

    def bytes_per_query(self) -> int:
        raise NotImplementedError


def crop_map(x: torch.Tensor, crop_box: Box, map_box: Box) -> torch.Tensor:
    """The part of a map computed on ``crop_box`` that covers ``map_box``."""
    ys, xs = map_box.slices_in(crop_box)
    return x[..., ys, xs]
