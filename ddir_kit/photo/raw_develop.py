"""RAW development with fixed parameters, identical for every shot of a scene.

Registration compares an LR and an HR shot pixel by pixel, so anything the RAW converter
decides per image (auto brightness, auto white balance, a maximum guessed from the data, an
orientation flip) would plant a photometric or geometric difference that is not in the
scene. Every such choice is fixed here and recorded beside the output.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DdirKitError

RAW_SUFFIXES = frozenset({".dng", ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".raf", ".orf", ".rw2", ".pef", ".srw"})

_DEMOSAIC = ("LINEAR", "VNG", "PPG", "AHD", "DCB", "DHT", "AAHD")


@dataclass(frozen=True)
class RawDevelopment:
    """Fixed RAW development parameters (rawpy / LibRaw).

    white_balance: per-channel multipliers (R, G, B, G2); None means the camera's as-shot
        multipliers of the file being developed. Ingest resolves it once per scene from the
        HR shot and passes the same values for every shot of the scene.
    demosaic: LibRaw demosaic algorithm name.
    gamma: (power, toe slope) of the output curve; (2.4, 12.92) is sRGB's, so that developed
        files are encoded like camera JPEGs and as registration decodes them (LibRaw's default,
        (2.222, 4.5), is BT.709's: decoding it as sRGB cost the demo's registration 0.01 LR px).
    bright: fixed linear brightness multiplier (auto brightness is always off).
    Output is always 16-bit sRGB, no flip, adjust-maximum threshold 0, highlights clipped.
    """

    white_balance: tuple[float, float, float, float] | None = None
    demosaic: str = "AHD"
    gamma: tuple[float, float] = (2.4, 12.92)
    bright: float = 1.0

    def __post_init__(self):
        if self.demosaic not in _DEMOSAIC:
            raise DdirKitError(f"unknown demosaic algorithm {self.demosaic!r}; one of {', '.join(_DEMOSAIC)}")
        if self.white_balance is not None and len(self.white_balance) != 4:
            raise DdirKitError("white_balance needs four multipliers (R, G, B, G2)")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.update(output_bps=16, no_auto_bright=True, adjust_maximum_thr=0.0, user_flip=0,
                 output_color="sRGB", highlight_mode="clip")
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RawDevelopment":
        """The parameters of ``to_dict``'s output; a field that is absent takes today's default.

        Every record ddir-kit has written carries ``gamma`` (the field is as old as the kit):
        scenes developed before the sRGB change record LibRaw's BT.709 (2.222, 4.5) and are read
        with it, and ingest's fingerprint holds the whole record, so a rerun of ingest develops
        such a scene again with the sRGB curve. Only a hand-written or partial dict lacks the
        field; it gets the sRGB curve, the one registration decodes.
        """
        default = cls()
        wb = d.get("white_balance")
        return cls(
            white_balance=None if wb is None else tuple(float(v) for v in wb),
            demosaic=d.get("demosaic", default.demosaic),
            gamma=tuple(d.get("gamma", default.gamma)),
            bright=float(d.get("bright", default.bright)),
        )


def camera_white_balance(path: str | Path) -> tuple[float, float, float, float]:
    """The as-shot white balance multipliers stored in a RAW file (G2 = G when absent)."""
    with _open_raw(path) as raw:
        return _as_shot(raw, path)


def develop_raw(path: str | Path, development: RawDevelopment | None = None) -> tuple[np.ndarray, RawDevelopment]:
    """Develop a RAW file into float32 RGB in [0, 1] (HxWx3) with fixed parameters.

    Returns the image and the parameters actually used, with the white balance resolved to
    numbers, so that the same development can be repeated on the other shots of a scene.
    """
    import rawpy

    development = development or RawDevelopment()
    with _open_raw(path) as raw:
        wb = development.white_balance or _as_shot(raw, path)
        try:
            rgb16 = raw.postprocess(
                demosaic_algorithm=getattr(rawpy.DemosaicAlgorithm, development.demosaic),
                user_wb=list(wb),
                output_color=rawpy.ColorSpace.sRGB,
                output_bps=16,
                gamma=development.gamma,
                no_auto_bright=True,
                bright=development.bright,
                adjust_maximum_thr=0.0,
                user_flip=0,
                highlight_mode=rawpy.HighlightMode.Clip,
            )
        except rawpy.LibRawError as e:
            raise DdirKitError(f"RAW development failed ({type(e).__name__}: {e})", path) from None
    resolved = dataclasses.replace(development, white_balance=tuple(float(v) for v in wb))
    return rgb16.astype(np.float32) / 65535.0, resolved


def _as_shot(raw, path) -> tuple[float, float, float, float]:
    wb = [float(v) for v in raw.camera_whitebalance]
    if wb[3] == 0:
        wb[3] = wb[1]
    if min(wb[:3]) <= 0:
        raise DdirKitError("RAW file has no as-shot white balance; pass one explicitly", path)
    return tuple(wb)  # type: ignore[return-value]


class _open_raw:
    """rawpy.imread with LibRaw's errors turned into the project error."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        import rawpy

        try:
            self.raw = rawpy.imread(str(self.path))
            self.raw.raw_image  # unpacks: a truncated file fails here rather than later
        except (rawpy.LibRawError, OSError) as e:
            raise DdirKitError(f"not a readable RAW file ({type(e).__name__}: {e})", self.path) from None
        return self.raw

    def __exit__(self, *exc):
        self.raw.close()
        return False
