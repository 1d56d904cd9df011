"""Photo IO: bit depth kept, RGB order, EXIF, RAW through rawpy, and bad input."""

from __future__ import annotations

from datetime import datetime

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from ddir_kit.photo.dng import mosaic_rggb, write_dng
from ddir_kit.photo.exif import PhotoExif, read_exif
from ddir_kit.photo.photo_io import read_photo, write_image, write_jpeg, write_png, write_tiff
from ddir_kit.photo.raw_develop import RawDevelopment
from ddir_kit.cli import cli
from ddir_kit.errors import DdirKitError

EXIF = PhotoExif(focal_mm=47.5, exposure_s=1 / 125, f_number=4.0, iso=200,
                 capture_time=datetime(2026, 3, 14, 15, 9, 26, 535000),
                 camera_make="ddir-kit", camera_model="Virtual 5D", lens_model="Zoom 24-105mm f/4")


def test_16bit_png_round_trip_is_lossless(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.integers(0, 65536, size=(17, 23, 3), dtype=np.uint16)
    write_png(tmp_path / "a.png", values.astype(np.float64) / 65535, bit_depth=16)
    photo = read_photo(tmp_path / "a.png")
    assert photo.bit_depth == 16
    assert photo.rgb.dtype == np.float32 and photo.rgb.shape == (17, 23, 3)
    assert np.array_equal(np.rint(photo.rgb.astype(np.float64) * 65535).astype(np.uint16), values)
    # and the file itself holds all 16 bits, in RGB -> BGR order for OpenCV
    on_disk = cv2.imread(str(tmp_path / "a.png"), cv2.IMREAD_UNCHANGED)
    assert on_disk.dtype == np.uint16 and np.array_equal(on_disk[:, :, ::-1], values)


def test_16bit_tiff_round_trip_is_lossless(tmp_path):
    values = np.random.default_rng(1).integers(0, 65536, size=(9, 11, 3), dtype=np.uint16)
    write_tiff(tmp_path / "a.tif", values / 65535.0, bit_depth=16)
    photo = read_photo(tmp_path / "a.tif")
    assert photo.bit_depth == 16
    assert np.array_equal(np.rint(photo.rgb.astype(np.float64) * 65535).astype(np.uint16), values)


@pytest.mark.parametrize("name,bits", [("red.png", 8), ("red16.png", 16), ("red.jpg", 8), ("red.tif", 16)])
def test_pure_red_stays_red_through_write_and_read(tmp_path, name, bits):
    red = np.zeros((16, 16, 3), np.float32)
    red[..., 0] = 1.0
    write_image(tmp_path / name, red, bit_depth=bits)
    rgb = read_photo(tmp_path / name).rgb
    assert rgb[..., 0].min() > 0.95
    assert rgb[..., 1:].max() < 0.05


def test_jpeg_exif_is_read_back(tmp_path):
    write_jpeg(tmp_path / "shot.jpg", np.full((8, 8, 3), 0.5, np.float32), exif=EXIF)
    exif = read_exif(tmp_path / "shot.jpg", require=("focal_mm",))
    assert exif.focal_mm == pytest.approx(47.5)
    assert exif.exposure_s == pytest.approx(1 / 125)
    assert exif.f_number == pytest.approx(4.0)
    assert exif.iso == 200
    assert exif.capture_time == EXIF.capture_time
    assert (exif.camera_make, exif.camera_model, exif.lens_model) == ("ddir-kit", "Virtual 5D", "Zoom 24-105mm f/4")


@pytest.mark.parametrize("name", ["shot.png", "shot.tif"])
def test_png_and_tiff_exif_focal_length_is_read_back(tmp_path, name):
    write_image(tmp_path / name, np.full((8, 8, 3), 0.5, np.float32), bit_depth=16, exif=EXIF)
    assert read_exif(tmp_path / name).focal_mm == pytest.approx(47.5)
    assert read_photo(tmp_path / name).bit_depth == 16


def test_exif_round_trips_through_its_dict():
    assert PhotoExif.from_dict(EXIF.to_dict()) == EXIF


def test_missing_exif_focal_length_names_the_file(tmp_path):
    write_jpeg(tmp_path / "noexif.jpg", np.zeros((8, 8, 3), np.float32))
    with pytest.raises(DdirKitError, match=r"noexif\.jpg: missing EXIF focal_mm"):
        read_exif(tmp_path / "noexif.jpg", require=("focal_mm",))


def test_dng_is_decoded_by_rawpy_with_fixed_development(tmp_path):
    rng = np.random.default_rng(2)
    blocks = rng.uniform(0.05, 0.9, size=(6, 8, 3))
    linear = np.repeat(np.repeat(blocks, 8, axis=0), 8, axis=1)
    write_dng(tmp_path / "shot.dng", mosaic_rggb(linear), EXIF, white_balance=(2.0, 1.0, 1.5))
    linear_dev = RawDevelopment(white_balance=(1.0, 1.0, 1.0, 1.0), gamma=(1.0, 1.0))
    photo = read_photo(tmp_path / "shot.dng", linear_dev)
    assert photo.bit_depth == 16 and photo.rgb.shape == linear.shape
    # flat 8x8 blocks: 4 px from any edge, demosaicking gives each block's colour back
    centres = photo.rgb[4::8, 4::8]
    assert np.abs(centres - blocks).max() < 2e-3
    # default development: the file's as-shot white balance is used and recorded
    default = read_photo(tmp_path / "shot.dng")
    assert default.development.white_balance[:3] == pytest.approx((2.0, 1.0, 1.5), rel=1e-3)
    assert default.development.to_dict()["no_auto_bright"] is True
    assert read_exif(tmp_path / "shot.dng").focal_mm == pytest.approx(47.5)


def _bad_inputs(tmp_path):
    good = tmp_path / "good.jpg"
    write_jpeg(good, np.full((64, 64, 3), 0.3, np.float32), exif=EXIF)
    data = good.read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "notes.jpg").write_text("not an image at all")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "scan.bmp").write_bytes(b"BM" + b"\0" * 100)
    write_png(tmp_path / "p.png", np.zeros((32, 32, 3), np.float32))
    (tmp_path / "truncated.png").write_bytes((tmp_path / "p.png").read_bytes()[:60])
    (tmp_path / "broken.dng").write_bytes(b"II*\0" + b"\0" * 200)
    return {
        "truncated.jpg": "truncated JPEG",
        "notes.jpg": "not a JPEG",
        "empty.png": "empty file",
        "scan.bmp": "unsupported format",
        "truncated.png": "not a decodable image",
        "broken.dng": "not a readable RAW file",
        "missing.png": "file not found",
    }


def test_every_kind_of_bad_input_raises_the_project_error_naming_the_file(tmp_path):
    for name, reason in _bad_inputs(tmp_path).items():
        with pytest.raises(DdirKitError) as info:
            read_photo(tmp_path / name)
        assert name in str(info.value) and reason in str(info.value), str(info.value)


def test_cli_reports_bad_input_in_one_line_without_traceback(tmp_path):
    cases = _bad_inputs(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["info", *(str(tmp_path / n) for n in cases), str(tmp_path / "good.jpg")])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    for name in cases:
        assert f"{name}:" in result.output
    assert "64x64, 8-bit" in result.output and "focal_mm=47.5" in result.output
    only_bad = runner.invoke(cli, ["info", str(tmp_path / "truncated.jpg")])
    assert only_bad.exit_code == 1 and "truncated JPEG" in only_bad.output and "Traceback" not in only_bad.output
