"""What a new user meets on bad input: one line that says why, naming the file, and nothing
written. Each case was found by trying the command as a newcomer would."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ddir_kit.cli import cli
from ddir_kit.errors import DdirKitError
from ddir_kit.models import load_checkpoint, make_model
from ddir_kit.models.checkpoint import save_checkpoint
from ddir_kit.photo.photo_io import write_png


def _invoke(args):
    return CliRunner().invoke(cli, [str(a) for a in args])


# -- register on a folder that holds no captures ---------------------------------------------

def test_register_on_a_folder_without_scenes_says_why_and_writes_nothing(tmp_path):
    captures = tmp_path / "photos"
    (captures / "holiday").mkdir(parents=True)
    (captures / "notes.txt").write_text("not a photo")
    out = tmp_path / "aligned"
    r = _invoke(["register", captures, "--out", out])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"{captures}: no scene folder in it" in r.output and "lr_x<scale>" in r.output
    assert not out.exists()


def test_register_on_one_scene_folder_asks_for_the_folder_above_it(tmp_path):
    scene = tmp_path / "captures" / "scene_0001"
    rgb = np.random.default_rng(0).random((40, 60, 3), np.float32)
    write_png(scene / "hr.png", rgb, 8)
    write_png(scene / "lr_x2.png", rgb[::2, ::2], 8)
    out = tmp_path / "aligned"
    r = _invoke(["register", scene, "--out", out])
    assert r.exit_code == 1 and "one scene folder, not a capture folder" in r.output
    assert not out.exists()


# -- a checkpoint that is not one ------------------------------------------------------------

@pytest.fixture(scope="module")
def not_checkpoints(tmp_path_factory):
    d = tmp_path_factory.mktemp("ck")
    (d / "notes.pt").write_text("not a checkpoint at all\n")
    (d / "empty.pt").write_bytes(b"")
    torch.save({"a": torch.zeros(3)}, d / "whole.pt")
    data = (d / "whole.pt").read_bytes()
    (d / "truncated.pt").write_bytes(data[: len(data) // 2])
    torch.save(torch.nn.Linear(2, 2), d / "module.pt")  # a pickled object, not weights
    with open(d / "pickle.pt", "wb") as f:
        pickle.dump({"x": 1}, f)
    return d


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("name, reason", [
    ("notes.pt", "not a checkpoint: PyTorch cannot read it as a file of tensors (it is another kind of file, "
                 "or a pickle of other objects)"),
    ("pickle.pt", "not a checkpoint: PyTorch cannot read it as a file of tensors (it is another kind of file, "
                  "or a pickle of other objects)"),
    ("empty.pt", "not a readable checkpoint: the file is empty, truncated or corrupt"),
    ("truncated.pt", "not a readable checkpoint: the file is empty, truncated or corrupt"),
    ("module.pt", "not a checkpoint ddir-kit loads: it holds a Python object (torch.nn.modules.linear.Linear), "
                  "and only tensors and plain containers are unpickled, so that loading a file cannot run code"),
])
def test_a_file_that_is_no_checkpoint_gets_one_whole_sentence_naming_it(not_checkpoints, name, reason):
    path = not_checkpoints / name
    with pytest.raises(DdirKitError) as err:
        load_checkpoint(path)
    assert str(err.value) == f"{path}: {reason}"  # whole: never cut mid-word
    r = _invoke(["test", "--checkpoint", path, "--data", not_checkpoints])
    assert r.exit_code == 1 and "Traceback" not in r.output


def test_any_other_load_failure_keeps_its_whole_first_sentence(monkeypatch, tmp_path):
    path = tmp_path / "x.pt"
    path.write_bytes(b"\0")

    def fail(*_a, **_k):
        raise OSError("Input/output error reading the device. Check the cable and the mount, then retry "
                      + "with a much longer explanation " * 10)

    monkeypatch.setattr(torch, "load", fail)
    with pytest.raises(DdirKitError) as err:
        load_checkpoint(path)
    assert str(err.value) == f"{path}: not a readable checkpoint (OSError: Input/output error reading the device.)"


# -- checked before any work starts (fixed earlier; kept so) ---------------------------------

def test_calibrate_check_refuses_scale_0_before_looking_for_a_board(tmp_path):
    for name in ("calibration.json", "hr.jpg", "lr.jpg"):
        (tmp_path / name).write_bytes(b"x")
    r = _invoke(["calibrate", "check", tmp_path / "calibration.json", tmp_path / "hr.jpg", tmp_path / "lr.jpg",
                 "--scale", "0"])
    assert r.exit_code != 0 and "scale must be greater than 1, got '0'" in r.output
    assert "board" not in r.output


def test_upscale_reports_a_bad_image_before_any_progress_bar(tmp_path):
    torch.manual_seed(0)
    ck = save_checkpoint(tmp_path / "m.pt", make_model("liif", encoder_args={"n_resblocks": 1, "n_feats": 8},
                                                        hidden_list=[16]))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    for image in (tmp_path / "missing.png", tmp_path / "broken.png"):
        r = _invoke(["upscale", image, "--scale", "2", "--checkpoint", ck, "--out", tmp_path / "out.png"])
        assert r.exit_code == 1 and image.name in r.output
        assert "upscale:" not in r.output and "%|" not in r.output
    assert not (tmp_path / "out.png").exists()
