"""Checkpoints: a kit checkpoint rebuilds its model from the file alone, unsafe or foreign files
are refused by name, and the official LIIF-family files import exactly (docs/formats.md)."""

from __future__ import annotations

import pytest
import torch

from ddir_kit.errors import DdirKitError
from ddir_kit.models import METHODS, load_checkpoint, make_model, save_checkpoint

from test_models import SMALL, SMALL_RDN, _queries

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("method", METHODS)
def test_checkpoint_round_trip_rebuilds_the_model_from_the_file_alone(tmp_path, method):
    torch.manual_seed(12)
    model = make_model(method, **({} if method == "bicubic" else SMALL))
    path = save_checkpoint(tmp_path / "m.pt", model, {"epoch": 7, "psnr_db": 30.5})
    loaded, extra = load_checkpoint(path)
    assert extra == {"epoch": 7, "psnr_db": 30.5}
    assert loaded.spec == model.spec
    lr = torch.rand(1, 3, 8, 9)
    coord, cell = _queries(1, (16, 18))
    model.eval()
    assert torch.equal(loaded(lr, coord, cell).rgb, model(lr, coord, cell).rgb)


def test_loading_refuses_files_that_are_not_safe_checkpoints(tmp_path):
    import pickle

    class Payload:
        def __reduce__(self):
            return (print, ("executed",))

    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        pickle.dump({"model": Payload()}, f, protocol=2)
    with pytest.raises(DdirKitError, match="evil.pt"):
        load_checkpoint(evil)
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(DdirKitError, match="text.pt"):
        load_checkpoint(tmp_path / "text.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(DdirKitError, match="not a ddir-kit"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(DdirKitError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def _public_keys(method: str, encoder: str, n_blocks: int, n_convs: int = 0) -> set[str]:
    """The state-dict keys of the public code, spelled out from the official code's names (docs/methods.md)."""
    def enc(prefix):
        if encoder == "edsr":
            keys = [f"{prefix}.head.0", f"{prefix}.body.{n_blocks}"]
            keys += [f"{prefix}.body.{i}.body.{j}" for i in range(n_blocks) for j in (0, 2)]
        else:
            keys = [f"{prefix}.SFENet1", f"{prefix}.SFENet2", f"{prefix}.GFF.0", f"{prefix}.GFF.1"]
            keys += [f"{prefix}.RDBs.{i}.LFF" for i in range(n_blocks)]
            keys += [f"{prefix}.RDBs.{i}.convs.{j}.conv.0" for i in range(n_blocks) for j in range(n_convs)]
        return keys

    mlp = lambda p: [f"{p}.layers.{i}" for i in (0, 2, 4)]  # noqa: E731  (two hidden layers in SMALL)
    keys = enc("encoder") + mlp("imnet")
    if method == "lte":
        keys += ["coef", "freq"]
    if method == "ddir":
        keys += enc("deformencoder") + mlp("deformnet")
    out = {f"{k}.{p}" for k in keys for p in ("weight", "bias")}
    return out | ({"phase.weight"} if method == "lte" else set())


@pytest.mark.parametrize("method,encoder", [("liif", "edsr"), ("lte", "edsr"), ("ddir", "edsr"), ("ddir", "rdn"), ("liif", "rdn")])
def test_public_checkpoint_imports_exactly(tmp_path, method, encoder):
    torch.manual_seed(13)
    model = make_model(method, encoder, **(SMALL if encoder == "edsr" else SMALL_RDN))
    n_blocks = 2
    ours = model.state_dict()
    public_names = _public_keys(method, encoder, n_blocks, 2)
    assert set(ours) == public_names
    sd = {name: ours[name].clone() for name in public_names}
    # the reference EDSR also stores its (unused) mean-shift layers
    for prefix in ("encoder", "deformencoder") if method == "ddir" else ("encoder",):
        if encoder == "edsr":
            sd[f"{prefix}.sub_mean.weight"] = torch.eye(3).view(3, 3, 1, 1)
            sd[f"{prefix}.sub_mean.bias"] = torch.zeros(3)
    enc_spec = {"name": "edsr-baseline" if encoder == "edsr" else "rdn", "args": {"no_upsampling": True}}
    torch.save({"model": {"name": method, "args": {"encoder_spec": enc_spec}, "sd": sd}, "epoch": 1000},
               tmp_path / "public.pth")
    loaded, extra = load_checkpoint(tmp_path / "public.pth")
    assert loaded.spec["method"] == method and loaded.spec["encoder"] == encoder and extra == {"epoch": 1000}
    assert set(loaded.state_dict()) == set(ours)
    assert all(torch.equal(loaded.state_dict()[k], ours[k]) for k in ours)


def test_public_checkpoint_with_an_unknown_decoder_is_a_clear_error(tmp_path):
    model = make_model("liif", **SMALL)
    sd = dict(model.state_dict())
    sd["imnet.layers.0.weight"] = torch.zeros(32, 10)
    torch.save({"model": {"name": "liif", "args": {}, "sd": sd}}, tmp_path / "odd.pth")
    with pytest.raises(DdirKitError, match="odd.pth"):
        load_checkpoint(tmp_path / "odd.pth")
