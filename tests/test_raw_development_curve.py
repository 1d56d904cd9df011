"""The tone curve RAW files are developed with: sRGB, recorded in every scene.json, and a scene
developed by an earlier release with LibRaw's BT.709 curve developed again by a rerun."""

from __future__ import annotations

from test_ingest import REF_MM, TARGETS, shoot, write_calibration

from ddir_kit.capture.capture_layout import list_scene_dirs, read_scene_json
from ddir_kit.capture.ingest import ingest_card
from ddir_kit.photo.raw_develop import RawDevelopment

SRGB, BT709 = (2.4, 12.92), (2.222, 4.5)


def test_the_default_and_a_record_without_the_field_are_srgb():
    assert RawDevelopment().gamma == SRGB
    assert RawDevelopment.from_dict({}) == RawDevelopment()
    assert RawDevelopment.from_dict({"demosaic": "VNG"}).gamma == SRGB


def test_a_record_of_an_earlier_release_keeps_the_curve_it_was_developed_with():
    old = {"white_balance": [2.0, 1.0, 1.5, 1.0], "demosaic": "AHD", "gamma": list(BT709), "bright": 1.0,
           "output_bps": 16, "no_auto_bright": True, "adjust_maximum_thr": 0.0, "user_flip": 0,
           "output_color": "sRGB", "highlight_mode": "clip"}
    assert RawDevelopment.from_dict(old).gamma == BT709
    assert RawDevelopment.from_dict(RawDevelopment().to_dict()) == RawDevelopment()


def test_a_scene_developed_with_bt709_is_developed_again_with_srgb_on_a_rerun(tmp_path):
    card, out = tmp_path / "card", tmp_path / "captures"
    shoot(card, "a_hr", REF_MM, 0, "dng", seed=1)
    shoot(card, "b_x2", TARGETS[2.0], 5, "dng", seed=2)
    calib = write_calibration(tmp_path / "calibration.json")
    first = ingest_card(card, calib, out, development=RawDevelopment(gamma=BT709))
    assert [o.status for o in first.scenes] == ["written"]
    (scene,) = list_scene_dirs(out)
    assert tuple(read_scene_json(scene).development["gamma"]) == BT709
    again = ingest_card(card, calib, out)
    assert [o.status for o in again.scenes] == ["written"]
    assert tuple(read_scene_json(scene).development["gamma"]) == SRGB
    assert [o.status for o in ingest_card(card, calib, out).scenes] == ["up_to_date"]
