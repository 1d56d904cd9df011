"""Board detections kept beside calibration.json, so that a rerun (or a run that was killed
part-way through a sweep of full-frame photos) reads and detects only new or changed files.

One JSON file: the board, a format tag, and per file a key (size and modification time in
nanoseconds) with either the detected corners or the reason the file could not be used.
Focal lengths are not kept: they come from EXIF or the --focals table on every run. It is
rewritten atomically after every file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..fileio import atomic_write_json
from .board_detection import BoardDetection

CACHE_FORMAT = "ddir-kit board detections v1"


class DetectionCache:
    def __init__(self, path: str | Path | None, board: str):
        self.path = None if path is None else Path(path)
        self.board = board
        self.entries: dict[str, dict] = {}
        self.reused = 0
        if self.path is not None and self.path.is_file():
            try:
                d = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                d = {}
            # A cache for another board or format is ignored, never trusted.
            if d.get("format") == CACHE_FORMAT and d.get("board") == board:
                self.entries = dict(d.get("files", {}))

    @staticmethod
    def key(path: Path) -> str:
        st = path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}"

    def get(self, path: Path) -> tuple[str, BoardDetection | None] | None:
        """(status, detection) of an unchanged file, or None."""
        e = self.entries.get(path.name)
        if e is None or e.get("key") != self.key(path):
            return None
        self.reused += 1
        det = None
        if e["status"] == "ok":
            det = BoardDetection(np.asarray(e["corners_px"], np.float64), tuple(e["image_size_px"]),
                                 float(e["square_px"]), int(e["detect_side_px"]), 0.0)
        return e["status"], det

    def put(self, path: Path, status: str, det: BoardDetection | None) -> None:
        e = {"key": self.key(path), "status": status}
        if det is not None:
            e.update(corners_px=det.corners_px.tolist(), image_size_px=list(det.image_size_px),
                     square_px=det.square_px, detect_side_px=det.detect_side_px)
        self.entries[path.name] = e
        if self.path is not None:
            atomic_write_json(self.path, {"format": CACHE_FORMAT, "board": self.board, "files": self.entries})
