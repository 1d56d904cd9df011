"""Acceptance of capture ingest on a card shot by the virtual camera: several scenes under
shuffled file names, one scene missing a scale, one duplicate, one corrupt file and one
unrelated text file; the scenes, their scales and the report must be exactly right."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import datetime, timedelta

import numpy as np
from click.testing import CliRunner

from ddir_kit.capture.capture_layout import list_scene_dirs, read_scene_json
from ddir_kit.capture.lens_model import ZoomLens, true_focal_for_scale
from ddir_kit.capture.photo_io import read_photo
from ddir_kit.capture.scenes import load_texture, packaged_textures
from ddir_kit.capture.virtual_camera import CameraBody, ShotSettings, save_shot, shoot
from ddir_kit.cli import cli

REF_MM = 105.0
SCALES = (1.5, 2.0, 3.0)


def build_virtual_card(card, calibration_path):
    """Four scenes; returns {scene: {'hr': file, scale: file}} expected after ingest and the
    names of the special files."""
    lens, body = ZoomLens(), CameraBody(width_px=240, height_px=160, bayer=True)
    focals = {s: round(float(true_focal_for_scale(lens, s, REF_MM)), 2) for s in SCALES}
    calibration_path.write_text(json.dumps({"reference_focal_mm": REF_MM,
                                            "targets": [{"scale": s, "focal_mm": f} for s, f in focals.items()]}))
    # (scene, focal, format): scene 1 shot RAW + JPEG, scene 2 has a second x3 shot 0.4 mm
    # further from the calibrated focal length, scene 3 lacks x2
    shots = []
    for k in range(4):
        fmts = ("dng", "jpg") if k == 0 else ("jpg",)
        shots.append((k, REF_MM, fmts, "hr"))
        for s in SCALES:
            if k == 2 and s == 2.0:
                continue
            shots.append((k, focals[s], fmts, s))
            if k == 1 and s == 3.0:
                shots.append((k, focals[s] + 0.4, fmts, "dup"))
    rng = np.random.default_rng(7)
    numbers = rng.permutation(np.arange(1000, 1000 + len(shots)))  # shuffled: names do not follow time
    textures = packaged_textures()
    t = datetime(2024, 6, 1, 13, 0, 0)
    expected: dict[str, dict] = {}
    duplicate = None
    last_scene = -1
    for (k, focal, fmts, role), number in zip(shots, numbers):
        if k != last_scene:
            t += timedelta(minutes=6)
            last_scene = k
        t += timedelta(seconds=7)
        settings = ShotSettings.random(np.random.default_rng([k, int(number)]), lens, body, focal, t)
        shot = shoot(lens, body, settings, load_texture(textures[k % len(textures)], 1800.0), 4000.0)
        for fmt in fmts:
            save_shot(card / f"IMG_{number}.{fmt.upper()}", shot)
        name = f"IMG_{number}.{fmts[0].upper()}"
        scene = f"scene_{k + 1:04d}"
        if role == "dup":
            duplicate = name
        else:
            expected.setdefault(scene, {})[role] = name
    corrupt = card / "IMG_0999.CR2"
    corrupt.write_bytes(np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    (card / "shot-list.txt").write_text("bridge, market, harbour, tower\n")
    return expected, duplicate, corrupt.name


def test_virtual_card_gives_exactly_the_right_scenes_scales_and_report(tmp_path):
    card, out, calib = tmp_path / "card", tmp_path / "captures", tmp_path / "calibration.json"
    card.mkdir()
    expected, duplicate, corrupt = build_virtual_card(card, calib)
    result = CliRunner().invoke(cli, ["capture", "ingest", str(card), "--calibration", str(calib), "--out", str(out)])
    assert result.exit_code == 0, result.output

    found = {}
    for d in list_scene_dirs(out):
        rec = read_scene_json(d)
        found[rec.scene] = {"hr": rec.hr.source, **{s.scale: s.source for s in rec.lr}}
        names = {1.5: "lr_x1dot5.png", 2.0: "lr_x2.png", 3.0: "lr_x3.png"}
        assert sorted(p.name for p in d.iterdir()) == sorted(
            ["hr.png", "scene.json", "manifest.json"] + [names[s.scale] for s in rec.lr])
        hr = read_photo(d / "hr.png")
        assert hr.size == (240, 160)
        assert hr.bit_depth == (16 if rec.hr.source.endswith(".DNG") else 8)
    assert found == expected

    with open(out / "ingest_report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    problems = sorted((r["kind"], r["scene"], r["scale"], r["file"]) for r in rows
                      if r["kind"] not in ("used", "raw_preferred"))
    assert problems == sorted([
        ("duplicate", "scene_0002", "3", duplicate),
        ("missing_scale", "scene_0003", "2", ""),
        ("not_a_photo", "", "", "shot-list.txt"),
        ("unreadable", "", "", corrupt),
    ])
    used = Counter(r["scene"] for r in rows if r["kind"] == "used")
    assert used == {"scene_0001": 4, "scene_0002": 4, "scene_0003": 3, "scene_0004": 4}
    # the JPEG twin of each RAW shot of scene 1 is reported as not used
    raw_preferred = {r["file"] for r in rows if r["kind"] == "raw_preferred"}
    assert raw_preferred == {f.replace(".DNG", ".JPG") for f in expected["scene_0001"].values()}
    # every file of the card is accounted for
    assert {r["file"] for r in rows if r["file"]} == {p.name for p in card.iterdir()}
