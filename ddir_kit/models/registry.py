"""The methods the kit knows, as one table from name to builder (LIIF's registry idea).

Every entry names the class that implements it (imported only when the method is built, so a
broken or heavy model file never slows or breaks the others) and the fixed arguments that make
an ablation out of a shared architecture. ``make_model(**model.spec)`` rebuilds the same
architecture, which is what checkpoints store.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from torch import nn

from ..errors import DdirKitError
from .encoders import ENCODERS


@dataclass(frozen=True)
class MethodEntry:
    """name: what --method takes; label: the name in tables; target: 'module:Class' of the
    implementation, relative to ddir_kit.models; fixed_args: constructor arguments that define
    this entry (an ablation); uses_encoder: built around an encoder (edsr or rdn)."""

    name: str
    label: str
    target: str
    summary: str
    fixed_args: dict = field(default_factory=dict)
    uses_encoder: bool = True

    def implementation(self) -> type:
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module, __package__), cls)


_ENTRIES = (
    MethodEntry("bicubic", "Bicubic", ".bicubic:BicubicUpsampler",
                "bicubic upscaling of the LR image (PIL's kernel, a = -0.5); nothing to train", uses_encoder=False),
    MethodEntry("liif", "LIIF", ".liif_arch:LIIF", "local implicit image function (Chen et al., CVPR 2021)"),
    MethodEntry("lte", "LTE", ".lte_arch:LTE", "local texture estimator (Lee and Jin, CVPR 2022)"),
    MethodEntry("ciaosr", "CiaoSR", ".ciaosr_arch:CiaoSR", "attention-in-attention implicit SR (Cao et al., CVPR 2023)"),
    MethodEntry("ddir", "DDIR", ".ddir_arch:DDIR",
                "dual-level deformable implicit representation (Li et al., ECCV 2024)", {"appearance": True}),
    MethodEntry("ddir-noapp", "DDIR w/o app.", ".ddir_arch:DDIR",
                "DDIR ablation: deformation field without the appearance embedding", {"appearance": False}),
    MethodEntry("ddir-nodeform", "DDIR w/o deform.", ".liif_arch:LIIF",
                "DDIR ablation: appearance embedding without the deformation field (LIIF(+a)'s architecture, "
                "trained with DDIR's learning rate)", {"appearance": True}),
    MethodEntry("ddir-none", "DDIR w/o both", ".liif_arch:LIIF",
                "DDIR ablation without both: LIIF's architecture, trained with DDIR's learning rate "
                "(the paper's Table 6 baseline, not its LIIF row)", {"appearance": False}),
    MethodEntry("liif+a", "LIIF(+a)", ".liif_arch:LIIF", "LIIF with DDIR's appearance embedding (the paper's Table 7)",
                {"appearance": True}),
)

REGISTRY: dict[str, MethodEntry] = {e.name: e for e in _ENTRIES}
METHODS = tuple(REGISTRY)


def method_entry(method: str) -> MethodEntry:
    try:
        return REGISTRY[method]
    except KeyError:
        raise DdirKitError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}") from None


def make_model(method: str, encoder: str = "edsr", **args) -> nn.Module:
    """A fresh model. encoder: one of ENCODERS; args: architecture options of the method
    (``encoder_args`` for the encoder, e.g. {"n_resblocks": 4, "n_feats": 32}; ``hidden_list``
    for the MLPs), all JSON-able so they can be stored in ``model.spec``."""
    entry = method_entry(method)
    if not entry.uses_encoder:
        return entry.implementation()()
    if encoder not in ENCODERS:
        raise DdirKitError(f"unknown encoder {encoder!r}; choose one of {', '.join(ENCODERS)}")
    spec = {"method": method, "encoder": encoder, **args}
    return entry.implementation()(spec, encoder, **entry.fixed_args, **args)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
