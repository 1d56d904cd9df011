"""Capture ingest on camera-card folders built here with the foundation writers (JPEG with
EXIF, real DNG): grouping, focal tolerance, RAW over JPEG, one white balance per scene,
duplicates, missing scales, bad files, resumability, shards and a killed run."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from ddir_kit.capture.capture_layout import list_scene_dirs, read_scene_json
from ddir_kit.photo.dng import mosaic_rggb, write_dng
from ddir_kit.photo.exif import PhotoExif
from ddir_kit.calibration.calibration_file import read_calibration
from ddir_kit.capture.ingest import ingest_card, shard_items
from ddir_kit.quantities import parse_shard
from ddir_kit.photo.photo_io import read_photo, write_jpeg
from ddir_kit.cli import cli
from ddir_kit.errors import DdirKitError

REF_MM = 105.0
TARGETS = {1.5: 70.2, 2.0: 52.3, 3.0: 35.4}
T0 = datetime(2026, 5, 1, 14, 0, 0)


def write_calibration(path: Path, targets=TARGETS) -> Path:
    path.write_text(json.dumps({"reference_focal_mm": REF_MM,
                                "targets": [{"scale": s, "focal_mm": f} for s, f in targets.items()]}))
    return path


def shoot(card: Path, name: str, focal_mm: float, t_s: float, fmt: str = "jpg", seed: int = 0,
          size=(48, 64), wb=(1.0, 1.0, 1.0), **exif_kw) -> Path:
    """One photo on the card: a random image, EXIF focal length and capture time T0 + t_s."""
    rgb = np.random.default_rng(seed).random((*size, 3)).astype(np.float32)
    exif = PhotoExif(**{**dict(focal_mm=focal_mm, exposure_s=1 / 125, f_number=8.0, iso=100.0,
                               capture_time=T0 + timedelta(seconds=t_s), camera_model="Virtual 5D",
                               lens_model="Zoom 24-105mm"), **exif_kw})
    path = card / f"{name}.{fmt}"
    if fmt.lower() == "dng":
        return write_dng(path, mosaic_rggb(rgb), exif=exif, white_balance=wb)
    return write_jpeg(path, rgb, exif=exif)


def shoot_scene(card: Path, prefix: str, t0_s: float, scales=(1.5, 2.0, 3.0), fmt="jpg", seed=0):
    shoot(card, f"{prefix}_hr", REF_MM, t0_s, fmt, seed)
    for k, s in enumerate(scales):
        shoot(card, f"{prefix}_x{s:g}", TARGETS[s], t0_s + 5 * (k + 1), fmt, seed + k + 1)


def sources(out: Path) -> dict[str, dict]:
    """scene -> {'hr': source file, 1.5: source file, ...} as written in scene.json."""
    result = {}
    for d in list_scene_dirs(out):
        rec = read_scene_json(d)
        result[rec.scene] = {"hr": rec.hr.source, **{s.scale: s.source for s in rec.lr}}
    return result


def report_rows(out: Path, kind: str | None = None) -> list[dict]:
    with open(out / "ingest_report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r for r in rows if kind is None or r["kind"] == kind]


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_scenes_follow_capture_time_not_file_names(tmp_path):
    card, out = tmp_path / "card", tmp_path / "out"
    # names sort against the capture order; the second scene starts with an HR shot
    shoot(card, "zz_first_hr", REF_MM, 0)
    shoot(card, "aa_first_x2", TARGETS[2.0], 5)
    shoot(card, "mm_first_x3", TARGETS[3.0], 10)
    shoot(card, "bb_second_hr", REF_MM, 40)
    shoot(card, "yy_second_x1dot5", TARGETS[1.5], 45)
    report = ingest_card(card, write_calibration(tmp_path / "c.json"), out)
    assert sources(out) == {
        "scene_0001": {"hr": "zz_first_hr.jpg", 2.0: "aa_first_x2.jpg", 3.0: "mm_first_x3.jpg"},
        "scene_0002": {"hr": "bb_second_hr.jpg", 1.5: "yy_second_x1dot5.jpg"},
    }
    assert {(o.scene, o.missing) for o in report.scenes} == {("scene_0001", (1.5,)), ("scene_0002", (2.0, 3.0))}
    assert {(r["scene"], r["scale"]) for r in report_rows(out, "missing_scale")} == {
        ("scene_0001", "1.5"), ("scene_0002", "2"), ("scene_0002", "3")}
    assert sorted(p.name for p in (out / "scene_0001").iterdir()) == [
        "hr.png", "lr_x2.png", "lr_x3.png", "manifest.json", "scene.json"]


def test_time_gap_ends_a_scene_and_orphan_lr_shots_are_reported(tmp_path):
    card, out = tmp_path / "card", tmp_path / "out"
    shoot(card, "a_hr", REF_MM, 0)
    shoot(card, "b_x2", TARGETS[2.0], 5)
    shoot(card, "c_x3_late", TARGETS[3.0], 5 + 300)  # after a 300 s pause: not this scene
    calib = write_calibration(tmp_path / "c.json")
    ingest_card(card, calib, out, max_gap_s=120)
    assert sources(out) == {"scene_0001": {"hr": "a_hr.jpg", 2.0: "b_x2.jpg"}}
    assert [(r["file"], r["scene"]) for r in report_rows(out, "no_hr")] == [("c_x3_late.jpg", "")]
    # a longer gap option keeps it in the scene
    ingest_card(card, calib, tmp_path / "out2", max_gap_s=600)
    assert sources(tmp_path / "out2")["scene_0001"][3.0] == "c_x3_late.jpg"


def test_focal_tolerance_assigns_nearest_scale_and_reports_unmatched(tmp_path):
    card, out = tmp_path / "card", tmp_path / "out"
    shoot(card, "a_hr", REF_MM - 0.7, 0)                 # HR within 0.75 mm of 105
    shoot(card, "b_x2", TARGETS[2.0] + 0.74, 5)          # inside the default tolerance
    shoot(card, "c_x3", TARGETS[3.0] - 0.76, 10)         # just outside
    shoot(card, "d_44mm", 44.0, 15)                      # between scales
    calib = write_calibration(tmp_path / "c.json")
    ingest_card(card, calib, out)
    assert sources(out) == {"scene_0001": {"hr": "a_hr.jpg", 2.0: "b_x2.jpg"}}
    unmatched = {r["file"]: r for r in report_rows(out, "no_scale_match")}
    assert set(unmatched) == {"c_x3.jpg", "d_44mm.jpg"}
    assert unmatched["c_x3.jpg"]["scene"] == "scene_0001" and unmatched["c_x3.jpg"]["level"] == "warning"
    rec = read_scene_json(out / "scene_0001")
    assert rec.lr_for(2).focal_error_mm == pytest.approx(0.74, abs=1e-3)
    assert rec.lr_for(2).target_focal_mm == TARGETS[2.0]
    # with a wider tolerance the 35.4 - 0.76 mm shot is x3
    ingest_card(card, calib, tmp_path / "wide", tolerance_mm=1.0)
    assert sources(tmp_path / "wide")["scene_0001"][3.0] == "c_x3.jpg"


def test_raw_wins_over_jpeg_of_the_same_shot_and_is_written_16_bit(tmp_path):
    card, out = tmp_path / "card", tmp_path / "out"
    shoot(card, "IMG_0001", REF_MM, 0, "dng", seed=1)
    shoot(card, "IMG_0001", REF_MM, 0, "JPG", seed=1)      # same stem
    shoot(card, "IMG_0002", TARGETS[2.0], 5, "dng", seed=2)
    shoot(card, "OTHER_7", TARGETS[2.0], 5, "jpg", seed=2)   # same capture time, other name
    shoot(card, "IMG_0003", TARGETS[3.0], 10, "jpg", seed=3)  # JPEG only
    ingest_card(card, write_calibration(tmp_path / "c.json"), out)
    assert sources(out) == {"scene_0001": {"hr": "IMG_0001.dng", 2.0: "IMG_0002.dng", 3.0: "IMG_0003.jpg"}}
    assert {r["file"] for r in report_rows(out, "raw_preferred")} == {"IMG_0001.JPG", "OTHER_7.jpg"}
    assert report_rows(out, "duplicate") == []
    rec = read_scene_json(out / "scene_0001")
    assert (rec.hr.bit_depth, rec.lr_for(2).bit_depth, rec.lr_for(3).bit_depth) == (16, 16, 8)
    assert read_photo(out / "scene_0001" / "hr.png").bit_depth == 16
    assert read_photo(out / "scene_0001" / "lr_x3.png").bit_depth == 8


def test_one_white_balance_from_the_hr_shot_develops_every_raw_of_the_scene(tmp_path):
    card, out = tmp_path / "card", tmp_path / "out"
    hr_wb = (2.0, 1.0, 1.5)
    shoot(card, "a_hr", REF_MM, 0, "dng", seed=1, wb=hr_wb)
    shoot(card, "b_x2", TARGETS[2.0], 5, "dng", seed=1, wb=(1.0, 1.0, 1.0))  # its own as-shot WB differs
    ingest_card(card, write_calibration(tmp_path / "c.json"), out)
    rec = read_scene_json(out / "scene_0001")
    expected = pytest.approx([2.0, 1.0, 1.5, 1.0], rel=1e-3)
    assert rec.development["white_balance"] == expected
    assert rec.hr.development["white_balance"] == expected
    assert rec.lr_for(2).development["white_balance"] == expected
    # same mosaic, same development -> the LR file equals the HR file pixel for pixel
    hr = read_photo(out / "scene_0001" / "hr.png").rgb
    lr = read_photo(out / "scene_0001" / "lr_x2.png").rgb
    assert np.array_equal(hr, lr)


def test_duplicate_keeps_the_shot_nearest_the_calibrated_focal_and_says_so(tmp_path):
    card, out = tmp_path / "card", tmp_path / "out"
    shoot(card, "a_hr", REF_MM, 0)
    shoot(card, "b_x2_far", TARGETS[2.0] + 0.5, 5)
    shoot(card, "c_x2_near", TARGETS[2.0] - 0.1, 10)
    ingest_card(card, write_calibration(tmp_path / "c.json"), out)
    assert sources(out)["scene_0001"][2.0] == "c_x2_near.jpg"
    (dup,) = report_rows(out, "duplicate")
    assert dup["file"] == "b_x2_far.jpg" and dup["scale"] == "2" and dup["level"] == "warning"
    assert "kept c_x2_near.jpg" in dup["message"]


def test_unreadable_files_are_reported_and_a_duplicate_takes_over(tmp_path):
    card, out = tmp_path / "card", tmp_path / "out"
    shoot(card, "a_hr", REF_MM, 0)
    best = shoot(card, "b_x2_best", TARGETS[2.0], 5)
    shoot(card, "c_x2_spare", TARGETS[2.0] + 0.3, 10)
    broken = shoot(card, "d_x3_broken", TARGETS[3.0], 15)
    best.write_bytes(best.read_bytes()[:-600])      # truncated: EXIF intact, pixels not
    broken.write_bytes(broken.read_bytes()[:-600])
    (card / "garbage.JPG").write_bytes(b"\x00not a jpeg at all" * 20)
    (card / "notes.txt").write_text("tripod at the bridge")
    (card / "empty.dng").write_bytes(b"")
    ingest_card(card, write_calibration(tmp_path / "c.json"), out)
    assert sources(out) == {"scene_0001": {"hr": "a_hr.jpg", 2.0: "c_x2_spare.jpg"}}
    rows = report_rows(out)
    by_kind = {}
    for r in rows:
        by_kind.setdefault(r["kind"], set()).add(r["file"])
    assert by_kind["unreadable"] == {"b_x2_best.jpg", "d_x3_broken.jpg", "empty.dng"}
    assert by_kind["no_exif"] == {"garbage.JPG"}
    assert by_kind["not_a_photo"] == {"notes.txt"}
    assert {(r["scale"]) for r in rows if r["kind"] == "missing_scale"} == {"1.5", "3"}
    assert "duplicate" not in by_kind  # the spare was used because the best was unreadable
    # every file of the card appears in the report
    assert {r["file"] for r in rows if r["file"]} == {p.name for p in card.iterdir()}


def test_exposure_aperture_iso_changes_inside_a_scene_are_warned(tmp_path):
    card, out = tmp_path / "card", tmp_path / "out"
    shoot(card, "a_hr", REF_MM, 0)
    shoot(card, "b_x2", TARGETS[2.0], 5, exposure_s=1 / 60, iso=200.0)
    shoot(card, "c_x3", TARGETS[3.0], 10, f_number=5.6)
    shoot(card, "d_x1dot5", TARGETS[1.5], 15)
    ingest_card(card, write_calibration(tmp_path / "c.json"), out)
    changed = {r["file"]: r["message"] for r in report_rows(out, "setting_changed")}
    assert set(changed) == {"b_x2.jpg", "c_x3.jpg"}
    assert "exposure 1/125 s -> 1/60 s" in changed["b_x2.jpg"] and "ISO 100 -> 200" in changed["b_x2.jpg"]
    assert "aperture f/8 -> f/5.6" in changed["c_x3.jpg"]


def test_hr_without_lr_shots_writes_no_scene(tmp_path):
    card, out = tmp_path / "card", tmp_path / "out"
    shoot(card, "a_hr_bracket1", REF_MM, 0)
    shoot(card, "b_hr_bracket2", REF_MM, 3)
    shoot(card, "c_x2", TARGETS[2.0], 8)
    ingest_card(card, write_calibration(tmp_path / "c.json"), out)
    assert sources(out) == {"scene_0001": {"hr": "b_hr_bracket2.jpg", 2.0: "c_x2.jpg"}}
    assert [r["file"] for r in report_rows(out, "no_lr")] == ["a_hr_bracket1.jpg"]


def test_rerun_skips_finished_scenes_and_redoes_a_changed_one(tmp_path):
    card, out = tmp_path / "card", tmp_path / "out"
    shoot_scene(card, "s1", 0, seed=10)
    shoot_scene(card, "s2", 100, seed=20)
    calib = write_calibration(tmp_path / "c.json")
    first = ingest_card(card, calib, out)
    assert [o.status for o in first.scenes] == ["written", "written"]
    before = tree_bytes(out)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    again = ingest_card(card, calib, out)
    assert [o.status for o in again.scenes] == ["up_to_date", "up_to_date"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == stamps
    assert tree_bytes(out) == before
    # new pixels in one source (same EXIF): only its scene is written again
    shoot(card, "s2_x2", TARGETS[2.0], 110, seed=99)
    third = ingest_card(card, calib, out)
    assert [o.status for o in third.scenes] == ["up_to_date", "written"]
    # a damaged output is noticed through the manifest checksums
    (out / "scene_0001" / "lr_x3.png").write_bytes(b"damaged")
    assert [o.status for o in ingest_card(card, calib, out).scenes] == ["written", "up_to_date"]
    assert (out / "scene_0001" / "lr_x3.png").read_bytes() == before["scene_0001/lr_x3.png"]


def test_shards_split_the_scenes_and_together_equal_one_parallel_run(tmp_path):
    card = tmp_path / "card"
    for k in range(3):
        shoot_scene(card, f"s{k}", 100 * k, seed=10 * k)
    calib = write_calibration(tmp_path / "c.json")
    whole = ingest_card(card, calib, tmp_path / "whole", jobs=2)
    assert [o.scene for o in whole.scenes] == ["scene_0001", "scene_0002", "scene_0003"]
    one = ingest_card(card, calib, tmp_path / "sharded", shard=(1, 2))
    two = ingest_card(card, calib, tmp_path / "sharded", shard=(2, 2))
    assert [o.scene for o in one.scenes] == ["scene_0001"]
    assert [o.scene for o in two.scenes] == ["scene_0002", "scene_0003"]
    whole_tree, sharded = tree_bytes(tmp_path / "whole"), tree_bytes(tmp_path / "sharded")
    assert {k: v for k, v in sharded.items() if k.startswith("scene_")} == \
        {k: v for k, v in whole_tree.items() if k.startswith("scene_")}
    assert (tmp_path / "sharded" / "ingest_report_shard2of2.csv").is_file()


def test_shard_parsing_and_equal_shares():
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "x", "1/0"):
        with pytest.raises(DdirKitError):
            parse_shard(bad)
    items = list(range(10))
    shares = [shard_items(items, (i, 3)) for i in (1, 2, 3)]
    assert sum(shares, []) == items and {len(s) for s in shares} <= {3, 4}


def test_bad_calibration_is_one_clear_error(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"targets": []}))
    with pytest.raises(DdirKitError, match="reference_focal_mm"):
        read_calibration(tmp_path / "c.json")
    (tmp_path / "card").mkdir()
    result = CliRunner().invoke(cli, ["capture", "ingest", str(tmp_path / "card"), "--calibration",
                                      str(tmp_path / "c.json"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "c.json" in result.output and "Traceback" not in result.output


def test_cli_prints_a_summary_table_and_writes_the_report(tmp_path):
    card = tmp_path / "card"
    shoot_scene(card, "s1", 0, scales=(1.5, 3.0))
    (card / "readme.txt").write_text("x")
    result = CliRunner().invoke(cli, ["capture", "ingest", str(card), "--calibration",
                                      str(write_calibration(tmp_path / "c.json")), "--out", str(tmp_path / "out"),
                                      "--jobs", "1", "--tolerance", "0.5", "--gap", "60"])
    assert result.exit_code == 0, result.output
    assert "scene_0001   written" in result.output
    assert "missing_scale: 1" in result.output and "not_a_photo: 1" in result.output
    assert (tmp_path / "out" / "ingest_report.csv").is_file()


def child_pids(pid: int) -> set[int]:
    """Processes whose parent is pid (Linux /proc)."""
    kids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.add(int(stat.parent.name))
    return kids


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.parametrize("jobs", [1, 2])
def test_killed_ingest_then_rerun_gives_byte_identical_output(tmp_path, jobs):
    card = tmp_path / "card"
    n_scenes = 8
    for k in range(n_scenes):
        shoot_scene(card, f"s{k}", 100 * k, fmt="dng", seed=10 * k)
    for k in range(n_scenes):  # bigger HR shots so that each scene takes a moment
        shoot(card, f"s{k}_hr", REF_MM, 100 * k, "dng", seed=10 * k, size=(480, 640))
    calib = write_calibration(tmp_path / "c.json")
    reference = tmp_path / "reference"
    ingest_card(card, calib, reference)
    ref_tree = tree_bytes(reference)
    assert len(list_scene_dirs(reference)) == n_scenes

    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "ddir_kit.cli", "capture", "ingest", str(card), "--calibration", str(calib),
           "--out", str(out), "--jobs", str(jobs)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    try:
        # kill the main process alone (as an OOM killer would) while the third scene is written
        while time.monotonic() < deadline and proc.poll() is None:
            if out.is_dir() and any(p.name.startswith(".scene_0003") for p in out.iterdir()):
                workers = child_pids(proc.pid)
                break
            time.sleep(0.002)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed half-way"
    # its workers die with it (within a second) instead of finishing scenes behind a rerun's back
    assert len(workers) >= jobs - 1
    gone_by = time.monotonic() + 1.0
    while time.monotonic() < gone_by and any(map(running, workers)):
        time.sleep(0.01)
    assert not any(map(running, workers)), f"workers {workers} outlived the killed ingest"
    done = list_scene_dirs(out)
    assert 0 < len(done) < n_scenes
    # nothing half-written under a final name: every visible file equals the finished run's
    visible = {k: v for k, v in tree_bytes(out).items() if not any(part.startswith(".") for part in k.split("/"))}
    assert visible and all(ref_tree.get(k) == v for k, v in visible.items())
    assert not (out / "ingest_report.csv").exists()

    result = CliRunner().invoke(cli, cmd[3:])
    assert result.exit_code == 0, result.output
    assert result.output.count(": up_to_date,") == len(done)
    assert tree_bytes(out) == ref_tree  # hidden work folders of the killed run are gone too


def test_raw_and_jpeg_pair_even_when_only_the_jpeg_has_sub_seconds(tmp_path):
    card, out = tmp_path / "card", tmp_path / "out"
    shoot(card, "IMG_0001", REF_MM, 0.25, "JPG", seed=1)     # JPEG EXIF keeps 0.25 s
    shoot(card, "IMG_0001", REF_MM, 0.25, "dng", seed=1)     # the DNG header keeps whole seconds
    shoot(card, "IMG_0002", TARGETS[2.0], 5.5, "jpg", seed=2)
    shoot(card, "RAW_0002", TARGETS[2.0], 5.5, "dng", seed=2)
    shoot(card, "IMG_0003", TARGETS[3.0], 9, "jpg", seed=3)   # two RAWs at the same second as
    shoot(card, "RAW_0003a", TARGETS[3.0], 9, "dng", seed=3)  # this JPEG: ambiguous, not paired
    shoot(card, "RAW_0003b", TARGETS[3.0], 9, "dng", seed=4)
    ingest_card(card, write_calibration(tmp_path / "c.json"), out)
    assert sources(out)["scene_0001"]["hr"] == "IMG_0001.dng"
    assert sources(out)["scene_0001"][2.0] == "RAW_0002.dng"
    assert {r["file"] for r in report_rows(out, "raw_preferred")} == {"IMG_0001.JPG", "IMG_0002.jpg"}
    assert {r["file"] for r in report_rows(out, "duplicate")} == {"IMG_0003.jpg", "RAW_0003a.dng",
                                                                  "RAW_0003b.dng"} - {sources(out)["scene_0001"][3.0]}
