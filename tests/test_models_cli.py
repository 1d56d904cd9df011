"""`ddir-kit upscale`: any scale or exact size, 16-bit kept, clear one-line errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ddir_kit.cli import cli
from ddir_kit.models import make_model, save_checkpoint, upscale

SMALL = {"encoder_args": {"n_resblocks": 1, "n_feats": 8}, "hidden_list": [16]}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "ddir.pt", make_model("ddir", **SMALL))


@pytest.fixture(scope="module")
def photo16(tmp_path_factory, city100_dir):
    """A 16-bit PNG crop of a real photo (RGB 40x30)."""
    img = cv2.imread(str(city100_dir / "nikon_007L.png"), cv2.IMREAD_COLOR)[220:250, 310:350]  # frame 400:430, 600:640
    path = tmp_path_factory.mktemp("in") / "photo16.png"
    cv2.imwrite(str(path), img.astype(np.uint16) * 256 + 37)
    return path


def test_upscale_by_a_fractional_scale_keeps_16_bit_and_matches_the_library(tmp_path, checkpoint, photo16):
    out = tmp_path / "out.png"
    result = CliRunner().invoke(cli, ["upscale", str(photo16), "--scale", "3.7", "--checkpoint", str(checkpoint),
                                      "--out", str(out), "--max-memory", "256MB"])
    assert result.exit_code == 0, result.output
    assert "148x111" in result.output
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16 and written.shape == (111, 148, 3)
    from ddir_kit.photo.photo_io import read_rgb
    from ddir_kit.models import load_checkpoint

    model, _ = load_checkpoint(checkpoint)
    lr = torch.from_numpy(read_rgb(photo16).transpose(2, 0, 1).copy())
    expected = upscale(model, lr, (111, 148)).permute(1, 2, 0).numpy()
    assert np.abs(read_rgb(out) - expected).max() <= 1 / 65535


def test_upscale_to_an_exact_size(tmp_path, checkpoint, photo16):
    out = tmp_path / "sized.png"
    result = CliRunner().invoke(cli, ["upscale", str(photo16), "--size", "97x61", "--checkpoint", str(checkpoint),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert cv2.imread(str(out), cv2.IMREAD_UNCHANGED).shape == (61, 97, 3)


@pytest.mark.parametrize("args,message", [
    (["--scale", "2", "--size", "10x10"], "exactly one of --scale and --size"),
    ([], "exactly one of --scale and --size"),
    (["--size", "ten"], "cannot read size"),
    (["--scale", "-2"], "scale must be a positive"),
    (["--scale", "2", "--max-memory", "lots"], "cannot read memory size"),
])
def test_upscale_bad_options_give_one_line_errors(tmp_path, checkpoint, photo16, args, message):
    result = CliRunner().invoke(cli, ["upscale", str(photo16), "--checkpoint", str(checkpoint),
                                      "--out", str(tmp_path / "o.png"), *args])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_upscale_names_a_missing_checkpoint_or_unreadable_photo(tmp_path, checkpoint, photo16):
    result = CliRunner().invoke(cli, ["upscale", str(photo16), "--scale", "2", "--checkpoint",
                                      str(tmp_path / "none.pt"), "--out", str(tmp_path / "o.png")])
    assert result.exit_code == 1 and "none.pt: checkpoint not found" in result.output
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    result = CliRunner().invoke(cli, ["upscale", str(bad), "--scale", "2", "--checkpoint", str(checkpoint),
                                      "--out", str(tmp_path / "o.png")])
    assert result.exit_code == 1 and "bad.png" in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_upscale_on_cuda_without_a_gpu_is_a_clear_error(tmp_path, checkpoint, photo16):
    result = CliRunner().invoke(cli, ["upscale", str(photo16), "--scale", "2", "--checkpoint", str(checkpoint),
                                      "--out", str(tmp_path / "o.png"), "--device", "cuda"])
    assert result.exit_code == 1 and "no CUDA device" in result.output
