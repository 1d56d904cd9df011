"""EDSR-baseline encoder (Lim et al. 2017) without its upsampling tail, as LIIF uses it.

Module names follow the public LIIF/LTE/DDIR code (``head.0``, ``body.N.body.{0,2}``,
``body.16``) so their checkpoints load by name. The reference's mean-shift layers are not
applied in the encoder (LIIF comments them out) and are therefore left out.
"""

from __future__ import annotations

import torch
from torch import nn


class ResBlock(nn.Module):
    """conv-ReLU-conv with an identity skip; residual scale 1."""

    def __init__(self, n_feats: int, kernel_size: int = 3, res_scale: float = 1.0):
        super().__init__()
        pad = kernel_size // 2
        self.body = nn.Sequential(nn.Conv2d(n_feats, n_feats, kernel_size, padding=pad), nn.ReLU(True),
                                  nn.Conv2d(n_feats, n_feats, kernel_size, padding=pad))
        self.res_scale = res_scale

    def forward(self, x):
        return self.body(x).mul(self.res_scale) + x


class EDSRBaseline(nn.Module):
    """(N, 3, h, w) normalised image -> (N, n_feats, h, w) feature map."""

    def __init__(self, n_resblocks: int = 16, n_feats: int = 64, n_colors: int = 3, res_scale: float = 1.0):
        super().__init__()
        self.out_dim = n_feats
        self.head = nn.Sequential(nn.Conv2d(n_colors, n_feats, 3, padding=1))
        self.body = nn.Sequential(*[ResBlock(n_feats, 3, res_scale) for _ in range(n_resblocks)],
                                  nn.Conv2d(n_feats, n_feats, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(x)
        return self.body(x) + x

    def activation_bytes_per_px(self) -> int:
        """Peak float32 bytes per pixel of a no-grad forward (a few live feature maps)."""
        return 5 * self.out_dim * 4
