"""The typed readers and writers of pair.json, aligned/manifest.json + report.csv and the
dataset's manifest.json, against files in today's format and older ones.

tests/fixtures/formats/ holds files written by ddir-kit before these readers existed
(commit e7ef22b unless said otherwise), on the virtual camera (`capture simulate scenes`,
480x320 sensor unless said otherwise):
  pair_ok_radial_pooled.json        `register --radial` of 3 scenes at x2, x3 (--distortion --seed 5)
  pair_ok_homography.json           `register --hr --lr --scale 3 --perspective --radial`, same scenes
  pair_rejected_local_misfit.json   a moving object at x2 (1200x800 sensor, --seed 3): a map, rejected
  pair_rejected_exposure.json       an underexposed x2.5 shot (--seed 3): rejected before any map
  pair_old_before_template_blur.json  `register --hr --lr --scale 2` by the code of b5f226f^, before
                                    template_blur and luminance.photo_encoding
  pair_minimal_no_version.json      what tests/test_crop_validate.py writes: no version, no fit
  aligned_manifest.json, aligned_report.csv   the aligned/ folder of the x2, x2.5, x3 shots above,
                                    plus a scene without an HR photo
  dataset_manifest.json             `crop` of the radial-pooled aligned/ folder (--split test=0.34 --seed 1)
  dataset_manifest_incomplete.json  the manifest `crop` writes first (patches, --train-scales 2)
"""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from ddir_kit.dataset.crop import find_ok_pairs
from ddir_kit.dataset.manifest import DatasetFile, DatasetManifest, SkippedPair
from ddir_kit.dataset.validate import validate_dataset
from ddir_kit.errors import DdirKitError
from ddir_kit.fileio import jsonable
from ddir_kit.registration.aligned_folder import (AlignedManifest, AlignedPair, ReportRow, read_report_csv,
                                                  write_report, write_report_csv)
from ddir_kit.registration.pair_map import PairMap
from ddir_kit.registration.pair_record import (Coarse, LocalShift, PairRecord, PhotoSource, RadialPooled, Residual,
                                               Sources, TemplateBlur)

FORMATS = Path(__file__).parent / "fixtures" / "formats"
TODAY = ["pair_ok_radial_pooled", "pair_ok_homography", "pair_rejected_local_misfit", "pair_rejected_exposure"]


def _json(name: str):
    return json.loads((FORMATS / name).read_text())


@pytest.mark.parametrize("name", TODAY)
def test_todays_pair_json_is_written_back_exactly_as_read(name, tmp_path):
    rec = PairRecord.read(FORMATS / f"{name}.json")
    assert list(rec.to_dict().items()) == list(_json(f"{name}.json").items())  # values and key order
    rec.write(tmp_path / "pair.json")
    assert json.loads((tmp_path / "pair.json").read_text()) == _json(f"{name}.json")


def test_an_ok_pair_with_the_pooled_radial_term():
    rec = PairRecord.read(FORMATS / "pair_ok_radial_pooled.json")
    assert rec.ok and rec.scale == Fraction(2) and rec.reason == ""
    assert rec.scale_measured == pytest.approx(1.99982, abs=1e-5)
    assert rec.hr_crop == (0, 0, 480, 320) and rec.lr_size == (240, 160)
    assert rec.radial_pooled == RadialPooled(-0.005550744521711869, -0.005551806488579115, 3)
    assert rec.pair_map.radial_k1 == rec.radial_pooled.k1 == rec.config_radial_k1
    assert rec.own_fit_k1 == rec.radial_pooled.own_fit_k1
    assert rec.pair_map.lr_to_hr.shape == (2, 3) and rec.pair_map.lr_to_hr_h is None
    assert rec.residual.median_abs == 0.90739 and rec.residual.zncc_best90 == 0.9993 and rec.residual.passes == 1
    assert rec.coarse == Coarse("nominal", 0.9551, 0)
    assert rec.template_blur.estimated and rec.template_blur.sigma_lr_px == 0.1849
    assert len(rec.template_blur.candidates_lr_px) == len(rec.template_blur.mean_abs) == 9
    assert rec.local_shift.tiles == [2, 3] and rec.local_shift.judged == 6 and rec.local_shift.bad_tiles == 0
    assert rec.local_shift.shift_max_px == pytest.approx(0.0654, abs=1e-4)
    assert rec.photo_encoding == "srgb" and rec.total_seconds == 1.899
    assert rec.sources.hr.sha256.startswith("1a028df3005a") and rec.sources.lr.file == "cap_d/scene_0001/lr_x2.png"
    assert set(rec.outputs) == {"hr.png", "lr.png"}
    assert (rec.hr_bit_depth, rec.lr_bit_depth, rec.hr_photo_size) == (8, 8, (480, 320))
    assert rec.extra == {}


