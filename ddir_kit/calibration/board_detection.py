"""Checkerboard corners in full-resolution photos, in an order consistent between shots.

Detection runs OpenCV's sector-based detector (findChessboardCornersSB) on a downscaled copy,
which bounds its time on 24-megapixel photos; the corners are then refined at full resolution
with cornerSubPix. Coordinates follow the project convention: x right, y down, (0, 0) the
centre of the top-left pixel.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import DdirKitError

# Longest side of the copy the detector sees first, and the largest it may try when the
# board is too small to be found there. The detector's time grows with the pixel count.
DETECT_MAX_SIDE_PX = 1280
DETECT_MAX_SIDE_LIMIT_PX = 2600


@dataclass(frozen=True)
class BoardSize:
    """Inner corners of a checkerboard: ``cols`` along one side, ``rows`` along the other."""

    cols: int
    rows: int

    @classmethod
    def parse(cls, text: str) -> "BoardSize":
        """'9x6' -> BoardSize(9, 6)."""
        m = re.fullmatch(r"\s*(\d+)\s*[xX*]\s*(\d+)\s*", str(text))
        if not m or min(int(m.group(1)), int(m.group(2))) < 3:
            raise DdirKitError(f"board must be COLSxROWS inner corners, each at least 3 (e.g. 9x6), got {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @property
    def n_corners(self) -> int:
        return self.cols * self.rows

    @property
    def symmetric_under_half_turn(self) -> bool:
        """True when the board's colouring looks the same rotated by 180 degrees, so the
        detector's corner order can flip between shots (cols + rows even)."""
        return (self.cols + self.rows) % 2 == 0

    def __str__(self) -> str:
        return f"{self.cols}x{self.rows}"


@dataclass(frozen=True)
class BoardDetection:
    """Corners of one board view.

    corners_px: float64 (rows, cols, 2), full-resolution pixel coordinates (x, y).
    image_size_px: (width, height) of the photo.
    square_px: mean spacing of neighbouring corners in pixels.
    detect_side_px: longest side of the downscaled copy the detector ran on.
    detect_s: seconds spent in detection and refinement.
    """

    corners_px: np.ndarray
    image_size_px: tuple[int, int]
    square_px: float
    detect_side_px: int
    detect_s: float


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """float32 HxWx3 RGB [0, 1] -> float32 HxW luma [0, 1] (16-bit precision kept)."""
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2GRAY)


def detect_board(gray: np.ndarray, board: BoardSize, path: str | Path | None = None,
                 detect_max_side_px: int = DETECT_MAX_SIDE_PX) -> BoardDetection:
    """Find the board's inner corners in a grey image.

    gray: float32 (H, W) in [0, 1].
    The detector runs on a copy whose longest side is ``detect_max_side_px`` (a few retries
    at other sizes, up to DETECT_MAX_SIDE_LIMIT_PX, when it misses), which bounds its time on
    large photos; corners are then refined at full resolution. Raises DdirKitError (naming ``path``) when the
    whole board is not found, e.g. when part of it is out of frame.
    """
    t0 = time.perf_counter()
    gray = np.asarray(gray, np.float32)
    if gray.ndim != 2 or min(gray.shape) < 16:
        raise DdirKitError(f"expected a grey HxW image, got shape {gray.shape}", path)
    h, w = gray.shape
    found = None
    tried = []
    for side, flags in _attempts(max(h, w), detect_max_side_px):
        tried.append(side)
        found = _detect_downscaled(gray, board, side, flags)
        if found is not None:
            break
    if found is None:
        raise DdirKitError(f"checkerboard {board} not found (whole board must be in frame; "
                           f"tried at {', '.join(f'{s} px' for s in sorted(set(tried)))})", path)
    corners = _refine_full_resolution(gray, found, board)
    return BoardDetection(corners, (w, h), _mean_spacing(corners), tried[-1], time.perf_counter() - t0)


def detect_board_in_rgb(rgb: np.ndarray, board: BoardSize, path: str | Path | None = None,
                        detect_max_side_px: int = DETECT_MAX_SIDE_PX) -> BoardDetection:
    """detect_board on a float32 HxWx3 RGB image."""
    return detect_board(to_gray(rgb), board, path, detect_max_side_px)


_FLAGS = cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_EXHAUSTIVE


