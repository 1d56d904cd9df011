"""The one check of a `--device` name, so that every command refuses a bad one the same clear
way instead of failing deep inside torch."""

from __future__ import annotations

import torch

from .errors import DdirKitError


def resolve_device(name: str) -> torch.device:
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise DdirKitError(f"unknown device {name!r}; use cpu or cuda") from None
    if dev.type not in ("cpu", "cuda"):
        raise DdirKitError(f"unsupported device {name!r}; use cpu or cuda")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DdirKitError(f"--device {name} asked for, but this torch build sees no CUDA device")
    return dev
