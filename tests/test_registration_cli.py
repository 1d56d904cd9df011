"""`ddir-kit register`: one pair, a capture folder (resume, shards, a killed run), --inspect,
and the pair convention of what it writes."""

from __future__ import annotations

import csv
import json
import shutil
from fractions import Fraction

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from ddir_kit.photo.photo_io import read_photo, read_rgb, write_png
from ddir_kit.cli import cli
from ddir_kit.registration.pair_map import PairMap, corner_error_lr_px
from ddir_kit.virtual_camera.synthetic_pair import Photometric, apply_photometric, perturbed_lr_to_hr, render_lr_photo

# the region starts at frame pixel (300, 200) of the uncut photos: in the shipped crops of 004, 009
# and 011 (which start at frame 230, 90) at (70, 110), in 007's (frame 290, 180) at (10, 20)
REGION_XY = {"004": (70, 110), "009": (70, 110), "011": (70, 110), "007": (10, 20)}
W, H = 480, 360


def _write_scene(city100_dir, root, name, pid, scales, *, lr_from=None, bit_depth=8, seed=0):
    """A scene folder in the capture layout from one City100 H (the world seen by both shots)."""
    h_img = read_rgb(city100_dir / f"nikon_{pid}H.png")
    src = read_rgb(city100_dir / f"nikon_{lr_from or pid}H.png")
    (X0, Y0), src_xy = REGION_XY[pid], REGION_XY[lr_from or pid]
    d = root / name
    write_png(d / "hr.png", h_img[Y0:Y0 + H, X0:X0 + W], bit_depth)
    truths = {}
    for s in scales:
        frac = Fraction(s).limit_denominator(10)
        lw, lh = int(W / frac), int(H / frac)
        g = perturbed_lr_to_hr(float(frac), (W, H), (lw, lh), shift_lr_px=(0.8, -0.6))
        lr = apply_photometric(render_lr_photo(src, src_xy, g, float(frac), (lw, lh)), Photometric(), seed)
        tag = str(s).replace(".", "dot")
        write_png(d / f"lr_x{tag}.png", lr, bit_depth)
        truths[tag] = PairMap(g)
    (d / "scene.json").write_text(json.dumps({"scene": name}))
    return truths


@pytest.fixture()
def captures(city100_dir, tmp_path):
    root = tmp_path / "captures"
    truths = {"scene_a": _write_scene(city100_dir, root, "scene_a", "004", [2, 2.5], bit_depth=16),
              "scene_b": _write_scene(city100_dir, root, "scene_b", "009", [2]),
              # an LR shot of the wrong scene: must be rejected, not aligned
              "scene_c": _write_scene(city100_dir, root, "scene_c", "011", [2], lr_from="007")}
    return root, truths


def test_one_pair_writes_untouched_hr_pixels_and_an_lr_exactly_1_over_s(city100_dir, tmp_path, captures):
    root, truths = captures
    out = tmp_path / "pair"
    r = CliRunner().invoke(cli, ["register", "--hr", str(root / "scene_a/hr.png"), "--lr",
                                 str(root / "scene_a/lr_x2dot5.png"), "--scale", "2.5", "--out", str(out)])
    assert r.exit_code == 0, r.output
    rec = json.loads((out / "pair.json").read_text())
    assert rec["status"] == "ok" and rec["scale"] == 2.5
    for key in ("scale_measured", "lr_to_hr", "hr_crop", "lr_size", "luminance", "residual", "local_shift", "reason"):
        assert key in rec
    x0, y0, w, h = rec["hr_crop"]
    hr_out = cv2.imread(str(out / "hr.png"), cv2.IMREAD_UNCHANGED)
    hr_in = cv2.imread(str(root / "scene_a/hr.png"), cv2.IMREAD_UNCHANGED)
    assert hr_out.dtype == np.uint16 and np.array_equal(hr_out, hr_in[y0:y0 + h, x0:x0 + w])
    lr_out = read_photo(out / "lr.png")
    assert lr_out.bit_depth == 16
    assert (w * 2, h * 2) == (lr_out.size[0] * 5, lr_out.size[1] * 5) and w % 5 == 0 and h % 5 == 0
    assert list(lr_out.size) == rec["lr_size"]
    est = PairMap.from_dict(rec)
    assert corner_error_lr_px(est, truths["scene_a"]["2dot5"], tuple(rec["hr_crop"]), 2.5).max() < 0.1