def test_a_homography_map_is_read_as_a_pair_map():
    rec = PairRecord.read(FORMATS / "pair_ok_homography.json")
    d = _json("pair_ok_homography.json")
    assert rec.pair_map.lr_to_hr_h.shape == (3, 3)
    pts = np.array([[10.0, 20.0], [200.0, 100.0]])
    assert np.allclose(rec.pair_map.hr_to_lr(pts), PairMap.from_dict(d).hr_to_lr(pts))
    assert rec.radial_pooled is None and rec.own_fit_k1 == d["radial"]["k1"]


def test_rejected_pairs_with_and_without_a_map():
    misfit = PairRecord.read(FORMATS / "pair_rejected_local_misfit.json")
    assert not misfit.ok and misfit.reason.startswith("local misfit")
    assert misfit.pair_map is not None and misfit.residual.passes == 2
    assert misfit.local_shift.tiles == [6, 9] and misfit.local_shift.bad_tiles == 6
    assert misfit.total_seconds is None  # rejected before the end
    exposure = PairRecord.read(FORMATS / "pair_rejected_exposure.json")
    assert exposure.status == "rejected" and "underexposed" in exposure.reason and exposure.scale == Fraction(5, 2)
    assert exposure.pair_map is None and exposure.scale_measured is None and exposure.hr_crop is None
    assert exposure.residual is exposure.coarse is exposure.template_blur is exposure.local_shift is None
    assert exposure.luminance == {} and exposure.timing_s == {} and exposure.outputs == {}
    assert exposure.photo_encoding is None and exposure.own_fit_k1 is None
    assert exposure.sources.lr.sha256.startswith("1f810b3ef22b")


def test_a_pair_json_from_before_the_template_blur_is_upgraded(tmp_path):
    old = _json("pair_old_before_template_blur.json")
    assert "template_blur" not in old and "photo_encoding" not in old["luminance"]
    rec = PairRecord.read(FORMATS / "pair_old_before_template_blur.json")
    # that code registered the values as they are, against the plain area downscale
    assert rec.template_blur == TemplateBlur(0.0, False) and rec.photo_encoding == "linear"
    assert rec.ok and rec.scale == 2 and rec.hr_crop == (0, 0, 480, 320) and rec.radial_pooled is None
    assert rec.config == old["config"]  # as written, so that a rerun sees other settings
    rec.write(tmp_path / "pair.json")
    again = json.loads((tmp_path / "pair.json").read_text())
    assert again["template_blur"] == {"sigma_lr_px": 0.0, "estimated": False}
    assert again["luminance"]["photo_encoding"] == "linear" and again["version"] == 1
    assert {k: v for k, v in again.items() if k not in ("template_blur", "luminance")} == \
        {k: v for k, v in old.items() if k != "luminance"}


