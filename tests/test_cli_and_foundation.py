"""The CLI lists the whole flow; scale tags; atomic writes."""

from __future__ import annotations

from fractions import Fraction

import click
import pytest
from click.testing import CliRunner

from ddir_kit.cli import cli
from ddir_kit.errors import DdirKitError
from ddir_kit.fileio import atomic_path, atomic_write_json, read_json
from ddir_kit.scales import as_fraction, lr_size_multiple, parse_scale_list, scale_tag

FLOW = ["calibrate", "capture", "register", "crop", "validate", "train", "test", "bench", "score", "upscale", "demo"]


def _all_command_paths(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from _all_command_paths(cmd, (*prefix, name))


def test_help_lists_every_stage_of_the_flow():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in FLOW:
        assert name in result.output


def test_every_subcommand_has_working_help():
    runner = CliRunner()
    paths = list(_all_command_paths(cli))
    assert len(paths) >= len(FLOW) + 3  # capture's plan, ingest, simulate
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output


def test_scale_tags_follow_the_realarbisr_names():
    assert [scale_tag(s) for s in (1.5, 2, 2.3, "2.25", "x4", "3dot7")] == ["1dot5", "2", "2dot3", "2dot25", "4", "3dot7"]
    assert as_fraction(2.3) == Fraction(23, 10) and as_fraction("1dot5") == Fraction(3, 2)
    assert lr_size_multiple(2.3) == 10 and lr_size_multiple(1.5) == 2 and lr_size_multiple(3) == 1
    assert parse_scale_list("1.5, 2,x2.5") == [Fraction(3, 2), 2, Fraction(5, 2)]


@pytest.mark.parametrize("bad", ["1", "0.5", "abc", ""])
def test_bad_scales_raise_the_project_error(bad):
    with pytest.raises(DdirKitError):
        parse_scale_list(bad)


def test_atomic_write_leaves_nothing_when_the_writer_fails(tmp_path):
    target = tmp_path / "out" / "result.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert read_json(target) == {"a": 1}
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        path = atomic_write_json(tmp_path / "r.json", {})
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("args", [["bench", "--data", "ds", "--out", "o"], ["demo", "--out", "o"],
                                  ["train", "--method", "liif", "--data", "ds", "--out", "o"]])
def test_a_device_this_machine_lacks_is_refused_before_any_work(tmp_path, monkeypatch, args):
    import cv2
    import numpy as np
    import torch

    monkeypatch.chdir(tmp_path)
    for split in ("Train", "Test"):
        for folder, px in (("HR2", 32), ("LR2", 16)):
            (tmp_path / "ds" / split / folder).mkdir(parents=True)
            cv2.imwrite(str(tmp_path / "ds" / split / folder / "a.png"), np.full((px, px, 3), 128, np.uint8))
    device = "tpu" if torch.cuda.is_available() else "cuda"
    result = CliRunner().invoke(cli, [*args, "--device", device])
    assert result.exit_code != 0 and device in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_demo_epochs_set_the_training_length_and_its_lr_step():
    from ddir_kit.demo.config import demo_config

    cfg = demo_config(False, 0, "cpu", 100)
    assert cfg.profile_overrides["epochs"] == 100 and cfg.profile_overrides["lr_milestones_epochs"] == [80]
    assert demo_config(False, 0).profile_overrides["epochs"] == 10
    with pytest.raises(ValueError):
        demo_config(True, 0, "cpu", 0)
    # fp32 adds no key, so demo folders made before --precision existed still match their config
    assert "precision" not in demo_config(False, 0).profile_overrides
    assert demo_config(False, 0, precision="bf16").profile_overrides["precision"] == "bf16"


def test_demo_report_names_a_run_with_changed_training_as_such():
    from ddir_kit.demo.config import demo_config
    from ddir_kit.demo.report import _run_kind

    assert _run_kind(demo_config(False, 0)) == "default run"
    assert _run_kind(demo_config(True, 0)) == "fast (CI) run"
    assert _run_kind(demo_config(False, 0, "cpu", 20, "bf16")) == "full run, training changed: epochs 20, precision bf16"


def test_durations_read_in_the_unit_a_person_would_use():
    from ddir_kit.cli.options import duration_text

    assert [duration_text(s) for s in (40, 720, 12240, 3 * 86400 + 7200)] == ["40 s", "12 min", "3.4 h", "3.1 days"]
