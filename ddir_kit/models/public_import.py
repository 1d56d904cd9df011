"""Import of public LIIF, LTE and DDIR checkpoints ({'model': {'name', 'args', 'sd'}}).

Our modules carry the public code's names (``encoder.head.0``, ``encoder.body.N.body.{0,2}``,
``encoder.SFENet1``, ``encoder.RDBs.i.convs.j.conv.0``, ``imnet.layers.k``, ``coef``, ``freq``,
``phase``, ``deformencoder``, ``deformnet``), so the state-dict maps by name; the architecture
(method, encoder type and size, MLP widths) is read from the tensors' shapes rather than
trusted from ``args``, whose spelling differs between the projects. The reference EDSR's frozen
mean-shift layers (``sub_mean``, ``add_mean``), unused by the encoders, are dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ..errors import DdirKitError

_UNUSED = re.compile(r"^(encoder|deformencoder)\.(sub_mean|add_mean)\.")


def model_from_public(entry: dict, path: str | Path | None = None) -> torch.nn.Module:
    """Our model holding the weights of a public checkpoint's ``['model']`` entry."""
    from .registry import make_model

    sd = entry.get("sd")
    if not isinstance(sd, dict) or not sd:
        raise DdirKitError("public checkpoint has no state dict under ['model']['sd']", path)
    sd = {k[len("module."):] if k.startswith("module.") else k: v for k, v in sd.items()}
    sd = {k: v for k, v in sd.items() if not _UNUSED.match(k)}
    encoder, encoder_args = _encoder_from_state(sd, "encoder", path)
    c = encoder_args["n_feats"] if encoder == "edsr" else encoder_args["G0"]
    latent = 9 * c
    if any(k.startswith("deformencoder.") for k in sd):
        deform_in = _in_dim(sd, "deformnet", path)
        if deform_in not in (latent + 4, latent + 4 + c):
            raise DdirKitError(f"DDIR deformnet takes {deform_in} inputs; expected {latent + 4} or {latent + 4 + c}", path)
        method = "ddir" if deform_in == latent + 4 + c else "ddir-noapp"
        hidden = _hidden_list(sd, "imnet")
    elif "coef.weight" in sd:
        method, hidden = "lte", _hidden_list(sd, "imnet")
    else:
        in_dim = _in_dim(sd, "imnet", path)
        if in_dim not in (latent + 4, latent + 4 + c):
            raise DdirKitError(f"LIIF imnet takes {in_dim} inputs; only the unfolded, cell-decoded LIIF "
                               f"({latent + 4}) or LIIF(+a) ({latent + 4 + c}) is supported", path)
        method = "liif" if in_dim == latent + 4 else "liif+a"
        hidden = _hidden_list(sd, "imnet")
    model = make_model(method, encoder, encoder_args=encoder_args, hidden_list=hidden)
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise DdirKitError(f"weights do not map onto {method} ({encoder}): {str(e).splitlines()[0][:200]}", path) from e
    return model


def _encoder_from_state(sd: dict, prefix: str, path) -> tuple[str, dict]:
    if f"{prefix}.head.0.weight" in sd:
        n_feats = sd[f"{prefix}.head.0.weight"].shape[0]
        blocks = {int(m.group(1)) for k in sd if (m := re.match(rf"{prefix}\.body\.(\d+)\.body\.0\.weight$", k))}
        return "edsr", {"n_resblocks": len(blocks), "n_feats": int(n_feats)}
    if f"{prefix}.SFENet1.weight" in sd:
        g0 = sd[f"{prefix}.SFENet1.weight"].shape[0]
        blocks = {int(m.group(1)) for k in sd if (m := re.match(rf"{prefix}\.RDBs\.(\d+)\.LFF\.weight$", k))}
        convs = {int(m.group(1)) for k in sd if (m := re.match(rf"{prefix}\.RDBs\.0\.convs\.(\d+)\.conv\.0\.weight$", k))}
        g = sd[f"{prefix}.RDBs.0.convs.0.conv.0.weight"].shape[0]
        return "rdn", {"G0": int(g0), "D": len(blocks), "C": len(convs), "G": int(g)}
    raise DdirKitError(f"no EDSR ({prefix}.head.0) or RDN ({prefix}.SFENet1) encoder weights found", path)


def _linear_weights(sd: dict, prefix: str) -> list[torch.Tensor]:
    idx = sorted(int(m.group(1)) for k in sd if (m := re.match(rf"{prefix}\.layers\.(\d+)\.weight$", k)))
    return [sd[f"{prefix}.layers.{i}.weight"] for i in idx]


def _in_dim(sd: dict, prefix: str, path) -> int:
    weights = _linear_weights(sd, prefix)
    if not weights:
        raise DdirKitError(f"no {prefix}.layers.* weights found", path)
    return int(weights[0].shape[1])


def _hidden_list(sd: dict, prefix: str) -> list[int]:
    return [int(w.shape[0]) for w in _linear_weights(sd, prefix)[:-1]]
