"""Encoder construction by name: "edsr" (EDSR-baseline) or "rdn"."""

from __future__ import annotations

from torch import nn

from ..errors import DdirKitError
from .edsr_arch import EDSRBaseline
from .rdn_arch import RDN

ENCODERS = ("edsr", "rdn")


def build_encoder(name: str, args: dict | None = None) -> nn.Module:
    args = dict(args or {})
    if name == "edsr":
        return EDSRBaseline(**args)
    if name == "rdn":
        return RDN(**args)
    raise DdirKitError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
