"""A small method of the query form (docs/methods.md), written against the kit's documented
interface only: it imports nothing from ddir_kit.

TinyQueryNet: a three-layer CNN encodes the LR image; each query reads the feature of the LR
pixel it falls in (nearest, as LIIF reads its latents), appends its offset from that pixel's
centre and its cell (both in LR pixels), and an MLP predicts a residual over the LR image sampled
bilinearly at the query.

Benchmark it next to the kit's methods:

    PYTHONPATH=examples ddir-kit bench --methods bicubic,liif,tiny_query:TinyQueryNet --data DATASET \\
        --profile quick --out runs/tiny
    PYTHONPATH=examples ddir-kit bench --methods tiny_query:TinyQueryNet --method-args '{"width": 48}' ...
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TinyQueryNet(nn.Module):
    form = "query"
    label = "TinyQueryNet"
    # three 3x3 convolutions reach 3 LR px; the nearest pixel and the bilinear sample one more
    receptive_radius_px = 4

    def __init__(self, width: int = 32, hidden: int = 64):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(width, width, 3, padding=1))
        self.mlp = nn.Sequential(nn.Linear(width + 4, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 3))

    def encode(self, inp: torch.Tensor):
        return inp, self.encoder((inp - 0.5) / 0.5)

    def decode(self, features, coord: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        inp, feat = features
        h, w = feat.shape[-2:]
        grid = coord.flip(-1).unsqueeze(1)  # grid_sample wants (x, y)
        latent = F.grid_sample(feat, grid, mode="nearest", align_corners=False)[:, :, 0].permute(0, 2, 1)
        # offset from the centre of the LR pixel the query falls in, in LR pixels
        iy = ((coord[..., 0] + 1) * h / 2).floor().clamp(0, h - 1)
        ix = ((coord[..., 1] + 1) * w / 2).floor().clamp(0, w - 1)
        rel = torch.stack(((coord[..., 0] + 1) * h / 2 - iy - 0.5, (coord[..., 1] + 1) * w / 2 - ix - 0.5), dim=-1)
        rel_cell = cell * cell.new_tensor([h / 2, w / 2])
        base = F.grid_sample(inp, grid, mode="bilinear", padding_mode="border", align_corners=False)[:, :, 0]
        return base.permute(0, 2, 1) + self.mlp(torch.cat([latent, rel, rel_cell], dim=-1))

    def forward(self, inp: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(inp), coord, cell)
