"""EXIF of JPEG, PNG, TIFF and camera RAW files: read with exifread, written with piexif.

Only standard EXIF tags are used (FocalLength, never a maker-note field): maker notes differ
per vendor and some report the zoom position rather than the focal length.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path

from ..errors import DdirKitError
from .raw_develop import RAW_SUFFIXES

_TIME_FORMAT = "%Y:%m:%d %H:%M:%S"
_RAWPY_FIELDS = ("focal_mm", "exposure_s", "f_number", "iso", "capture_time")  # what rawpy.other gives


@dataclass(frozen=True)
class PhotoExif:
    """What a shot's EXIF says; None where the tag is absent."""

    focal_mm: float | None = None
    exposure_s: float | None = None
    f_number: float | None = None
    iso: float | None = None
    capture_time: datetime | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    lens_model: str | None = None

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["capture_time"] = None if self.capture_time is None else self.capture_time.isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PhotoExif":
        d = dict(d)
        if d.get("capture_time"):
            d["capture_time"] = datetime.fromisoformat(d["capture_time"])
        return cls(**{f.name: d.get(f.name) for f in dataclasses.fields(cls)})


def read_exif(path: str | Path, require: tuple[str, ...] = ()) -> PhotoExif:
    """Read the standard EXIF fields of a photo.

    require: field names of PhotoExif that must be present (e.g. ``("focal_mm",)``);
    a missing one raises DdirKitError naming the file and the tag.
    """
    path = Path(path)
    if not path.is_file():
        raise DdirKitError("file not found", path)
    if path.stat().st_size == 0:
        raise DdirKitError("empty file (0 bytes)", path)
    tags = _exifread_tags(path)
    fields = dict(
        focal_mm=_number(tags, "FocalLength"),
        exposure_s=_number(tags, "ExposureTime"),
        f_number=_number(tags, "FNumber"),
        iso=_number(tags, "ISOSpeedRatings") or _number(tags, "PhotographicSensitivity"),
        capture_time=_time(tags),
        camera_make=_text(tags, "Make"),
        camera_model=_text(tags, "Model"),
        lens_model=_text(tags, "LensModel"),
    )
    # rawpy unpacks the whole mosaic to open a file (~0.3 s for a 25 MB RAW): only ask it for
    # what exifread could not read.
    if path.suffix.lower() in RAW_SUFFIXES and any(fields[k] is None for k in _RAWPY_FIELDS):
        fields = _fill_from_rawpy(path, fields)
    exif = PhotoExif(**fields)
    missing = [name for name in require if getattr(exif, name) is None]
    if missing:
        raise DdirKitError(f"missing EXIF {', '.join(missing)}", path)
    return exif


def exif_bytes(exif: PhotoExif) -> bytes:
    """Serialise to an APP1-style EXIF block (starts with b'Exif\\0\\0') with piexif."""
    import piexif

    zeroth: dict = {}
    sub: dict = {}
    if exif.camera_make:
        zeroth[piexif.ImageIFD.Make] = exif.camera_make.encode()
    if exif.camera_model:
        zeroth[piexif.ImageIFD.Model] = exif.camera_model.encode()
    if exif.focal_mm is not None:
        sub[piexif.ExifIFD.FocalLength] = _rational(exif.focal_mm)
    if exif.exposure_s is not None:
        sub[piexif.ExifIFD.ExposureTime] = _rational(exif.exposure_s)
    if exif.f_number is not None:
        sub[piexif.ExifIFD.FNumber] = _rational(exif.f_number)
    if exif.iso is not None:
        sub[piexif.ExifIFD.ISOSpeedRatings] = int(round(exif.iso))
    if exif.capture_time is not None:
        sub[piexif.ExifIFD.DateTimeOriginal] = exif.capture_time.strftime(_TIME_FORMAT).encode()
        sub[piexif.ExifIFD.SubSecTimeOriginal] = f"{exif.capture_time.microsecond // 1000:03d}".encode()
    if exif.lens_model:
        sub[piexif.ExifIFD.LensModel] = exif.lens_model.encode()
    return piexif.dump({"0th": zeroth, "Exif": sub})


