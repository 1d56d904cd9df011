"""`ddir-kit capture simulate scenes`, camera cards and the rendering: truth checked against the images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from ddir_kit.capture.capture_layout import list_scene_dirs, read_scene_json
from ddir_kit.photo.exif import read_exif
from ddir_kit.virtual_camera.lens_model import ZoomLens, true_focal_for_scale
from ddir_kit.photo.photo_io import read_photo, read_rgb
from ddir_kit.capture.scene_preview import write_side_by_side
from ddir_kit.virtual_camera.scenes import Checkerboard, PlanarScene, PlanarTexture
from ddir_kit.virtual_camera.shot_geometry import ShotGeometry, TripodPose, map_pixels
from ddir_kit.virtual_camera.planting import Planting
from ddir_kit.virtual_camera.simulate_scenes import simulate_scenes, write_camera_card
from ddir_kit.virtual_camera.truth import PlantedFaults, read_card_truth, read_scene_truth
from ddir_kit.virtual_camera.simulate import sweep_distance_mm
from ddir_kit.virtual_camera.camera import CameraBody, ShotSettings, plane_maps, render_optical_image, shot_geometry
from ddir_kit.cli import cli

SCALES = ["1.5", "2", "3"]


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("scenes") / "captures"
    result = CliRunner().invoke(cli, ["capture", "simulate", "scenes", str(out), "--scenes", "1",
                                      "--scales", ",".join(SCALES), "--seed", "3",
                                      "--moving-object", "2", "--failed-exposure", "3:over"])
    assert result.exit_code == 0, result.output
    (scene_dir,) = list_scene_dirs(out)
    return scene_dir, read_scene_truth(scene_dir)


def _gray8(rgb):
    return (rgb.mean(axis=2) * 255).round().astype(np.uint8)


def test_scene_folder_has_the_capture_layout_with_exif_and_truth(scene):
    scene_dir, truth = scene
    record = read_scene_json(scene_dir)
    assert record.source == "virtual camera" and record.hr.file == "hr.png"
    assert [s.file for s in record.lr] == ["lr_x1dot5.png", "lr_x2.png", "lr_x3.png"]
    for shot in [record.hr, *record.lr]:
        exif = read_exif(scene_dir / shot.file, require=("focal_mm", "capture_time"))
        assert exif.focal_mm == pytest.approx(shot.exif["focal_mm"])
        assert read_photo(scene_dir / shot.file).bit_depth == shot.bit_depth == 8
    lens = truth.lens
    for lr in truth.lr:
        # --scales shoots each scale at its TRUE focal length
        assert lr.true_scale == pytest.approx(lr.scale, rel=1e-9)
        assert lr.focal_mm == pytest.approx(true_focal_for_scale(lens, lr.scale), rel=1e-9)
        assert np.array(lr.lr_to_hr).shape == (2, 3)
        grid = lr.grid.load(scene_dir)
        assert grid.shape == (800 // 16, 1200 // 16, 2)


def test_dense_grid_and_affine_agree_with_the_exact_map(scene):
    scene_dir, truth = scene
    hr = truth.hr.geometry
    for lr_truth in truth.lr:
        lr = lr_truth.geometry
        grid = lr_truth.grid.load(scene_dir)
        step = lr_truth.grid.step_px
        j, i = 17, 31
        x, y = map_pixels(lr, hr, np.array([i * step]), np.array([j * step]))
        assert grid[j, i] == pytest.approx([x[0], y[0]], abs=1e-9)
        # the affine misses the true map by at most max_deviation_px inside the HR frame
        a = np.array(lr_truth.lr_to_hr)
        u, v = np.meshgrid(np.arange(0, 1200, step), np.arange(0, 800, step))
        pred = np.einsum("ij,hwj->hwi", a, np.stack([u, v, np.ones_like(u)], axis=-1))
        inside = (grid[..., 0] > 0) & (grid[..., 0] < 1199) & (grid[..., 1] > 0) & (grid[..., 1] < 799)
        dev = np.linalg.norm(pred - grid, axis=-1)[inside]
        assert dev.max() <= lr_truth.max_deviation_px + 1e-6
        assert 0.05 < lr_truth.max_deviation_px < 3.0  # distortion makes it non-affine, a little


def test_features_matched_between_lr_and_hr_land_where_truth_says(scene):
    scene_dir, truth = scene
    hr_geom = truth.hr.geometry
    lr_truth = next(t for t in truth.lr if t.scale == 1.5)
    lr_geom = lr_truth.geometry
    sift = cv2.SIFT_create(3000)
    kh, dh = sift.detectAndCompute(_gray8(read_rgb(scene_dir / "hr.png")), None)
    kl, dl = sift.detectAndCompute(_gray8(read_rgb(scene_dir / lr_truth.file)), None)
    pairs = [m for m, n in cv2.BFMatcher().knnMatch(dl, dh, k=2) if m.distance < 0.7 * n.distance]
    assert len(pairs) > 200
    pl = np.float64([kl[m.queryIdx].pt for m in pairs])
    ph = np.float64([kh[m.trainIdx].pt for m in pairs])
    x, y = map_pixels(lr_geom, hr_geom, pl[:, 0], pl[:, 1])
    assert np.median(np.hypot(x - ph[:, 0], y - ph[:, 1])) < 0.5
    # the measured scale matches the truth to 0.1 %
    a, _ = cv2.estimateAffine2D(pl, ph, method=cv2.RANSAC, ransacReprojThreshold=1.0)
    measured = float(np.sqrt(abs(np.linalg.det(a[:, :2]))))
    assert measured == pytest.approx(lr_truth.affine_scale, rel=1e-3)
    assert lr_truth.affine_scale == pytest.approx(lr_truth.true_scale, rel=2e-3)


def test_planted_faults_touch_only_their_shot_and_region(scene, tmp_path):
    scene_dir, truth = scene
    # the same scene without planting: identical seeds, so identical pixels outside the faults
    clean = simulate_scenes(tmp_path / "clean", 1, scales=[float(s) for s in SCALES], seed=3)
    clean_dir = clean.scenes[0]
    for name in ("hr.png", "lr_x1dot5.png"):
        assert np.array_equal(read_rgb(scene_dir / name), read_rgb(clean_dir / name)), name
    by_scale = {t.scale: t for t in truth.lr}
    box = by_scale[2.0].planted.moving_object.box_lr_px
    diff = np.abs(read_rgb(scene_dir / "lr_x2.png") - read_rgb(clean_dir / "lr_x2.png")).max(axis=2)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    assert diff[y0 + 2:y1 - 2, x0 + 2:x1 - 2].mean() > 0.05
    outside = np.ones_like(diff, bool)
    outside[max(0, y0 - 6):y1 + 7, max(0, x0 - 6):x1 + 7] = False
    assert diff[outside].max() == 0
    assert by_scale[3.0].planted == PlantedFaults(failed_exposure="over")
    over = read_rgb(scene_dir / "lr_x3.png")
    assert (over > 0.99).mean() > 0.3 and read_rgb(clean_dir / "lr_x3.png").mean() < 0.6


def test_same_seed_twice_gives_identical_scene_files(tmp_path):
    for name in ("a", "b"):
        simulate_scenes(tmp_path / name, 1, scales=[2], seed=9, sensor=(400, 266), bit_depth=16, bayer=True)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) >= 5
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    other = simulate_scenes(tmp_path / "c", 1, scales=[2], seed=10, sensor=(400, 266), bit_depth=16, bayer=True)
    assert (other.scenes[0] / "hr.png").read_bytes() != (tmp_path / "a" / "scene_0001" / "hr.png").read_bytes()


def test_scenes_from_a_calibration_use_its_focal_lengths_and_record_the_true_scale(tmp_path):
    cal = tmp_path / "calibration.json"
    cal.write_text('{"reference_focal_mm": 105, "targets": [{"scale": 2, "focal_mm": 53.0}]}')
    out = tmp_path / "caps"
    result = CliRunner().invoke(cli, ["capture", "simulate", "scenes", str(out), "--scenes", "1",
                                      "--calibration", str(cal), "--sensor", "400x266"])
    assert result.exit_code == 0, result.output
    truth = read_scene_truth(out / "scene_0001")
    (lr,) = truth.lr
    assert lr.focal_mm == 53.0 and lr.scale == 2.0
    assert abs(lr.true_scale - 2.0) > 0.01  # a calibration that is off shows in the truth
    again = CliRunner().invoke(cli, ["capture", "simulate", "scenes", str(out), "--scenes", "1",
                                     "--calibration", str(cal), "--sensor", "400x266"])
    assert again.exit_code == 0 and "skipped (already done): scene_0001" in again.output


def test_camera_card_holds_numbered_shots_in_shooting_order(tmp_path):
    card = write_camera_card(tmp_path / "card", 2, scales=[2, 3], formats=("jpg", "dng"), seed=1,
                             sensor=(400, 266), truth_path=tmp_path / "card_truth.json",
                             planting=Planting(failed_exposure={3: "under"}))
    names = [p.name for p in card.photos]
    assert names[:4] == ["IMG_0001.JPG", "IMG_0001.DNG", "IMG_0002.JPG", "IMG_0002.DNG"]
    assert len(names) == 2 * 3 * 2 and not any(p.is_dir() for p in (tmp_path / "card").iterdir())
    jpgs = [p for p in card.photos if p.suffix == ".JPG"]
    exifs = [read_exif(p) for p in jpgs]
    times = [e.capture_time for e in exifs]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert [e.focal_mm for e in exifs[:3]] == sorted((e.focal_mm for e in exifs[:3]), reverse=True)
    assert read_photo(card.photos[1]).size == (400, 266)  # the DNG decodes
    truth = read_card_truth(tmp_path / "card_truth.json")
    assert truth.scenes[1].shots[2].planted == PlantedFaults(failed_exposure="under")
    # the photos are demosaicked (Bayer body, DNG files): each shot's truth holds what that added
    for shot in (s for scene in truth.scenes for s in scene.shots):
        assert set(shot.demosaic_blur_px2) == {"opencv", "AHD"}
        assert all(0.0 <= v < 0.5 for v in shot.demosaic_blur_px2.values())
    assert max(s.demosaic_blur_px2["AHD"] for s in truth.scenes[0].shots) > 0.0


def test_minified_rendering_does_not_alias():
    # one-texel stripes seen 3.3x minified: a plain bilinear lookup makes moire, the
    # prefiltered texture gives flat grey
    stripes = np.zeros((600, 900, 3), np.float32)
    stripes[:, ::2] = 1.0
    tex = PlanarTexture(stripes, (-450.0, -300.0, 450.0, 300.0), "reflect")
    geom = ShotGeometry(200, 120, focal_px=1000.0, cx_px=99.5, cy_px=59.5, k1=0.0, k2=0.0,
                        pose=TripodPose(0.3))
    distance = 3300.0  # one pixel covers 3.3 texels of 1 mm
    x, y = plane_maps(geom, distance)[:2]
    rendered = tex.render(x, y, distance / geom.focal_px)
    assert abs(rendered.mean() - 0.5) < 0.02 and rendered.std() < 0.03
    naive = cv2.remap(stripes, *tex.texel_coords(x, y), cv2.INTER_LINEAR)
    assert naive.std() > 0.1


def test_plane_maps_match_the_exact_geometry():
    geom = ShotGeometry.from_lens(ZoomLens(), 24, 1200, 800, pose=TripodPose(0.4, 0.05, -0.02))
    x, y, _ = plane_maps(geom, 5000.0)
    rng = np.random.default_rng(0)
    u, v = rng.integers(0, 1200, 200), rng.integers(0, 800, 200)
    ex, ey = geom.pixel_to_plane(u.astype(float), v.astype(float), 5000.0)
    pixel_mm = 5000.0 / geom.focal_px
    assert np.abs(x[v, u] - ex).max() < 0.01 * pixel_mm and np.abs(y[v, u] - ey).max() < 0.01 * pixel_mm


def test_picture_of_one_scene_at_three_scales(scene, tmp_path):
    scene_dir, _ = scene
    path = write_side_by_side(tmp_path / "virtual_camera.png", scene_dir, scales=[1.5, 2, 3], height_px=200)
    img = read_rgb(path)
    assert img.shape[0] == 200 and img.shape[1] > 4 * 290
    print(f"side-by-side picture: {path}")


def test_without_distortion_and_disturbance_the_map_is_exactly_affine(tmp_path):
    out = tmp_path / "ideal"
    result = CliRunner().invoke(cli, ["capture", "simulate", "scenes", str(out), "--scenes", "1", "--scales", "2.5",
                                      "--sensor", "400x266", "--no-distortion", "--no-disturb"])
    assert result.exit_code == 0, result.output
    (lr,) = read_scene_truth(out / "scene_0001").lr
    assert lr.max_deviation_px < 1e-6
    assert lr.affine_scale == pytest.approx(2.5, rel=1e-9)
    a = np.array(lr.lr_to_hr)
    assert abs(a[0, 1]) < 1e-9 and abs(a[1, 0]) < 1e-9  # no rotation: an ideal tripod


def test_prefiltered_minified_layers_keep_edges_where_the_geometry_puts_them():
    # a board printed 3.3x finer than the pixel footprint goes through the scene path
    # (Gaussian + area prefilter, alpha-composited layer): its corners stay unbiased
    lens, body, board = ZoomLens(), CameraBody(), Checkerboard()
    distance = sweep_distance_mm(lens, body, board, 105.0, 0.65)
    settings = ShotSettings(35.0, TripodPose(0.3, 0.01, -0.02))
    geom = shot_geometry(lens, body, settings)
    scene = PlanarScene((board.texture(distance / geom.focal_px / 3.3),), 0.2)
    optical = render_optical_image(lens, body, settings, scene, distance, geom)
    found, corners = cv2.findChessboardCornersSB(_gray8(optical / optical.max()), (9, 6),
                                                 flags=cv2.CALIB_CB_ACCURACY)
    assert found
    expected = np.stack(geom.plane_to_pixel(*board.corners_mm().T, distance), axis=1)
    corners = corners.reshape(-1, 2)
    if np.linalg.norm(corners[0] - expected[0]) > np.linalg.norm(corners[-1] - expected[0]):
        corners = corners[::-1]
    err = corners - expected
    assert np.linalg.norm(err, axis=1).mean() < 0.05 and np.abs(err.mean(axis=0)).max() < 0.03


def test_scenes_can_be_shot_from_any_folder_of_photos(tmp_path, city100_dir):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("nikon_004H.png", "nikon_009H.png"):
        (photos / name).write_bytes((city100_dir / name).read_bytes())
    (photos / "notes.txt").write_text("not a photo")
    out = tmp_path / "caps"
    result = CliRunner().invoke(cli, ["capture", "simulate", "scenes", str(out), "--scenes", "1", "--scales", "2",
                                      "--sensor", "300x200", "--textures", str(photos)])
    assert result.exit_code == 0, result.output
    assert read_scene_truth(out / "scene_0001").texture.file.startswith("nikon_")
    missing = CliRunner().invoke(cli, ["capture", "simulate", "scenes", str(tmp_path / "x"), "--scenes", "1",
                                       "--scales", "2", "--textures", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "not a folder" in missing.output


def test_rerun_redoes_only_a_missing_scene_and_refuses_bad_input(tmp_path):
    out = tmp_path / "caps"
    args = ["capture", "simulate", "scenes", str(out), "--scenes", "2", "--scales", "2", "--sensor", "200x134"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    before = (out / "scene_0002" / "lr_x2.png").read_bytes()
    import shutil

    shutil.rmtree(out / "scene_0002")
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and "skipped (already done): scene_0001" in again.output
    assert (out / "scene_0002" / "lr_x2.png").read_bytes() == before
    assert not list(out.glob(".*"))  # no work folders left behind
    for bad, message in ((["--seed", "-1"], "seed must be"), (["--scales", "2,9"], "out of reach"),
                         (["--sensor", "12x"], "WxH")):
        result = CliRunner().invoke(cli, ["capture", "simulate", "scenes", str(tmp_path / "bad"), "--scenes", "1",
                                          "--scales", "2", *bad])
        assert result.exit_code == 1 and message in result.output, result.output
