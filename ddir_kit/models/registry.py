"""The methods the kit knows, as one table from name to builder (LIIF's registry idea), open to
methods from outside the kit.

Every entry names the class that implements it (imported only when the method is built, so a
broken or heavy model file never slows or breaks the others) and the fixed arguments that make
an ablation out of a shared architecture. A method from outside is named by its import path
(``mypkg.mymodule:MyNet``) or by a name an installed package registers under the entry-point
group ``ddir_kit.methods`` (method_interface.py). ``make_model(**model.spec)`` rebuilds the
same architecture, which is what checkpoints store.
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
    form: str = "query"
    encoder_labels: dict = field(default_factory=dict)  # a label per encoder instead of ENCODER-label

    def implementation(self) -> type:
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module, __package__), cls)

    def label_for(self, encoder: str | None) -> str:
        if not self.uses_encoder or encoder in (None, "", "-"):
            return self.label
        return self.encoder_labels.get(encoder) or f"{encoder.upper()}-{self.label}"


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
    MethodEntry("fixed-scale", "fixed-scale", ".fixed_scale_arch:FixedScaleSR",
                "the encoder with its pixel-shuffle upsampler, one model per scale x2, x3, x4 (EDSR-baseline, RDN)",
                form="image", encoder_labels={"edsr": "EDSR-baseline", "rdn": "RDN"}),
)

REGISTRY: dict[str, MethodEntry] = {e.name: e for e in _ENTRIES}
# the scale-arbitrary methods (the query form) and the models built for one scale (image form)
METHODS = tuple(e.name for e in _ENTRIES if e.form == "query")
FIXED_SCALE_METHODS = tuple(e.name for e in _ENTRIES if e.form == "image")


def method_entry(method: str) -> MethodEntry:
    """The kit's entry of a method, or an entry for a method from outside (import path or a
    registered entry-point name)."""
    if method in REGISTRY:
        return REGISTRY[method]
    from .method_interface import entry_point_methods, is_import_path

    outside = entry_point_methods()
    if is_import_path(method) or method in outside:
        target = method if is_import_path(method) else outside[method]
        return MethodEntry(method, method, target, "a method from outside the kit", uses_encoder=False,
                           form="outside")
    known = ", ".join(REGISTRY) + (", " + ", ".join(outside) if outside else "")
    raise DdirKitError(f"unknown method {method!r}; choose one of {known}, or name your own as MODULE:CLASS")


def make_model(method: str, encoder: str = "edsr", **args) -> nn.Module:
    """A fresh model. encoder: one of ENCODERS; args: architecture options of the method
    (``encoder_args`` for the encoder, e.g. {"n_resblocks": 4, "n_feats": 32}; ``hidden_list``
    for the MLPs; ``scale`` for a fixed-scale model), all JSON-able so they can be stored in
    ``model.spec``. A method from outside takes its own constructor arguments (``target`` and
    ``form`` in a stored spec are the record of where it came from)."""
    entry = method_entry(method)
    if entry.form == "outside":
        from .method_interface import build_outside

        args.pop("form", None)
        target = args.pop("target", entry.target)
        return build_outside(method, target, args)
    if not entry.uses_encoder:
        return entry.implementation()()
    if encoder not in ENCODERS:
        raise DdirKitError(f"unknown encoder {encoder!r}; choose one of {', '.join(ENCODERS)}")
    spec = {"method": method, "encoder": encoder, **args}
    if entry.form == "image":
        from .method_interface import ImageMethod

        model = ImageMethod(entry.implementation()(encoder, **entry.fixed_args, **args), spec)
        model.spec.setdefault("scale", model.inner.scale)
        model.scale = float(model.inner.scale)
        return model
    return entry.implementation()(spec, encoder, **entry.fixed_args, **args)


def method_label(method: str, encoder: str | None) -> str:
    """The name of a method in tables: 'EDSR-LIIF', 'Bicubic', 'EDSR-baseline', or an outside
    method's own label."""
    if method in REGISTRY:
        return REGISTRY[method].label_for(encoder)
    return method


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
