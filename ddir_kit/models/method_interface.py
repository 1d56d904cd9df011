"""Methods from outside the kit, and the two forms a method may take (docs/methods.md).

A method is a ``torch.nn.Module`` in one of two forms:

- **query** (the LIIF family's): ``forward(inp, coord, cell) -> (N, Q, 3)`` RGB in [0, 1] units,
  with ``inp`` the LR batch (N, 3, h, w) in [0, 1] and ``coord``, ``cell`` (N, Q, 2) as LIIF
  defines them (y then x; pixel centres on [-1, 1]; the cell is (2 / H, 2 / W) of the output).
  It may return ``(rgb, deform)``. Optional: ``loss(output, target, deform)`` (``output`` as
  forward returned it; default L1 of the RGB in [0, 1] units), ``uses_deform_target = True``
  (the sampler then adds DDIR's deformation target, HR minus Pillow's bicubic of the LR, at the
  queries), ``receptive_radius_px`` (the LR pixels around a query's position its prediction
  depends on: the kit may then cut the image into tiles, each widened by that radius), and the
  pair ``encode(inp) -> features`` / ``decode(features, coord, cell) -> rgb``, which lets
  inference encode an image once for all its chunks of queries.
- **image**: ``forward(lr, size=(H, W)) -> (N, 3, H, W)`` for models that make a whole image
  (fixed-scale CNNs, models with their own upsamplers, GAN generators). Optional:
  ``scales`` (the scales it can be built for; with it, the kit builds one model per scale,
  passing ``scale=s`` to the constructor, and scores each only at its scale), ``loss(sr, hr)``
  (default L1) and ``receptive_radius_px``.

A class says which form it has with ``form = "query"`` or ``form = "image"``; without that
attribute the form is read from ``forward``'s signature (a ``size`` parameter: image; three
positional parameters: query). ``label`` (text) names it in tables (default: the class name).

``QueryMethod`` and ``ImageMethod`` wrap such a module behind what the kit's training loop,
inference and checkpoints use (``spec``, ``loss``, ``trainable``...).
"""

from __future__ import annotations

import importlib
import inspect
from importlib import metadata

import torch
from torch import nn

from ..errors import DdirKitError
from .base import ModelOutput

QUERY, IMAGE = "query", "image"
ENTRY_POINT_GROUP = "ddir_kit.methods"


def is_import_path(name: str) -> bool:
    return ":" in str(name)


def import_class(path: str) -> type:
    """'mypkg.mymodule:MyNet' -> the class; one clear line when it does not import."""
    module_name, _, attr = str(path).partition(":")
    if not module_name or not attr:
        raise DdirKitError(f"method {path!r}: write an outside method as MODULE:CLASS, e.g. mypkg.mymodule:MyNet")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # noqa: BLE001 - a user's module can fail in any way while importing
        raise DdirKitError(f"method {path!r}: module {module_name!r} does not import ({type(e).__name__}: "
                           f"{_first_sentence(e)}); is its folder on PYTHONPATH or its package installed?") from None
    cls = getattr(module, attr, None)
    if cls is None:
        raise DdirKitError(f"method {path!r}: module {module_name!r} has no {attr!r}")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise DdirKitError(f"method {path!r}: {attr} is not a torch.nn.Module class")
    return cls


def entry_point_methods() -> dict[str, str]:
    """Methods that installed packages register under the entry-point group ddir_kit.methods:
    name -> 'module:Class'."""
    try:
        eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # noqa: BLE001 - a broken installed distribution must not break the kit
        return {}
    return {ep.name: ep.value for ep in eps}


