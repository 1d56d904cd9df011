"""Every on-disk format has one reader, and files written by earlier releases still read."""

from __future__ import annotations

from pathlib import Path

import pytest

from ddir_kit.benchmark.profiles import load_profile
from ddir_kit.benchmark.run_files import BenchRecord, RunRecord, ScoreCache, logged_seconds
from ddir_kit.benchmark.training import _check_resume
from ddir_kit.errors import DdirKitError

FIXTURES = Path(__file__).parent / "fixtures" / "formats"


def test_run_json_of_the_previous_release_reads_with_its_learning_rate_keys_renamed():
    rec = RunRecord.read(FIXTURES / "bench" / "run.json")
    assert (rec.method, rec.encoder, rec.train_scales, rec.world_size) == ("liif", "edsr", (2.0,), 1)
    assert rec.profile.learning_rate == 5e-4 and rec.profile.learning_rate_by_method == {}
    assert rec.profile.learning_rate_milestones_epochs == (1,) and rec.profile.learning_rate_gamma == 0.5
    assert rec.profile.precision == "bf16" and rec.profile.lr_patch_px == 16


def test_run_json_without_precision_reads_as_fp32_the_precision_it_was_trained_in():
    assert RunRecord.read(FIXTURES / "bench" / "run_without_precision.json").profile.precision == "fp32"


def test_resume_check_accepts_the_same_run_and_names_a_changed_key(tmp_path):
    old = RunRecord.read(FIXTURES / "bench" / "run.json")
    assert old.sampler == 1
    same = RunRecord(old.method, old.encoder, old.profile, old.dataset, old.dataset_kind, old.train_scales, 1,
                     old.model_spec)
    _check_resume(old, same, tmp_path / "run.json")
    changed = load_profile("quick", {"lr_patch_px": 16, "queries": 64, "repeat": 2, "batch": 2, "epochs": 1,
                                     "learning_rate_milestones_epochs": [1], "precision": "bf16", "seed": 3})
    with pytest.raises(DdirKitError, match="seed=3"):
        _check_resume(old, RunRecord("liif", "edsr", changed, "", "", (2.0,), 1, old.model_spec), tmp_path / "run.json")


def test_a_run_of_the_previous_release_is_not_resumed_with_todays_sampler(tmp_path):
    old = RunRecord.read(FIXTURES / "bench" / "run.json")
    today = RunRecord(old.method, old.encoder, old.profile, old.dataset, old.dataset_kind, old.train_scales, 1,
                      old.model_spec, sampler=2)
    with pytest.raises(DdirKitError, match="sampler"):
        _check_resume(old, today, tmp_path / "run.json")


def test_run_record_round_trips(tmp_path):
    old = RunRecord.read(FIXTURES / "bench" / "run.json")
    old.write(tmp_path / "run.json")
    again = RunRecord.read(tmp_path / "run.json")
    assert again == old and again.format == "ddir-kit/run@2"


def test_bench_json_and_score_cache_of_the_previous_release_read(tmp_path):
    bench = BenchRecord.read(FIXTURES / "bench" / "bench.json")
    assert bench.methods == ("bicubic", "liif") and bench.test_scales == (2.0,) and bench.protocol == "ddir"
    assert bench.profile.learning_rate == 5e-4
    scores = ScoreCache.read(FIXTURES / "bench" / "scores.json")
    assert scores.key["protocol"] == "ddir" and scores.test_s == 2
    assert [(s.name, s.scale) for s in scores.images] == [("p3", 2.0)]
    assert scores.images[0].psnr_y_db == pytest.approx(17.027031349581236)
    scores.write(tmp_path / "scores.json")
    assert ScoreCache.read(tmp_path / "scores.json").images == scores.images
    bench.write(tmp_path / "bench.json")
    assert BenchRecord.read(tmp_path / "bench.json") == bench


def test_training_log_of_the_previous_release_gives_its_elapsed_seconds():
    assert logged_seconds(FIXTURES / "bench" / "log.csv") is not None


def test_old_learning_rate_keys_still_work_in_set_and_collide_with_the_new_ones():
    assert load_profile("quick", {"lr": 1e-3}).learning_rate == 1e-3
    with pytest.raises(DdirKitError, match="given twice"):
        load_profile("quick", {"lr": 1e-3, "learning_rate": 2e-3})


def test_malformed_run_json_is_one_clear_error(tmp_path):
    (tmp_path / "run.json").write_text('{"method": "liif"}')
    with pytest.raises(DdirKitError, match="run record"):
        RunRecord.read(tmp_path / "run.json")
