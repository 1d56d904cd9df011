"""Check one zoom setting: the scale a candidate LR shot achieves against an HR shot of the
board, and how far to turn the zoom ring to reach the wanted scale. The software version of
matching the annotated rectangle of the paper's target."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import DdirKitError
from .board_detection import BoardSize, detect_board_in_rgb, order_like_reference
from .calibration_file import Calibration, read_calibration
from .magnification import magnification

# Closer than this (mm of focal length) counts as on target: below the resolution of a
# zoom ring and of the calibration itself.
ON_TARGET_MM = 0.05


@dataclass(frozen=True)
class ZoomCheck:
    """scale_achieved: measured LR field of view / HR field of view.
    target_scale, target_focal_mm: the wanted scale and the calibrated focal length for it.
    lr_exif_focal_mm: what the LR shot's EXIF says (None if absent).
    current_focal_mm: the focal length the calibration model assigns to the achieved scale
        (None when the achieved scale is outside the calibrated range).
    turn_mm: target_focal_mm - current_focal_mm (positive: zoom in, towards longer focal
        lengths); from the EXIF focal length when the model cannot place the shot.
    fit_residual_px: residual of the LR board fit.
    """

    scale_achieved: float
    target_scale: float
    target_focal_mm: float
    lr_exif_focal_mm: float | None
    current_focal_mm: float | None
    turn_mm: float | None
    fit_residual_px: float

    @property
    def advice(self) -> str:
        if self.turn_mm is None:
            return "cannot tell how far to turn: the shot is outside the calibrated range and has no EXIF focal length"
        if abs(self.turn_mm) < ON_TARGET_MM:
            return "on target"
        way = "zoom in (longer focal length)" if self.turn_mm > 0 else "zoom out (shorter focal length)"
        return f"{way} by {abs(self.turn_mm):.2f} mm, to {self.target_focal_mm:.2f} mm"


def check_zoom(calibration: str | Path | Calibration, photo_hr: str | Path, photo_lr: str | Path,
               scale: float, board: BoardSize | str | None = None) -> ZoomCheck:
    """Measure the scale between an HR and an LR shot of the board and compare with ``scale``.

    calibration: calibration.json or a loaded Calibration (gives the model and the board).
    photo_hr: a shot at the reference focal length; photo_lr: the candidate shot.
    board: defaults to the calibration's board.
    """
    from ..photo.exif import read_exif
    from ..photo.photo_io import read_photo

    cal = calibration if isinstance(calibration, Calibration) else read_calibration(calibration)
    if cal.model is None:
        raise DdirKitError("a hand-written calibration (targets only) has no scale model to measure against; "
                           "use the calibration.json `ddir-kit calibrate` writes",
                           None if isinstance(calibration, Calibration) else calibration)
    board = board or cal.board
    board = board if isinstance(board, BoardSize) else BoardSize.parse(board)
    hr = detect_board_in_rgb(read_photo(photo_hr).rgb, board, photo_hr)
    lr = detect_board_in_rgb(read_photo(photo_lr).rgb, board, photo_lr)
    if hr.image_size_px != lr.image_size_px:
        raise DdirKitError(f"image size {lr.image_size_px[0]}x{lr.image_size_px[1]} differs from the HR shot's "
                           f"{hr.image_size_px[0]}x{hr.image_size_px[1]}", photo_lr)
    corners = order_like_reference(lr.corners_px, hr.corners_px)
    mag = magnification(corners, hr.corners_px, hr.image_size_px, cal.fit_model)
    target_focal = cal.model.focal_for_scale(float(scale))
    exif_focal = read_exif(photo_lr).focal_mm
    s_lo, s_hi = cal.model.scale_range
    current = cal.model.focal_for_scale(mag.scale) if s_lo <= mag.scale <= s_hi else None
    if current is not None:
        turn = target_focal - current
    elif exif_focal is not None:
        turn = target_focal - exif_focal
    else:
        turn = None
    return ZoomCheck(float(mag.scale), float(scale), target_focal, exif_focal, current, turn, float(mag.residual_px))
