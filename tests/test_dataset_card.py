"""`ddir-kit card`: tiny synthetic datasets whose photometric shift and relative blur are planted
(the card must recover them), the bicubic kernel it states, the residual split, card.json's
schema, and one clear line for each kind of bad dataset."""

from __future__ import annotations

import dataclasses

import json
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from ddir_kit.cli import cli
from ddir_kit.dataset.card import CARD_FORMAT, make_card, read_card
from ddir_kit.dataset.card_measures import (bicubic_resize, fit_gain_offset, measure_pair, residual_energy,
                                            split_sigma_hr_px)
from ddir_kit.dataset.crop import CropSettings, crop_dataset
from ddir_kit.errors import DdirKitError
from ddir_kit.photo.photo_io import write_png
from ddir_kit.registration.local_shift_check import LocalShiftMap
from ddir_kit.registration.pair_record import LocalShift, PairRecord, Residual, TemplateBlur
from ddir_kit.scales import scale_tag

HR_SIZE = (240, 168)  # divisible by 2, 3 and 4
SCENES = ("scene_a", "scene_b", "scene_c")
# planted per scale: HR = gain * LR + offset per channel, and the blur registration "measured"
PLANTED = {Fraction(2): dict(gain=(0.95, 1.0, 1.05), offset=(0.02, -0.01, 0.0), blur=(0.30, 0.34, 0.38)),
           Fraction(3): dict(gain=(1.04, 0.97, 1.0), offset=(-0.015, 0.0, 0.01), blur=(0.50, 0.52, 0.60))}
# the card's fit against a plant made by area-downscaling: the kernels differ a little (< 0.005 here)
GAIN_TOL, OFFSET_TOL = 0.01, 0.005


