"""Writing real DNG files (12-bit RGGB Bayer mosaic) with pidng, and the RGGB mosaic itself
(sampling one, and OpenCV's bilinear demosaic of one).

The virtual camera uses this so that the RAW path of ingest and calibration runs on files
that rawpy really decodes, with no camera at hand.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

from ..errors import DdirKitError
from ..fileio import atomic_write_bytes
from .exif import PhotoExif


# XYZ (D65) -> linear sRGB, IEC 61966-2-1.
_XYZ_TO_LINEAR_SRGB = (
    3.2404542, -1.5371385, -0.4985314,
    -0.9692660, 1.8760108, 0.0415560,
    0.0556434, -0.2040259, 1.0572252,
)


def mosaic_rggb(rgb_linear: np.ndarray) -> np.ndarray:
    """Sample an HxWx3 linear RGB image on an RGGB Bayer pattern -> HxW (H, W even)."""
    h, w = rgb_linear.shape[:2]
    if h % 2 or w % 2:
        raise DdirKitError(f"a Bayer mosaic needs even sides, got {w}x{h}")
    bayer = np.empty((h, w), rgb_linear.dtype)
    bayer[0::2, 0::2] = rgb_linear[0::2, 0::2, 0]
    bayer[0::2, 1::2] = rgb_linear[0::2, 1::2, 1]
    bayer[1::2, 0::2] = rgb_linear[1::2, 0::2, 1]
    bayer[1::2, 1::2] = rgb_linear[1::2, 1::2, 2]
    return bayer


def demosaic_rggb_bilinear(bayer: np.ndarray) -> np.ndarray:
    """An RGGB mosaic (HxW, [0, 1]) -> HxWx3 float32 by OpenCV's bilinear demosaic, on 16-bit
    values as a camera's own JPEG engine would hold them."""
    raw16 = np.rint(bayer * 65535).astype(np.uint16)
    return cv2.demosaicing(raw16, cv2.COLOR_BayerRGGB2RGB).astype(np.float32) * np.float32(1 / 65535)


def write_dng(path: str | Path, bayer: np.ndarray, exif: PhotoExif | None = None,
              white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0), bits: int = 12) -> Path:
    """Write an RGGB mosaic (values in [0, 1], HxW) as an uncompressed DNG, atomically.

    white_balance: as-shot multipliers (R, G, B) stored as AsShotNeutral = 1 / multiplier.
    The colour matrix (XYZ -> camera) is XYZ -> linear sRGB, so the camera's primaries are
    sRGB's: a development with these multipliers and sRGB output returns the mosaic's colours.
    """
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import CalibrationIlluminant, CFAPattern, DNGVersion, Orientation, PhotometricInterpretation

    h, w = bayer.shape
    peak = (1 << bits) - 1
    data = np.clip(np.rint(bayer * peak), 0, peak).astype(np.uint16)
    t = DNGTags()
    t.set(Tag.ImageWidth, w)
    t.set(Tag.ImageLength, h)
    t.set(Tag.TileWidth, w)
    t.set(Tag.TileLength, h)
    t.set(Tag.Orientation, Orientation.Horizontal)
    t.set(Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array)
    t.set(Tag.SamplesPerPixel, 1)
    t.set(Tag.BitsPerSample, bits)
    t.set(Tag.CFARepeatPatternDim, [2, 2])
    t.set(Tag.CFAPattern, CFAPattern.RGGB)
    t.set(Tag.BlackLevel, 0)
    t.set(Tag.WhiteLevel, peak)
    t.set(Tag.ColorMatrix1, [[int(round(v * 10000)), 10000] for v in _XYZ_TO_LINEAR_SRGB])
    t.set(Tag.CalibrationIlluminant1, CalibrationIlluminant.D65)
    t.set(Tag.AsShotNeutral, [[int(round(10000 / m)), 10000] for m in white_balance])
    t.set(Tag.DNGVersion, DNGVersion.V1_4)
    t.set(Tag.DNGBackwardVersion, DNGVersion.V1_2)
    if exif is not None:
        if exif.focal_mm is not None:
            t.set(Tag.FocalLength, [_rational(exif.focal_mm)])
        if exif.exposure_s is not None:
            t.set(Tag.ExposureTime, [_rational(exif.exposure_s)])
        if exif.f_number is not None:
            t.set(Tag.FNumber, [_rational(exif.f_number)])
        if exif.iso is not None:
            t.set(Tag.PhotographicSensitivity, [int(round(exif.iso))])
        if exif.capture_time is not None:
            t.set(Tag.DateTimeOriginal, exif.capture_time.strftime("%Y:%m:%d %H:%M:%S"))
        if exif.camera_make:
            t.set(Tag.Make, exif.camera_make)
        if exif.camera_model:
            t.set(Tag.Model, exif.camera_model)
            t.set(Tag.UniqueCameraModel, exif.camera_model)
        if exif.lens_model:
            t.set(Tag.EXIFPhotoLensModel, exif.lens_model)
    # pidng writes to a file name of its own choosing (it appends .dng): write in a scratch
    # folder, then move the bytes atomically to their place.
    with tempfile.TemporaryDirectory() as tmp:
        conv = RAW2DNG()
        conv.options(t, path="", compress=False)
        conv.convert(data, filename=str(Path(tmp) / "shot"))
        return atomic_write_bytes(path, (Path(tmp) / "shot.dng").read_bytes())


def _rational(value: float) -> list[int]:
    from fractions import Fraction

    f = Fraction(value).limit_denominator(10000)
    return [f.numerator, f.denominator]
