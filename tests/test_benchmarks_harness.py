"""benchmarks/harness.py: every results file says how its figures were taken (command, commit,
machine, load at start and end) and marks figures taken on an overloaded machine."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def harness():
    spec = importlib.util.spec_from_file_location("benchmarks_harness", REPO / "benchmarks" / "harness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def _fake_load(monkeypatch, harness, values):
    """Make the harness read these 1-min load averages, one per reading (the last repeats)."""
    values = list(values)

    def load_now():
        return harness.Load(values.pop(0) if len(values) > 1 else values[0], harness.core_count())

    monkeypatch.setattr(harness, "load_now", load_now)


def test_results_file_holds_command_commit_machine_and_both_loads(tmp_path, monkeypatch, harness):
    cores = harness.core_count()
    _fake_load(monkeypatch, harness, [0.25, 0.5])
    run = harness.Run(["benchmarks/some_bench.py", "--repeats", "2", "--out", "a file.md"])
    out = run.write(tmp_path / "sub" / "some_bench.md", "# some bench\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n")
    text = out.read_text()
    lines = text.splitlines()
    assert lines[0] == "# some bench"
    assert "- Command: `python benchmarks/some_bench.py --repeats 2 --out 'a file.md'`" in text
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert re.search(rf"- Commit: {sha} \((clean tree|uncommitted changes in the tree)\)", text)
    machine = next(line for line in lines if line.startswith("- Machine: "))
    assert f"{cores} cores" in machine and "GiB RAM" in machine and "torch " in machine
    assert "GPU" in machine  # 'no GPU' or the GPU's name
    assert f"- Load average (1 min): 0.25 at the start, 0.50 at the end ({cores} cores)" in text
    assert "LOADED" not in text
    assert "| 1 | 2 |" in text  # the script's own text follows the block


def test_a_load_above_the_core_count_is_marked(tmp_path, monkeypatch, harness):
    cores = harness.core_count()
    _fake_load(monkeypatch, harness, [0.5, cores + 1.5, 0.5])
    run = harness.Run(["benchmarks/x.py"])
    row = run.load_now("row 1")
    assert row.loaded and str(row) == f"{cores + 1.5:.1f} LOADED"
    text = run.write(tmp_path / "x.md", f"# x\n\n| row | load |\n| --- | --- |\n| 1 | {row} |\n").read_text()
    assert re.search(rf"^LOADED: .*exceeded the {cores} cores at 1 of 3 readings \(highest {cores + 1.5:.1f}, row 1\)",
                     text, re.M)
    assert f"| 1 | {cores + 1.5:.1f} LOADED |" in text

    _fake_load(monkeypatch, harness, [cores + 3.0])
    text = harness.Run(["benchmarks/x.py"]).write(tmp_path / "y.md", "no title\n").read_text()
    assert text.startswith("How this was measured:")
    assert re.search(rf"^LOADED: .*at 2 of 2 readings \(highest {cores + 3.0:.1f}, start\)", text, re.M)


def test_time_call_reports_each_call_and_the_load_around_it(monkeypatch, harness):
    _fake_load(monkeypatch, harness, [harness.core_count() + 1.0, 0.1])
    calls = []
    timing, result = harness.time_call(lambda: calls.append(1) or len(calls), repeats=3, warmup=1)
    assert result == 4 and len(timing.wall_s) == len(timing.cpu_s) == 3
    assert timing.best[0] == min(timing.wall_s) and timing.loaded


def test_parser_defaults_and_a_missing_city100_folder(tmp_path, harness):
    ap = harness.parser("benchmarks/some_bench.py", "doc", city100=True)
    args = ap.parse_args([])
    assert args.out == REPO / "benchmarks" / "results" / "some_bench.md"
    assert args.city100 == REPO / "tests" / "data" / "city100"
    with pytest.raises(SystemExit, match=r"pass --city100 DIR pointing at the City100 pairs"):
        harness.city100_dir(tmp_path)


def test_no_benchmark_imports_another_scripts_helpers():
    scripts = sorted((REPO / "benchmarks").glob("*.py"))
    names = {p.stem for p in scripts} - {"harness"}
    for script in scripts:
        imported = set(re.findall(r"^\s*(?:from|import) (\w+)", script.read_text(), re.M))
        assert not imported & names, f"{script.name} imports {imported & names}"
        assert "/work/" not in script.read_text() and '"shared"' not in script.read_text(), script.name
