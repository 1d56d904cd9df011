"""Pillow's bicubic resampling of 8-bit images (kernel a = -0.5, antialiased when shrinking):
two separable passes, each rounded and clipped to 8 bits. This is torchvision's
``Resize(size, BICUBIC)`` of a ``ToPILImage`` image, which the official LIIF and DDIR code use
to make LR images (LIIF's bicubic degradation) and DDIR's deformation target, and what most
published bicubic baselines compute (PIL and MATLAB both return 8-bit images)."""

from __future__ import annotations

import numpy as np


def pil_bicubic_uint8(img: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Resize an 8-bit H x W x 3 image to ``size_hw`` (height, width) with Pillow's BICUBIC."""
    from PIL import Image

    out = Image.fromarray(np.ascontiguousarray(img, dtype=np.uint8)).resize(
        (int(size_hw[1]), int(size_hw[0])), Image.BICUBIC)
    return np.asarray(out)
