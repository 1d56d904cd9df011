"""PIL-style bicubic resampling (kernel a = -0.5, antialiased when shrinking) and the
"bicubic" method.

PyTorch's antialiased bicubic interpolation implements PIL's resampling (same kernel, same
support scaling and border renormalisation; tested against PIL on float images), so it is used
here rather than a hand-written kernel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import ModelOutput
from .coords import lr_index


def resize_bicubic(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (N, C, h, w) float to (N, C, H, W) like PIL's BICUBIC (a = -0.5); not clamped."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x.clone()
    return F.interpolate(x, size=tuple(int(s) for s in size), mode="bicubic", align_corners=False,
                         antialias=True)


class BicubicUpsampler(torch.nn.Module):
    """The "bicubic" method: PIL-style bicubic upscaling behind the models' interface.

    The output size is read from the cell (2 / H, 2 / W); the result is sampled at the query
    coordinates by nearest pixel centre.
    """

    trainable = False
    uses_deform_target = False

    def __init__(self):
        super().__init__()
        self.spec = {"method": "bicubic", "encoder": None}

    def forward(self, lr: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor) -> ModelOutput:
        hr_h = int(round(2.0 / float(cell[0, 0, 0])))
        hr_w = int(round(2.0 / float(cell[0, 0, 1])))
        up = resize_bicubic(lr, (hr_h, hr_w))
        iy, ix = lr_index(coord[..., 0], hr_h), lr_index(coord[..., 1], hr_w)
        flat = up.flatten(2)
        idx = (iy * hr_w + ix).unsqueeze(1).expand(-1, up.shape[1], -1)
        return ModelOutput(torch.gather(flat, 2, idx).transpose(1, 2), None)

    def loss(self, out: ModelOutput, target_rgb: torch.Tensor, target_deform=None) -> torch.Tensor:
        return ((out.rgb - target_rgb) / 0.5).abs().mean()

    def upscale_image(self, lr: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
        """(N, 3, h, w) -> (N, 3, H, W), the whole image at once."""
        return resize_bicubic(lr, out_size)
