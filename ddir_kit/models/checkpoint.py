"""Checkpoints that carry their own spec, so a model is rebuilt from the file alone.

Format: a torch file holding {"format": "ddir-kit-checkpoint", "version": 1, "spec": model.spec,
"state_dict": weights, "extra": extra}. The spec of a method from outside the kit records its
import path and constructor arguments ({"method", "target", "form", ...}): the file rebuilds it
wherever that module imports. Loaded with ``torch.load(weights_only=True)``, which
unpickles only tensors and plain containers, never arbitrary objects.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from ..errors import DdirKitError
from ..fileio import atomic_path

FORMAT = "ddir-kit-checkpoint"


def save_checkpoint(path: str | Path, model: nn.Module, extra: dict | None = None) -> Path:
    """Write spec + weights + ``extra`` (tensors and plain containers/numbers/strings only)
    atomically. Returns the path."""
    path = Path(path)
    payload = {"format": FORMAT, "version": 1, "spec": dict(model.spec),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "extra": dict(extra or {})}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | Path, map_location="cpu") -> tuple[nn.Module, dict]:
    """(model with the stored weights, in eval mode, on ``map_location``; the stored extra).

    Also accepts the official checkpoints of LIIF, LTE and DDIR ({'model': {'name', 'args',
    'sd'}, ...}) and of CiaoSR (mmcv: {'meta', 'state_dict': {'generator.*'}, ...}).
    Raises DdirKitError naming the file if it is missing, unreadable or not a checkpoint.
    """
    from .public_import import is_mmcv_ciaosr, model_from_mmcv_ciaosr
    from .registry import make_model

    path = Path(path)
    if not path.is_file():
        raise DdirKitError("checkpoint not found", path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means "not a checkpoint we can read safely"
        raise DdirKitError(_unreadable_reason(e), path) from e
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        try:
            model = make_model(**payload["spec"])
        except DdirKitError as e:
            raise DdirKitError(f"cannot rebuild the model this checkpoint holds: {e.reason}", path) from None
        _load_state(model, payload["state_dict"], path)
        extra = payload.get("extra", {})
    elif isinstance(payload, dict) and isinstance(payload.get("model"), dict) and "sd" in payload["model"]:
        from .public_import import model_from_public

        model = model_from_public(payload["model"], path)
        extra = {k: v for k, v in payload.items() if k != "model" and not isinstance(v, dict)}
    elif is_mmcv_ciaosr(payload):
        model = model_from_mmcv_ciaosr(payload, path)
        meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else {}
        extra = {k: meta[k] for k in ("epoch", "iter") if k in meta}
    else:
        raise DdirKitError("not a ddir-kit checkpoint, nor an official LIIF, LTE, DDIR or CiaoSR one (no spec and "
                           "weights inside)", path)
    return model.to(map_location).eval(), extra


def _unreadable_reason(e: Exception) -> str:
    """One whole sentence saying why torch.load refused a file: torch's own text is a paragraph
    of advice (re-run with weights_only=False, file an issue) whose first line names no cause."""
    text = str(e)
    if isinstance(e, EOFError) or "PytorchStreamReader" in text:
        return "not a readable checkpoint: the file is empty, truncated or corrupt"
    unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if unsafe:
        return (f"not a checkpoint ddir-kit loads: it holds a Python object ({unsafe.group(1)}), and only tensors "
                "and plain containers are unpickled, so that loading a file cannot run code")
    if "WeightsUnpickler" in text or "invalid load key" in text:
        return ("not a checkpoint: PyTorch cannot read it as a file of tensors (it is another kind of file, "
                "or a pickle of other objects)")
    first = text.strip().splitlines()[0] if text.strip() else ""
    sentence = re.match(r".*?[.!?](?=\s|$)", first)  # the whole first sentence, never cut mid-word
    cause = sentence.group(0) if sentence else first
    return f"not a readable checkpoint ({type(e).__name__}{': ' + cause if cause else ''})"


def _load_state(model: nn.Module, state: dict, path: Path) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise DdirKitError(f"weights do not match the stored architecture: {str(e).splitlines()[0][:200]}", path) from e