def _texture(seed: int, size=HR_SIZE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((size[1], size[0], 3)).astype(np.float32)
    img = sum(cv2.GaussianBlur(noise, (0, 0), s) * s for s in (1.0, 3.0, 8.0, 20.0))
    img = (img - img.min()) / (img.max() - img.min())
    return (0.12 + 0.76 * img).astype(np.float32)


def _pair_json(scale: Fraction, status="ok", reason="", blur=0.3, bad_tiles=0) -> dict:
    bad = np.zeros((2, 3), bool)
    bad.flat[:bad_tiles] = True
    local = LocalShiftMap(64, np.full((2, 3, 2), 0.01), np.full((2, 3), 0.99), bad, np.full((2, 3), 0.005))
    rec = PairRecord(scale, status, reason, scale_measured=float(scale) * 1.001,
                     hr_crop=(0, 0, *HR_SIZE), lr_size=(int(HR_SIZE[0] / scale), int(HR_SIZE[1] / scale)),
                     residual=Residual(median_abs=0.8, mean_abs=1.2, zncc=0.998),
                     local_shift=LocalShift.from_dict(local.to_dict()),
                     template_blur=TemplateBlur(sigma_lr_px=blur, estimated=True))
    return rec.to_dict()  # today's pair.json, as registration writes it


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """aligned/ (three scenes at x2 and x3 with planted shifts, plus a rejected pair) and the
    dataset crop made from it, with its manifest.json."""
    root = tmp_path_factory.mktemp("card")
    aligned = root / "aligned"
    for k, scene in enumerate(SCENES):
        hr = _texture(k)
        for s, plant in PLANTED.items():
            d = aligned / scene / f"x{scale_tag(s)}"
            d.mkdir(parents=True)
            lw, lh = int(HR_SIZE[0] / s), int(HR_SIZE[1] / s)
            lr = cv2.resize(hr, (lw, lh), interpolation=cv2.INTER_AREA)
            lr = (lr - np.float32(plant["offset"])) / np.float32(plant["gain"])
            write_png(d / "hr.png", hr, 16)
            write_png(d / "lr.png", np.clip(lr, 0, 1), 16)
            (d / "pair.json").write_text(json.dumps(_pair_json(s, blur=plant["blur"][k], bad_tiles=k)))
    rejected = aligned / "scene_d" / "x2"
    rejected.mkdir(parents=True)
    (rejected / "pair.json").write_text(json.dumps(_pair_json(Fraction(2), "rejected", "planted: moving object",
                                                              blur=0.9)))
    dataset = root / "dataset"
    crop_dataset(aligned, dataset, CropSettings(test_fraction=0.34, seed=0))
    return root, aligned, dataset


@pytest.fixture(scope="module")
def card(built):
    root, aligned, dataset = built
    res = make_card(dataset, root / "card", aligned=aligned, figure_pairs=2)
    return res, read_card(res.out_dir)


def test_planted_gain_offset_and_blur_are_recovered_per_scale(card):
    res, rec = card
    assert [s.scale for s in res.scales] == sorted(PLANTED)
    for s in res.scales:
        plant = PLANTED[s.scale]
        assert s.pairs == len(SCENES)
        np.testing.assert_allclose(s.gain_mean, plant["gain"], atol=GAIN_TOL)
        np.testing.assert_allclose(s.offset_mean, plant["offset"], atol=OFFSET_TOL)
        assert s.relative_blur_lr_px == pytest.approx(np.mean(plant["blur"]), abs=1e-6)
    x2 = next(r for r in rec["aligned"]["scales"] if r["tag"] == "2")
    assert x2["relative_blur_lr_px"]["std"] == pytest.approx(np.std(PLANTED[Fraction(2)]["blur"]), abs=1e-6)
    assert x2["ok"] == 3 and x2["rejected"] == 1 and x2["local_shift"]["tiles_bad"] == 0 + 1 + 2
    assert rec["aligned"]["rejected"] == [{"pair": "scene_d/x2", "scale": 2.0, "status": "rejected",
                                           "reason": "planted: moving object"}]


def test_card_json_schema_counts_split_and_checksums(card, built):
    res, rec = card
    _root, _aligned, dataset = built
    assert rec["format"] == CARD_FORMAT
    assert rec["made_by"]["kit_version"] and rec["made_by"]["command"]
    assert rec["dataset"]["layout"] == "realarbisr" and rec["dataset"]["pairs"] == 6 and rec["dataset"]["files"] == 12
    assert set(rec["methods"]) >= {"bicubic", "photometric_fit", "residuals", "frequency_split"}
    rows = {(r["split"], r["tag"]): r for r in rec["splits"]}
    assert sum(r["pairs"] for r in rows.values()) == 6
    train2 = rows[("Train", "2")]
    assert train2["scenes"] == train2["pairs"] == 2
    assert train2["hr_sizes"] == [{"size": list(HR_SIZE), "pairs": 2}]
    assert train2["lr_sizes"] == [{"size": [120, 84], "pairs": 2}]
    assert train2["bit_depths"] == {"hr": [16], "lr": [16]}
    assert train2["hr_pixels"] == 2 * HR_SIZE[0] * HR_SIZE[1] and train2["lr_pixels"] == 2 * 120 * 84
    man = rec["manifest"]
    assert len(man["splits"]["Test"]) == 1 and man["scenes_in_both"] == []
    assert man["checksums"]["listed"] == man["checksums"]["matched"] == 12 and not man["checksums"]["differ"]
    pair = rec["pairs"][0]
    assert set(pair) >= {"split", "scale", "hr", "lr", "scene", "source", "gain", "offset", "residual", "hr_sha256"}
    assert set(pair["residual"]["real"]) == {"low", "high", "total"}
    assert rec["warnings"] == [] and res.warnings == ()
    kinds = sorted(f["kind"] for f in rec["figures"])
    assert kinds == ["aligned", "histogram", "histogram", "overview", "residual", "residual"]
    for f in rec["figures"]:
        png = res.out_dir / f["file"]
        assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG"
        assert f["file"] in res.card_md.read_text()
    w, h = cv2.imread(str(res.out_dir / "figures" / "overview.png")).shape[1::-1]
    assert w == 1400  # 7 in at 200 dpi: print size


def test_a_rerun_replaces_the_card_and_a_changed_file_is_reported(card, built, tmp_path):
    root, aligned, dataset = built
    res, _ = card
    import shutil

    copy = tmp_path / "dataset"
    shutil.copytree(dataset, copy)
    hr = sorted((copy / "Test").glob("HR2/*.png"))[0]
    img = cv2.imread(str(hr), cv2.IMREAD_UNCHANGED)
    img[0, 0] = 0
    cv2.imwrite(str(hr), img)
    out = tmp_path / "card"
    make_card(copy, out, figure_pairs=1)
    stale = out / "figures" / "stale.png"
    rec = read_card(out)
    rec["figures"].append({"file": "figures/stale.png", "kind": "x"})
    stale.write_bytes(b"x")
    (out / "card.json").write_text(json.dumps(rec))
    again = make_card(copy, out, figure_pairs=1)
    assert not stale.exists()
    assert any("content differs from manifest.json" in w for w in again.warnings)
    assert read_card(out)["aligned"] is None


def test_the_stated_bicubic_is_keys_a_minus_half_with_aligned_centres():
    impulse = np.zeros((1, 16, 1), np.float32)
    impulse[0, 8, 0] = 1.0
    up = bicubic_resize(impulse, (32, 1))[0, :, 0]
    t = np.abs((np.arange(32) + 0.5) / 2 - 0.5 - 8)
    a = -0.5
    keys = np.where(t <= 1, (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1,
                    np.where(t < 2, a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a, 0))
    np.testing.assert_allclose(up, keys, atol=1e-6)


def test_a_bicubic_lr_has_the_synthetic_residual_and_a_shift_shows_in_the_low_band():
    s = Fraction(3)
    hr = _texture(7)
    lr = bicubic_resize(hr, (80, 56))
    m = measure_pair(lr, hr, s)
    assert m.real == m.synthetic  # the real LR is the bicubic one: identical residuals
    np.testing.assert_allclose(m.fit.gain, 1.0, atol=0.01)
    shifted = measure_pair(lr * 0.9 + 0.03, hr, s)
    assert shifted.real.low > 5 * shifted.synthetic.low  # a photometric shift lives in the low band
    assert shifted.real.high < 1.1 * shifted.synthetic.high
    # the split: a constant residual is all low band, a checkerboard at HR Nyquist all high band
    flat = residual_energy(np.full((60, 60, 3), 0.1, np.float32), s)
    assert flat.low == pytest.approx(0.01, rel=1e-4) and flat.high < 1e-9
    checker = (np.indices((60, 60)).sum(axis=0) % 2 * 0.2 - 0.1).astype(np.float32)[..., None].repeat(3, 2)
    fine = residual_energy(checker, s)
    assert fine.high > 0.99 * fine.total and fine.low < 1e-4 * fine.total
    assert split_sigma_hr_px(Fraction(2)) == pytest.approx(np.sqrt(np.log(2) / 2) / np.pi / (1 / 4))


def test_clipped_pixels_do_not_bend_the_fit():
    s = Fraction(2)
    hr = _texture(3)
    lr = cv2.resize(hr, (120, 84), interpolation=cv2.INTER_AREA) / 0.8  # HR = 0.8 LR: LR clips in bright parts
    fit = fit_gain_offset(hr, bicubic_resize(np.clip(lr, 0, 1), HR_SIZE), s)
    np.testing.assert_allclose(fit.gain, 0.8, atol=GAIN_TOL)
    np.testing.assert_allclose(fit.offset, 0.0, atol=OFFSET_TOL)


def test_card_command_prints_a_summary_and_bad_input_is_one_line(built, tmp_path):
    root, aligned, dataset = built
    runner = CliRunner()
    r = runner.invoke(cli, ["card", str(dataset), "--aligned", str(aligned), "--out", str(tmp_path / "c"),
                            "--figure-pairs", "1"])
    assert r.exit_code == 0, r.output
    assert "x2: 3 pairs, gain R/G/B" in r.output and "relative blur 0.340 LR px" in r.output
    assert read_card(tmp_path / "c")["made_by"]["command"].startswith("ddir-kit card ")
    r = runner.invoke(cli, ["card", str(tmp_path / "nope"), "--out", str(tmp_path / "c2")])
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "dataset folder not found" in r.output


def _mini_dataset(root: Path, n=1, hr_size=(64, 48), scale=2) -> Path:
    for split in ("Train", "Test"):
        for i in range(n):
            hr = _texture(i, hr_size)
            lr = cv2.resize(hr, (hr_size[0] // scale, hr_size[1] // scale), interpolation=cv2.INTER_AREA)
            write_png(root / split / f"HR{scale}" / f"p{i}.png", hr)
            write_png(root / split / f"LR{scale}" / f"p{i}.png", lr)
    return root


def _error(dataset, tmp_path, **kw) -> str:
    with pytest.raises(DdirKitError) as e:
        make_card(dataset, tmp_path / "out", **kw)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "out").exists()  # nothing written for a refused dataset
    return str(e.value)


def test_bad_or_partial_datasets_give_one_clear_line(tmp_path):
    assert "dataset folder not found" in _error(tmp_path / "missing", tmp_path)
    empty = tmp_path / "empty"
    (empty / "Test" / "HR2").mkdir(parents=True)
    (empty / "Test" / "LR2").mkdir(parents=True)
    assert "holds no image pairs" in _error(empty, tmp_path)
    (tmp_path / "not_ds").mkdir()
    assert "not a dataset" in _error(tmp_path / "not_ds", tmp_path)

    ds = _mini_dataset(tmp_path / "size")
    write_png(ds / "Test" / "LR2" / "p0.png", np.zeros((20, 30, 3), np.float32))
    msg = _error(ds, tmp_path)
    assert "not x2 of LR 30x20" in msg and "p0.png" in msg

    ds = _mini_dataset(tmp_path / "corrupt")
    (ds / "Train" / "HR2" / "p0.png").write_bytes(b"\x89PNG not really")
    assert "unreadable image" in _error(ds, tmp_path)

    ds = _mini_dataset(tmp_path / "count")
    write_png(ds / "Train" / "HR2" / "p9.png", _texture(9, (64, 48)))
    assert "2 HR images but 1 LR images" in _error(ds, tmp_path)

    ds = _mini_dataset(tmp_path / "unfinished")
    (ds / "manifest.json").write_text(json.dumps({"format": "ddir-kit/dataset@1", "complete": False}))
    assert "not finished" in _error(ds, tmp_path)
    (ds / "manifest.json").write_text("{broken")
    assert "not valid JSON" in _error(ds, tmp_path)


def test_aligned_folder_problems_and_a_foreign_out_folder(tmp_path):
    ds = _mini_dataset(tmp_path / "ds")
    assert "aligned folder not found" in _error(ds, tmp_path, aligned=tmp_path / "nothing")
    no_records = tmp_path / "aligned"
    (no_records / "scene" / "x2").mkdir(parents=True)
    assert "no <scene>/x<scale>/pair.json" in _error(ds, tmp_path, aligned=no_records)
    (no_records / "scene" / "x2" / "pair.json").write_text(json.dumps({"status": "ok"}))
    assert "pair record without a scale" in _error(ds, tmp_path, aligned=no_records)
    foreign = tmp_path / "out"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(DdirKitError, match="holds no dataset card"):
        make_card(ds, foreign)


def test_a_download_without_manifest_and_plain_folders(tmp_path):
    ds = _mini_dataset(tmp_path / "ds")
    hr = _texture(0, (64, 48))
    hr[..., 2] = 1.0  # a blue sky clipped everywhere: no blue fit
    write_png(ds / "Test" / "HR2" / "p0.png", hr)
    write_png(ds / "Test" / "LR2" / "p0.png", cv2.resize(hr, (32, 24), interpolation=cv2.INTER_AREA))
    res = make_card(ds, tmp_path / "c", figure_pairs=1)
    rec = json.loads((res.out_dir / "card.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert rec["manifest"] is None and any("no manifest.json" in w for w in res.warnings)
    assert all(r["scenes"] is None for r in rec["splits"])
    test_pair = next(p for p in rec["pairs"] if p["split"] == "Test")
    assert test_pair["gain"][2] is None and test_pair["gain"][1] == pytest.approx(1.0, abs=0.02)
    assert any("too few unclipped pixels" in w for w in res.warnings)
    plain = tmp_path / "plain"
    for sub in ("HR", "LR"):
        (plain / sub).mkdir(parents=True)
    hr = _texture(1, (60, 45))
    write_png(plain / "HR" / "a.png", hr)
    write_png(plain / "LR" / "a.png", cv2.resize(hr, (20, 15), interpolation=cv2.INTER_AREA))
    with pytest.raises(DdirKitError, match="need the scale"):
        make_card(plain, tmp_path / "c2")
    res = make_card(plain, tmp_path / "c3", scale=3, figure_pairs=1)
    assert res.layout == "paired" and [s.scale for s in res.scales] == [3]


def test_truth_of_identical_shots_predicts_the_hr_itself():
    from ddir_kit.virtual_camera.camera import CameraBody, ShotSettings, shot_geometry
    from ddir_kit.virtual_camera.card_truth import _predicted_lr_values, _Shot
    from ddir_kit.virtual_camera.lens_model import ZoomLens

    lens, body = ZoomLens(), CameraBody(width_px=64, height_px=48)
    settings = ShotSettings(105.0, exposure_gain=1.02, wb_gains=(0.98, 1.0, 1.01), tone_gamma=1.02)
    shot = _Shot(shot_geometry(lens, body, settings), settings, None, ("a.jpg",))
    hr = _texture(2, (64, 48))
    np.testing.assert_allclose(_predicted_lr_values(hr, (0, 0), shot, shot, lens), hr, atol=2e-4)
    darker = dataclasses.replace(shot, settings=dataclasses.replace(settings, exposure_gain=1.02 * 0.8))
    pred = _predicted_lr_values(hr, (0, 0), shot, darker, lens)
    fit = fit_gain_offset(hr, pred, Fraction(2))
    assert all(g > 1.05 for g in fit.gain)  # the HR is the brighter shot: gain above 1


def test_photos_developed_from_raw_carry_no_per_shot_white_balance_or_tone_power():
    from ddir_kit.photo.srgb import linear_to_srgb, srgb_to_linear
    from ddir_kit.virtual_camera.camera import CameraBody, ShotSettings, shot_geometry
    from ddir_kit.virtual_camera.card_truth import _from_raw, _predicted_lr_values, _Shot
    from ddir_kit.virtual_camera.lens_model import ZoomLens

    lens, body = ZoomLens(), CameraBody(width_px=64, height_px=48)
    hr_set = ShotSettings(105.0, exposure_gain=1.0, wb_gains=(1.0, 1.0, 1.0), tone_gamma=1.0)
    lr_set = ShotSettings(105.0, exposure_gain=0.9, wb_gains=(1.05, 1.0, 0.95), tone_gamma=1.05)
    geometry = shot_geometry(lens, body, hr_set)
    hr = _texture(2, (64, 48))

    def shots(source):
        return (_Shot(geometry, hr_set, None, ("hr.dng", "hr.jpg"), f"hr.{source}"),
                _Shot(geometry, lr_set, 0.5, ("lr.dng", "lr.jpg"), f"lr.{source}"))

    from_raw = _predicted_lr_values(hr, (0, 0), *shots("dng"), lens)
    expected = linear_to_srgb(np.clip(srgb_to_linear(hr) * 0.9, 0, 1))  # the exposure alone, plain sRGB
    np.testing.assert_allclose(from_raw, expected, atol=2e-4)
    from_jpeg = _predicted_lr_values(hr, (0, 0), *shots("jpg"), lens)
    assert np.abs(from_jpeg - from_raw).max() > 0.02  # the JPEG engine's white balance and tone power show
    assert _from_raw(_Shot(geometry, hr_set, None, ("a.JPG", "a.DNG")))  # ingest prefers RAW
    assert not _from_raw(_Shot(geometry, hr_set, None, ("a.jpg",)))
    assert not _from_raw(_Shot(geometry, hr_set, None, ("a.dng", "a.jpg"), "a.jpg"))
