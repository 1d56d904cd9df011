"""The official DDIR training sampler (docs/protocols.md), deterministic by construction.

Every sample is a pure function of (seed, epoch, index): its scale, image, crop offset, flips
and query points come from ``numpy.random.default_rng([seed, epoch, index])``. So the data a
run sees does not depend on the number of DataLoader workers, on torch.distributed ranks, or
on where a killed run was resumed; the loader's whole state is the position in the stream of
global batches (``BatchStream``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DdirKitError

# Version of what a sample holds; a run is resumed only with the sampler it started with.
# 2: crop offsets at multiples of the training scales' common denominator, the last position
# excluded (the official sampler's even offsets); DDIR's target from Pillow's 8-bit bicubic.
SAMPLER_VERSION = 2


@dataclass(frozen=True)
class SamplerConfig:
    lr_patch_px: int = 48  # LR crop side; raised to a multiple of every training scale's denominator
    queries: int = 2304  # HR pixels sampled per patch, without replacement
    repeat: int = 20  # an epoch visits each image this many times
    augment: bool = True  # random h-flip, v-flip, transpose (the same on LR and HR)
    deform_target: bool = False  # add DDIR's deformation target
    # image-form methods: the whole HR crop instead of sampled queries, one scale per batch (a
    # batch of whole crops must share their size)
    whole_hr: bool = False


def offset_step_px(scales) -> int:
    """The LR crop offsets are multiples of this: the least common multiple of the training
    scales' denominators, so that every HR crop starts on a whole pixel at every scale. For the
    paper's {1.5, 2, ..., 4} it is 2: the official DDIR sampler takes even offsets at every
    scale, the integer ones included."""
    return math.lcm(*[Fraction(s).denominator for s in scales])


def patch_side_px(lr_patch_px: int, scales) -> int:
    """Smallest LR side >= lr_patch_px that is a multiple of ``offset_step_px``, so the HR crop
    of side s x side is whole pixels at every scale (48 for {1.5, ..., 4}; 50 with 2.9)."""
    m = offset_step_px(scales)
    return -(-lr_patch_px // m) * m


def crop_offset_choices(length_px: int, side_px: int, step_px: int) -> int:
    """How many crop offsets an axis of ``length_px`` offers: 0, step, ... below
    length - side, as the official ``random.randrange(0, length - side, step)`` draws them (the
    last position itself excluded), and at least the one offset 0 when the image is exactly
    the crop's size (where the official call would fail)."""
    return max(1, -(-(length_px - side_px) // step_px))


def augment_pair(lr_p: np.ndarray, hr_p: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The official samplers' augmentation of an (H, W, 3) LR/HR patch pair: a horizontal flip,
    a vertical flip and a transpose, each with probability 1/2, drawn in that order from ``rng``."""
    hflip, vflip, transpose = rng.random(3) < 0.5
    if hflip:
        lr_p, hr_p = lr_p[:, ::-1], hr_p[:, ::-1]
    if vflip:
        lr_p, hr_p = lr_p[::-1], hr_p[::-1]
    if transpose:
        lr_p, hr_p = lr_p.transpose(1, 0, 2), hr_p.transpose(1, 0, 2)
    return lr_p, hr_p


def to_tensor_u8(img: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [0, 1], as torchvision's ToTensor."""
    return torch.from_numpy(np.ascontiguousarray(img).transpose(2, 0, 1).astype(np.float32) / 255.0)


class TrainPatches(Dataset):
    """Map-style dataset indexed by (epoch, index) keys.

    images: {scale: [(lr uint8 h x w x 3, hr uint8 (s h) x (s w) x 3), ...]}, one list per
    training scale folder. A sample is a dict of tensors:
      lr (3, p, p) float32 [0, 1];  coord (Q, 2) (y, x) on [-1, 1];  cell (Q, 2) = (2/H, 2/W);
      rgb (Q, 3) float32 [0, 1];  deform (Q, 3) HR minus bicubic-upscaled LR (when enabled);
      scale () float32; with ``whole_hr``: hr (3, s p, s p) instead of coord, cell, rgb.
    Keys are (epoch, index) or (epoch, index, batch); with ``whole_hr`` the scale is drawn per
    batch (from its number) rather than per sample.
    """

    def __init__(self, images: dict, config: SamplerConfig, seed: int):
        if not images or not any(images.values()):
            raise DdirKitError("no training pairs")
        self.images = {Fraction(s): v for s, v in images.items() if v}
        self.scales = sorted(self.images)
        self.config = config
        self.seed = int(seed)
        self.side = patch_side_px(config.lr_patch_px, self.scales)
        self.step = offset_step_px(self.scales)
        for s, pairs in self.images.items():
            for lr, hr in pairs:
                if min(lr.shape[:2]) < self.side:
                    raise DdirKitError(f"a x{float(s):g} training LR image is {lr.shape[1]}x{lr.shape[0]}, "
                                       f"smaller than the {self.side} px training crop")
            hp = int(self.side * s) ** 2
            if hp < config.queries and not config.whole_hr:
                raise DdirKitError(f"x{float(s):g} HR crop has {hp} pixels, fewer than {config.queries} queries")

    @property
    def epoch_length(self) -> int:
        return max(len(v) for v in self.images.values()) * self.config.repeat

    def __len__(self) -> int:
        return self.epoch_length

    def __getitem__(self, key):
        epoch, index = int(key[0]), int(key[1])
        rng = np.random.default_rng([self.seed, 1, epoch, index])
        s = self.scales[int(rng.integers(len(self.scales)))]
        if self.config.whole_hr and len(self.scales) > 1:
            batch = np.random.default_rng([self.seed, 4, epoch, int(key[2])])
            s = self.scales[int(batch.integers(len(self.scales)))]
        pairs = self.images[s]
        lr, hr = pairs[index % len(pairs)]
        step, side = self.step, self.side
        oy = int(rng.integers(crop_offset_choices(lr.shape[0], side, step))) * step
        ox = int(rng.integers(crop_offset_choices(lr.shape[1], side, step))) * step
        hside = int(side * s)
        lr_p = lr[oy:oy + side, ox:ox + side]
        hy, hx = int(oy * s), int(ox * s)  # integers: offsets are multiples of the denominator
        hr_p = hr[hy:hy + hside, hx:hx + hside]
        if self.config.augment:
            lr_p, hr_p = augment_pair(lr_p, hr_p, rng)
        lr_t, hr_t = to_tensor_u8(lr_p), to_tensor_u8(hr_p)
        if self.config.whole_hr:
            return {"lr": lr_t, "hr": hr_t, "scale": torch.tensor(float(s))}
        idx = torch.from_numpy(rng.choice(hside * hside, self.config.queries, replace=False))
        from ..models.coords import make_coord

        coord = make_coord((hside, hside))[idx]
        sample = {
            "lr": lr_t,
            "coord": coord,
            "cell": torch.tensor([2.0 / hside, 2.0 / hside]).expand(self.config.queries, 2).clone(),
            "rgb": hr_t.reshape(3, -1).t()[idx],
            "scale": torch.tensor(float(s)),
        }
        if self.config.deform_target:
            from ..photo.resize import pil_bicubic_uint8

            # the augmented 8-bit LR crop through Pillow, as the official DDIR wrapper does
            up = pil_bicubic_uint8(lr_p, (hside, hside)).transpose(2, 0, 1).astype(np.float32) / 255.0
            sample["deform"] = (hr_t - torch.from_numpy(up)).reshape(3, -1).t()[idx]
        return sample


class BatchStream(torch.utils.data.Sampler):
    """Global batches of (epoch, index) keys from a resume position on; this rank's share
    (``numbered``: (epoch, index, batch number) keys, for samplers that draw per batch).

    Batch b of epoch e holds keys perm_e[b B:(b+1) B] with perm_e a permutation seeded by
    (seed, e) (last partial batch dropped). Under torch.distributed each rank takes a
    contiguous B / world slice, so W processes together see exactly what one process with
    the same global batch sees.
    """

    def __init__(self, epoch_length: int, global_batch: int, seed: int, total_iters: int,
                 start_iter: int = 0, rank: int = 0, world: int = 1, numbered: bool = False):
        if global_batch % world:
            raise DdirKitError(f"global batch {global_batch} is not divisible by {world} processes")
        self.per_epoch = epoch_length // global_batch
        if self.per_epoch == 0:
            raise DdirKitError(f"an epoch of {epoch_length} samples holds no full batch of {global_batch}")
        self.n, self.batch, self.seed = epoch_length, global_batch, seed
        self.total, self.start = total_iters, start_iter
        self.rank, self.world = rank, world
        self.numbered = numbered

    def __len__(self) -> int:
        return max(self.total - self.start, 0)

    def __iter__(self):
        perm, perm_epoch = None, -1
        share = self.batch // self.world
        for it in range(self.start, self.total):
            epoch, b = divmod(it, self.per_epoch)
            if epoch != perm_epoch:
                perm = np.random.default_rng([self.seed, 2, epoch]).permutation(self.n)
                perm_epoch = epoch
            keys = perm[b * self.batch:(b + 1) * self.batch][self.rank * share:(self.rank + 1) * share]
            yield [(epoch, int(k), it) if self.numbered else (epoch, int(k)) for k in keys]


def worker_init(_worker_id: int) -> None:
    # Each worker builds one sample at a time; several torch threads per worker would only
    # fight the training process for the two cores.
    torch.set_num_threads(1)
