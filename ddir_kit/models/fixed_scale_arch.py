"""Fixed-scale baselines: an encoder with its pixel-shuffle upsampler, one model per integer
scale, as EDSR-baseline and RDN are trained in their papers (and in LIIF's code, whose
``edsr-baseline`` with ``scale`` and ``rdn`` with ``scale`` this follows).

The upsampler: for x2 and x4 one (x2) or two (x4) 3x3 convolutions to 4C channels each followed
by a pixel shuffle by 2, for x3 one convolution to 9C and a shuffle by 3, then a 3x3 convolution
to RGB (EDSR: C = n_feats throughout; RDN: G0 -> G r^2, shuffle, G -> RGB, and for x4 a second
G -> 4G stage, as RDN's UPNet). Input normalised as (x - 0.5) / 0.5, output mapped back.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import DdirKitError
from .encoders import build_encoder

SCALES = (2, 3, 4)


def _shuffle_stages(in_ch: int, out_ch: int, scale: int) -> list[nn.Module]:
    factors = {2: (2,), 3: (3,), 4: (2, 2)}[scale]
    layers, ch = [], in_ch
    for r in factors:
        layers += [nn.Conv2d(ch, out_ch * r * r, 3, padding=1), nn.PixelShuffle(r)]
        ch = out_ch
    return layers


class FixedScaleSR(nn.Module):
    """(N, 3, h, w) in [0, 1] -> (N, 3, s h, s w). The kit's image-form method ``fixed-scale``."""

    form = "image"
    scales = SCALES

    def __init__(self, encoder: str = "edsr", scale: int = 2, encoder_args: dict | None = None):
        super().__init__()
        if int(scale) != scale or int(scale) not in SCALES:
            raise DdirKitError(f"a fixed-scale model upscales by one of x{', x'.join(map(str, SCALES))}, not x{scale:g}")
        self.scale = int(scale)
        self.encoder = build_encoder(encoder, encoder_args)
        c = self.encoder.out_dim
        if encoder == "rdn":
            growth = self.encoder._dims[3]
            self.tail = nn.Sequential(*_shuffle_stages(c, growth, self.scale), nn.Conv2d(growth, 3, 3, padding=1))
        else:
            self.tail = nn.Sequential(*_shuffle_stages(c, c, self.scale), nn.Conv2d(c, 3, 3, padding=1))
        self.label = {"edsr": "EDSR-baseline", "rdn": "RDN"}.get(encoder, encoder)

    def forward(self, lr: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        h, w = lr.shape[-2:]
        if tuple(size) != (h * self.scale, w * self.scale):
            raise DdirKitError(f"this model upscales by x{self.scale}: {w}x{h} becomes "
                               f"{w * self.scale}x{h * self.scale}, not {size[1]}x{size[0]}")
        return self.tail(self.encoder((lr - 0.5) / 0.5)) * 0.5 + 0.5

    def loss(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        """L1 in normalised units (the 0.5 scaling of LIIF's data_norm), as the query methods."""
        return ((sr - hr) / 0.5).abs().mean()
