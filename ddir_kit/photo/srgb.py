"""The sRGB transfer function (IEC 61966-2-1), on [0, 1] and as a table on the 0..255 scale.

Camera JPEGs and the kit's developed RAW files are sRGB-encoded; a sensor averages light, so
every stage that averages pixels (the virtual camera's rendering, registration's template)
decodes first and encodes after.
"""

from __future__ import annotations

import cv2
import numpy as np


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(np.clip(np.asarray(x, np.float32), 0.0, None))
    # cv2.pow: numpy's float power is several times slower on full frames; OpenCV returns a
    # 1-D input as a column, hence the reshape
    power = cv2.pow(x, 1 / 2.4).reshape(x.shape)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * power - 0.055).astype(np.float32)


_DECODE_STEPS = 64  # table entries per 8-bit level: far below noise and quantisation
_DECODE = np.float32(255.0) * srgb_to_linear(np.arange(255 * _DECODE_STEPS + 1) / (255.0 * _DECODE_STEPS))


def srgb_to_linear_255(grey: np.ndarray) -> np.ndarray:
    """float32 sRGB-encoded values on a 0..255 scale -> linear light on the same scale (a table
    lookup: a power on a full frame takes several times as long)."""
    scaled = np.asarray(grey, np.float32) * np.float32(_DECODE_STEPS)
    np.clip(scaled, 0.0, np.float32(_DECODE.size - 1), out=scaled)
    scaled += np.float32(0.5)  # the cast below truncates: this rounds
    return _DECODE[scaled.astype(np.int32)]


def linear_to_srgb_255(values: np.ndarray) -> np.ndarray:
    """The inverse of srgb_to_linear_255 (float32, 0..255 scale; values outside are clipped)."""
    x = np.clip(np.asarray(values, np.float32) / np.float32(255.0), 0.0, 1.0)
    return np.float32(255.0) * linear_to_srgb(x)
