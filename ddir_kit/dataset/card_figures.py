"""The dataset card's figures (matplotlib, Agg canvas, no pyplot state), sized for print: 7 in
wide (a page's text width), 9 pt type, 200 dpi.

- histogram_x<tag>.png: colour histograms of the GT and of the bicubic-upscaled LR, pooled over
  the scale's pairs (the DDIR paper's Fig. 2(d)).
- residual_x<tag>.png: for a few pairs, the GT, |GT - up(real LR)| and |GT - up(down(GT))| on one
  colour scale, and the pair's residual energies in the low and high bands (Fig. 2(b, c)).
- overview.png: gain and offset per channel and residual energies per band against the scale.
- aligned.png (with aligned/): the measured relative blur and the local-check shifts per pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..fileio import atomic_path
from ..scales import scale_tag

HIST_BINS = 128
WIDTH_IN, DPI, FONT_PT = 7.0, 200, 9
CROP_PX = 256
_CHANNELS = (("R", "#c0392b"), ("G", "#27ae60"), ("B", "#2e64c8"))


@dataclass(frozen=True)
class FigureSample:
    """A central crop (at most CROP_PX square) of one pair for the residual figure: GT, real and
    synthetic residuals (float32 h x w x 3), and the pair's energies {kind: {band: mean square}}."""

    label: str
    gt: np.ndarray
    real: np.ndarray
    synthetic: np.ndarray
    energy: dict

    @classmethod
    def from_pair(cls, label: str, hr: np.ndarray, measure) -> "FigureSample":
        h, w = hr.shape[:2]
        side = min(CROP_PX, h, w)
        y0, x0 = (h - side) // 2, (w - side) // 2
        box = (slice(y0, y0 + side), slice(x0, x0 + side))
        return cls(label, hr[box].copy(), (hr - measure.up_lr)[box].copy(), (hr - measure.roundtrip)[box].copy(),
                   {"real": measure.real.to_dict(), "synthetic": measure.synthetic.to_dict()})


def _figure(height_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")


def _style():
    import matplotlib

    return matplotlib.rc_context({"font.size": FONT_PT, "axes.titlesize": FONT_PT, "axes.labelsize": FONT_PT,
                                  "xtick.labelsize": FONT_PT - 1, "ytick.labelsize": FONT_PT - 1,
                                  "legend.fontsize": FONT_PT - 1})


def write_figures(folder: Path, scale_rows: list[dict], hist: dict, samples: dict, aligned) -> list[dict]:
    """Write every figure into ``folder``; returns [{"file": "figures/<name>.png", "what": ...}]
    with paths relative to the card folder."""
    out = []
    with _style():
        for row in scale_rows:
            s = Fraction(row["scale_fraction"])
            tag = scale_tag(s)
            _histogram_figure(folder / f"histogram_x{tag}.png", s, hist[s], row["pairs"])
            out.append({"file": f"{folder.name}/histogram_x{tag}.png", "scale": float(s), "kind": "histogram",
                        "what": f"x{float(s):g}: colour histograms of GT and bicubic-upscaled LR, {row['pairs']} pairs"})
            _residual_figure(folder / f"residual_x{tag}.png", s, samples[s])
            out.append({"file": f"{folder.name}/residual_x{tag}.png", "scale": float(s), "kind": "residual",
                        "what": f"x{float(s):g}: real against bicubic residuals of {len(samples[s])} pairs"})
        _overview_figure(folder / "overview.png", scale_rows)
        out.append({"file": f"{folder.name}/overview.png", "scale": None, "kind": "overview",
                    "what": "gain, offset and residual energies against the scale"})
        if aligned is not None and any(p["status"] == "ok" for p in aligned.pairs):
            _aligned_figure(folder / "aligned.png", aligned)
            out.append({"file": f"{folder.name}/aligned.png", "scale": None, "kind": "aligned",
                        "what": "relative blur and local-check shifts of the registered pairs"})
    return out


def _histogram_figure(path: Path, s: Fraction, counts: np.ndarray, n_pairs: int) -> None:
    fig = _figure(2.4)
    axes = fig.subplots(1, 3, sharey=True)
    centres = (np.arange(HIST_BINS) + 0.5) / HIST_BINS
    for c, (ax, (name, colour)) in enumerate(zip(axes, _CHANNELS)):
        for k, (label, style) in enumerate((("GT (HR)", "-"), ("bicubic-upscaled LR", "--"))):
            total = max(1, int(counts[k, c].sum()))
            ax.plot(centres, counts[k, c] / total * HIST_BINS, style, color=colour if k == 0 else "black",
                    lw=1.2, label=label)
        ax.set_title(f"{name} channel")
        ax.set_xlabel("value (full scale 1)")
        ax.set_xlim(0, 1)
        ax.set_xticks([0.2, 0.4, 0.6, 0.8])  # none at the edges, where neighbouring panels meet
    axes[0].set_ylabel("density")
    axes[0].legend(loc="upper left", frameon=False)
    fig.suptitle(f"x{float(s):g}: colour histograms, {n_pairs} pairs pooled", fontsize=FONT_PT + 1)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.2, top=0.8, wspace=0.1)
    _save(fig, path)


