"""A printable calibration target: a checkerboard inside nested rectangles, one per scale.

The innermost rectangle is the reference (HR) field of view, with the sensor's aspect ratio;
the rectangle for scale s is s times larger about the same centre. Framing the innermost one
at the reference focal length and zooming out until rectangle s fills the frame is the
by-eye calibration of the RealArbiSR authors; the board inside the innermost rectangle is the
one `ddir-kit calibrate` measures, fully visible at every focal length.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence


from ..errors import DdirKitError
from ..quantities import parse_size_mm
from ..fileio import atomic_path
from ..scales import as_fraction
from .board_detection import BoardSize

PAGES_MM = {"A4": (297.0, 210.0), "A3": (420.0, 297.0), "A2": (594.0, 420.0), "A1": (841.0, 594.0),
            "A0": (1189.0, 841.0), "LETTER": (279.4, 215.9), "TABLOID": (431.8, 279.4)}
MARGIN_MM = 12.0
# Board side relative to the innermost rectangle: leaves at least one square of white
# around the board (the detector needs a quiet zone) and clear of the rectangle's lines.
BOARD_FILL = 0.72


@dataclass(frozen=True)
class TargetPattern:
    """What was drawn, in millimetres on the page (origin bottom-left, landscape).

    rects_mm: {scale: (x, y, width, height)}, scale 1 is the reference field of view.
    square_mm: side of a board square. dpi: raster resolution (PNG) or None for PDF.
    """

    path: Path
    page_mm: tuple[float, float]
    square_mm: float
    board: str
    rects_mm: dict
    dpi: int | None


def parse_page(text: str) -> tuple[float, float]:
    """'A3' or '420x297' (mm) -> landscape (width, height) in mm."""
    key = str(text).strip().upper()
    if key in PAGES_MM:
        return PAGES_MM[key]
    try:
        w, h = parse_size_mm(key, 'page')
    except DdirKitError:
        raise DdirKitError(f"page must be one of {', '.join(PAGES_MM)} or WIDTHxHEIGHT in mm, got {text!r}") from None
    return max(w, h), min(w, h)


def draw_target(out: str | Path, scales: Sequence[float] | str, sensor_mm: tuple[float, float] = (36.0, 24.0),
                board: BoardSize | str = "9x6", page_mm: tuple[float, float] = PAGES_MM["A3"],
                dpi: int = 300) -> TargetPattern:
    """Write the target as PDF (vector) or PNG (``dpi`` dots per inch), chosen by extension.

    scales: the wanted scales; the largest sets the size of everything else.
    sensor_mm: sensor width and height (only the aspect ratio matters).
    page_mm: page (width, height) in mm; the target is drawn landscape.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from ..scales import parse_scale_list

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".pdf", ".png"):
        raise DdirKitError("target must be written as .pdf or .png", out)
    board = board if isinstance(board, BoardSize) else BoardSize.parse(board)
    wanted = sorted(parse_scale_list(scales) if isinstance(scales, str) else [as_fraction(s) for s in scales])
    page_w, page_h = max(page_mm), min(page_mm)
    aspect = max(sensor_mm) / min(sensor_mm)
    s_max = float(wanted[-1])
    usable_w, usable_h = page_w - 2 * MARGIN_MM, page_h - 2 * MARGIN_MM - 10.0  # 10 mm for the caption
    ref_w = min(usable_w / s_max, usable_h * aspect / s_max)
    ref_h = ref_w / aspect
    cx, cy = page_w / 2, MARGIN_MM + 10.0 + usable_h / 2
    square = BOARD_FILL * min(ref_w / (board.cols + 1), ref_h / (board.rows + 1))
    if square < 2.0:
        raise DdirKitError(f"board squares would be {square:.1f} mm: use a bigger page or fewer/lower scales")

    fig = Figure(figsize=(page_w / 25.4, page_h / 25.4))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, page_w)
    ax.set_ylim(0, page_h)
    ax.set_aspect("equal")
    ax.axis("off")

    n_x, n_y = board.cols + 1, board.rows + 1
    x0, y0 = cx - n_x * square / 2, cy - n_y * square / 2
    for i in range(n_y):
        for j in range(n_x):
            if (i + j) % 2 == 0:
                ax.add_patch(Rectangle((x0 + j * square, y0 + i * square), square, square,
                                       facecolor="black", edgecolor="none", antialiased=False))

    rects = {}
    for s in [1.0] + [float(s) for s in wanted]:
        w, h = ref_w * s, ref_h * s
        rects[s] = (cx - w / 2, cy - h / 2, w, h)
        color = "tab:red" if s == 1.0 else "tab:blue"
        ax.add_patch(Rectangle((cx - w / 2, cy - h / 2), w, h, fill=False, edgecolor=color, linewidth=0.6))
        label = "x1 reference (HR)" if s == 1.0 else f"x{s:g}"
        ax.text(cx - w / 2 + 1.0, cy + h / 2 - 1.0, label, fontsize=6 if s == 1.0 else 8, color=color,
                ha="left", va="top")

    bar = 50.0
    ax.plot([MARGIN_MM, MARGIN_MM + bar], [MARGIN_MM, MARGIN_MM], color="black", linewidth=1.0)
    caption = (f"ddir-kit target: board {board} inner corners, squares {square:.2f} mm; rectangles: field of view "
               f"at x{', x'.join(f'{float(s):g}' for s in wanted)}\nof the reference (sensor {sensor_mm[0]:g}x"
               f"{sensor_mm[1]:g} mm). Print at 100 % (no fit to page): the bar is {bar:g} mm."
               + (f" Raster {dpi} dpi." if suffix == ".png" else ""))
    ax.text(MARGIN_MM + bar + 4.0, MARGIN_MM, caption, fontsize=5, ha="left", va="center", linespacing=1.4)

    with atomic_path(out) as tmp:
        if suffix == ".png":
            fig.savefig(tmp, format="png", dpi=dpi, facecolor="white")
        else:
            fig.savefig(tmp, format="pdf", facecolor="white")
    return TargetPattern(out, (page_w, page_h), float(square), str(board), rects, dpi if suffix == ".png" else None)
