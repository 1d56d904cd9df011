"""Benchmark reports: results.csv, results.md and results.tex in the paper's table shape
(methods x scales, in-distribution and unseen scales apart, best per column in bold), a
PSNR-against-scale plot and a figure of crops like the paper's Figure 4.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..fileio import atomic_path, atomic_write_text


@dataclass(frozen=True)
class ResultRow:
    """One method at one scale."""

    method: str
    encoder: str
    scale: float
    n_images: int
    psnr_y: float
    ssim_y: float


def row_label(row: ResultRow, labels: dict | None = None) -> str:
    """A row's name in tables: from ``labels`` {(method, encoder): label} (a method from outside
    brings its own), else the kit's label of the method and encoder."""
    return (labels or {}).get((row.method, row.encoder)) or method_label(row.method, row.encoder)


@dataclass(frozen=True)
class MethodInfo:
    """A method of a bench run as results.md lists it: label, the name or import path it was
    given as, its trainable parameters, and where its weights came from."""

    label: str
    method: str
    parameters: int
    weights: str


def method_label(method: str, encoder: str) -> str:
    from ..models.registry import method_label as label

    return label(method, encoder)


def write_results_csv(path: Path, rows: list[ResultRow]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("method", "encoder", "scale", "n_images", "psnr_y", "ssim_y"))
    for r in rows:
        w.writerow((r.method, r.encoder, f"{r.scale:g}", r.n_images, f"{r.psnr_y:.4f}", f"{r.ssim_y:.5f}"))
    return atomic_write_text(path, buf.getvalue())


def _grid(rows: list[ResultRow], metric: str, names: dict | None = None):
    labels = list(dict.fromkeys(row_label(r, names) for r in rows))
    table = {(row_label(r, names), r.scale): getattr(r, metric) for r in rows}
    return labels, table


def _best(table, labels, scale):
    vals = [table.get((m, scale), math.nan) for m in labels]
    finite = [v for v in vals if math.isfinite(v)]
    return max(finite) if finite else math.nan


def _md_table(rows, metric, scales, digits, names=None) -> str:
    labels, table = _grid(rows, metric, names)
    head = "| Method | " + " | ".join(f"x{s:g}" for s in scales) + " |"
    lines = [head, "|---|" + "---:|" * len(scales)]
    best = {s: _best(table, labels, s) for s in scales}
    for m in labels:
        cells = []
        for s in scales:
            v = table.get((m, s), math.nan)
            txt = "-" if not math.isfinite(v) else f"{v:.{digits}f}"
            cells.append(f"**{txt}**" if math.isfinite(v) and round(v, digits) == round(best[s], digits) else txt)
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_results_md(path: Path, rows: list[ResultRow], train_scales: list[float], test_scales: list[float],
                     dataset: str, protocol_text: str, profile_name: str, profile_notes: str,
                     timings: dict | None = None, methods: list[MethodInfo] | None = None,
                     names: dict | None = None) -> Path:
    seen = [s for s in test_scales if s in train_scales]
    unseen = [s for s in test_scales if s not in train_scales]
    parts = [f"# Benchmark on {dataset}", "",
             f"- Protocol: {protocol_text}",
             f"- Profile: `{profile_name}` - {profile_notes}",
             "- Training scales: " + ", ".join(f"x{s:g}" for s in train_scales),
             "- Unseen scales (in Test, absent from Train): " + (", ".join(f"x{s:g}" for s in unseen) or "none"),
             "- Best per column in bold.", ""]
    for metric, title, digits in (("psnr_y", "PSNR-Y (dB)", 2), ("ssim_y", "SSIM-Y", 4)):
        for group, scales in (("in-distribution scales", seen), ("unseen scales", unseen)):
            if scales:
                parts += [f"## {title}, {group}", "", _md_table(rows, metric, scales, digits, names), ""]
    if methods:
        parts += ["## Methods", "", "A \"-\" in a table: the method is not made for that scale (a fixed-scale model).",
                  "", "| Method | given as | parameters | weights |", "|---|---|---:|---|"]
        for m in methods:
            parts.append(f"| {m.label} | `{m.method}` | {m.parameters:,} | {m.weights} |")
        parts.append("")
    if timings:
        parts += ["## Wall-clock time on this machine", "", "| Method | train (s) | test (s) |", "|---|---:|---:|"]
        for m, (tr, te) in timings.items():
            parts.append(f"| {m} | {tr} | {te} |")
        parts.append("")
    return atomic_write_text(path, "\n".join(parts))


