"""`ddir-kit reproduce`: the paper's experiments as data, run end to end on small stand-ins (a
RealArbiSR-layout dataset, a RealSR-layout folder, an HR-only folder for DIV2K) with the quick
profile shortened to a few iterations, their tables written with the paper's figures beside;
training shared between experiments."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ddir_kit.benchmark.experiments import experiment_names, load_experiment
from ddir_kit.benchmark.paper_figures import paper_figure, paper_figures
from ddir_kit.cli import cli
from ddir_kit.dataset.city100 import build_stand_ins
from ddir_kit.dataset.open import open_dataset
from ddir_kit.errors import DdirKitError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = ["--profile", "quick", "--set", "epochs=1", "--set", "repeat=1", "--set", "batch=2", "--set", "num_workers=0",
        "--set", "lr_patch_px=20", "--set", "queries=128", "--set", "torch_threads=1"]


@pytest.fixture(scope="module")
def stand_ins(city100_dir, tmp_path_factory):
    return build_stand_ins(city100_dir, tmp_path_factory.mktemp("standins"))


def test_every_experiment_is_listed_with_what_it_trains_and_needs():
    assert experiment_names() == ["fig1", "table2", "table3", "table4", "table5", "table6", "table7"]
    res = CliRunner().invoke(cli, ["reproduce", "--list"])
    assert res.exit_code == 0, res.output
    for name in experiment_names():
        assert any(line.startswith(name) for line in res.output.splitlines())
    assert res.output.count("trains ") == 7 and "needs --data, --div2k" in res.output and "GPU-hours" in res.output


def test_the_figures_file_holds_every_number_of_tables_2_to_7():
    figures = paper_figures()
    counts = {t: sum(1 for k in figures if k[0] == t) for t in range(2, 8)}
    assert counts == {2: 87, 3: 50, 4: 24, 5: 48, 6: 24, 7: 18}
    assert paper_figure(2, "ddir-edsr", "realarbisr", 2) == 34.85
    assert paper_figure(2, "fixed-scale-edsr", "realarbisr", 1.5) is None  # printed as '-'
    assert paper_figure(5, "lte-edsr", "all", 3.5) == 30.29  # Table 2 prints 30.30: each as printed
    assert paper_figure(7, "liif+a-edsr", "div2k", 4) == 29.07
    # every cell of every experiment finds its figure (fixed-scale only at its scales)
    for name in experiment_names():
        exp = load_experiment(name)
        if exp.paper_table is None:
            continue
        for cell in exp.cells():
            for s in cell.group.scales:
                found = paper_figure(exp.paper_table, cell.figure_row, cell.group.id, s)
                assert (found is None) == (cell.method == "fixed-scale" and s.denominator != 1), (name, cell, s)


def test_realsr_version_3_at_its_native_size_reads_with_the_hr_cropped_to_s_times_its_lr(stand_ins):
    ds = open_dataset(stand_ins["realsr"])
    assert ds.kind == "realsr_v3" and ds.hr_trimmed_to_lr and ds.test_scales == [2, 3, 4]
    lr, hr = ds.load_pair(ds.test[3][0])
    assert lr.shape == (80, 120, 3) and hr.shape == (240, 360, 3)


def test_an_hr_only_folder_is_a_bicubic_dataset_with_a_synthetic_test_split(stand_ins):
    ds = open_dataset(stand_ins["div2k"])
    assert ds.bicubic and len(ds.train_hr) == 2 and ds.test_scales == [2, 3, 4]
    lr, hr = ds.load_pair(ds.test[3][0])
    assert lr.shape == (66, 100, 3) and hr.shape == (198, 300, 3)


def _table(out: Path, name: str) -> list[dict]:
    return list(csv.DictReader((out / f"{name}.csv").open()))


def test_table6_runs_end_to_end_with_the_paper_figures_beside(stand_ins, tmp_path):
    out = tmp_path / "repro"
    res = CliRunner().invoke(cli, ["reproduce", "table6", "--data", str(stand_ins["realarbisr"]), "--out", str(out),
                                   *TINY])
    assert res.exit_code == 0, res.output
    rows = _table(out, "table6")
    assert len(rows) == 4 * 6 and {r["method"] for r in rows} == {"ddir", "ddir-noapp", "ddir-nodeform", "ddir-none"}
    assert all(r["ours_db"] and r["paper_db"] and r["difference_db"] for r in rows)
    ddir_x2 = next(r for r in rows if r["method"] == "ddir" and r["scale"] == "2")
    assert ddir_x2["paper_db"] == "34.85"
    md = (out / "table6.md").read_text()
    assert "/ 34.85 (" in md and "deformation field +, appearance embedding +" in md
    assert (out / "table6.tex").is_file()
    # a second experiment needing the same four models trains none of them again
    again = CliRunner().invoke(cli, ["reproduce", "table6", "--data", str(stand_ins["realarbisr"]), "--out", str(out),
                                     *TINY])
    assert again.exit_code == 0 and "trained 0 models" in again.output
    unseen = tmp_path / "table6_unseen.yaml"
    unseen.write_text((Path(__file__).parents[1] / "ddir_kit" / "experiments" / "table6.yaml").read_text()
                      .replace("name: table6", "name: table6_unseen").replace("[1.5, 2, 2.5, 3, 3.5, 4]", "[1.7, 3.3]")
                      .replace("paper_table: 6", "paper_table: null"))
    shared = CliRunner().invoke(cli, ["reproduce", str(unseen), "--data", str(stand_ins["realarbisr"]), "--out",
                                      str(out), *TINY])
    assert shared.exit_code == 0 and "trained 0 models" in shared.output, shared.output
    assert len(_table(out, "table6_unseen")) == 4 * 2
    # the same folder with other data: the finished models are not passed off as trained on it
    other = tmp_path / "other_realarbisr"
    shutil.copytree(stand_ins["realarbisr"], other)
    wrong = CliRunner().invoke(cli, ["reproduce", "table6", "--data", str(other), "--out", str(out), *TINY])
    assert wrong.exit_code == 1 and "was trained on" in wrong.output and "use another --out" in wrong.output


def test_table7_trains_on_real_pairs_and_on_bicubic_degradation_and_scores_rgb(stand_ins, tmp_path):
    out = tmp_path / "repro"
    res = CliRunner().invoke(cli, ["reproduce", "table7", "--data", str(stand_ins["realarbisr"]), "--div2k",
                                   str(stand_ins["div2k"]), "--out", str(out), *TINY])
    assert res.exit_code == 0, res.output
    rows = _table(out, "table7")
    assert {(r["group"], r["scale"]) for r in rows} >= {("realarbisr", "1.5"), ("div2k", "4")}
    assert len(rows) == 2 * (6 + 3) and all(r["ours_db"] and r["paper_db"] for r in rows)
    md = (out / "table7.md").read_text()
    assert "PSNR-RGB" in md and "shave ceil(s)+6" in md
    runs = sorted(p.name for p in next((out / "runs").iterdir()).iterdir())
    assert runs == ["liif+a-edsr-on-div2k", "liif+a-edsr-on-realarbisr", "liif-edsr-on-div2k", "liif-edsr-on-realarbisr"]


def test_an_experiment_that_needs_a_dataset_not_given_says_which_option(stand_ins, tmp_path):
    res = CliRunner().invoke(cli, ["reproduce", "table7", "--data", str(stand_ins["realarbisr"]), "--out",
                                   str(tmp_path / "x"), *TINY])
    assert res.exit_code == 1 and "--div2k DIR" in res.output
    res = CliRunner().invoke(cli, ["reproduce", "table9", "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "unknown experiment 'table9'" in res.output


def test_a_users_experiment_file_is_checked_when_it_is_read(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("name: mine\ngroups:\n  - {id: a, test: imagenet, scales: [2]}\nrows:\n  - {label: L, method: liif, "
                   "encoder: edsr}\n")
    with pytest.raises(DdirKitError, match="unknown dataset 'imagenet'"):
        load_experiment(bad)
    bad.write_text("name: mine\ngroups:\n  - {id: a, test: realarbisr, scales: [2]}\nrows:\n  - {label: L, method: liif}\n")
    with pytest.raises(DdirKitError, match="names no dataset to train on"):
        load_experiment(bad)