def embed_in_jpeg(jpeg: bytes, exif: PhotoExif) -> bytes:
    import piexif

    out = io.BytesIO()
    piexif.insert(exif_bytes(exif), jpeg, out)
    return out.getvalue()


def embed_in_png(png: bytes, exif: PhotoExif) -> bytes:
    """Insert an eXIf chunk right after IHDR (PNG 1.5 extension; exifread reads it).

    Written by hand because neither OpenCV nor piexif writes PNG EXIF, and the chunk is
    a length, a type, the TIFF-format EXIF and a CRC.
    """
    payload = exif_bytes(exif)[6:]  # the PNG chunk holds the TIFF data without 'Exif\0\0'
    chunk = struct.pack(">I", len(payload)) + b"eXIf" + payload
    chunk += struct.pack(">I", zlib.crc32(b"eXIf" + payload) & 0xFFFFFFFF)
    ihdr_end = 8 + 4 + 4 + 13 + 4  # signature, IHDR length, type, data, CRC
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def tiff_exif_tags(exif: PhotoExif) -> list[tuple]:
    """EXIF fields as tifffile ``extratags`` for IFD0 (read back as 'Image ...' tags)."""
    tags = []
    for code, value in ((37386, exif.focal_mm), (33434, exif.exposure_s), (33437, exif.f_number)):
        if value is not None:
            tags.append((code, 5, 1, _rational(value), True))
    if exif.iso is not None:
        tags.append((34855, 3, 1, int(round(exif.iso)), True))
    if exif.capture_time is not None:
        tags.append((36867, 2, 0, exif.capture_time.strftime(_TIME_FORMAT), True))
    for code, value in ((271, exif.camera_make), (272, exif.camera_model), (42036, exif.lens_model)):
        if value:
            tags.append((code, 2, 0, value, True))
    return tags


def _rational(value: float) -> tuple[int, int]:
    f = Fraction(value).limit_denominator(10000)
    return f.numerator, f.denominator


def _exifread_tags(path: Path) -> dict:
    import exifread

    try:
        with open(path, "rb") as f:
            return exifread.process_file(f, details=False)
    except Exception as e:  # exifread raises assorted errors on damaged headers
        raise DdirKitError(f"unreadable EXIF ({type(e).__name__}: {e})", path) from None


def _lookup(tags: dict, name: str):
    for prefix in ("EXIF", "Image"):
        if f"{prefix} {name}" in tags:
            return tags[f"{prefix} {name}"]
    return None


def _number(tags: dict, name: str) -> float | None:
    tag = _lookup(tags, name)
    if tag is None or not getattr(tag, "values", None):
        return None
    v = tag.values[0]
    try:
        value = float(v.num) / float(v.den) if hasattr(v, "num") else float(v)
    except (ZeroDivisionError, ValueError, TypeError):
        return None
    return value if value > 0 else None


def _text(tags: dict, name: str) -> str | None:
    tag = _lookup(tags, name)
    if tag is None:
        return None
    text = str(tag.values if isinstance(tag.values, str) else tag).strip().strip("\x00").strip()
    return text or None


def _time(tags: dict) -> datetime | None:
    for name in ("DateTimeOriginal", "DateTime"):
        text = _text(tags, name)
        if not text:
            continue
        try:
            t = datetime.strptime(text, _TIME_FORMAT)
        except ValueError:
            continue
        subsec = _text(tags, "SubSecTimeOriginal")
        if subsec and subsec.isdigit():
            t = t.replace(microsecond=int(subsec.ljust(6, "0")[:6]))
        return t
    return None


def _fill_from_rawpy(path: Path, fields: dict) -> dict:
    """RAW files whose EXIF exifread cannot parse (CR3, some vendors) still give rawpy's values."""
    from .raw_develop import _open_raw

    with _open_raw(path) as raw:
        other = raw.other
        fallback = dict(
            focal_mm=other.focal_length or None,
            exposure_s=other.shutter_speed or None,
            f_number=other.aperture or None,
            iso=other.iso_speed or None,
            capture_time=other.timestamp if other.timestamp and other.timestamp.year > 1970 else None,
        )
    return {k: (fields[k] if fields[k] is not None else fallback.get(k)) for k in fields}