def write_results_tex(path: Path, rows: list[ResultRow], train_scales, test_scales, protocol_text: str,
                      profile_name: str, names: dict | None = None) -> Path:
    seen = [s for s in test_scales if s in train_scales]
    unseen = [s for s in test_scales if s not in train_scales]
    labels, table = _grid(rows, "psnr_y", names)
    cols = seen + unseen
    best = {s: _best(table, labels, s) for s in cols}
    spec = "l" + ("|" + "c" * len(seen) if seen else "") + ("|" + "c" * len(unseen) if unseen else "")
    out = [f"% PSNR-Y (dB). {protocol_text}. Profile: {profile_name}.",
           f"\\begin{{tabular}}{{{spec}}}", "\\hline"]
    groups = []
    if seen:
        groups.append(f"\\multicolumn{{{len(seen)}}}{{c}}{{In-distribution}}")
    if unseen:
        groups.append(f"\\multicolumn{{{len(unseen)}}}{{c}}{{Unseen}}")
    out.append("Method & " + " & ".join(groups) + " \\\\")
    out.append("Scale & " + " & ".join(f"$\\times${s:g}" for s in cols) + " \\\\ \\hline")
    for m in labels:
        cells = []
        for s in cols:
            v = table.get((m, s), math.nan)
            txt = "-" if not math.isfinite(v) else f"{v:.2f}"
            cells.append(f"\\textbf{{{txt}}}" if math.isfinite(v) and round(v, 2) == round(best[s], 2) else txt)
        out.append(m.replace("_", "\\_") + " & " + " & ".join(cells) + " \\\\")
    out += ["\\hline", "\\end{tabular}", ""]
    return atomic_write_text(path, "\n".join(out))


def plot_psnr_vs_scale(path: Path, rows: list[ResultRow], train_scales, protocol_name: str,
                       names: dict | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, table = _grid(rows, "psnr_y", names)
    scales = sorted({r.scale for r in rows})
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for s in scales:
        if s not in train_scales:
            ax.axvspan(s - 0.05, s + 0.05, color="0.9", lw=0)
    for m in labels:
        xs = [s for s in scales if (m, s) in table]
        ax.plot(xs, [table[(m, s)] for s in xs], marker="o", label=m)
    ax.set_xlabel("scale factor (grey: unseen in training)")
    ax.set_ylabel(f"PSNR-Y (dB, protocol {protocol_name})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    return path


def pick_crop(hr: np.ndarray, side_px: int) -> tuple[int, int]:
    """(y, x) of the side_px window with the most gradient energy on a coarse grid: a textured
    region where methods differ, chosen from the ground truth only."""
    g = np.abs(np.diff(hr.mean(axis=2), axis=0))[:, :-1] + np.abs(np.diff(hr.mean(axis=2), axis=1))[:-1, :]
    h, w = g.shape
    best, where = -1.0, (0, 0)
    step = max(side_px // 2, 1)
    for y in range(0, max(h - side_px, 0) + 1, step):
        for x in range(0, max(w - side_px, 0) + 1, step):
            e = float(g[y:y + side_px, x:x + side_px].sum())
            if e > best:
                best, where = e, (y, x)
    return where


def plot_crops(path: Path, hr: np.ndarray, predictions: dict[str, np.ndarray], psnrs: dict[str, float],
               title: str, side_px: int | None = None) -> Path:
    """One row: the HR image with the crop box, then the HR crop and each method's crop.

    hr: HxWx3 float [0, 1]; predictions: {label: HxWx3 float [0, 1]}; psnrs: {label: dB}.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    side = side_px or max(32, min(hr.shape[:2]) // 4)
    y, x = pick_crop(hr, side)
    n = 2 + len(predictions)
    fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.6), dpi=120)
    axes[0].imshow(np.clip(hr, 0, 1))
    axes[0].add_patch(Rectangle((x, y), side, side, fill=False, ec="red", lw=1.5))
    axes[0].set_title("HR", fontsize=8)
    axes[1].imshow(np.clip(hr[y:y + side, x:x + side], 0, 1), interpolation="nearest")
    axes[1].set_title("HR crop", fontsize=8)
    for ax, (label, img) in zip(axes[2:], predictions.items()):
        ax.imshow(np.clip(img[y:y + side, x:x + side], 0, 1), interpolation="nearest")
        ax.set_title(f"{label}\n{psnrs.get(label, math.nan):.2f} dB", fontsize=8)
    for ax in axes:
        ax.set_axis_off()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    return path
