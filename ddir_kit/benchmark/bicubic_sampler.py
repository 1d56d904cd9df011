"""Training samples with bicubic degradation, as LIIF's ``sr-implicit-downsampled`` wrapper makes
them from HR images alone (the DIV2K-style training of the paper's Table 7 and Figure 1).

Per sample: a scale s drawn uniformly from [scale_min, scale_max] (a continuous draw); an HR
crop of round(p s) pixels a side at a uniform random position; its LR made by Pillow's 8-bit
bicubic down to p x p (LIIF's ``resize_fn``); the same random flips and transpose on both; then
``queries`` HR pixels without replacement, the cell of the HR crop. As the paired sampler
(sampler.py), every sample is a function of (seed, epoch, index) alone.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DdirKitError
from ..photo.resize import pil_bicubic_uint8
from .sampler import SamplerConfig, augment_pair, to_tensor_u8


class BicubicPatches(Dataset):
    """Map-style dataset of (epoch, index) keys over uint8 HR images (H x W x 3); the samples
    hold the keys of TrainPatches' samples (lr, coord, cell, rgb, scale[, deform])."""

    def __init__(self, images: list[np.ndarray], config: SamplerConfig, seed: int,
                 scale_range: tuple[float, float] = (1.0, 4.0)):
        if not images:
            raise DdirKitError("no training images")
        lo, hi = (float(v) for v in scale_range)
        if not 1.0 <= lo <= hi:
            raise DdirKitError(f"bicubic training scales must satisfy 1 <= min <= max, got {scale_range}")
        self.images, self.config, self.seed = images, config, int(seed)
        self.scale_range = (lo, hi)
        side = round(config.lr_patch_px * hi)
        for img in images:
            if min(img.shape[:2]) < side:
                raise DdirKitError(f"a training image is {img.shape[1]}x{img.shape[0]}, smaller than the "
                                   f"{side} px HR crop of x{hi:g}")
        if config.lr_patch_px * config.lr_patch_px * lo * lo < config.queries:
            raise DdirKitError(f"an x{lo:g} HR crop has fewer pixels than {config.queries} queries")

    @property
    def epoch_length(self) -> int:
        return len(self.images) * self.config.repeat

    def __len__(self) -> int:
        return self.epoch_length

    def __getitem__(self, key):
        epoch, index = int(key[0]), int(key[1])
        rng = np.random.default_rng([self.seed, 5, epoch, index])
        s = float(rng.uniform(*self.scale_range))
        img = self.images[index % len(self.images)]
        p = self.config.lr_patch_px
        w_hr = round(p * s)
        y0 = int(rng.integers(img.shape[0] - w_hr + 1))
        x0 = int(rng.integers(img.shape[1] - w_hr + 1))
        hr_p = img[y0:y0 + w_hr, x0:x0 + w_hr]
        lr_p = pil_bicubic_uint8(hr_p, (p, p))
        if self.config.augment:
            lr_p, hr_p = augment_pair(lr_p, hr_p, rng)
        from ..models.coords import make_coord

        lr_t, hr_t = to_tensor_u8(lr_p), to_tensor_u8(hr_p)
        idx = torch.from_numpy(rng.choice(w_hr * w_hr, self.config.queries, replace=False))
        sample = {"lr": lr_t, "coord": make_coord((w_hr, w_hr))[idx],
                  "cell": torch.tensor([2.0 / w_hr, 2.0 / w_hr]).expand(self.config.queries, 2).clone(),
                  "rgb": hr_t.reshape(3, -1).t()[idx], "scale": torch.tensor(s)}
        if self.config.deform_target:
            up = pil_bicubic_uint8(np.ascontiguousarray(lr_p), (w_hr, w_hr)).transpose(2, 0, 1).astype(np.float32) / 255
            sample["deform"] = (hr_t - torch.from_numpy(up)).reshape(3, -1).t()[idx]
        return sample