def _attempts(full_side: int, first_side: int) -> list[tuple[int, int]]:
    """(longest side, detector flags) to try in turn. CALIB_CB_ACCURACY is left out: it
    triples the time and fails more often, and the corners are refined at full resolution
    anyway. A miss is retried without normalisation, then smaller (blur and noise average
    out), then larger (a small board in a wide shot), never above DETECT_MAX_SIDE_LIMIT_PX."""
    side = min(first_side, full_side)
    out = [(side, _FLAGS), (side, cv2.CALIB_CB_EXHAUSTIVE), (int(side * 0.7), _FLAGS)]
    bigger = min(2 * side, full_side, DETECT_MAX_SIDE_LIMIT_PX)
    if bigger > side:
        out.append((bigger, _FLAGS))
    return out


def _detect_downscaled(gray: np.ndarray, board: BoardSize, side: int, flags: int) -> np.ndarray | None:
    """(rows, cols, 2) float64 full-resolution coordinates, or None."""
    h, w = gray.shape
    k = max(h, w) / side
    if k > 1.0:
        small_w, small_h = max(1, round(w / k)), max(1, round(h / k))
        small = cv2.resize(gray, (small_w, small_h), interpolation=cv2.INTER_AREA)
    else:
        small_w, small_h, small = w, h, gray
    small8 = np.clip(np.rint(small * 255.0), 0, 255).astype(np.uint8)
    ok, pts = cv2.findChessboardCornersSB(small8, (board.cols, board.rows), flags=flags)
    if not ok or pts is None or len(pts) != board.n_corners:
        return None
    pts = pts.reshape(board.rows, board.cols, 2).astype(np.float64)
    # Pixel centres: small pixel u covers full-resolution [u kx, (u + 1) kx).
    kx, ky = w / small_w, h / small_h
    pts[..., 0] = (pts[..., 0] + 0.5) * kx - 0.5
    pts[..., 1] = (pts[..., 1] + 0.5) * ky - 0.5
    return pts


def _refine_full_resolution(gray: np.ndarray, corners: np.ndarray, board: BoardSize) -> np.ndarray:
    spacing = _mean_spacing(corners)
    # The window must cover the edges meeting at a corner but stay clear of the next corner.
    half = int(np.clip(0.4 * spacing, 2, 40))
    pts = corners.reshape(-1, 1, 2).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 60, 1e-4)
    refined = cv2.cornerSubPix(gray, pts.copy(), (half, half), (-1, -1), criteria)
    refined = refined.reshape(board.rows, board.cols, 2).astype(np.float64)
    # A corner that wandered off by a large part of a square locked on something else; the
    # detector's own estimate is the better one there.
    moved = np.linalg.norm(refined - corners, axis=-1)
    bad = moved > 0.25 * spacing
    refined[bad] = corners[bad]
    return refined


def _mean_spacing(corners: np.ndarray) -> float:
    dx = np.linalg.norm(np.diff(corners, axis=1), axis=-1)
    dy = np.linalg.norm(np.diff(corners, axis=0), axis=-1)
    return float(np.concatenate([dx.ravel(), dy.ravel()]).mean())


def corner_orderings(corners_px: np.ndarray) -> list[np.ndarray]:
    """Every re-indexing of a (rows, cols, 2) grid that describes the same board: the
    identity, the two mirror flips and the half turn; for square grids also the transposes."""
    c = corners_px
    out = [c, c[::-1, :], c[:, ::-1], c[::-1, ::-1]]
    if c.shape[0] == c.shape[1]:
        t = c.transpose(1, 0, 2)
        out += [t, t[::-1, :], t[:, ::-1], t[::-1, ::-1]]
    return [np.ascontiguousarray(o) for o in out]


def order_like_reference(corners_px: np.ndarray, reference_px: np.ndarray) -> np.ndarray:
    """Re-index a shot's corners so that corner (i, j) is the same physical corner as the
    reference's corner (i, j).

    The camera stays on a tripod and only zooms, so after removing the centroid and the
    overall size, the right ordering lies close to the reference; the wrong ones are mirrored
    or turned by 90-180 degrees. This resolves the half-turn ambiguity of symmetric boards.
    corners_px, reference_px: float (rows, cols, 2) with the same number of corners.
    """
    ref = _normalised(reference_px)
    best, best_d = None, np.inf
    for cand in corner_orderings(corners_px):
        if cand.shape != reference_px.shape:
            continue
        d = float(np.sum((_normalised(cand) - ref) ** 2))
        if d < best_d:
            best, best_d = cand, d
    if best is None:
        raise DdirKitError(f"board grids differ: {corners_px.shape[:2]} vs {reference_px.shape[:2]}")
    return best


def _normalised(pts: np.ndarray) -> np.ndarray:
    p = pts.reshape(-1, 2) - pts.reshape(-1, 2).mean(axis=0)
    return p / np.sqrt(np.mean(np.sum(p ** 2, axis=1)))
