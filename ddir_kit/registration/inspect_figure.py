"""A figure a person can judge a registered pair by: the pair side by side, a checkerboard of
HR and upscaled LR (static, so no flicker is needed to see a seam), and the residual-shift map
of the local check.

Both lower panels have axes in LR px, the unit the registration's accuracy is stated in. The
checkerboard's squares are a round number of LR px, sized so that the short side holds at
least six of them, and their edges are drawn dotted: where the two photos agree the squares are
otherwise invisible, and a seam is judged at those edges. The shift map draws each tile where it
lies on the LR grid, over the LR photo, with its shift as an arrow on a fixed scale (a quarter of
a tile per 0.1 LR px, shown by a key) and, when the tiles are few enough to read, its size in
figures.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..photo.photo_io import read_rgb
from ..errors import DdirKitError
from ..fileio import atomic_path
from .pair_record import PAIR_JSON, LocalShift, PairRecord

_MAX_SIDE_PX = 1400  # the figure's panels; larger pairs are shown downscaled (area filter)
_MIN_SQUARES = 6  # checkerboard squares along the LR grid's short side, at least
_ARROW_KEY_LR_PX = 0.1  # the shift the key arrow stands for
_ARROW_TILES_PER_KEY = 0.25  # ... drawn this many tiles long
_MAX_LABELLED_TILES = 48  # more tiles than this are not labelled with figures (unreadable)


def square_lr_px(lr_size: tuple[int, int]) -> int:
    """Side of the checkerboard squares, LR px: the largest power of two up to 256 that puts
    at least _MIN_SQUARES squares along the short side of an LR grid of ``lr_size`` (w, h)."""
    short, side = min(lr_size), 256
    while side > 1 and short / side < _MIN_SQUARES:
        side //= 2
    return side


def checkerboard_overlay(hr: np.ndarray, lr_up: np.ndarray, square_px: float) -> np.ndarray:
    """HR in the white squares, upscaled LR in the black ones; both HxWx3 float32; squares of
    ``square_px`` pixels of these images (may be fractional when they are shown downscaled)."""
    h, w = hr.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    use_hr = ((np.floor(yy / square_px) + np.floor(xx / square_px)) % 2 == 0)[..., None]
    return np.where(use_hr, hr, lr_up)


def inspect_pair(pair_dir: str | Path, out_png: str | Path | None = None) -> Path:
    """Write ``pair_dir/inspect.png`` (or ``out_png``) for a folder written by `register`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pair_dir = Path(pair_dir)
    rec = PairRecord.read(pair_dir / PAIR_JSON)
    if not (pair_dir / "hr.png").is_file() or not (pair_dir / "lr.png").is_file():
        raise DdirKitError(f"no images to show (status {rec.status}: {rec.reason})", pair_dir)
    hr, lr = read_rgb(pair_dir / "hr.png"), read_rgb(pair_dir / "lr.png")
    lr_w, lr_h = lr.shape[1], lr.shape[0]
    lr_up = cv2.resize(lr, (hr.shape[1], hr.shape[0]), interpolation=cv2.INTER_CUBIC)
    f = min(1.0, _MAX_SIDE_PX / max(hr.shape[:2]))
    if f < 1.0:
        size = (max(1, int(hr.shape[1] * f)), max(1, int(hr.shape[0] * f)))
        hr_s, lr_s = (cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in (hr, lr_up))
    else:
        hr_s, lr_s = hr, lr_up
    fig, axes = plt.subplots(2, 2, figsize=(14, 10))
    axes[0, 0].imshow(np.clip(hr_s, 0, 1))
    axes[0, 0].set_title(f"HR crop {hr.shape[1]}x{hr.shape[0]}")
    axes[0, 1].imshow(np.clip(cv2.resize(lr, (hr_s.shape[1], hr_s.shape[0]), interpolation=cv2.INTER_NEAREST), 0, 1))
    axes[0, 1].set_title(f"LR {lr_w}x{lr_h} (x{float(rec.scale):g}, measured {rec.scale_measured or 0:.4f})")
    for ax in axes[0]:
        ax.axis("off")
    _checkerboard_panel(axes[1, 0], hr_s, lr_s, (lr_w, lr_h))
    trimmed = rec.status == "ok" and bool(rec.reason)  # the check ran on the grid before the trim
    _shift_panel(axes[1, 1], rec.local_shift, None if trimmed else lr, trimmed)
    fig.suptitle(f"{pair_dir.name}: {rec.status} {rec.reason}".strip(), fontsize=12)
    fig.tight_layout()
    out_png = Path(out_png) if out_png else pair_dir / "inspect.png"
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
    return out_png


def _checkerboard_panel(ax, hr_s: np.ndarray, lr_s: np.ndarray, lr_size: tuple[int, int]) -> None:
    lr_w, lr_h = lr_size
    side = square_lr_px(lr_size)
    shown_px_per_lr_px = hr_s.shape[1] / lr_w
    ax.imshow(np.clip(checkerboard_overlay(hr_s, lr_s, side * shown_px_per_lr_px), 0, 1),
              extent=(0, lr_w, lr_h, 0), interpolation="nearest")
    edges_x, edges_y = np.arange(0, lr_w + 1, side), np.arange(0, lr_h + 1, side)
    for x in edges_x[(edges_x > 0) & (edges_x < lr_w)]:
        ax.axvline(x, color="white", lw=0.7, ls=(0, (2, 3)), alpha=0.6)
    for y in edges_y[(edges_y > 0) & (edges_y < lr_h)]:
        ax.axhline(y, color="white", lw=0.7, ls=(0, (2, 3)), alpha=0.6)
    every = max(1, int(np.ceil(len(edges_x) / 10)))  # at most about ten labelled ticks per axis
    ax.set_xticks(edges_x[::every])
    ax.set_yticks(edges_y[::every])
    ax.set_xlim(0, lr_w)
    ax.set_ylim(lr_h, 0)
    ax.set_xlabel("LR px")
    ax.set_ylabel("LR px")
    ax.set_title(f"checkerboard of HR and bicubic-upscaled LR, {side} LR px squares (dotted edges):\n"
                 "edges in the photos should run on across every dotted edge")


