"""Methods from outside the kit (docs/methods.md): a query-form and an image-form module written in
a file outside the repository train in `bench`, appear in its tables with their own labels and
parameter counts, and their checkpoints upscale a photo in a fresh process; the kit's own
fixed-scale baselines go through the same door; bad plugins are one line each; tiling and
resume hold for an outside query method that declares its receptive radius."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ddir_kit.benchmark.profiles import load_profile
from ddir_kit.benchmark.training import train_method
from ddir_kit.cli import cli
from ddir_kit.errors import DdirKitError
from ddir_kit.models import load_checkpoint, make_model, upscale
from ddir_kit.scales import scale_tag

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
TINY = ["--profile", "quick", "--set", "epochs=1", "--set", "repeat=2", "--set", "batch=2", "--set", "num_workers=0",
        "--set", "lr_patch_px=24", "--set", "queries=256", "--set", "torch_threads=1"]

PLUGIN = textwrap.dedent('''
    import torch
    import torch.nn.functional as F
    from torch import nn


    class BilinearPlus(nn.Module):
        """Bilinear sample of the LR at the query plus a learned per-query residual."""
        label = "Bilinear+MLP"
        receptive_radius_px = 2

        def __init__(self, width=16):
            super().__init__()
            self.conv = nn.Conv2d(3, width, 3, padding=1)
            self.head = nn.Linear(width + 2, 3)

        def forward(self, inp, coord, cell):
            grid = coord.flip(-1).unsqueeze(1)
            feat = F.grid_sample(self.conv(inp), grid, mode="bilinear", padding_mode="border", align_corners=False)
            base = F.grid_sample(inp, grid, mode="bilinear", padding_mode="border", align_corners=False)
            extra = cell * cell.new_tensor([inp.shape[-2], inp.shape[-1]])
            return base[:, :, 0].permute(0, 2, 1) + self.head(torch.cat([feat[:, :, 0].permute(0, 2, 1), extra], -1))


    class Doubler(nn.Module):
        """An image-form model for one scale: nearest upsampling plus a learned residual."""
        form = "image"
        scales = (2, 3)

        def __init__(self, scale=2):
            super().__init__()
            self.scale = scale
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, lr, size):
            return F.interpolate(lr, size=size, mode="nearest") + F.interpolate(self.conv(lr), size=size)


    class WrongShape(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, inp, coord, cell):
            return coord[..., :1]


    class NotAModule:
        pass
''')


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("outside_repo")
    (folder / "my_methods.py").write_text(PLUGIN)
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))
    sys.modules.pop("my_methods", None)


@pytest.fixture(scope="module")
def dataset(city100_dir, tmp_path_factory) -> Path:
    """RealArbiSR layout at x2, x2.5, x3, x4 (Train and Test), from City100 HR crops."""
    root = tmp_path_factory.mktemp("ds") / "ds"
    for split, idx in (("Train", (1, 2)), ("Test", (3,))):
        for i in idx:
            # frame rows 100:340, cols 200:500: the shipped crops of 001-003 start at frame (200, 100)
            img = cv2.imread(str(city100_dir / f"nikon_00{i}H.png"))[0:240, 0:300]
            for s in (Fraction(2), Fraction(5, 2), Fraction(3), Fraction(4)):
                lw, lh = 60, 40
                hr = cv2.resize(img, (int(lw * s), int(lh * s)), interpolation=cv2.INTER_AREA)
                lr = cv2.resize(img, (lw, lh), interpolation=cv2.INTER_AREA)
                for folder, im in ((f"HR{scale_tag(s)}", hr), (f"LR{scale_tag(s)}", lr)):
                    (root / split / folder).mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(root / split / folder / f"p{i}.png"), im)
    return root


def _rows(out: Path) -> list[dict]:
    return list(csv.DictReader((out / "results.csv").open()))


def test_an_outside_query_method_trains_in_bench_and_its_checkpoint_upscales_in_a_fresh_process(
        plugin_dir, dataset, tmp_path):
    out = tmp_path / "bench"
    res = CliRunner().invoke(cli, ["bench", "--methods", "bicubic,my_methods:BilinearPlus", str(dataset),
                                   "--out", str(out), *TINY])
    assert res.exit_code == 0, res.output
    rows = _rows(out)
    assert {r["method"] for r in rows} == {"bicubic", "my_methods:BilinearPlus"}
    assert sorted(float(r["scale"]) for r in rows if r["method"] != "bicubic") == [2.0, 2.5, 3.0, 4.0]
    md = (out / "results.md").read_text()
    n_params = 16 * 3 * 9 + 16 + 18 * 3 + 3
    assert "| Bilinear+MLP |" in md and f"| {n_params:,} |" in md
    ckpt = out / "my_methods-BilinearPlus" / "model.pt"
    photo = dataset / "Test" / "LR2" / "p3.png"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(plugin_dir), str(REPO)]))
    run = subprocess.run([sys.executable, "-m", "ddir_kit.cli", "upscale", str(photo), "--checkpoint", str(ckpt),
                          "--scale", "2.7", "--out", str(tmp_path / "up.png")], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert cv2.imread(str(tmp_path / "up.png")).shape == (108, 162, 3)
    # without the module on the path the checkpoint is refused in one line naming the module
    env = dict(os.environ, PYTHONPATH=str(REPO))
    run = subprocess.run([sys.executable, "-m", "ddir_kit.cli", "upscale", str(photo), "--checkpoint", str(ckpt),
                          "--scale", "2", "--out", str(tmp_path / "no.png")], env=env, capture_output=True, text=True)
    assert run.returncode == 1 and "my_methods" in run.stderr and "PYTHONPATH" in run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_an_outside_image_method_is_built_per_scale_and_shown_only_at_its_scales(plugin_dir, dataset, tmp_path):
    out = tmp_path / "bench"
    res = CliRunner().invoke(cli, ["bench", "--methods", "bicubic,my_methods:Doubler", str(dataset),
                                   "--out", str(out), *TINY])
    assert res.exit_code == 0, res.output
    mine = [r for r in _rows(out) if r["method"] == "my_methods:Doubler"]
    assert sorted(float(r["scale"]) for r in mine) == [2.0, 3.0]
    table = (out / "results.md").read_text().split("## SSIM")[0]
    row = next(line for line in table.splitlines() if line.startswith("| Doubler |"))
    assert row.count("| - ") == 2  # x2.5 and x4
    ckpt = out / "my_methods-Doubler-x2" / "model.pt"
    model, _ = load_checkpoint(ckpt)
    assert model.scale == 2.0
    with pytest.raises(DdirKitError, match="x2 only"):
        upscale(model, torch.rand(3, 8, 8), (24, 24))


def test_edsr_baseline_trains_per_integer_scale_and_is_scored_only_there(dataset, tmp_path):
    out = tmp_path / "bench"
    res = CliRunner().invoke(cli, ["bench", "--methods", "bicubic,fixed-scale", str(dataset), "--out", str(out), *TINY])
    assert res.exit_code == 0, res.output
    fixed = [r for r in _rows(out) if r["method"] == "fixed-scale"]
    assert sorted(float(r["scale"]) for r in fixed) == [2.0, 3.0, 4.0]
    assert {(out / f"fixed-scale-edsr-x{s}" / "model.pt").is_file() for s in (2, 3, 4)} == {True}
    table = (out / "results.md").read_text().split("## SSIM")[0]
    row = next(line for line in table.splitlines() if line.startswith("| EDSR-baseline |"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    assert [c == "-" for c in cells] == [False, True, False, False]  # x2, x2.5, x3, x4
    model, _ = load_checkpoint(out / "fixed-scale-edsr-x3" / "model.pt")
    assert model.scale == 3.0 and tuple(upscale(model, torch.rand(3, 10, 12), (30, 36)).shape) == (3, 30, 36)
    # the Methods table: one line per model, each with its own upsampler's parameter count
    from ddir_kit.models import count_parameters

    text = (out / "results.md").read_text()
    for s in (2, 3, 4):
        n = count_parameters(load_checkpoint(out / f"fixed-scale-edsr-x{s}" / "model.pt")[0])
        assert f"| EDSR-baseline x{s} | `fixed-scale` | {n:,} |" in text


@pytest.mark.parametrize("name,message", [
    ("no_such_module:Net", "does not import"),
    ("my_methods:Missing", "has no 'Missing'"),
    ("my_methods:NotAModule", "not a torch.nn.Module class"),
    ("my_methods:WrongShape", "returned shape (1, 16, 1)"),
])
def test_a_bad_plugin_is_one_line(plugin_dir, dataset, tmp_path, name, message):
    res = CliRunner().invoke(cli, ["bench", "--methods", f"bicubic,{name}", str(dataset), "--out", str(tmp_path / "b"),
                                   *TINY])
    assert res.exit_code == 1
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.output


def test_an_outside_query_method_with_a_receptive_radius_tiles_to_the_same_result(plugin_dir):
    torch.manual_seed(0)
    model = make_model("my_methods:BilinearPlus", width=8)
    lr = torch.rand(3, 23, 19)
    whole = upscale(model, lr, (62, 51))
    tiled = upscale(model, lr, (62, 51), tile_px=6)
    assert torch.allclose(whole, tiled, atol=1e-5)


def test_an_outside_query_method_resumes_to_the_bit(plugin_dir, dataset, tmp_path):
    prof = load_profile("quick", {"epochs": 3, "repeat": 2, "batch": 2, "num_workers": 0, "lr_patch_px": 24,
                                  "queries": 128, "checkpoint_every_iters": 2, "torch_threads": 1})
    full = train_method("my_methods:BilinearPlus", dataset, tmp_path / "full", prof, method_args={"width": 8})

    class Stop(Exception):
        pass

    def stop_at_5(it, total, loss):
        if it == 5:
            raise Stop

    with pytest.raises(Stop):
        train_method("my_methods:BilinearPlus", dataset, tmp_path / "cut", prof, method_args={"width": 8},
                     progress=stop_at_5)
    resumed = train_method("my_methods:BilinearPlus", dataset, tmp_path / "cut", prof, method_args={"width": 8},
                           resume=True)
    assert resumed.resumed_at_iter == 4 and full.iters == resumed.iters
    a, _ = load_checkpoint(full.model_path)
    b, _ = load_checkpoint(resumed.model_path)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    # a resume with other constructor arguments would train another model: refused
    with pytest.raises(Stop):
        train_method("my_methods:BilinearPlus", dataset, tmp_path / "cut2", prof, method_args={"width": 8},
                     progress=stop_at_5)
    with pytest.raises(DdirKitError, match="the run trains"):
        train_method("my_methods:BilinearPlus", dataset, tmp_path / "cut2", prof, method_args={"width": 12},
                     resume=True)


def test_the_worked_examples_bench_beside_the_kit_methods(dataset, tmp_path):
    """The command examples/README.md gives, on a tiny dataset."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "examples"), str(REPO)]))
    run = subprocess.run([sys.executable, "-m", "ddir_kit.cli", "bench", "--methods",
                          "bicubic,tiny_query:TinyQueryNet,tiny_fixed_scale:TinyESPCN", str(dataset),
                          "--out", str(tmp_path / "examples"), *TINY], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    md = (tmp_path / "examples" / "results.md").read_text()
    assert "| TinyQueryNet |" in md and "| TinyESPCN |" in md


@pytest.mark.slow
def test_an_outside_query_method_under_two_torchrun_processes_matches_one_process(plugin_dir, dataset, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(plugin_dir), str(REPO)]))
    cmd = ["train", "--method", "my_methods:BilinearPlus", "--method-args", '{"width": 8}', str(dataset),
           *TINY, "--set", "batch=4"]
    one = subprocess.run([sys.executable, "-m", "ddir_kit.cli", *cmd, "--out", str(tmp_path / "one")], env=env,
                         capture_output=True, text=True)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "ddir_kit.cli", *cmd,
                          "--out", str(tmp_path / "two")], env=env, capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-3000:]
    a, _ = load_checkpoint(tmp_path / "one" / "model.pt")
    b, _ = load_checkpoint(tmp_path / "two" / "model.pt")
    assert max(float((a.state_dict()[k] - b.state_dict()[k]).abs().max()) for k in a.state_dict()) < 1e-5