def test_a_pair_json_without_version_or_fit_reads_and_a_newer_one_is_refused(tmp_path):
    rec = PairRecord.read(FORMATS / "pair_minimal_no_version.json")
    assert rec.ok and rec.scale == Fraction(5, 2) and rec.pair_map is None and rec.template_blur is None
    assert rec.sources == Sources() and rec.config == {} and rec.to_dict()["version"] == 1
    path = tmp_path / "pair.json"
    path.write_text(json.dumps({**_json("pair_ok_radial_pooled.json"), "version": 2}))
    with pytest.raises(DdirKitError, match="version 2 is newer") as e:
        PairRecord.read(path)
    assert e.value.path == path
    path.write_text(json.dumps({"scale": 2}))
    with pytest.raises(DdirKitError, match="without a status"):
        PairRecord.read(path)
    path.write_text("[1, 2]")
    with pytest.raises(DdirKitError, match="not a pair record"):
        PairRecord.read(path)


def test_a_pair_record_round_trips_every_field(tmp_path):
    pmap = PairMap(np.array([[2.5, 0.001, -3.0], [-0.002, 2.5, 4.0]]), -0.01, (99.5, 59.5), 116.0)
    rec = PairRecord(
        scale=Fraction(5, 2), status="ok", reason="trimmed border tiles with local misfit", scale_measured=2.5001,
        pair_map=pmap, hr_crop=(5, 0, 400, 250), lr_size=(160, 100), luminance={"gain": 1.01, "photo_encoding": "srgb"},
        residual=Residual(0.8, 1.1, 0.99, 0.995, 0.9, 2, [4, 3], True, "green channel, 0..255"),
        local_shift=LocalShift(64, [1, 2], 2, [[0, 1]], 0.1, 0.4, 0.5, 0.6, [[[0.1, 0.0], None]], [[0.9, None]],
                               [[0.01, None]]),
        coarse=Coarse("features", 0.8, 120), template_blur=TemplateBlur(0.4, False),
        timing_s={"prepare": 0.01, "total": 1.5}, outputs={"hr.png": "a" * 64, "lr.png": "b" * 64},
        hr_bit_depth=16, lr_bit_depth=16, hr_photo_size=(410, 260), lr_photo_size=(200, 120),
        sources=Sources(PhotoSource("c/hr.png", "c" * 64), PhotoSource("c/lr_x2dot5.png", "d" * 64)),
        config={"radial": True, "radial_k1": -0.01}, radial_pooled=RadialPooled(-0.01, -0.012, 4),
        extra={"note": "kept"})
    rec.write(tmp_path / "pair.json")
    back = PairRecord.read(tmp_path / "pair.json")
    assert back.to_dict() == jsonable(rec.to_dict())
    assert np.array_equal(back.pair_map.lr_to_hr, pmap.lr_to_hr) and back.pair_map.radial_k1 == -0.01
    for name in ("scale", "status", "reason", "hr_crop", "lr_size", "residual", "local_shift", "coarse",
                 "template_blur", "timing_s", "outputs", "hr_photo_size", "sources", "config", "radial_pooled", "extra"):
        assert getattr(back, name) == getattr(rec, name), name


def test_crop_finds_the_ok_pairs_of_any_pair_json_version(tmp_path):
    for scene, name in (("a", "pair_ok_radial_pooled"), ("b", "pair_old_before_template_blur"),
                        ("c", "pair_minimal_no_version"), ("d", "pair_rejected_local_misfit"),
                        ("e", "pair_rejected_exposure")):
        d = tmp_path / scene / "x2"
        d.mkdir(parents=True)
        shutil.copy(FORMATS / f"{name}.json", d / "pair.json")
        (d / "hr.png").write_bytes(b"")
        (d / "lr.png").write_bytes(b"")
    ok, skipped = find_ok_pairs(tmp_path)
    assert [(scene, s) for scene, s, _ in ok] == [("a", 2), ("b", 2), ("c", Fraction(5, 2))]
    assert [r for r, _ in skipped] == ["d/x2", "e/x2"] and skipped[1][1].startswith("status rejected: LR photo under")


