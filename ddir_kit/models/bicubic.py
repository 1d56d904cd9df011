"""PIL's bicubic resampling (kernel a = -0.5, antialiased when shrinking), in float and on
8-bit images, and the "bicubic" method.

Two forms, because the reference code uses both:
- ``pil_bicubic_uint8`` (photo/resize.py): Pillow itself on an 8-bit image, 8-bit out, as the
  official DDIR code makes its deformation target and most bicubic baselines are computed.
- ``resize_bicubic``: the same kernel in float, unrounded: PyTorch's antialiased bicubic
  interpolation implements PIL's resampling (same kernel, support scaling and border
  renormalisation), for images of more than 8 bits and inside models.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..photo.resize import pil_bicubic_uint8
from .base import ModelOutput
from .coords import lr_index


def resize_bicubic(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (N, C, h, w) float to (N, C, H, W) like PIL's BICUBIC (a = -0.5); not clamped."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x.clone()
    return F.interpolate(x, size=tuple(int(s) for s in size), mode="bicubic", align_corners=False,
                         antialias=True)


def is_8bit(x: torch.Tensor) -> bool:
    """Whether every value of a [0, 1] float image is k / 255 (it came from an 8-bit file)."""
    scaled = x * 255.0
    return bool(torch.all((scaled - scaled.round()).abs() < 1e-3))


def resize_bicubic_like_pil(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, 3, h, w) in [0, 1] -> (N, 3, H, W): Pillow's 8-bit result for 8-bit images, the float
    kernel otherwise (PIL has no bicubic for 16-bit colour images)."""
    if not is_8bit(x):
        return resize_bicubic(x, size)
    u8 = (x * 255.0).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = np.stack([pil_bicubic_uint8(im, size) for im in u8])
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(device=x.device, dtype=x.dtype) / 255.0


class BicubicUpsampler(torch.nn.Module):
    """The "bicubic" method: PIL's bicubic upscaling behind the models' interface: on 8-bit
    images exactly Pillow's 8-bit result, on deeper images the same kernel in float.

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
        up = resize_bicubic_like_pil(lr, (hr_h, hr_w))
        iy, ix = lr_index(coord[..., 0], hr_h), lr_index(coord[..., 1], hr_w)
        flat = up.flatten(2)
        idx = (iy * hr_w + ix).unsqueeze(1).expand(-1, up.shape[1], -1)
        return ModelOutput(torch.gather(flat, 2, idx).transpose(1, 2), None)

    def loss(self, out: ModelOutput, target_rgb: torch.Tensor, target_deform=None) -> torch.Tensor:
        return ((out.rgb - target_rgb) / 0.5).abs().mean()

    def upscale_image(self, lr: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
        """(N, 3, h, w) -> (N, 3, H, W), the whole image at once."""
        return resize_bicubic_like_pil(lr, out_size)
