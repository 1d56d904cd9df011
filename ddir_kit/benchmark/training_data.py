"""What a training run samples from: the paired sampler over the Train split's scales (or the
subset ``train_scales`` names, or a fixed-scale model's one scale), or the bicubic sampler over
an HR-only dataset's images."""

from __future__ import annotations

from fractions import Fraction

from torch.utils.data import Dataset

from ..errors import DdirKitError
from .datasets import SRDataset, load_cache, load_hr_cache
from .profiles import Profile
from .sampler import SamplerConfig, TrainPatches


def training_patches(ds: SRDataset, model, profile: Profile) -> tuple[Dataset, tuple[float, ...]]:
    """(the sample dataset, the scales it trains on: () for bicubic degradation at any scale)."""
    image_form = getattr(model, "form", "query") == "image"
    config = SamplerConfig(profile.lr_patch_px, profile.queries, profile.repeat, profile.augment,
                           deform_target=bool(getattr(model, "uses_deform_target", False)), whole_hr=image_form)
    if ds.bicubic:
        if image_form:
            raise DdirKitError("image-form methods train on paired data; an HR-only dataset gives bicubic LR "
                               "crops at random scales", ds.root)
        if not ds.train_hr:
            raise DdirKitError("dataset has no Train images to train on", ds.root)
        from .bicubic_sampler import BicubicPatches

        return BicubicPatches(load_hr_cache(ds), config, profile.seed, profile.bicubic_scales), ()
    if not ds.train:
        raise DdirKitError("dataset has no Train split to train on", ds.root)
    wanted = set(ds.train)
    if profile.train_scales:
        asked = {Fraction(s).limit_denominator(100) for s in profile.train_scales}
        missing = sorted(asked - set(ds.train))
        if missing:
            raise DdirKitError("train_scales names " + ", ".join(f"x{float(s):g}" for s in missing)
                               + ", which the Train split does not hold (it has "
                               + ", ".join(f"x{float(s):g}" for s in ds.train_scales) + ")", ds.root)
        wanted = asked
    if image_form and getattr(model, "scale", None) is not None:
        wanted = {s for s in wanted if float(s) == model.scale}
        if not wanted:
            raise DdirKitError(f"no Train pairs at x{model.scale:g} to train this x{model.scale:g} model on", ds.root)
    cache = load_cache(SRDataset(ds.root, ds.kind, {s: ds.train[s] for s in wanted}, {}, ds.lr_stored_at_hr_size,
                                 ds.notes, ds.hr_trimmed_to_lr), "Train")
    return TrainPatches(cache, config, profile.seed), tuple(float(s) for s in sorted(wanted))
