"""Planar targets for the virtual camera: a checkerboard and textures from real photographs.

Public API
----------
- ``PlanarTexture(image, extent_mm, border, border_value)``: linear-light RGB on a rectangle of
  the scene plane; ``at_texel_mm(texel_mm)`` gives an area-averaged (antialiased) copy whose
  texels are no finer than ``texel_mm``; ``texel_coords(x_mm, y_mm)`` maps plane points to
  texel coordinates (docs/conventions.md, (0, 0) = centre of the first texel).
- ``Checkerboard(cols, rows, square_mm, margin_squares)``: ``cols x rows`` INNER corners;
  ``corners_mm()`` (rows*cols, 2) in OpenCV's row-major order, ``texture(texel_mm)`` renders it
  exactly box-filtered at any texel size.
- ``packaged_textures()``: paths of the photographs shipped in ``ddir_kit/data/textures``;
  ``load_texture(path, width_mm)``: a photo as a texture centred on the plane origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import DdirKitError
from ..photo.srgb import srgb_to_linear

TEXTURE_DIR = Path(__file__).resolve().parents[1] / "data" / "textures"


@dataclass(frozen=True)
class PlanarTexture:
    """An image lying on the scene plane.

    image: float32 HxWx3, linear light, [0, 1].
    extent_mm: (x0, y0, x1, y1), the plane rectangle covered by the image's outer texel edges.
    border: what lies outside the rectangle: 'reflect' (the photo mirrored, for scenes that
        must fill a wide view) or 'constant' (``border_value``, linear grey).
    """

    image: np.ndarray
    extent_mm: tuple[float, float, float, float]
    border: str = "reflect"
    border_value: float = 0.2

    @property
    def texel_mm(self) -> tuple[float, float]:
        h, w = self.image.shape[:2]
        x0, y0, x1, y1 = self.extent_mm
        return (x1 - x0) / w, (y1 - y0) / h

    def texel_coords(self, x_mm, y_mm) -> tuple[np.ndarray, np.ndarray]:
        h, w = self.image.shape[:2]
        x0, y0, x1, y1 = self.extent_mm
        return (np.asarray(x_mm) - x0) * (w / (x1 - x0)) - 0.5, (np.asarray(y_mm) - y0) * (h / (y1 - y0)) - 0.5

    def at_texel_mm(self, texel_mm: float) -> "PlanarTexture":
        """A copy no finer than ``texel_mm``: Gaussian-prefiltered and area-averaged, so a
        minified rendering does not alias. Returned unchanged when already coarse enough."""
        tx, ty = self.texel_mm
        if min(tx, ty) >= texel_mm * 0.999:
            return self
        x0, y0, x1, y1 = self.extent_mm
        # Never finer than now along either axis: with one axis enlarged, cv2.resize's
        # INTER_AREA falls back to bilinear for both and shifted non-square-texel textures by
        # a third of a texel (tests/test_virtual_camera_render.py).
        w = min(self.image.shape[1], max(2, int(round((x1 - x0) / texel_mm))))
        h = min(self.image.shape[0], max(2, int(round((y1 - y0) / texel_mm))))
        # A box (area) filter alone leaves strong side lobes: fine periodic detail would
        # survive as moire. A Gaussian of sigma (ratio - 1) / 2 first (as skimage's rescale
        # does) removes what the new texel grid cannot hold.
        rx, ry = self.image.shape[1] / w, self.image.shape[0] / h
        src = self.image
        if max(rx, ry) > 1.05:
            src = cv2.GaussianBlur(src, (0, 0), sigmaX=max(0.3, (rx - 1) / 2), sigmaY=max(0.3, (ry - 1) / 2),
                                   borderType=cv2.BORDER_REFLECT)
        small = cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA)
        return PlanarTexture(small, self.extent_mm, self.border, self.border_value)

    def render(self, x_mm: np.ndarray, y_mm: np.ndarray, footprint_mm: float) -> np.ndarray:
        """Sample the texture at plane points (float32 HxW maps) -> float32 HxWx3.

        footprint_mm: the size of a pixel on the plane; the texture is area-prefiltered to it
        first (antialiasing), then sampled bilinearly."""
        tex = self.at_texel_mm(footprint_mm)
        tx, ty = tex.texel_coords(x_mm, y_mm)
        if tex.border == "reflect":
            border, value = cv2.BORDER_REFLECT, 0
        else:
            border, value = cv2.BORDER_CONSTANT, (tex.border_value,) * 3
        return cv2.remap(tex.image, tx.astype(np.float32), ty.astype(np.float32), cv2.INTER_LINEAR,
                         borderMode=border, borderValue=value)

    def with_patch(self, patch: np.ndarray, centre_mm: tuple[float, float]) -> "PlanarTexture":
        """A copy with ``patch`` (float32 hxwx3 linear, same texel size) pasted at a plane point."""
        img = self.image.copy()
        cu, cv = self.texel_coords(*centre_mm)
        h, w = patch.shape[:2]
        top, left = int(round(cv - h / 2)), int(round(cu - w / 2))
        t0, l0 = max(top, 0), max(left, 0)
        t1, l1 = min(top + h, img.shape[0]), min(left + w, img.shape[1])
        if t1 <= t0 or l1 <= l0:
            raise DdirKitError("patch lies outside the texture")
        img[t0:t1, l0:l1] = patch[t0 - top:t1 - top, l0 - left:l1 - left]
        return PlanarTexture(img, self.extent_mm, self.border, self.border_value)


@dataclass(frozen=True)
class PlanarScene:
    """Opaque rectangles (photos, an object) on a plain wall, drawn in order.

    layers: PlanarTexture whose extent_mm is the rectangle it covers (border ignored: nothing
        outside it). background: linear grey of the wall.
    Edges are antialiased: each layer carries an alpha channel sampled with the same filter,
    so a photo's edge lies at its extent for every pixel size.
    """

    layers: tuple[PlanarTexture, ...]
    background: float = 0.12

    def render(self, x_mm: np.ndarray, y_mm: np.ndarray, footprint_mm: float) -> np.ndarray:
        h, w = x_mm.shape
        out = np.full((h, w, 3), self.background, np.float32)
        # coarse copies of the maps find each layer's bounding box cheaply
        step = 8
        cx, cy = x_mm[::step, ::step], y_mm[::step, ::step]
        for layer in self.layers:
            x0, y0, x1, y1 = layer.extent_mm
            pad = 2 * footprint_mm
            hit = (cx >= x0 - pad) & (cx <= x1 + pad) & (cy >= y0 - pad) & (cy <= y1 + pad)
            if not hit.any():
                continue
            rows, cols = np.nonzero(hit.any(axis=1))[0], np.nonzero(hit.any(axis=0))[0]
            r0, r1 = max(0, (rows[0] - 1) * step), min(h, (rows[-1] + 2) * step)
            c0, c1 = max(0, (cols[0] - 1) * step), min(w, (cols[-1] + 2) * step)
            tex = layer.at_texel_mm(footprint_mm)
            rgba = np.concatenate([tex.image, np.ones(tex.image.shape[:2] + (1,), np.float32)], axis=2)
            tx, ty = tex.texel_coords(x_mm[r0:r1, c0:c1], y_mm[r0:r1, c0:c1])
            # transparent (alpha 0) beyond the rectangle: bilinear alpha is 0.5 exactly on its edge
            s = cv2.remap(rgba, tx.astype(np.float32), ty.astype(np.float32), cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
            a = s[:, :, 3:4]
            region = out[r0:r1, c0:c1]
            region *= 1.0 - a
            region += s[:, :, :3]  # premultiplied: the colour already carries alpha
        return out


def postcard_wall(photos: list[np.ndarray], texel_mm: float, cover_mm: tuple[float, float],
                  rng: np.random.Generator, offset_mm: tuple[float, float] = (0.0, 0.0),
                  gap: float = 0.05, background: float = 0.12) -> PlanarScene:
    """Photos pinned on a wall in a grid, ``photos[0]`` in the middle (centred at offset_mm),
    the others drawn at random (randomly mirrored) around it until the grid covers
    ``cover_mm`` = (half width, half height) around the plane origin.

    photos: float32 linear HxWx3 images; each is scaled to the middle one's size.
    texel_mm: size of one texel of the middle photo on the plane. gap: space between photos
    as a fraction of the photo width.
    """
    h, w = photos[0].shape[:2]
    card_w, card_h = w * texel_mm, h * texel_mm
    pitch_x, pitch_y = card_w * (1 + gap), card_h + card_w * gap
    kx = max(0, int(np.ceil((cover_mm[0] + abs(offset_mm[0])) / pitch_x - 0.5)))
    ky = max(0, int(np.ceil((cover_mm[1] + abs(offset_mm[1])) / pitch_y - 0.5)))
    layers = []
    others = photos[1:] or photos
    for j in range(-ky, ky + 1):
        for i in range(-kx, kx + 1):
            if i == 0 and j == 0:
                img = photos[0]
            else:
                img = others[int(rng.integers(len(others)))]
                if img.shape[:2] != (h, w):
                    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
                if rng.integers(2):
                    img = img[:, ::-1]
                img = np.ascontiguousarray(img)
            cx, cy = offset_mm[0] + i * pitch_x, offset_mm[1] + j * pitch_y
            layers.append(PlanarTexture(img, (cx - card_w / 2, cy - card_h / 2, cx + card_w / 2, cy + card_h / 2),
                                        "constant", background))
    return PlanarScene(tuple(layers), background)


@dataclass(frozen=True)
class Checkerboard:
    """A printed checkerboard: ``cols x rows`` inner corners (OpenCV's pattern size),
    squares of ``square_mm``, a white quiet zone ``margin_squares`` wide around it, centred
    on the plane origin. The top-left square is black."""

    cols: int = 9
    rows: int = 6
    square_mm: float = 25.0
    margin_squares: float = 1.0
    black: float = 0.03
    white: float = 0.85

    @property
    def size_mm(self) -> tuple[float, float]:
        """Outer size (width, height) including the quiet zone."""
        m = 2 * self.margin_squares
        return (self.cols + 1 + m) * self.square_mm, (self.rows + 1 + m) * self.square_mm

    def corners_mm(self) -> np.ndarray:
        """(rows*cols, 2) inner corners on the plane, row by row, left to right."""
        xs = (np.arange(self.cols) - (self.cols - 1) / 2.0) * self.square_mm
        ys = (np.arange(self.rows) - (self.rows - 1) / 2.0) * self.square_mm
        gx, gy = np.meshgrid(xs, ys)
        return np.stack([gx.ravel(), gy.ravel()], axis=1)

    def texture(self, texel_mm: float, background: float = 0.2) -> PlanarTexture:
        """The board rendered with each texel the exact area average of the print (so any
        texel size is alias-free and unbiased), grey ``background`` beyond the quiet zone."""
        w_mm, h_mm = self.size_mm
        w, h = int(np.ceil(w_mm / texel_mm)), int(np.ceil(h_mm / texel_mm))
        # texels exactly texel_mm; the rectangle grows to a whole number of them, centred
        x0, y0 = -w * texel_mm / 2.0, -h * texel_mm / 2.0
        sq_x0 = -(self.cols + 1) * self.square_mm / 2.0
        sq_y0 = -(self.rows + 1) * self.square_mm / 2.0
        fx = _odd_fraction(x0 + np.arange(w + 1) * texel_mm - sq_x0, self.square_mm, self.cols + 1)
        fy = _odd_fraction(y0 + np.arange(h + 1) * texel_mm - sq_y0, self.square_mm, self.rows + 1)
        inx = _inside_fraction(x0 + np.arange(w + 1) * texel_mm - sq_x0, (self.cols + 1) * self.square_mm)
        iny = _inside_fraction(y0 + np.arange(h + 1) * texel_mm - sq_y0, (self.rows + 1) * self.square_mm)
        # square (i, j) is black when i + j is even; per axis: a = fraction in odd squares,
        # e = fraction in even squares, both over the texel's extent
        ax, ex = fx[:, None], (inx - fx)[:, None]
        ay, ey = fy[:, None], (iny - fy)[:, None]
        black = (ey @ ex.T) + (ay @ ax.T)          # (h, w): even-even + odd-odd
        # the paper (squares and quiet zone) is white where not black; beyond it grey
        mx = _inside_fraction(x0 + np.arange(w + 1) * texel_mm + w_mm / 2, w_mm)
        my = _inside_fraction(y0 + np.arange(h + 1) * texel_mm + h_mm / 2, h_mm)
        paper = np.outer(my, mx)
        img = background * (1 - paper) + self.white * (paper - black) + self.black * black
        img = np.repeat(np.clip(img, 0, 1)[:, :, None], 3, axis=2)
        return PlanarTexture(np.ascontiguousarray(img), (x0, y0, -x0, -y0), "constant", background)


def _odd_fraction(edges: np.ndarray, period: float, count: int) -> np.ndarray:
    """Per interval [edges[i], edges[i+1]]: fraction of its length inside odd-numbered squares
    (squares 0..count-1 of size ``period`` starting at 0)."""
    def cumulative(x):
        x = np.clip(x, 0.0, count * period)
        pairs = np.floor(x / (2 * period))
        rest = x - pairs * 2 * period
        return pairs * period + np.clip(rest - period, 0.0, period)
    c = cumulative(edges)
    return np.diff(c) / np.diff(edges)


def _inside_fraction(edges: np.ndarray, length: float) -> np.ndarray:
    c = np.clip(edges, 0.0, length)
    return np.diff(c) / np.diff(edges)


def packaged_textures() -> list[Path]:
    """The real photographs shipped with the package (sorted), for scenes with no input."""
    paths = sorted(p for p in TEXTURE_DIR.glob("*.jpg"))
    if not paths:
        raise DdirKitError("no packaged textures found (broken install?)", TEXTURE_DIR)
    return paths


def texture_paths(textures=None) -> list[Path]:
    """The photos to build walls from: ``textures`` (paths, checked) or the packaged ones."""
    paths = [Path(p) for p in textures] if textures else packaged_textures()
    for p in paths:
        if not p.is_file():
            raise DdirKitError("texture not found", p)
    return paths


def photos_in(folder: str | Path) -> list[Path]:
    """The photos (JPEG, PNG, TIFF; not RAW) directly in a folder, sorted by name."""
    from ..photo.photo_io import IMAGE_SUFFIXES

    folder = Path(folder)
    if not folder.is_dir():
        raise DdirKitError("not a folder", folder)
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise DdirKitError("no JPEG, PNG or TIFF photos in the folder", folder)
    return paths


def load_texture(path: str | Path, width_mm: float) -> PlanarTexture:
    """A photo (any format read_rgb reads) as a linear-light texture ``width_mm`` wide,
    centred on the plane origin, mirrored beyond its edges."""
    from ..photo.photo_io import read_rgb

    img = srgb_to_linear(read_rgb(path))
    h, w = img.shape[:2]
    height_mm = width_mm * h / w
    return PlanarTexture(img, (-width_mm / 2, -height_mm / 2, width_mm / 2, height_mm / 2), "reflect")