def _residual_figure(path: Path, s: Fraction, samples: list[FigureSample]) -> None:
    rows = max(1, len(samples))
    fig = _figure(1.8 * rows + 0.5)
    grid = fig.add_gridspec(rows, 5, width_ratios=[1, 1, 1, 0.07, 1.25], wspace=0.12, hspace=0.3,
                            left=0.02, right=0.98, bottom=0.06, top=1 - 0.45 / (1.8 * rows + 0.5))
    for r, smp in enumerate(samples):
        real, syn = np.abs(smp.real).mean(axis=2), np.abs(smp.synthetic).mean(axis=2)
        vmax = float(max(np.percentile(real, 99.5), np.percentile(syn, 99.5), 1e-4))
        panels = ((np.clip(smp.gt, 0, 1), None, smp.label), (real, vmax, "|GT - up(real LR)|"),
                  (syn, vmax, "|GT - up(down(GT))|"))
        im = None
        for c, (img, vm, title) in enumerate(panels):
            ax = fig.add_subplot(grid[r, c])
            if vm is None:
                ax.imshow(img, interpolation="nearest")
            else:
                im = ax.imshow(img, cmap="inferno", vmin=0, vmax=vm, interpolation="nearest")
            ax.set_title(title, fontsize=FONT_PT - 1)
            ax.set_xticks([])
            ax.set_yticks([])
        cb = fig.colorbar(im, cax=fig.add_subplot(grid[r, 3]))
        cb.set_ticks([0, vmax])
        cb.set_ticklabels(["0", f"{vmax * 255:.0f}/255"])
        cb.ax.tick_params(labelsize=FONT_PT - 2)
        bars = fig.add_subplot(grid[r, 4])
        _energy_bars(bars, smp.energy)
        pos = bars.get_position()
        bars.set_position([pos.x0 + 0.09, pos.y0, pos.width - 0.09, pos.height])  # room for the colour bar's labels
    fig.suptitle(f"x{float(s):g}: real (bicubic-upscaled LR) against synthetic (bicubic round trip) residual, "
                 f"central {samples[0].gt.shape[1] if samples else 0} px crops", fontsize=FONT_PT)
    _save(fig, path)


def _energy_bars(ax, energy: dict) -> None:
    x = np.arange(2)
    top = 0.0
    for k, (kind, colour) in enumerate((("real", "#c0392b"), ("synthetic", "#7f8c8d"))):
        rms = [np.sqrt(energy[kind][b]) * 255 for b in ("low", "high")]
        ax.bar(x + (k - 0.5) * 0.38, rms, 0.38, color=colour, label=kind)
        top = max(top, *rms)
    ax.set_ylim(0, 1.6 * top if top > 0 else 1.0)  # headroom for the legend
    ax.set_xticks(x)
    ax.set_xticklabels(["low", "high"])
    ax.set_title("residual RMS x 255", fontsize=FONT_PT - 1)
    ax.legend(frameon=False, fontsize=FONT_PT - 2, loc="upper right")


