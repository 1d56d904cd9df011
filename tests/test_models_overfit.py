"""Every method learns: overfitting one small real LR-HR pair (City100, a real lens-blur pair)
lifts PSNR clearly above bicubic on that pair.

The default run uses reduced widths (EDSR with 2 blocks of 16 channels, MLPs of 2 x 64, LTE
with 64 frequencies) on a 48x48 HR crop for 200 steps; the slow run uses the full-size models
on a 48x48 LR crop (the paper's patch) with 2304 queries.
"""

from __future__ import annotations

import cv2
import pytest
import torch

from ddir_kit.photo.photo_io import read_rgb
from ddir_kit.models import METHODS, make_model, upscale
from ddir_kit.models.bicubic import resize_bicubic
from ddir_kit.models.coords import make_cell, make_coord

SCALE = 3  # City100's Nikon pairs are about x2.9 natively (see its README)
MARGIN_DB = 1.0

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pair(city100_dir, hr_side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An HR crop of pair 004 (small residual misalignment) and the matching LR, area-reduced
    from the pair's L image by SCALE: (1, 3, n, n) and (1, 3, n/SCALE, n/SCALE) in [0, 1]."""
    hr = read_rgb(city100_dir / "nikon_004H.png")
    lo = read_rgb(city100_dir / "nikon_004L.png")
    y, x, n = 210, 270, hr_side  # frame row 300, column 500: the shipped crop starts at frame 230, 90
    lr = cv2.resize(lo[y:y + n, x:x + n], (n // SCALE, n // SCALE), interpolation=cv2.INTER_AREA)
    to_t = lambda a: torch.from_numpy(a.copy()).permute(2, 0, 1)[None]  # noqa: E731
    return to_t(hr[y:y + n, x:x + n]), to_t(lr)


def _psnr_db(a: torch.Tensor, b: torch.Tensor, shave: int = SCALE) -> float:
    d = (a - b)[..., shave:-shave, shave:-shave]
    return float(-10 * torch.log10((d ** 2).mean()))


def _overfit(method: str, hr: torch.Tensor, lr: torch.Tensor, steps: int, queries: int, lr_rate: float, **args) -> float:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = make_model(method, **args)
    n = hr.shape[-1]
    coord, cell = make_coord((n, n))[None], make_cell((n, n), n * n)[None]
    target = hr.flatten(2).transpose(1, 2)
    target_deform = (hr - resize_bicubic(lr, (n, n))).flatten(2).transpose(1, 2)
    if model.trainable:
        opt = torch.optim.Adam(model.parameters(), lr=lr_rate)
        for _ in range(steps):
            idx = torch.randperm(n * n, generator=gen)[:queries]
            out = model(lr, coord[:, idx], cell[:, idx])
            loss = model.loss(out, target[:, idx], target_deform[:, idx] if model.uses_deform_target else None)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return _psnr_db(upscale(model, lr[0], (n, n))[None], hr)


SMALL = {"encoder_args": {"n_resblocks": 2, "n_feats": 16}, "hidden_list": [64, 64]}
SMALL_EXTRA = {"lte": {"hidden_dim": 64}}


@pytest.mark.parametrize("method", [m for m in METHODS if m != "bicubic"])
def test_every_method_overfits_a_real_pair_clearly_above_bicubic(city100_dir, method):
    hr, lr = _pair(city100_dir, 48)
    bicubic_db = _overfit("bicubic", hr, lr, 0, 0, 0)
    psnr_db = _overfit(method, hr, lr, steps=200, queries=512, lr_rate=2e-3, **SMALL, **SMALL_EXTRA.get(method, {}))
    assert psnr_db > bicubic_db + MARGIN_DB, f"{method}: {psnr_db:.2f} dB vs bicubic {bicubic_db:.2f} dB"


@pytest.mark.slow
@pytest.mark.parametrize("method", [m for m in METHODS if m != "bicubic"])
def test_full_size_models_overfit_a_paper_sized_patch_above_bicubic(city100_dir, method):
    hr, lr = _pair(city100_dir, 48 * SCALE)
    bicubic_db = _overfit("bicubic", hr, lr, 0, 0, 0)
    psnr_db = _overfit(method, hr, lr, steps=300, queries=2304, lr_rate=5e-4)
    assert psnr_db > bicubic_db + MARGIN_DB, f"{method}: {psnr_db:.2f} dB vs bicubic {bicubic_db:.2f} dB"
