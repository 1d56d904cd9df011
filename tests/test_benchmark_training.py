"""Training: a run killed mid-epoch (a real subprocess, SIGKILL) and resumed ends with weights
identical to an uninterrupted run on CPU; two torchrun CPU processes match one process with
the same global batch; `test` scores a checkpoint on full images."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ddir_kit.cli import cli

# A tiny but real recipe: EDSR-LIIF on 16 px LR crops with 64 queries, batch 2, so that a
# CPU step takes tens of milliseconds.
TINY = ["--set", "lr_patch_px=16", "--set", "queries=64", "--set", "batch=2", "--set", "repeat=4",
        "--set", "num_workers=1", "--set", "torch_threads=1", "--set", "log_every_iters=1",
        "--set", "lr_milestones_epochs=[2]"]


@pytest.fixture(scope="module")
def small_dataset(city100_dir, tmp_path_factory):
    """Two x2 training pairs and two test pairs cut from City100 (LR 64x48 by area downscale)."""
    root = tmp_path_factory.mktemp("tiny") / "ds"
    for split, idx in (("Train", (1, 2)), ("Test", (3, 4))):
        for i in idx:
            # frame rows 300:396, cols 500:628; the shipped crops start at frame (200, 100), 004's at (230, 90)
            y, x = (210, 270) if i == 4 else (200, 300)
            hr = cv2.imread(str(city100_dir / f"nikon_00{i}H.png"))[y:y + 96, x:x + 128]
            low = cv2.imread(str(city100_dir / f"nikon_00{i}L.png"))[y:y + 96, x:x + 128]
            for folder, img in (("HR2", hr), ("LR2", cv2.resize(low, (64, 48), interpolation=cv2.INTER_AREA))):
                (root / split / folder).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / split / folder / f"p{i}.png"), img)
    return root


def _train_cmd(data, out, epochs, extra=()):
    return [sys.executable, "-m", "ddir_kit.cli", "train", "--method", "liif", "--data", str(data), "--out", str(out),
            "--profile", "quick", "--set", f"epochs={epochs}", "--set", "checkpoint_every_iters=3", *TINY, *extra]


def _weights(run: Path) -> dict:
    from ddir_kit.models import load_checkpoint

    model, _ = load_checkpoint(run / "model.pt")
    return model.state_dict()


def test_killed_training_resumes_to_bit_identical_weights(small_dataset, tmp_path):
    epochs = 5  # 4 iterations per epoch (2 pairs x repeat 4 / batch 2): 20 iterations
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    full = tmp_path / "full"
    first = subprocess.run(_train_cmd(small_dataset, full, epochs), check=True, env=env, capture_output=True,
                           text=True)
    # the time the run takes is said near its start, from the pace of iterations 2-4
    assert "s per iteration (measured over 3); the remaining 16 iterations take about" in first.stderr

    cut = tmp_path / "cut"
    proc = subprocess.Popen(_train_cmd(small_dataset, cut, epochs), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = cut / "state.pt"
    deadline = time.monotonic() + 120
    killed_at = None
    while time.monotonic() < deadline and proc.poll() is None:
        if state.is_file():
            it = torch.load(state, weights_only=False)["loader"]["next_iter"]
            if it >= 6:  # past one checkpoint inside epoch 2 (iterations 5-8)
                proc.send_signal(signal.SIGKILL)
                killed_at = it
                break
        time.sleep(0.02)
    proc.wait()
    assert killed_at is not None and proc.returncode == -signal.SIGKILL, "run ended before it could be killed"
    assert not (cut / "model.pt").exists()

    res = CliRunner().invoke(cli, _train_cmd(small_dataset, cut, epochs)[3:])
    assert res.exit_code == 1 and "--resume" in res.output  # refuses to overwrite silently
    res = CliRunner().invoke(cli, _train_cmd(small_dataset, cut, epochs, ["--resume"])[3:])
    assert res.exit_code == 0, res.output
    assert "resumed at iteration" in res.output
    a, b = _weights(full), _weights(cut)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = list(csv.DictReader((cut / "log.csv").open()))
    assert [int(r["iter"]) for r in rows] == list(range(1, 21))
    again = CliRunner().invoke(cli, _train_cmd(small_dataset, cut, epochs)[3:])
    assert again.exit_code == 0 and "skipped" in again.output


def test_bf16_training_follows_the_fp32_run_and_a_resume_keeps_the_precision(small_dataset, tmp_path):
    # Same seed and batches: the first losses agree to bf16 rounding (about 1e-2 relative)
    # but are not equal, which shows that autocast really ran in bf16.
    losses = {}
    for precision in ("fp32", "bf16"):
        res = CliRunner().invoke(cli, _train_cmd(small_dataset, tmp_path / precision, 1,
                                                 ["--set", "num_workers=0", "--set", f"precision={precision}"])[3:])
        assert res.exit_code == 0, res.output
        losses[precision] = [float(r["loss"]) for r in csv.DictReader((tmp_path / precision / "log.csv").open())]
    a, b = np.array(losses["fp32"][:2]), np.array(losses["bf16"][:2])
    assert np.all(np.isfinite(losses["bf16"])) and not np.array_equal(a, b)
    assert np.allclose(a, b, rtol=0.03)

    (tmp_path / "bf16" / "model.pt").unlink()  # an unfinished run again
    res = CliRunner().invoke(cli, _train_cmd(small_dataset, tmp_path / "bf16", 1, ["--set", "num_workers=0",
                                                                                    "--resume"])[3:])
    assert res.exit_code == 1 and "precision='fp32' but the run used 'bf16'" in res.output


@pytest.mark.slow
def test_two_torchrun_cpu_processes_match_one_process_with_the_same_global_batch(small_dataset, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    base = _train_cmd(small_dataset, tmp_path / "one", 1, ["--set", "batch=4", "--set", "num_workers=0"])
    subprocess.run(base, check=True, env=env, capture_output=True)
    two = _train_cmd(small_dataset, tmp_path / "two", 1, ["--set", "batch=4", "--set", "num_workers=0"])
    r = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", *two[2:]],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    diffs = [float((a[k] - b[k]).abs().max()) for k in a if a[k].is_floating_point()]
    assert max(diffs) < 1e-5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_training_on_cuda_follows_the_cpu_run(small_dataset, tmp_path):
    # Batches are drawn on the CPU from the same seed, so with TF32 off the losses logged at
    # every iteration agree to float rounding; a wrong gradient on the GPU would drift apart.
    env = dict(os.environ, OMP_NUM_THREADS="1", NVIDIA_TF32_OVERRIDE="0")
    runs = {}
    for device in ("cpu", "cuda"):
        runs[device] = tmp_path / device
        cmd = _train_cmd(small_dataset, runs[device], 2, ["--set", "num_workers=0", "--device", device])
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-3000:]
    cpu, gpu = ([float(row["loss"]) for row in csv.DictReader((runs[d] / "log.csv").open())] for d in runs)
    assert len(cpu) == len(gpu) == 8
    assert max(abs(a - b) / a for a, b in zip(cpu, gpu)) < 1e-3


@pytest.fixture(scope="module")
def tiny_run(small_dataset, tmp_path_factory):
    """A finished one-epoch EDSR-LIIF run on the small dataset."""
    run = tmp_path_factory.mktemp("tinyrun") / "run"
    res = CliRunner().invoke(cli, _train_cmd(small_dataset, run, 1)[3:])
    assert res.exit_code == 0, res.output
    return run


def _test_cli(small_dataset, run, out, *extra):
    return CliRunner().invoke(cli, ["test", "--checkpoint", str(run / "model.pt"), "--data", str(small_dataset),
                                    "--out", str(out), *extra])


def test_test_command_scores_full_images_and_writes_16bit_predictions(small_dataset, tiny_run, tmp_path):
    out = tmp_path / "scores.csv"
    res = _test_cli(small_dataset, tiny_run, out, "--save-dir", str(tmp_path / "sr"))
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open()))
    assert [r["name"] for r in rows] == ["p3", "p4"] and rows[0]["scale"] == "2"
    sr = cv2.imread(str(tmp_path / "sr" / "x2" / "p3.png"), cv2.IMREAD_UNCHANGED)
    assert sr.shape == (96, 128, 3) and sr.dtype == np.uint16
    assert "x2: 2 images, PSNR-Y" in res.output


@pytest.mark.slow
def test_test_command_split_across_two_torchrun_ranks_gives_the_same_scores(small_dataset, tiny_run, tmp_path):
    assert _test_cli(small_dataset, tiny_run, tmp_path / "one.csv").exit_code == 0
    rows = list(csv.DictReader((tmp_path / "one.csv").open()))
    torchrun = Path(sys.executable).with_name("torchrun")
    out2 = tmp_path / "two.csv"
    r = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "ddir_kit.cli", "test",
                        "--checkpoint", str(tiny_run / "model.pt"), "--data", str(small_dataset), "--out", str(out2)],
                       env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    rows2 = list(csv.DictReader(out2.open()))
    assert [x["name"] for x in rows2] == ["p3", "p4"] == [x["name"] for x in rows]
    assert all(abs(float(a["psnr_y"]) - float(b["psnr_y"])) < 1e-3 for a, b in zip(rows, rows2))


def test_bench_uses_given_checkpoints_instead_of_training(small_dataset, tiny_run, tmp_path):
    ckpts = tmp_path / "ckpts"
    ckpts.mkdir()
    (ckpts / "liif-edsr.pt").write_bytes((tiny_run / "model.pt").read_bytes())
    res = CliRunner().invoke(cli, ["bench", "--methods", "bicubic,liif", "--data", str(small_dataset),
                                   "--out", str(tmp_path / "bench"), "--checkpoints", str(ckpts), "--profile", "quick"])
    assert res.exit_code == 0, res.output
    assert "using checkpoint" in res.output and "training" not in res.output
    assert not (tmp_path / "bench" / "liif-edsr" / "state.pt").exists()
    rows = list(csv.DictReader((tmp_path / "bench" / "results.csv").open()))
    assert [(r["method"], r["encoder"], r["n_images"]) for r in rows] == [("bicubic", "-", "2"), ("liif", "edsr", "2")]


def test_a_finished_run_is_kept_only_for_the_data_it_was_trained_on(small_dataset, tiny_run, tmp_path):
    other = tmp_path / "other_ds"
    shutil.copytree(small_dataset, other)
    same = CliRunner().invoke(cli, _train_cmd(small_dataset, tiny_run, 1)[3:])
    assert same.exit_code == 0, same.output
    wrong = CliRunner().invoke(cli, _train_cmd(other, tiny_run, 1)[3:])
    assert wrong.exit_code == 1 and "was trained on" in wrong.output and "use another --out" in wrong.output
    # bench keeps its finished models only for the data they were trained on, too
    bench = ["bench", "--methods", "liif", "--out", str(tmp_path / "bench"), "--profile", "quick",
             "--set", "epochs=1", *TINY]
    assert CliRunner().invoke(cli, [*bench, "--data", str(small_dataset)]).exit_code == 0
    again = CliRunner().invoke(cli, [*bench, "--data", str(other)])
    assert again.exit_code == 1 and "was trained on" in again.output, again.output