def test_the_aligned_manifest_and_report_of_today_read_and_write_back_exactly(tmp_path):
    man = AlignedManifest.read(FORMATS / "aligned_manifest.json")
    assert [(p.folder, p.scale, p.status) for p in man.pairs] == [
        ("scene_0001/x2", 2.0, "ok"), ("scene_0001/x2dot5", 2.5, "rejected"), ("scene_0001/x3", 3.0, "ok")]
    assert man.pairs[1].outputs == {} and man.pairs[1].reason.startswith("LR photo underexposed")
    assert man.pairs[0].sources.hr.sha256.startswith("afb08b97") and set(man.pairs[0].outputs) == {"hr.png", "lr.png"}
    man.write(tmp_path / "manifest.json")
    assert (tmp_path / "manifest.json").read_text() == (FORMATS / "aligned_manifest.json").read_text()

    rows = read_report_csv(FORMATS / "aligned_report.csv")
    assert [(r.scene, r.scale, r.status) for r in rows] == [
        ("scene_0001", 2.0, "ok"), ("scene_0001", 2.5, "rejected"), ("scene_0001", 3.0, "ok"),
        ("scene_nohr", None, "failed")]
    first = rows[0]
    assert first.hr_crop == (0, 0, 480, 320) and first.lr_size == (240, 160) and first.scale_measured == 2.00005
    assert first.local_bad_tiles == [[0, 0, 0], [0, 0, 0]] and first.coarse_method == "nominal"
    assert first.seconds == 0.427 and rows[1].hr_crop is None and rows[3].reason == "no hr photo"
    write_report_csv(tmp_path / "report.csv", rows)
    assert (tmp_path / "report.csv").read_bytes() == (FORMATS / "aligned_report.csv").read_bytes()
    with pytest.raises(DdirKitError, match="not an aligned/ manifest"):
        AlignedManifest.read(FORMATS / "dataset_manifest.json")


def test_write_report_rebuilds_both_files_from_the_pair_records(tmp_path):
    for folder, name in (("s1/x2", "pair_ok_radial_pooled"), ("s1/x2dot5", "pair_rejected_exposure"),
                         ("s2/x2", "pair_old_before_template_blur")):
        (tmp_path / folder).mkdir(parents=True)
        shutil.copy(FORMATS / f"{name}.json", tmp_path / folder / "pair.json")
    write_report(tmp_path, extra_rows=[ReportRow("s3", status="failed", reason="no hr photo")])
    rows = read_report_csv(tmp_path / "report.csv")
    assert [(r.scene, r.scale, r.status) for r in rows] == [("s1", 2.0, "ok"), ("s1", 2.5, "rejected"),
                                                          ("s2", 2.0, "ok"), ("s3", None, "failed")]
    assert rows[0].residual_median_abs == 0.90739 and rows[0].seconds == 1.899 and rows[2].zncc == 0.99923
    man = AlignedManifest.read(tmp_path / "manifest.json")
    assert [p.folder for p in man.pairs] == ["s1/x2", "s1/x2dot5", "s2/x2"]


def test_aligned_records_round_trip(tmp_path):
    pairs = [AlignedPair("s", "s/x2", 2.0, "ok", "", Sources(PhotoSource("h", "1" * 64)), {"hr.png": "2" * 64}),
             AlignedPair("s", "s/x3", 3.0, "rejected", "why")]
    AlignedManifest(pairs).write(tmp_path / "manifest.json")
    assert AlignedManifest.read(tmp_path / "manifest.json").pairs == pairs
    rows = [ReportRow("s", 2.0, "ok", "", 2.001, (0, 0, 10, 10), (5, 5), 0.5, 0.99, [[0, 1]], 0.2, "features", 1.5),
            ReportRow("s", 3.0, "failed", "a, quoted \"reason\"", seconds=0.1), ReportRow("t")]
    write_report_csv(tmp_path / "report.csv", rows)
    assert read_report_csv(tmp_path / "report.csv") == rows