def test_lr_png_is_the_lr_photo_sampled_on_the_pair_grid(city100_dir, tmp_path, captures):
    # Pair convention: lr pixel (u, v) covers HR-crop point (s(u+.5)-.5, s(v+.5)-.5); so the
    # saved LR must agree with the HR crop downscaled by area far better than a shifted grid.
    root, _ = captures
    out = tmp_path / "pair"
    r = CliRunner().invoke(cli, ["register", "--hr", str(root / "scene_b/hr.png"), "--lr",
                                 str(root / "scene_b/lr_x2.png"), "--scale", "2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    hr, lr = read_rgb(out / "hr.png")[..., 1], read_rgb(out / "lr.png")[..., 1]
    down = cv2.resize(hr, (lr.shape[1], lr.shape[0]), interpolation=cv2.INTER_AREA)

    def err(dx):
        m = np.float32([[1, 0, dx], [0, 1, 0]])
        moved = cv2.warpAffine(down, m, (down.shape[1], down.shape[0]), flags=cv2.INTER_CUBIC)
        a, b = moved[8:-8, 8:-8], lr[8:-8, 8:-8]
        return np.corrcoef(a.ravel(), b.ravel())[0, 1]

    assert err(0.0) > err(0.5) and err(0.0) > err(-0.5)


def test_capture_folder_is_registered_reported_and_resumed(captures, tmp_path):
    root, _ = captures
    out = tmp_path / "aligned"
    runner = CliRunner()
    r = runner.invoke(cli, ["register", str(root), "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = {(row["scene"], row["scale"]): row for row in csv.DictReader(open(out / "report.csv"))}
    assert rows[("scene_a", "2.0")]["status"] == "ok" and rows[("scene_a", "2.5")]["status"] == "ok"
    assert rows[("scene_b", "2.0")]["status"] == "ok"
    assert rows[("scene_c", "2.0")]["status"] == "rejected" and rows[("scene_c", "2.0")]["reason"]
    assert (out / "scene_a/x2dot5/lr.png").is_file() and (out / "manifest.json").is_file()
    before = (out / "scene_b/x2/lr.png").read_bytes()

    # a killed run: one pair never finished (its hidden work folder is left), another is gone
    shutil.rmtree(out / "scene_b/x2")
    (out / "scene_b/.x2.tmp-killed").mkdir()
    (out / "scene_b/.x2.tmp-killed/lr.png").write_bytes(b"half")
    r = runner.invoke(cli, ["register", str(root), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert r.output.count(": skipped") == 3 and "scene_b x2: ok" in r.output
    assert (out / "scene_b/x2/lr.png").read_bytes() == before
    assert not (out / "scene_b/.x2.tmp-killed").exists()


def test_shards_split_the_scenes_and_jobs_run_in_parallel(captures, tmp_path):
    root, _ = captures
    out = tmp_path / "aligned"
    r = CliRunner().invoke(cli, ["register", str(root), "--out", str(out), "--shard", "1/3", "--jobs", "2"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["scene_a"]
    assert (out / "scene_a/x2/pair.json").is_file() and (out / "scene_a/x2dot5/pair.json").is_file()


def test_inspect_writes_a_figure_and_bad_input_is_one_line(captures, tmp_path):
    root, _ = captures
    out = tmp_path / "pair"
    runner = CliRunner()
    runner.invoke(cli, ["register", "--hr", str(root / "scene_b/hr.png"), "--lr", str(root / "scene_b/lr_x2.png"),
                        "--scale", "2", "--out", str(out)])
    r = runner.invoke(cli, ["register", "--inspect", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "inspect.png").stat().st_size > 10_000
    (tmp_path / "broken.png").write_bytes(b"not a png")
    r = runner.invoke(cli, ["register", "--hr", str(tmp_path / "broken.png"), "--lr", str(root / "scene_b/lr_x2.png"),
                            "--scale", "2", "--out", str(tmp_path / "x")])
    assert r.exit_code == 1 and "broken.png" in r.output and "Traceback" not in r.output


def test_the_photo_encoding_and_a_given_template_blur_reach_pair_json(city100_dir, tmp_path, captures):
    root, truths = captures
    args = ["register", "--hr", str(root / "scene_a/hr.png"), "--lr", str(root / "scene_a/lr_x2dot5.png"),
            "--scale", "2.5"]
    r = CliRunner().invoke(cli, args + ["--out", str(tmp_path / "measured")])
    measured = json.loads((tmp_path / "measured/pair.json").read_text())
    assert r.exit_code == 0 and measured["template_blur"]["estimated"]
    assert measured["luminance"]["photo_encoding"] == "srgb"
    r = CliRunner().invoke(cli, args + ["--out", str(tmp_path / "given"), "--template-blur", "0.4",
                                        "--photo-encoding", "linear"])
    given = json.loads((tmp_path / "given/pair.json").read_text())
    assert r.exit_code == 0, r.output
    assert given["template_blur"] == {"sigma_lr_px": 0.4, "estimated": False}
    assert given["config"]["photo_encoding"] == "linear" and given["luminance"]["photo_encoding"] == "linear"
    r = CliRunner().invoke(cli, args + ["--out", str(tmp_path / "bad"), "--template-blur", "-1"])
    assert r.exit_code != 0 and "template_blur_lr_px must be between 0 and 5" in r.output
