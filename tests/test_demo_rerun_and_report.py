"""A rerun of `ddir-kit demo` says, per stage, what it keeps and what it runs again; the report's
sentences are computed from the run's own numbers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ddir_kit.cli import cli
from ddir_kit.demo import config as demo_config_module
from ddir_kit.demo.pipeline import StagePlan, run_demo
from ddir_kit.demo.report import _verdicts
from ddir_kit.errors import DdirKitError

from test_file_formats_stages import DEMO, _fixture_demo_config


@pytest.fixture()
def old_demo(tmp_path, monkeypatch):
    """A finished demo folder of the previous release (its stage records), which `demo --fast`
    accepts as its own."""
    out = tmp_path / "demo"
    shutil.copytree(DEMO, out)
    monkeypatch.setattr(demo_config_module, "demo_config", lambda *a, **k: _fixture_demo_config())
    return out


def _seconds(out: Path, stage: str) -> float:
    return json.loads((out / "stages" / f"{stage}.json").read_text())["seconds"]


def test_the_plan_keeps_finished_stages_and_redoes_unfinished_ones(old_demo, tmp_path):
    plans = []
    run_demo(old_demo, _fixture_demo_config(), on_plan=plans.append)
    stages = ("calibrate", "capture", "register", "dataset", "bench")
    assert plans == [[StagePlan(n, "keep", _seconds(old_demo, n)) for n in stages]]
    seen = []

    class Stop(Exception):
        pass

    def stop(plan):  # before any stage runs: only the plan matters here
        seen.append([p.action for p in plan])
        raise Stop

    for _ in range(2):  # a first run, then a rerun of a folder whose first run stopped at once
        with pytest.raises(Stop):
            run_demo(tmp_path / "new", _fixture_demo_config(), on_plan=stop)
    assert seen == [["run"] * 5, ["redo"] * 5]


def test_a_rerun_prints_kept_stages_with_their_earlier_time_not_as_just_run(old_demo):
    r = CliRunner().invoke(cli, ["demo", "--fast", "--out", str(old_demo)])
    assert r.exit_code == 0, r.output
    assert (f"resuming {old_demo}: keeping calibrate, capture, register, dataset, bench (finished in an earlier "
            "run); running nothing") in r.output
    assert "[register ] kept from an earlier run (it took 46 s then): 12 pairs, median corner error" in r.output
    assert "skipped in" not in r.output
    report = (old_demo / "report.md").read_text()
    assert "| register every pair, compare with truth | kept from an earlier run | 46 |" in report


def test_a_stage_an_earlier_run_did_not_finish_is_announced_as_run_again(old_demo):
    for stage in ("dataset", "bench"):
        (old_demo / "stages" / f"{stage}.json").unlink()
    r = CliRunner().invoke(cli, ["demo", "--fast", "--out", str(old_demo)])
    assert ("keeping calibrate, capture, register (finished in an earlier run); running dataset, bench"
            in r.output)
    assert ("[dataset  ] crop into RealArbiSR layout + validate + card ... again: the earlier run did not finish it; "
            "it is redone whole") in r.output
    assert "[register ] kept from an earlier run" in r.output


def test_the_under_training_note_counts_the_run_s_own_epochs():
    methods = [("bicubic", "-"), ("liif", "edsr"), ("ddir", "edsr")]
    psnr = {("bicubic", "-", 2.0): 30.0, ("liif", "edsr", 2.0): 20.0, ("ddir", "edsr", 2.0): 21.0}
    one = " ".join(_verdicts(psnr, methods, [2.0], 1))
    assert "trains each method for 1 epoch," in one and "1 epochs" not in one
    assert "--epochs 100` on a GPU to train each method 100 epochs instead of 1 (" in one
    ten = " ".join(_verdicts(psnr, methods, [2.0], 10))
    assert "for 10 epochs," in ten and "100 epochs instead of 10 (" in ten
    long = " ".join(_verdicts(psnr, methods, [2.0], 200))
    assert "for 200 epochs," in long and "--epochs 100" not in long  # no advice to train less
    assert "liif beats bicubic at 0 of 1 scale." in one and "DDIR beats LIIF at 1 of 1 scale." in one


def test_until_stops_after_a_stage_and_a_later_run_resumes_there(old_demo):
    (old_demo / "stages" / "bench.json").unlink()
    r = CliRunner().invoke(cli, ["demo", "--fast", "--out", str(old_demo), "--until", "dataset"])
    assert r.exit_code == 0, r.output
    assert "[bench    ] left out: the run stopped after dataset (--until)" in r.output
    assert "| left out: the run stopped after dataset |" in (old_demo / "report.md").read_text()
    plans = []
    run_demo(old_demo, _fixture_demo_config(), on_plan=plans.append, until="register")
    assert [p.action for p in plans[0]] == ["keep", "keep", "keep", "leave", "leave"]

    class Stop(Exception):
        pass

    def stop(plan):
        plans.append(plan)
        raise Stop

    with pytest.raises(Stop):  # the bench was left out, never started: it runs, not "again"
        run_demo(old_demo, _fixture_demo_config(), on_plan=stop)
    assert [p.action for p in plans[-1]] == ["keep", "keep", "keep", "keep", "run"]
    with pytest.raises(DdirKitError, match="no demo stage 'crop'"):
        run_demo(old_demo, _fixture_demo_config(), until="crop")
    from ddir_kit.cli.demo_command import demo
    from ddir_kit.demo.pipeline import STAGES

    (until,) = [p for p in demo.params if p.name == "until"]
    assert tuple(until.type.choices) == STAGES  # the option's list is the pipeline's