def test_the_dataset_manifest_of_today_reads_and_writes_back_exactly(tmp_path):
    man = DatasetManifest.read(FORMATS / "dataset_manifest.json")
    assert man.complete and man.splits == {"Train": ["scene_0001", "scene_0003"], "Test": ["scene_0002"]}
    assert man.settings == {"test_fraction": 0.34, "seed": 1, "patch_hr": None, "step_hr": None, "train_scales": None}
    assert len(man.files) == 6 and man.skipped == []
    last = man.files[-1]
    assert (last.split, last.scale, last.tag, last.scene, last.source) == ("Train", 3, "3", "scene_0003", "scene_0003/x3")
    assert last.hr == "Train/HR3/scene_0003.png" and last.hr_size == (480, 318) and last.lr_size == (160, 106)
    assert last.hr_box_in_pair == (0, 0, 480, 318) and last.lr_sha256.startswith("96a5a49a")
    assert man.scenes_by_split() == {"scene_0001": {"Train"}, "scene_0002": {"Test"}, "scene_0003": {"Train"}}
    man.write(tmp_path / "manifest.json")
    assert (tmp_path / "manifest.json").read_text() == (FORMATS / "dataset_manifest.json").read_text()

    first = DatasetManifest.read(FORMATS / "dataset_manifest_incomplete.json")
    assert not first.complete and first.splits is None and first.files == [] and first.split_scenes("Train") == []
    assert first.settings["train_scales"] == [2.0] and first.settings["patch_hr"] == 96
    first.write(tmp_path / "incomplete.json")
    assert (tmp_path / "incomplete.json").read_text() == (FORMATS / "dataset_manifest_incomplete.json").read_text()


def test_validate_reads_todays_dataset_manifest(tmp_path):
    (tmp_path / "Train").mkdir()
    shutil.copy(FORMATS / "dataset_manifest.json", tmp_path / "manifest.json")
    rep = validate_dataset(tmp_path)
    missing = sorted(f.path for f in rep.errors if f.kind == "missing")
    assert len(missing) == 12 and missing[0].endswith("Test/HR2/scene_0002.png")
    shutil.copy(FORMATS / "aligned_manifest.json", tmp_path / "manifest.json")
    assert [f.message for f in validate_dataset(tmp_path).errors if f.kind == "manifest"] == [
        "not a ddir-kit dataset manifest (format 'ddir-kit/aligned@1', expected ddir-kit/dataset@1)"]


def test_a_dataset_manifest_round_trips(tmp_path):
    files = [DatasetFile("Test", Fraction(7, 3), "2dot33", "s", "s_000_001.png", "s/x2dot33", (7, 0, 70, 70),
                         "Test/HR2dot33/s_000_001.png", "Test/LR2dot33/s_000_001.png", (70, 70), (30, 30), "e" * 64,
                         "f" * 64)]
    man = DatasetManifest(True, {"seed": 3}, {"Train": ["t"], "Test": ["s"]}, files, [SkippedPair("u/x2", "why")])
    man.write(tmp_path / "manifest.json")
    assert DatasetManifest.read(tmp_path / "manifest.json") == man


def test_jsonable_gives_what_json_reads_back():
    assert jsonable({"t": (1, 2), "p": Path("a/b"), "n": np.float32(1.5), "a": np.arange(2),
                     "d": Sources(PhotoSource("x", "y"))}) == \
        {"t": [1, 2], "p": "a/b", "n": 1.5, "a": [0, 1], "d": {"hr": {"file": "x", "sha256": "y"}, "lr": None}}


def test_inspect_draws_a_pair_json_from_before_the_template_blur(tmp_path):
    from ddir_kit.photo.photo_io import write_png
    from ddir_kit.registration.inspect_figure import inspect_pair

    rng = np.random.default_rng(0)
    write_png(tmp_path / "hr.png", rng.random((320, 480, 3), np.float32), 8)
    write_png(tmp_path / "lr.png", rng.random((160, 240, 3), np.float32), 8)
    shutil.copy(FORMATS / "pair_old_before_template_blur.json", tmp_path / "pair.json")
    assert inspect_pair(tmp_path).stat().st_size > 10_000
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(FORMATS / "pair_rejected_exposure.json", bare / "pair.json")
    with pytest.raises(DdirKitError, match="no images to show \\(status rejected: LR photo underexposed"):
        inspect_pair(bare)