def _shift_panel(ax, local: LocalShift | None, lr: np.ndarray | None, trimmed: bool) -> None:
    from matplotlib import cm, colormaps, colors
    from matplotlib.patches import Rectangle

    shifts = local.shift_px if local is not None else None
    if not shifts:
        ax.text(0.5, 0.5, "no local-shift map", ha="center", va="center")
        ax.axis("off")
        return
    d = np.array([[c if c is not None else [np.nan, np.nan] for c in row] for row in shifts], float)
    bad = np.array(local.bad, bool)
    mag = np.hypot(d[..., 0], d[..., 1])
    rows, cols = mag.shape
    t = float(local.tile_px)
    # a grid shorter than one tile is checked as one tile of its own size (local_shift_check.py)
    th = min(t, lr.shape[0] / rows) if lr is not None and lr.shape[0] < rows * t else t
    tw = min(t, lr.shape[1] / cols) if lr is not None and lr.shape[1] < cols * t else t
    width, height = (lr.shape[1], lr.shape[0]) if lr is not None else (cols * tw, rows * th)
    if lr is not None:
        grey = cv2.cvtColor(np.clip(lr, 0, 1).astype(np.float32), cv2.COLOR_RGB2GRAY)
        ax.imshow(0.25 + 0.5 * grey, cmap="gray", vmin=0, vmax=1, extent=(0, width, height, 0),
                  interpolation="nearest")
    vmax = max(0.2, float(np.nanmax(mag)) if np.isfinite(mag).any() else 0.2)
    norm = colors.Normalize(0, vmax)
    cmap = colormaps["viridis"]
    for r in range(rows):
        for c in range(cols):
            x0, y0 = c * tw, r * th
            if np.isfinite(mag[r, c]):
                ax.add_patch(Rectangle((x0, y0), tw, th, fc=cmap(norm(mag[r, c])), alpha=0.45, ec="white", lw=0.5))
            else:
                ax.add_patch(Rectangle((x0, y0), tw, th, fc="none", ec="white", lw=0.5, hatch="//"))
            if bad[r, c]:
                ax.add_patch(Rectangle((x0, y0), tw, th, fill=False, ec="red", lw=2.5))
    # arrows on one fixed scale, so that a small residual looks small: 0.1 LR px = a quarter tile
    gain = _ARROW_TILES_PER_KEY * min(tw, th) / _ARROW_KEY_LR_PX  # axis LR px per LR px of shift
    longest = 1.2 * min(tw, th) / gain  # longer arrows are cut to 1.2 tiles (their figure says more)
    shown = d * np.minimum(1.0, longest / np.maximum(mag, 1e-9))[..., None]
    cx, cy = (np.arange(cols) + 0.5) * tw, (np.arange(rows) + 0.5) * th
    xx, yy = np.meshgrid(cx, cy)
    q = ax.quiver(xx, yy, shown[..., 0], shown[..., 1], color="white", edgecolor="black", linewidth=0.6,
                  angles="xy", scale_units="xy", scale=1.0 / gain, width=0.008, headwidth=4, pivot="tail")
    key = ax.quiverkey(q, 0.1, 0.05, _ARROW_KEY_LR_PX, f"{_ARROW_KEY_LR_PX:g} LR px shift", labelpos="E",
                       coordinates="axes", color="white", labelcolor="white",
                       fontproperties={"size": 9, "weight": "bold"})
    key.set_zorder(5)
    key.text.set_bbox({"boxstyle": "round,pad=0.2", "fc": "black", "alpha": 0.6, "lw": 0})
    if rows * cols <= _MAX_LABELLED_TILES:
        for r in range(rows):
            for c in range(cols):
                text = "not judged" if not np.isfinite(mag[r, c]) else f"{mag[r, c]:.3f}" + (" bad" if bad[r, c] else "")
                ax.text(cx[c], r * th + 0.2 * th, text, ha="center", va="center", fontsize=9, color="white",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "black", "alpha": 0.55, "lw": 0})
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_aspect("equal")
    ax.set_xlabel("LR px" + (" of the grid checked before the trim" if trimmed else "")
                  + "\nfigures: |shift| (LR px); red: rejected tile; uncoloured: in no tile")
    ax.set_ylabel("LR px")
    ax.set_title(f"residual shift of each {local.tile_px} LR px tile after the global map")
    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    ax.figure.colorbar(sm, ax=ax, fraction=0.046, label="|shift| (LR px)")


def inspect_folder(folder: str | Path) -> list[Path]:
    """Figures for a pair folder, or for every pair with images under an aligned/ folder.
    Returns the PNGs written; DdirKitError when there is nothing to inspect."""
    folder = Path(folder)
    if (folder / PAIR_JSON).is_file():
        return [inspect_pair(folder)]
    if not folder.is_dir():
        raise DdirKitError("not a folder", folder)
    pairs = sorted(p.parent for p in folder.glob(f"*/*/{PAIR_JSON}") if not any(x.startswith(".") for x in p.parts[-3:-1]))
    written = [inspect_pair(p) for p in pairs if (p / "hr.png").is_file()]
    if not written:
        raise DdirKitError("no registered pair with images found (expected pair.json, hr.png, lr.png)", folder)
    return written
