"""Acceptance of capture ingest on a card shot by the virtual camera (write_camera_card):
several scenes under shuffled file names, one scene missing a scale, one duplicate, one
corrupt file and one unrelated text file; the scenes, their scales and the report must be
exactly right."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import piexif
from click.testing import CliRunner

from ddir_kit.capture.capture_layout import list_scene_dirs, read_scene_json
from ddir_kit.photo.photo_io import read_photo
from ddir_kit.virtual_camera.simulate_scenes import write_camera_card
from ddir_kit.cli import cli

SCALES = (1.5, 2.0, 3.0)
LR_FILES = {1.5: "lr_x1dot5.png", 2.0: "lr_x2.png", 3.0: "lr_x3.png"}


def retag_jpeg(src: Path, dst: Path, focal_mm: float, later_s: float) -> None:
    """A second JPEG of the same view with another focal length and a later time (a bracket)."""
    exif = piexif.load(str(src))
    exif["Exif"][piexif.ExifIFD.FocalLength] = (int(round(focal_mm * 100)), 100)
    t = datetime.strptime(exif["Exif"][piexif.ExifIFD.DateTimeOriginal].decode(), "%Y:%m:%d %H:%M:%S")
    exif["Exif"][piexif.ExifIFD.DateTimeOriginal] = (t + timedelta(seconds=later_s)).strftime("%Y:%m:%d %H:%M:%S").encode()
    out = io.BytesIO()
    piexif.insert(piexif.dump(exif), src.read_bytes(), out)
    dst.write_bytes(out.getvalue())


def build_card(card: Path, calibration: Path):
    """Four scenes shot RAW + JPEG, then edited like a real card; returns what ingest must find."""
    shot = write_camera_card(card, 4, scales=SCALES, formats=("jpg", "dng"), sensor=(240, 160), seed=3)
    scenes = shot.truth.scenes
    focals = {e.scale: e.focal_mm for e in scenes[0].shots if e.role == "lr"}
    calibration.write_text(json.dumps({"reference_focal_mm": scenes[0].shots[0].focal_mm,
                                       "targets": [{"scale": s, "focal_mm": f} for s, f in focals.items()]}))
    # shuffle the numbers (RAW and JPEG of one shot keep a common stem)
    stems = sorted({Path(f).stem for s in scenes for e in s.shots for f in e.files})
    new = dict(zip(stems, (f"IMG_{n}" for n in np.random.default_rng(11).permutation(9000)[:len(stems)] + 1000)))
    for p in list(card.iterdir()):
        p.rename(card / f"{new[p.stem]}{p.suffix}")

    def files(k: int, role, scale=None) -> list[str]:
        (entry,) = [e for e in scenes[k].shots if e.role == role and e.scale == scale]
        return [f"{new[Path(f).stem]}{Path(f).suffix}" for f in entry.files]

    expected = {f"scene_{k + 1:04d}": {"hr": files(k, "hr")[1], **{s: files(k, "lr", s)[1] for s in SCALES}}
                for k in range(4)}
    jpeg_twins = {f: files(k, r, s)[0] for k in range(4) for r, s in [("hr", None)] + [("lr", s) for s in SCALES]
                  for f in [files(k, r, s)[1]]}
    # scene 3 lost its x2 shot
    for f in files(2, "lr", 2.0):
        (card / f).unlink()
    del expected["scene_0003"][2.0]
    # scene 2: a second x3 shot, 0.4 mm further from the calibrated focal length
    duplicate = "IMG_0999.JPG"
    retag_jpeg(card / files(1, "lr", 3.0)[0], card / duplicate, focals[3.0] + 0.4, later_s=2)
    # scene 4: the x1.5 RAW is truncated, so its JPEG twin stands in
    corrupt = card / files(3, "lr", 1.5)[1]
    corrupt.write_bytes(corrupt.read_bytes()[: corrupt.stat().st_size // 2])
    expected["scene_0004"][1.5] = files(3, "lr", 1.5)[0]
    (card / "shot-list.txt").write_text("bridge, market, harbour, tower\n")
    raw_preferred = {jpeg_twins[f] for s in expected.values() for f in s.values() if f in jpeg_twins}
    return expected, duplicate, corrupt.name, raw_preferred


def test_virtual_card_gives_exactly_the_right_scenes_scales_and_report(tmp_path):
    card, out, calib = tmp_path / "card", tmp_path / "captures", tmp_path / "calibration.json"
    expected, duplicate, corrupt, raw_preferred = build_card(card, calib)
    result = CliRunner().invoke(cli, ["capture", "ingest", str(card), "--calibration", str(calib), "--out", str(out)])
    assert result.exit_code == 0, result.output

    found = {}
    for d in list_scene_dirs(out):
        rec = read_scene_json(d)
        found[rec.scene] = {"hr": rec.hr.source, **{s.scale: s.source for s in rec.lr}}
        assert sorted(p.name for p in d.iterdir()) == sorted(
            ["hr.png", "scene.json", "manifest.json"] + [LR_FILES[s.scale] for s in rec.lr])
        for s in [rec.hr, *rec.lr]:
            photo = read_photo(d / s.file)
            assert photo.size == (240, 160) == tuple(s.size_px)
            assert photo.bit_depth == s.bit_depth == (16 if s.source.endswith(".DNG") else 8)
    assert found == expected

    with open(out / "ingest_report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    problems = sorted((r["kind"], r["scene"], r["scale"], r["file"]) for r in rows
                      if r["kind"] not in ("used", "raw_preferred"))
    assert problems == sorted([
        ("duplicate", "scene_0002", "3", duplicate),
        ("missing_scale", "scene_0003", "2", ""),
        ("not_a_photo", "", "", "shot-list.txt"),
        ("unreadable", "scene_0004", "1.5", corrupt),
    ])
    used = Counter(r["scene"] for r in rows if r["kind"] == "used")
    assert used == {"scene_0001": 4, "scene_0002": 4, "scene_0003": 3, "scene_0004": 4}
    assert {r["file"] for r in rows if r["kind"] == "raw_preferred"} == raw_preferred
    # every file of the card is accounted for
    assert {r["file"] for r in rows if r["file"]} == {p.name for p in card.iterdir()}