def method_form(cls: type, name: str) -> str:
    form = getattr(cls, "form", None)
    if form is not None:
        if form not in (QUERY, IMAGE):
            raise DdirKitError(f"method {name!r}: form must be 'query' or 'image', got {form!r}")
        return form
    params = inspect.signature(cls.forward).parameters
    if "size" in params:
        return IMAGE
    positional = [p for p in params.values() if p.name != "self"
                  and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 3:
        return QUERY
    raise DdirKitError(f"method {name!r}: forward{inspect.signature(cls.forward)} fits neither form: a query method "
                       "takes forward(inp, coord, cell), an image method forward(lr, size=(H, W)) (or set form)")


def build_outside(name: str, target: str, args: dict) -> nn.Module:
    """An outside method, wrapped, and checked on a probe batch."""
    cls = import_class(target)
    form = method_form(cls, name)
    try:
        inner = cls(**args)
    except TypeError as e:
        raise DdirKitError(f"method {name!r}: {cls.__name__}({', '.join(f'{k}=...' for k in args)}) failed: "
                           f"{_first_sentence(e)}") from None
    spec = {"method": name, "target": target, "form": form, **args}
    model = QueryMethod(inner, spec) if form == QUERY else ImageMethod(inner, spec)
    model.probe()
    return model


class _Wrapped(nn.Module):
    """What both forms take from the wrapped model: its spec, receptive radius and label."""

    trainable = True

    def __init__(self, inner: nn.Module, spec: dict):
        super().__init__()
        self.inner = inner
        self.spec = dict(spec)
        radius = getattr(inner, "receptive_radius_px", None)
        self.receptive_radius_px = None if radius is None else int(radius)
        self.label = str(getattr(inner, "label", type(inner).__name__))


class QueryMethod(_Wrapped):
    """An outside query-form model behind the kit's model interface."""

    form = QUERY

    def __init__(self, inner: nn.Module, spec: dict):
        super().__init__(inner, spec)
        self.uses_deform_target = bool(getattr(inner, "uses_deform_target", False))

    def forward(self, lr: torch.Tensor, coord: torch.Tensor, cell: torch.Tensor) -> ModelOutput:
        return _as_output(self.inner(lr, coord, cell))

    def encode(self, lr: torch.Tensor):
        return self.inner.encode(lr) if hasattr(self.inner, "encode") else lr

    def decode(self, features, coord: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        out = self.inner.decode(features, coord, cell) if hasattr(self.inner, "decode") else \
            self.inner(features, coord, cell)
        return _as_output(out).rgb

    def loss(self, out: ModelOutput, target_rgb: torch.Tensor, target_deform: torch.Tensor | None = None):
        if hasattr(self.inner, "loss"):
            raw = out.rgb if out.deform is None else (out.rgb, out.deform)
            return self.inner.loss(raw, target_rgb, target_deform)
        return (out.rgb - target_rgb).abs().mean()

    def probe(self) -> None:
        lr = torch.rand(1, 3, 12, 12)
        coord = torch.rand(1, 16, 2) * 1.8 - 0.9
        cell = torch.full((1, 16, 2), 2.0 / 30)
        with torch.no_grad():
            try:
                out = self.forward(lr, coord, cell)
            except Exception as e:  # noqa: BLE001 - a user's model can fail in any way
                raise DdirKitError(f"method {self.spec['method']!r}: forward(inp, coord, cell) failed on a probe batch "
                                   f"({type(e).__name__}: {_first_sentence(e)})") from None
        if tuple(out.rgb.shape) != (1, 16, 3):
            raise DdirKitError(f"method {self.spec['method']!r}: forward(inp, coord, cell) returned shape "
                               f"{tuple(out.rgb.shape)} on a probe batch of 16 queries; the query form returns (N, Q, 3)")


class ImageMethod(_Wrapped):
    """An outside (or the kit's own fixed-scale) image-form model behind the kit's interface.

    scales: the one scale this instance upscales by (a model built per scale), or None (any)."""

    form = IMAGE
    uses_deform_target = False

    def __init__(self, inner: nn.Module, spec: dict):
        super().__init__(inner, spec)
        scale = spec.get("scale")
        self.scale = None if scale is None else float(scale)

    def upscale_image(self, lr: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
        if self.scale is not None:
            want = (round(lr.shape[-2] * self.scale), round(lr.shape[-1] * self.scale))
            if tuple(size_hw) != want:
                raise DdirKitError(f"{self.label} upscales by x{self.scale:g} only: an LR image of "
                                   f"{lr.shape[-1]}x{lr.shape[-2]} becomes {want[1]}x{want[0]}, not "
                                   f"{size_hw[1]}x{size_hw[0]}")
        return self.inner(lr, size=tuple(int(s) for s in size_hw))

    def forward(self, lr: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return self.upscale_image(lr, size)

    def loss(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        if hasattr(self.inner, "loss"):
            return self.inner.loss(sr, hr)
        return (sr - hr).abs().mean()

    def probe(self) -> None:
        s = self.scale or 2.0
        lr = torch.rand(1, 3, 12, 12)
        size = (round(12 * s), round(12 * s))
        with torch.no_grad():
            try:
                out = self.upscale_image(lr, size)
            except DdirKitError:
                raise
            except Exception as e:  # noqa: BLE001 - a user's model can fail in any way
                raise DdirKitError(f"method {self.spec['method']!r}: forward(lr, size=(H, W)) failed on a probe batch "
                                   f"({type(e).__name__}: {_first_sentence(e)})") from None
        if tuple(out.shape) != (1, 3, *size):
            raise DdirKitError(f"method {self.spec['method']!r}: forward(lr, size={size}) returned shape "
                               f"{tuple(out.shape)} on a probe batch; the image form returns (N, 3, H, W)")


def _as_output(out) -> ModelOutput:
    if isinstance(out, ModelOutput):
        return out
    if isinstance(out, (tuple, list)):
        rgb, deform = (out[0], out[1]) if len(out) > 1 else (out[0], None)
        return ModelOutput(rgb, deform)
    return ModelOutput(out, None)


def _first_sentence(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text
