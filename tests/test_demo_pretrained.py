"""The demo's pretrained models: shipped with checksums, refused when changed, scored beside the
from-scratch run, and remade by `ddir-kit demo pretrain`."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from ddir_kit.benchmark.reports import ResultRow
from ddir_kit.cli import cli
from ddir_kit.demo import pretrain
from ddir_kit.demo.config import DEFAULT, DEMO_METHOD_ARGS
from ddir_kit.demo.pretrain import MODELS_DIR, PRETRAIN_METHODS, demo_textures, verify_demo_models
from ddir_kit.demo.report import _bench
from ddir_kit.demo.stage_records import BenchSummary
from ddir_kit.errors import DdirKitError


def test_the_shipped_models_match_their_checksums_fit_25_mb_and_are_the_demo_s_width():
    from ddir_kit.models import count_parameters, load_checkpoint, make_model

    paths = verify_demo_models()
    assert sorted(p.name for p in paths) == sorted(f"{m}-edsr.pt" for m in PRETRAIN_METHODS)
    assert sum(p.stat().st_size for p in paths) <= 25e6
    for p in paths:
        model, _extra = load_checkpoint(p)
        method = p.name.split("-")[0]
        assert count_parameters(model) == count_parameters(make_model(method, "edsr", **DEMO_METHOD_ARGS[method]))
    assert "demo pretrain --textures" in (MODELS_DIR / "README.md").read_text()


def test_a_changed_or_missing_model_is_refused_by_name(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR, models)
    victim = models / "ddir-edsr.pt"
    data = bytearray(victim.read_bytes())
    data[-1] ^= 1
    victim.write_bytes(bytes(data))
    with pytest.raises(DdirKitError, match="ddir-edsr.pt: does not match its checksum in SHA256SUMS"):
        verify_demo_models(models)
    (models / "SHA256SUMS").unlink()
    with pytest.raises(DdirKitError, match="pretrained models are missing"):
        verify_demo_models(models)


def test_pretraining_walls_leave_out_the_demo_s_own_photos(tmp_path):
    import cv2

    for n in (1, 2, 3, 5, 6, 7, 8):
        cv2.imwrite(str(tmp_path / f"nikon_{n:03d}H.png"), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "nikon_002L.png"), np.zeros((4, 4, 3), np.uint8))  # an LR photo: never a wall
    assert [p.name for p in demo_textures(tmp_path)] == ["nikon_002H.png", "nikon_005H.png", "nikon_006H.png",
                                                         "nikon_008H.png"]
    for p in tmp_path.glob("nikon_00[568]H.png"):
        p.unlink()
    with pytest.raises(DdirKitError, match="found 1 City100 HR photos"):
        demo_textures(tmp_path)


def _rows(values: dict) -> tuple:
    return tuple(ResultRow(m, "-" if m == "bicubic" else "edsr", s, 1, v, 0.9)
                 for (m, s), v in values.items())


def test_the_report_gives_per_scale_verdicts_from_the_pretrained_models_and_labels_the_scratch_run(tmp_path):
    pre = {("bicubic", 2.0): 30.0, ("liif", 2.0): 31.0, ("ddir", 2.0): 31.5,
           ("bicubic", 2.3): 29.0, ("liif", 2.3): 30.2, ("ddir", 2.3): 30.1,
           ("bicubic", 3.0): 28.0, ("liif", 3.0): 27.9, ("ddir", 3.0): 28.3}
    scratch = {k: v - 3 for k, v in pre.items() if k[0] != "bicubic"} | {k: v for k, v in pre.items() if k[0] == "bicubic"}
    s = BenchSummary(rows=_rows(scratch), profile="quick", profile_notes="reduced", overrides={"epochs": 10},
                     timings_s={}, pretrained_rows=_rows(pre), pretrained_timings_s={},
                     pretrained_models=("liif-edsr.pt 0123456789ab", "ddir-edsr.pt ba9876543210"),
                     iterations={"EDSR-LIIF": 250, "EDSR-DDIR": 250})
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "crops.png").write_bytes(b"")
    text = "\n".join(_bench(s, DEFAULT, tmp_path))
    assert "| x2 | EDSR-LIIF, EDSR-DDIR (2 of 2) | +0.50 |" in text
    assert "| x2.3 | EDSR-LIIF, EDSR-DDIR (2 of 2) | -0.10 |" in text
    assert "| x3 | EDSR-DDIR (1 of 2) | +0.40 |" in text
    assert "- Every learned method above bicubic at 2 of 3 scales." in text
    assert "- DDIR above LIIF at 2 of 3 scales." in text
    assert "`liif-edsr.pt 0123456789ab`" in text
    scratch_part = text.split("### Trained here from scratch")[1]
    assert "250 iterations each" in scratch_part and "no comparison of the methods" in scratch_part
    assert "the comparison is that of the pretrained models above" in scratch_part
    assert "bench/crops.png" not in text  # the short run's near-grey crops are not shown as results


def test_demo_pretrain_is_a_documented_command_and_needs_its_textures():
    r = CliRunner().invoke(cli, ["demo", "pretrain", "--help"])
    assert r.exit_code == 0 and "--textures" in r.output and "checksums" in r.output
    r = CliRunner().invoke(cli, ["demo", "pretrain"])
    assert r.exit_code == 2 and "--textures" in r.output


@pytest.mark.slow
def test_pretrain_makes_models_the_demo_accepts(tmp_path, monkeypatch, city100_dir):
    """The whole recipe, shrunk: three scenes at two scales, one epoch."""
    monkeypatch.setattr(pretrain, "PRETRAIN_SCENES", 3)
    monkeypatch.setattr(pretrain, "PRETRAIN_SCALES", (2.0, 3.0))
    monkeypatch.setattr(pretrain, "PRETRAIN_METHODS", ("liif",))
    res = pretrain.pretrain_demo_models(tmp_path / "work", city100_dir, tmp_path / "models", epochs=1)
    assert [p.name for p in res.models] == ["liif-edsr.pt"] and res.iterations["liif"] > 0
    assert verify_demo_models(tmp_path / "models") == list(res.models)