def test_a_name_registered_through_the_entry_point_group_builds_and_checkpoints(plugin_dir, tmp_path, monkeypatch):
    from importlib import metadata

    from ddir_kit.models import method_interface, save_checkpoint

    ep = metadata.EntryPoint(name="bilinear-plus", value="my_methods:BilinearPlus", group="ddir_kit.methods")
    seen = []

    def entry_points(group):
        seen.append(group)
        return [ep] if group == "ddir_kit.methods" else []

    monkeypatch.setattr(method_interface.metadata, "entry_points", entry_points)
    model = make_model("bilinear-plus", width=4)
    assert seen == ["ddir_kit.methods"] and type(model.inner).__name__ == "BilinearPlus"
    assert model.spec["target"] == "my_methods:BilinearPlus"
    loaded, _ = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, {}))
    assert loaded.spec == model.spec
    with pytest.raises(DdirKitError, match="bilinear-plus, or name your own"):
        make_model("no-such-name")


def test_method_arguments_can_come_from_a_profile_key_and_the_command_line_overrides_them(plugin_dir, dataset,
                                                                                         tmp_path):
    args = ["--set", 'method_args={"my_methods:BilinearPlus": {"width": 6}, "liif": {"hidden_list": [8]}}']
    out = tmp_path / "bench"
    res = CliRunner().invoke(cli, ["bench", "--methods", "bicubic,my_methods:BilinearPlus", str(dataset),
                                   "--out", str(out), *TINY, *args])
    assert res.exit_code == 0, res.output
    (run,) = out.glob("my_methods-BilinearPlus*/model.pt")  # the folder's name carries a digest of the arguments
    model, _ = load_checkpoint(run)
    assert model.spec["width"] == 6 and model.inner.conv.out_channels == 6
    res = CliRunner().invoke(cli, ["train", "--method", "my_methods:BilinearPlus", str(dataset), "--out",
                                   str(tmp_path / "t"), "--method-args", '{"width": 5}', *TINY, *args])
    assert res.exit_code == 0, res.output
    assert load_checkpoint(tmp_path / "t" / "model.pt")[0].spec["width"] == 5
