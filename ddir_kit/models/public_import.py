"""Import of official checkpoints: LIIF, LTE and DDIR files ({'model': {'name', 'args', 'sd'},
'optimizer': ..., 'epoch': ...}, as their training scripts write them) and CiaoSR's mmcv files
({'meta': ..., 'state_dict': {'generator.*': ...}, 'optimizer': ...}).

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


# CiaoSR's generator keeps mmedit's encoder names; the kit's encoders carry LIIF's.
_CIAOSR_EDSR = ((r"^conv_first\.", "encoder.head.0."), (r"^body\.(\d+)\.conv1\.", r"encoder.body.\1.body.0."),
                (r"^body\.(\d+)\.conv2\.", r"encoder.body.\1.body.2."))
_CIAOSR_RDN = ((r"^sfe1\.", "encoder.SFENet1."), (r"^sfe2\.", "encoder.SFENet2."),
               (r"^rdbs\.(\d+)\.layers\.(\d+)\.conv\.", r"encoder.RDBs.\1.convs.\2.conv.0."),
               (r"^rdbs\.(\d+)\.lff\.", r"encoder.RDBs.\1.LFF."), (r"^gff\.", "encoder.GFF."))


def is_mmcv_ciaosr(payload) -> bool:
    sd = payload.get("state_dict") if isinstance(payload, dict) else None
    return isinstance(sd, dict) and any(str(k).startswith("generator.imnet_q.") for k in sd)


def model_from_mmcv_ciaosr(payload: dict, path: str | Path | None = None) -> torch.nn.Module:
    """Our CiaoSR holding the generator weights of an official (mmcv) CiaoSR checkpoint. The
    attention's ``escape_NaN`` buffer (the constant 1e-4 of its norm clamp) is not a weight
    and is dropped; the optimizer state is ignored."""
    from .registry import make_model

    sd = {k[len("generator."):]: v for k, v in payload["state_dict"].items() if k.startswith("generator.")}
    sd.pop("cs_attn.escape_NaN", None)
    if "conv_first.weight" in sd:
        blocks = {int(m.group(1)) for k in sd if (m := re.match(r"body\.(\d+)\.conv1\.weight$", k))}
        rules = _CIAOSR_EDSR + ((r"^conv_after_body\.", f"encoder.body.{len(blocks)}."),)
    elif "sfe1.weight" in sd:
        rules = _CIAOSR_RDN
    else:
        raise DdirKitError("CiaoSR checkpoint has neither an EDSR (conv_first) nor an RDN (sfe1) encoder", path)
    mapped = {}
    for key, value in sd.items():
        for pattern, repl in rules:
            key = re.sub(pattern, repl, key)
        mapped[key] = value
    encoder, encoder_args = _encoder_from_state(mapped, "encoder", path)
    model = make_model("ciaosr", encoder, encoder_args=encoder_args, hidden_list=_hidden_list(mapped, "imnet_q"))
    try:
        model.load_state_dict(mapped, strict=True)
    except RuntimeError as e:
        raise DdirKitError(f"weights do not map onto ciaosr ({encoder}): {str(e).splitlines()[0][:200]}", path) from e
    return model
