"""Encoders (EDSR-baseline, RDN), implicit decoders (LIIF, LTE, CiaoSR, DDIR), registry, checkpoints.

Public API::

    from ddir_kit.models import make_model, save_checkpoint, load_checkpoint, upscale, METHODS
"""

from .base import ModelOutput
from .checkpoint import load_checkpoint, save_checkpoint
from .inference import upscale
from .registry import METHODS, count_parameters, make_model

__all__ = ["METHODS", "ModelOutput", "count_parameters", "load_checkpoint", "make_model", "save_checkpoint", "upscale"]
