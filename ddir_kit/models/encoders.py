"""The encoders, by name: the one place that lists them."""

from __future__ import annotations

from torch import nn

from ..errors import DdirKitError
from .edsr_arch import EDSRBaseline
from .rdn_arch import RDN

ENCODER_CLASSES: dict[str, type[nn.Module]] = {"edsr": EDSRBaseline, "rdn": RDN}
ENCODERS = tuple(ENCODER_CLASSES)


def build_encoder(name: str, args: dict | None = None) -> nn.Module:
    try:
        cls = ENCODER_CLASSES[name]
    except KeyError:
        raise DdirKitError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}") from None
    return cls(**dict(args or {}))
