"""A small method of the image form (docs/methods.md), built for one scale at a time: an
ESPCN-style network (convolutions at LR resolution, then a pixel shuffle). It imports nothing
from ddir_kit.

Because it declares ``scales``, the kit builds one model per scale that the dataset trains and
tests at (passing ``scale=s``), and its tables show it only at those scales:

    PYTHONPATH=examples ddir-kit bench --methods bicubic,tiny_fixed_scale:TinyESPCN --data DATASET \\
        --profile quick --out runs/espcn
"""

from __future__ import annotations

import torch
from torch import nn


class TinyESPCN(nn.Module):
    form = "image"
    label = "TinyESPCN"
    scales = (2, 3, 4)
    receptive_radius_px = 4

    def __init__(self, scale: int = 2, width: int = 32):
        super().__init__()
        self.scale = int(scale)
        self.body = nn.Sequential(nn.Conv2d(3, width, 5, padding=2), nn.Tanh(),
                                  nn.Conv2d(width, width, 3, padding=1), nn.Tanh(),
                                  nn.Conv2d(width, 3 * self.scale ** 2, 3, padding=1), nn.PixelShuffle(self.scale))

    def forward(self, lr: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        up = nn.functional.interpolate(lr, size=size, mode="bilinear", align_corners=False)
        return up + self.body(lr)[..., :size[0], :size[1]]
