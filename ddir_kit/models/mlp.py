"""The implicit decoders' MLP (LIIF's ``mlp``: Linear-ReLU ... Linear, in ``layers``)."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, hidden_list: list[int] | tuple[int, ...]):
        super().__init__()
        layers, last = [], in_dim
        for hidden in hidden_list:
            # in place: a fresh activation tensor per layer costs more than the ReLU itself
            layers += [nn.Linear(last, hidden), nn.ReLU(inplace=True)]
            last = hidden
        layers.append(nn.Linear(last, out_dim))
        self.layers = nn.Sequential(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    @property
    def first(self) -> nn.Linear:
        return self.layers[0]

    def after_first(self, h: torch.Tensor) -> torch.Tensor:
        """The MLP from the first layer's pre-activation ``h`` on (ReLU, then the rest)."""
        return self.layers[1:](h)

    def first_columns(self, start: int, stop: int) -> torch.Tensor:
        """Columns [start, stop) of the first layer's weight: (hidden, stop - start)."""
        return self.first.weight[:, start:stop]
