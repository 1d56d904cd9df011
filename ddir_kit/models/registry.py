"""Build any method from its name and arguments (LIIF's registry idea, one table).

``make_model(**model.spec)`` rebuilds the same architecture, which is what checkpoints store.
"""

from __future__ import annotations

from torch import nn

from ..errors import DdirKitError

METHODS = ("bicubic", "liif", "lte", "ciaosr", "ddir", "ddir-noapp", "ddir-nodeform", "ddir-none", "liif+a")


def make_model(method: str, encoder: str = "edsr", **args) -> nn.Module:
    """A fresh model. encoder: "edsr" | "rdn"; args: architecture options of the method
    (``encoder_args`` for the encoder, e.g. {"n_resblocks": 4, "n_feats": 32}; ``hidden_list``
    for the MLPs), all JSON-able so they can be stored in ``model.spec``."""
    spec = {"method": method, "encoder": encoder, **args}
    if method == "bicubic":
        from .bicubic import BicubicUpsampler

        return BicubicUpsampler()
    if encoder not in ("edsr", "rdn"):
        raise DdirKitError(f"unknown encoder {encoder!r}; choose edsr or rdn")
    if method in ("liif", "ddir-none", "liif+a", "ddir-nodeform"):
        from .liif_arch import LIIF

        return LIIF(spec, encoder, appearance=method in ("liif+a", "ddir-nodeform"), **args)
    if method == "lte":
        from .lte_arch import LTE

        return LTE(spec, encoder, **args)
    if method == "ciaosr":
        from .ciaosr_arch import CiaoSR

        return CiaoSR(spec, encoder, **args)
    if method in ("ddir", "ddir-noapp"):
        from .ddir_arch import DDIR

        return DDIR(spec, encoder, appearance=method == "ddir", **args)
    raise DdirKitError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