def _overview_figure(path: Path, rows: list[dict]) -> None:
    fig = _figure(2.6)
    ax_g, ax_o, ax_e = fig.subplots(1, 3)
    scales = np.array([r["scale"] for r in rows])
    for c, (name, colour) in enumerate(_CHANNELS):
        for ax, key in ((ax_g, "gain"), (ax_o, "offset")):
            m = np.array([np.nan if r["photometric"][key]["mean"][c] is None else r["photometric"][key]["mean"][c]
                          for r in rows], float)
            e = np.array([0.0 if r["photometric"][key]["std"][c] is None else r["photometric"][key]["std"][c]
                          for r in rows], float)
            ax.errorbar(scales + (c - 1) * 0.03, m, yerr=e, fmt="o-", ms=3, lw=1, color=colour, label=name, capsize=2)
    ax_g.axhline(1.0, color="grey", lw=0.6)
    ax_o.axhline(0.0, color="grey", lw=0.6)
    ax_g.set_title("gain (HR ~ gain up(LR) + offset)")
    ax_o.set_title("offset (full scale 1)")
    ax_g.legend(frameon=False)
    for kind, colour in (("real", "#c0392b"), ("synthetic", "#7f8c8d")):
        for band, style in (("low", "o-"), ("high", "s--")):
            ax_e.plot(scales, [np.sqrt(r["residual"][kind][band]["mean"]) * 255 for r in rows], style, ms=3, lw=1,
                      color=colour, label=f"{kind} {band}")
    ax_e.set_title("residual RMS x 255")
    ax_e.legend(frameon=False, fontsize=FONT_PT - 2)
    for ax in (ax_g, ax_o, ax_e):
        ax.set_xlabel("scale")
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.17, top=0.9, wspace=0.3)
    _save(fig, path)


def _aligned_figure(path: Path, aligned) -> None:
    fig = _figure(2.6)
    ax_b, ax_s = fig.subplots(1, 2)
    ok = [p for p in aligned.pairs if p["status"] == "ok"]
    rejected = [p for p in aligned.pairs if p["status"] != "ok"]
    blur = [(p["scale"], p["relative_blur_lr_px"]) for p in ok if p["relative_blur_lr_px"] is not None]
    if blur:
        ax_b.plot(*zip(*blur), "o", ms=3.5, color="#2e64c8", label="ok pairs")
    for row in aligned.scales:
        if row["relative_blur_lr_px"]:
            ax_b.plot(row["scale"], row["relative_blur_lr_px"]["mean"], "_", ms=14, mew=2, color="black")
    rb = [(p["scale"], p["relative_blur_lr_px"]) for p in rejected if p["relative_blur_lr_px"] is not None]
    if rb:
        ax_b.plot(*zip(*rb), "x", ms=4, color="#c0392b", label="rejected")
    ax_b.set_title("relative blur of the LR (pair.json), LR px")
    ax_b.legend(frameon=False)
    for key, style, label in (("shift_median_px", "o", "median tile shift"), ("shift_p95_px", "^", "95th percentile")):
        pts = [(p["scale"], p["local_shift"][key]) for p in ok if p["local_shift"] and p["local_shift"].get(key) is not None]
        if pts:
            ax_s.plot(*zip(*pts), style, ms=3.5, label=label)
    ax_s.set_title("local check: tile shifts, LR px")
    ax_s.legend(frameon=False)
    for ax in (ax_b, ax_s):
        ax.set_xlabel("scale")
        ax.set_ylim(bottom=0)
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.17, top=0.9, wspace=0.2)
    _save(fig, path)
