"""A figure a person can judge a registered pair by: the pair side by side, a checkerboard of
HR and upscaled LR (static, so no flicker is needed to see a seam), and the residual-shift map
of the local check."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..photo.photo_io import read_rgb
from ..errors import DdirKitError
from ..fileio import atomic_path
from .pair_record import PAIR_JSON, LocalShift, PairRecord

_MAX_SIDE_PX = 1400  # the figure's panels; larger pairs are shown downscaled (area filter)


def checkerboard_overlay(hr: np.ndarray, lr_up: np.ndarray, squares: int = 8) -> np.ndarray:
    """HR in the white squares, upscaled LR in the black ones; both HxWx3 float32."""
    h, w = hr.shape[:2]
    side = max(1, min(h, w) // squares)
    yy, xx = np.mgrid[0:h, 0:w]
    use_hr = ((yy // side + xx // side) % 2 == 0)[..., None]
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
    axes[0, 1].set_title(f"LR {lr.shape[1]}x{lr.shape[0]} (x{float(rec.scale)}, measured {rec.scale_measured or 0:.4f})")
    axes[1, 0].imshow(np.clip(checkerboard_overlay(hr_s, lr_s), 0, 1))
    axes[1, 0].set_title("checkerboard: HR | bicubic-upscaled LR (edges should run on across squares)")
    _shift_panel(axes[1, 1], rec.local_shift)
    for ax in axes.ravel()[:3]:
        ax.axis("off")
    fig.suptitle(f"{pair_dir.name}: {rec.status} {rec.reason}".strip(), fontsize=12)
    fig.tight_layout()
    out_png = Path(out_png) if out_png else pair_dir / "inspect.png"
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
    return out_png


def _shift_panel(ax, local: LocalShift | None) -> None:
    from matplotlib.patches import Rectangle

    shifts = local.shift_px if local is not None else None
    if not shifts:
        ax.text(0.5, 0.5, "no local-shift map", ha="center", va="center")
        ax.axis("off")
        return
    d = np.array([[c if c is not None else [np.nan, np.nan] for c in row] for row in shifts], float)
    bad = np.array(local.bad, bool)
    mag = np.hypot(d[..., 0], d[..., 1])
    im = ax.imshow(mag, cmap="viridis", vmin=0, vmax=max(0.5, float(np.nanmax(mag)) if np.isfinite(mag).any() else 0.5))
    rows, cols = mag.shape
    yy, xx = np.mgrid[0:rows, 0:cols]
    # fixed arrow scale (one tile = 0.5 LR px) so that small residuals look small; arrows of
    # shifts beyond 0.5 px are cut to one tile (the colour gives their size)
    shown = d * np.minimum(1.0, 0.5 / np.maximum(mag, 1e-9))[..., None]
    ax.quiver(xx, yy, shown[..., 0], shown[..., 1], color="white", angles="xy", scale_units="xy", scale=0.5)
    for r, c in zip(*np.nonzero(bad)):
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ec="red", lw=2))
    ax.set_title(f"residual shift per {local.tile_px} px LR tile (LR px)\narrows: 1 tile = 0.5 LR px (longer cut); red: rejected tiles")
    ax.figure.colorbar(im, ax=ax, fraction=0.046)


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
