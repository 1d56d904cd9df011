"""RDN encoder (Zhang et al. 2018, configuration B: D=16, C=8, G=64) without upsampling.

Module names follow the public LIIF code (``SFENet1``, ``SFENet2``, ``RDBs.i.convs.j.conv.0``,
``RDBs.i.LFF``, ``GFF.0``, ``GFF.1``) so its checkpoints load by name.
"""

from __future__ import annotations

import torch
from torch import nn


class RDBConv(nn.Module):
    def __init__(self, in_channels: int, grow_rate: int, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(in_channels, grow_rate, kernel_size, padding=kernel_size // 2), nn.ReLU())

    def forward(self, x):
        return torch.cat((x, self.conv(x)), 1)


class RDB(nn.Module):
    """Residual dense block: C densely connected conv+ReLU layers, 1x1 local fusion, skip."""

    def __init__(self, grow_rate0: int, grow_rate: int, n_conv_layers: int, kernel_size: int = 3):
        super().__init__()
        self.convs = nn.Sequential(*[RDBConv(grow_rate0 + c * grow_rate, grow_rate, kernel_size)
                                     for c in range(n_conv_layers)])
        self.LFF = nn.Conv2d(grow_rate0 + n_conv_layers * grow_rate, grow_rate0, 1)

    def forward(self, x):
        return self.LFF(self.convs(x)) + x


class RDN(nn.Module):
    """(N, 3, h, w) normalised image -> (N, G0, h, w) feature map."""

    def __init__(self, G0: int = 64, D: int = 16, C: int = 8, G: int = 64, n_colors: int = 3):
        super().__init__()
        self.out_dim = G0
        self._dims = (G0, D, C, G)
        self.SFENet1 = nn.Conv2d(n_colors, G0, 3, padding=1)
        self.SFENet2 = nn.Conv2d(G0, G0, 3, padding=1)
        self.RDBs = nn.ModuleList([RDB(G0, G, C) for _ in range(D)])
        self.GFF = nn.Sequential(nn.Conv2d(D * G0, G0, 1), nn.Conv2d(G0, G0, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f1 = self.SFENet1(x)
        x = self.SFENet2(f1)
        outs = []
        for block in self.RDBs:
            x = block(x)
            outs.append(x)
        return self.GFF(torch.cat(outs, 1)) + f1

    def activation_bytes_per_px(self) -> int:
        G0, D, C, G = self._dims
        # the dense concatenation inside a block plus the D block outputs kept for global fusion
        return ((G0 + C * G) * 2 + D * G0 + 3 * G0) * 4
