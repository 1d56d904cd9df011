"""Reading and writing photos: float32 RGB in [0, 1], bit depth kept, atomic writes.

OpenCV's BGR order stays inside this module; every array that leaves it is RGB, HxWx3,
float32. 16-bit files are read with all 16 bits (IMREAD_UNCHANGED) and written back losslessly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import DdirKitError
from ..fileio import atomic_write_bytes
from .exif import PhotoExif, embed_in_jpeg, embed_in_png, tiff_exif_tags
from .raw_develop import RAW_SUFFIXES, RawDevelopment, develop_raw

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff"})
PHOTO_SUFFIXES = IMAGE_SUFFIXES | RAW_SUFFIXES


@dataclass(frozen=True)
class Photo:
    """A decoded photo.

    rgb: float32 HxWx3 in [0, 1].
    bit_depth: 8 or 16, the precision of the source (RAW develops to 16).
    development: the RAW parameters used, None for JPEG/PNG/TIFF.
    """

    path: Path
    rgb: np.ndarray
    bit_depth: int
    development: RawDevelopment | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.rgb.shape[1], self.rgb.shape[0]


def is_photo(path: str | Path) -> bool:
    return Path(path).suffix.lower() in PHOTO_SUFFIXES


def read_photo(path: str | Path, development: RawDevelopment | None = None) -> Photo:
    """Decode a JPEG, PNG (8/16 bit), TIFF (8/16 bit) or camera RAW file.

    RAW files are developed with ``development`` (fixed defaults when None).
    Raises DdirKitError, naming the file, for a missing, empty, truncated, unsupported or
    undecodable file.
    """
    path = Path(path)
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix in RAW_SUFFIXES:
        rgb, used = develop_raw(path, development)
        return Photo(path, rgb, 16, used)
    data = path.read_bytes()
    if suffix in (".jpg", ".jpeg"):
        _check_jpeg_complete(path, data)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise DdirKitError("not a decodable image (corrupt, truncated or not an image)", path)
    return Photo(path, *_to_float_rgb(img, path))


def read_rgb(path: str | Path, development: RawDevelopment | None = None) -> np.ndarray:
    """float32 HxWx3 RGB in [0, 1]; shorthand for ``read_photo(path).rgb``."""
    return read_photo(path, development).rgb


def quantize(rgb: np.ndarray, bit_depth: int) -> np.ndarray:
    """[0, 1] float -> uint8 or uint16 with rounding and clipping."""
    if bit_depth not in (8, 16):
        raise DdirKitError(f"bit depth must be 8 or 16, got {bit_depth}")
    peak = 255 if bit_depth == 8 else 65535
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    return np.clip(np.rint(np.asarray(rgb, np.float64) * peak), 0, peak).astype(dtype)


def encode_png(rgb: np.ndarray, bit_depth: int = 8, exif: PhotoExif | None = None) -> bytes:
    ok, buf = cv2.imencode(".png", _to_bgr(quantize(_check_rgb(rgb), bit_depth)))
    if not ok:
        raise DdirKitError("PNG encoding failed")
    data = buf.tobytes()
    return embed_in_png(data, exif) if exif is not None else data


def write_png(path: str | Path, rgb: np.ndarray, bit_depth: int = 8, exif: PhotoExif | None = None) -> Path:
    """Write float RGB [0, 1] as an 8- or 16-bit PNG, atomically."""
    return atomic_write_bytes(path, encode_png(rgb, bit_depth, exif))


def write_jpeg(path: str | Path, rgb: np.ndarray, quality: int = 95, exif: PhotoExif | None = None) -> Path:
    """Write float RGB [0, 1] as an 8-bit JPEG with optional EXIF, atomically."""
    ok, buf = cv2.imencode(".jpg", _to_bgr(quantize(_check_rgb(rgb), 8)), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise DdirKitError("JPEG encoding failed", path)
    data = buf.tobytes()
    return atomic_write_bytes(path, embed_in_jpeg(data, exif) if exif is not None else data)


def write_tiff(path: str | Path, rgb: np.ndarray, bit_depth: int = 16, exif: PhotoExif | None = None) -> Path:
    """Write float RGB [0, 1] as an 8- or 16-bit TIFF (EXIF fields in IFD0), atomically."""
    import io

    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, quantize(_check_rgb(rgb), bit_depth), photometric="rgb",
                     extratags=tiff_exif_tags(exif) if exif is not None else None)
    return atomic_write_bytes(path, buf.getvalue())


def write_image(path: str | Path, rgb: np.ndarray, bit_depth: int = 8, exif: PhotoExif | None = None) -> Path:
    """Write by extension: .png (8/16 bit), .jpg/.jpeg (8 bit), .tif/.tiff (8/16 bit)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return write_png(path, rgb, bit_depth, exif)
    if suffix in (".jpg", ".jpeg"):
        return write_jpeg(path, rgb, exif=exif)
    if suffix in (".tif", ".tiff"):
        return write_tiff(path, rgb, bit_depth, exif)
    raise DdirKitError(f"cannot write format {suffix or '(no extension)'}; use .png, .jpg or .tif", path)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DdirKitError("file not found", path)
    if not path.is_file():
        raise DdirKitError("not a file", path)
    if path.stat().st_size == 0:
        raise DdirKitError("empty file (0 bytes)", path)
    if path.suffix.lower() not in PHOTO_SUFFIXES:
        raise DdirKitError(
            f"unsupported format {path.suffix or '(no extension)'}; expected one of "
            + ", ".join(sorted(PHOTO_SUFFIXES)), path)


def _check_jpeg_complete(path: Path, data: bytes) -> None:
    # libjpeg decodes a truncated JPEG with a warning and grey rows; refuse it instead.
    if not data.startswith(b"\xff\xd8"):
        raise DdirKitError("not a JPEG file (no start-of-image marker)", path)
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise DdirKitError("truncated JPEG (no end-of-image marker)", path)


def _to_float_rgb(img: np.ndarray, path: Path) -> tuple[np.ndarray, int]:
    if img.dtype == np.uint8:
        bit_depth, peak = 8, 255.0
    elif img.dtype == np.uint16:
        bit_depth, peak = 16, 65535.0
    elif img.dtype == np.float32:
        bit_depth, peak = 16, 1.0  # float TIFF: keep as is, write back as 16-bit
    else:
        raise DdirKitError(f"unsupported sample type {img.dtype}", path)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    elif img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    rgb = img[:, :, ::-1].astype(np.float32) / np.float32(peak)
    return np.ascontiguousarray(np.clip(rgb, 0.0, 1.0)), bit_depth


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise DdirKitError(f"expected an HxWx3 RGB image, got shape {rgb.shape}")
    return rgb


def _to_bgr(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img[:, :, ::-1])
