"""calibration.json, truth.json, scene.json, the two manifest.json and the demo's stage records:
each has one reader, and the files an earlier release wrote (tests/fixtures/formats, see its
README) still read, to the values they hold, and write back unchanged."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ddir_kit.calibration.calibration_file import FORMAT, read_calibration, write_calibration_json
from ddir_kit.capture.capture_layout import (read_scene_json, read_scene_manifest, write_scene_json,
                                             write_scene_manifest)
from ddir_kit.capture.shot_plan import shot_plan
from ddir_kit.errors import DdirKitError
from ddir_kit.fileio import jsonable
from ddir_kit.virtual_camera.simulation_manifest import SimulationManifest, read_simulation_manifest
from ddir_kit.virtual_camera.truth import (TRUTH_VERSION, PlantedFaults, read_card_truth, read_scene_truth,
                                           read_sweep_truth, write_truth)

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
CAL = FIXTURES / "calibration"
VCAM = FIXTURES / "virtual_camera"
DEMO = FIXTURES / "demo"


def _json(path: Path):
    return json.loads(path.read_text())


# --- calibration.json -----------------------------------------------------------------------

def test_the_calibration_calibrate_wrote_reads_with_its_shots_targets_and_model():
    cal = read_calibration(CAL / "calibration_full.json")
    assert (cal.reference_file, cal.reference_focal_mm, cal.board, cal.image_size_px, cal.fit_model) == (
        "board_00_105.00mm.jpg", 105.0, "9x6", (600, 400), "radial")
    assert [s.file for s in cal.used] == [f"board_{i:02d}_{f:06.2f}mm.jpg" for i, f in enumerate((105, 80, 60, 45, 35))]
    assert {s.file: s.status for s in cal.skipped} == {n: "not a photo (unsupported format .json)"
                                                       for n in ("manifest.json", "truth.json")}
    assert [(t.scale, t.scale_tag) for t in cal.targets] == [(1.5, "1dot5"), (2.0, "2"), (2.5, "2dot5")]
    assert [round(t.focal_mm, 2) for t in cal.targets] == [69.34, 51.80, 41.41]
    assert all(t.focal_uncertainty_mm > 0 for t in cal.targets)
    assert cal.focal_for_scale(2.0) == pytest.approx(cal.targets[1].focal_mm, abs=1e-9)
    assert [float(s) for s, _ in cal.scale_focals] == [1.5, 2.0, 2.5]


def test_the_full_calibration_writes_back_byte_for_byte(tmp_path):
    cal = read_calibration(CAL / "calibration_full.json")
    write_calibration_json(tmp_path / "c.json", cal)
    assert (tmp_path / "c.json").read_text() == (CAL / "calibration_full.json").read_text()


def test_a_hand_written_calibration_plans_and_round_trips(tmp_path):
    cal = read_calibration(CAL / "calibration_minimal.json")
    assert cal.model is None and cal.shots == () and cal.reference_focal_mm == 105.0
    assert [(t.scale, t.scale_tag, t.focal_uncertainty_mm) for t in cal.targets] == [(2.0, "2", None), (3.0, "3", None)]
    plan = shot_plan(CAL / "calibration_minimal.json")
    assert [(s.role, s.scale, round(s.focal_mm, 2)) for s in plan] == [("hr", 1.0, 105.0), ("lr", 2.0, 51.78),
                                                                       ("lr", 3.0, 34.54)]
    assert shot_plan(_json(CAL / "calibration_minimal.json")) == plan == shot_plan(cal)
    write_calibration_json(tmp_path / "c.json", cal)
    assert _json(tmp_path / "c.json")["format"] == FORMAT
    assert read_calibration(tmp_path / "c.json") == cal
    with pytest.raises(DdirKitError, match="no scale model"):
        cal.focal_for_scale(2.0)


@pytest.mark.parametrize("content, message", [
    ({"targets": []}, "calibration needs reference_focal_mm and targets"),
    ([1, 2], "calibration needs reference_focal_mm and targets"),
    ({"reference_focal_mm": 105, "targets": [{"scale": 2}]}, "KeyError: 'focal_mm'"),
    ({"reference_focal_mm": 105, "targets": []}, "calibration has no targets"),
    ({"reference_focal_mm": 105, "targets": [{"scale": 2, "focal_mm": -1}]}, "non-positive focal length"),
    ({"reference_focal_mm": 105, "targets": [{"scale": 2, "focal_mm": 50}, {"scale": "2", "focal_mm": 51}]},
     "lists a scale twice"),
    ({"reference_focal_mm": 105, "targets": [{"scale": "two", "focal_mm": 50}]}, "bad target scale"),
    ({"format": "ddir-kit calibration v9", "reference_focal_mm": 105, "targets": [{"scale": 2, "focal_mm": 50}]},
     "unknown calibration format"),
])
def test_a_bad_calibration_is_one_clear_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(DdirKitError, match=message) as e:
        read_calibration(path)
    assert e.value.path == path
    with pytest.raises(DdirKitError, match=message):
        shot_plan(path)


def test_calibrate_check_refuses_a_hand_written_calibration(tmp_path):
    from ddir_kit.calibration.zoom_check import check_zoom

    with pytest.raises(DdirKitError, match="hand-written"):
        check_zoom(CAL / "calibration_minimal.json", tmp_path / "hr.jpg", tmp_path / "lr.jpg", 2.0)


def test_the_calibration_reader_imports_neither_opencv_matplotlib_nor_scipy():
    code = ("import sys, ddir_kit.calibration.calibration_file as m; "
            "m.read_calibration(sys.argv[1]); print(sorted(k for k in ('cv2', 'matplotlib', 'scipy') if k in sys.modules))")
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", code, str(CAL / "calibration_minimal.json")], capture_output=True,
                         text=True, check=True, cwd=repo, env=env).stdout
    assert out.strip() == "[]"


# --- truth.json -----------------------------------------------------------------------------

def _without_version(d: dict) -> dict:
    assert d.pop("version") == TRUTH_VERSION
    return d


def test_a_sweep_truth_reads_with_its_shots_corners_and_table(tmp_path):
    truth = read_sweep_truth(VCAM / "sweep")
    assert (truth.reference_focal_mm, truth.seed, truth.format) == (105.0, 1, "jpg")
    assert [s.focal_mm for s in truth.shots] == [105.0, 80.0, 60.0, 45.0, 35.0]
    assert all(len(s.corners_px) == 9 * 6 for s in truth.shots) and truth.shots[0].scale_to_reference == 1.0
    assert (truth.board.cols, truth.board.rows, truth.camera.width_px) == (9, 6, 600)
    assert (truth.scale_to_focal[0].scale, truth.scale_to_focal[0].focal_mm) == (1.5, 69.344818)
    assert truth.shots[1].geometry.width_px == 600 and truth.shots[1].settings.focal_mm == 80.0
    write_truth(tmp_path / "truth.json", truth)
    assert _without_version(_json(tmp_path / "truth.json")) == _json(VCAM / "sweep" / "truth.json")


def test_a_scene_truth_reads_with_its_grids_and_planted_faults(tmp_path):
    scene_dir = VCAM / "scenes" / "scene_0001"
    truth = read_scene_truth(scene_dir)
    assert (truth.scene, truth.seed, truth.reference_focal_mm, truth.texture.file) == (
        "scene_0001", 3, 105.0, "city100_004.jpg")
    assert [(lr.file, lr.scale) for lr in truth.lr] == [("lr_x2.png", 2.0), ("lr_x3.png", 3.0)]
    x2, x3 = truth.lr
    assert x2.planted.moving_object.box_lr_px is not None and x2.planted.failed_exposure is None
    assert x3.planted == PlantedFaults(failed_exposure="over")
    assert x2.affine.shape == (2, 3) and x2.true_scale == pytest.approx(2.0, rel=1e-6)
    assert x2.grid.load(scene_dir).shape == x2.grid.shape == (10, 15, 2)
    assert truth.lr_for(3) is x3 and truth.hr.geometry.width_px == 240
    write_truth(tmp_path / "truth.json", truth)
    assert _without_version(_json(tmp_path / "truth.json")) == _json(scene_dir / "truth.json")


def test_a_card_truth_reads_with_each_card_file(tmp_path):
    truth = read_card_truth(VCAM / "card_truth.json")
    (scene,) = truth.scenes
    assert (scene.scene, scene.texture, [s.role for s in scene.shots]) == ("scene_0001", "city100_007.jpg",
                                                                          ["hr", "lr", "lr"])
    by_file = truth.by_file()
    assert sorted(by_file) == ["IMG_0001.JPG", "IMG_0002.JPG", "IMG_0003.JPG"]
    shot, hr = by_file["IMG_0002.JPG"]
    assert hr is scene.hr and shot.scale == 2.0 and shot.affine.shape == (2, 3) and hr.lr_to_hr is None
    write_truth(tmp_path / "t.json", truth)
    assert _without_version(_json(tmp_path / "t.json")) == _json(VCAM / "card_truth.json")


def test_a_truth_of_another_kind_or_a_later_version_is_refused(tmp_path):
    with pytest.raises(DdirKitError, match="not the truth of a scene"):
        read_scene_truth(VCAM / "sweep")
    d = _json(VCAM / "card_truth.json")
    (tmp_path / "t.json").write_text(json.dumps(dict(d, version=2)))
    with pytest.raises(DdirKitError, match="version 2"):
        read_card_truth(tmp_path / "t.json")
    del d["scenes"]
    (tmp_path / "t.json").write_text(json.dumps(d))
    with pytest.raises(DdirKitError, match="malformed truth file"):
        read_card_truth(tmp_path / "t.json")


# --- scene.json and the ingest manifest -----------------------------------------------------

@pytest.mark.parametrize("folder", [VCAM / "scenes" / "scene_0001", FIXTURES / "capture" / "scene_0001"])
def test_scene_json_of_ingest_and_of_the_virtual_camera_reads_and_writes_back_byte_for_byte(tmp_path, folder):
    record = read_scene_json(folder)
    assert record.scene == "scene_0001" and [s.scale for s in record.lr] == [2.0, 3.0]
    if record.source == "camera card":
        assert (record.hr.source, [s.source for s in record.lr]) == ("IMG_0001.JPG", ["IMG_0002.JPG", "IMG_0003.JPG"])
        assert {f["kind"] for f in record.findings} == {"used"}
    else:
        assert record.source == "virtual camera" and record.hr.source_format == "rendered"
    write_scene_json(tmp_path, record)
    assert (tmp_path / "scene.json").read_text() == (folder / "scene.json").read_text()


def test_a_scene_json_of_another_version_is_refused_by_name(tmp_path):
    d = _json(VCAM / "scenes" / "scene_0001" / "scene.json")
    (tmp_path / "scene.json").write_text(json.dumps(dict(d, format="ddir-kit/scene@2")))
    with pytest.raises(DdirKitError, match="format 'ddir-kit/scene@2', which this version of ddir-kit does not read"):
        read_scene_json(tmp_path)
    (tmp_path / "scene.json").write_text(json.dumps({"scene": "x"}))
    with pytest.raises(DdirKitError, match="not a scene description"):
        read_scene_json(tmp_path)


def test_the_ingest_manifest_reads_and_writes_back_byte_for_byte(tmp_path):
    folder = FIXTURES / "capture" / "scene_0001"
    manifest = read_scene_manifest(folder)
    assert len(manifest.fingerprint) == 64
    assert [c.file for c in manifest.sources] == ["IMG_0001.JPG", "IMG_0002.JPG", "IMG_0003.JPG"]
    assert [c.file for c in manifest.outputs] == ["hr.png", "lr_x2.png", "lr_x3.png", "scene.json"]
    write_scene_manifest(tmp_path, manifest)
    assert (tmp_path / "manifest.json").read_text() == (folder / "manifest.json").read_text()


def test_an_ingest_scene_whose_outputs_are_gone_is_written_again_not_an_error(tmp_path):
    from ddir_kit.capture.ingest_scene import _finished

    shutil.copytree(FIXTURES / "capture" / "scene_0001", tmp_path / "scene_0001")
    assert _finished(tmp_path / "scene_0001", read_scene_manifest(tmp_path / "scene_0001").fingerprint) is None
    (tmp_path / "scene_0001" / "manifest.json").write_text("{}")
    assert _finished(tmp_path / "scene_0001", "x") is None


# --- the virtual camera's manifest.json -----------------------------------------------------

def test_a_simulation_manifest_without_format_reads_and_a_rerun_with_its_parameters_resumes(tmp_path):
    sweep = read_simulation_manifest(VCAM / "sweep")
    assert sweep.complete and sweep.params["kind"] == "calibration_sweep" and len(sweep.done) == 5
    scenes = read_simulation_manifest(VCAM / "scenes")
    assert scenes.done == ["scene_0001/truth.json"] and scenes.params["planting"]["failed_exposure"] == {"3.0": "over"}
    out = tmp_path / "sweep"
    shutil.copytree(VCAM / "sweep", out)
    resumed = SimulationManifest.open(out, sweep.params)
    assert resumed.done == sweep.done and not resumed.complete
    assert not resumed.is_done(sweep.done[0])  # the photo is not in the copy: it gets shot again
    resumed.finish()
    assert _json(out / "manifest.json") == {"format": "ddir-kit/simulation-manifest@1", **_json(VCAM / "sweep" / "manifest.json")}
    with pytest.raises(DdirKitError, match="different simulation"):
        SimulationManifest.open(out, dict(sweep.params, seed=99))


# --- demo stage records ---------------------------------------------------------------------

def _fixture_demo_config():
    from ddir_kit.demo.config import FAST

    return dataclasses.replace(FAST, methods=("bicubic", "liif"), n_scenes=3, sweep_sensor_px=(600, 400),
                               sweep_focals_mm=(24, 30, 38, 48, 60, 75, 90, 105), jobs=1)


ADDED_SINCE = {"dataset": {"card": None, "card_truth": [], "card_from_jpeg": False, "card_from_raw": False,
                           "card_demosaic_in_truth": False},
               "bench": {"pretrained_rows": [], "pretrained_timings_s": {}, "pretrained_models": [], "iterations": {}}}


def test_every_stage_record_of_the_previous_release_reads_to_its_summary(tmp_path):
    from ddir_kit.demo.stage_records import (BenchSummary, CalibrateSummary, CaptureSummary, DatasetSummary,
                                             RegisterSummary, read_stage_record, write_stage_record)

    records = {n: read_stage_record(DEMO, n) for n in ("calibrate", "capture", "register", "dataset", "bench")}
    cal, cap, reg, ds, bench = (records[n].summary for n in records)
    assert isinstance(cal, CalibrateSummary) and isinstance(cap, CaptureSummary) and isinstance(reg, RegisterSummary)
    assert isinstance(ds, DatasetSummary) and isinstance(bench, BenchSummary)
    assert cal.photos == 8 and cal.sensor_px == (600, 400) and [t.scale for t in cal.targets] == [2.0, 2.7, 3.0, 4.0]
    assert cal.skipped[0].file == "manifest.json" and cal.max_error_mm == max(abs(t.error_mm) for t in cal.targets)
    assert (cap.card_files, cap.scenes_ok, cap.formats, cap.findings) == (15, 3, ("jpg",), {"used": 15})
    assert reg.ok == len(reg.pairs) == 12 and reg.rejected == () and reg.pairs[0].pair == "scene_0001/x2"
    assert ds.test_scenes == ("scene_0001",) and ds.skipped[0].reason == "x2.7 is not a training scale"
    assert [(r.method, r.scale) for r in bench.rows][:2] == [("bicubic", 2.0), ("bicubic", 2.7)]
    assert bench.overrides == {"epochs": 1, "repeat": 2} and bench.timings_s["Bicubic"] == [None, 0]
    for name, record in records.items():
        write_stage_record(tmp_path, name, record)
        written = _json(tmp_path / "stages" / f"{name}.json")
        assert written.pop("format") == "ddir-kit/demo-stage@1"
        expected = _json(DEMO / "stages" / f"{name}.json")
        expected["summary"].update(ADDED_SINCE.get(name, {}))  # fields added since, at their defaults
        assert written == expected
        assert read_stage_record(tmp_path, name) == record


def test_a_summary_with_rejected_pairs_and_missing_values_round_trips(tmp_path):
    from ddir_kit.demo.stage_records import (PairError, PairNote, RegisterSummary, StageRecord, read_stage_record,
                                             write_stage_record)

    summary = RegisterSummary((PairError("s/x2", 2.0, 0.01, 0.1, None, None),), (PairNote("s/x3", "underexposed"),),
                              1, {"ok": 1, "rejected": 1, "failed": 0, "skipped": 0}, "affine", 0.01, 0.01, 0.1,
                              "figures/o.png", "s/x2")
    write_stage_record(tmp_path, "register", StageRecord(12.5, summary))
    assert read_stage_record(tmp_path, "register") == StageRecord(12.5, summary)


def test_an_old_demo_folder_resumes_every_stage_and_reports_as_it_did(tmp_path):
    from ddir_kit.cli.demo_command import _stage_figure
    from ddir_kit.demo.pipeline import run_demo
    from ddir_kit.demo.report import write_report

    out = tmp_path / "demo"
    shutil.copytree(DEMO, out)
    (out / "bench").mkdir()
    for fig in ("psnr_vs_scale.png", "crops.png"):  # the figures the old report showed
        (out / "bench" / fig).write_bytes(b"")
    started = []
    outcomes = run_demo(out, _fixture_demo_config(), on_start=started.append)
    assert started == [] and [o.status for o in outcomes] == ["skipped"] * 5
    assert {o.name: _stage_figure(o) for o in outcomes} == _json(DEMO / "stage_figures.json")
    # the old report, with the words this release changed on purpose: the status of a stage a
    # rerun keeps, the protocol's doc, the under-training note computed from the run's epochs, and
    # the stage titles (the dataset stage makes the card; the bench scores pretrained models too),
    # and the methods' names in its tables (as bench writes them)
    old = (DEMO / "report.md").read_text().replace("| done |", "| kept from an earlier run |").replace(
        "| bicubic |", "| Bicubic |").replace("| EDSR-liif |", "| EDSR-LIIF |").replace(
        "marked *skipped*", "marked *kept from an earlier run*").replace(
        "(DESIGN.md:", "(docs/protocols.md:").replace("for 1 epochs,", "for 1 epoch,").replace(
        "to train ten times longer (", "to train each method 100 epochs instead of 1 (").replace(
        "RealArbiSR layout + validate", "RealArbiSR layout + validate + card").replace(
        "CiaoSR, DDIR |", "CiaoSR, DDIR (pretrained; from scratch) |").replace(
        "CiaoSR, DDIR\n", "CiaoSR, DDIR (pretrained; from scratch)\n").splitlines()
    new = write_report(out, _fixture_demo_config(), outcomes).read_text().splitlines()
    assert new[2].startswith("Seed 0; fast (CI) run; machine: ")  # the machine line names this machine
    assert new[:2] + new[3:] == old[:2] + old[3:]
