"""The table of a reproduced experiment in the paper's layout: rows x (column groups x scales),
each cell this run's figure beside the paper's and their difference; as Markdown, CSV and LaTeX."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..fileio import atomic_write_text
from .profiles import Profile


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _cell_text(ours: float | None, paper: float | None) -> str:
    if ours is None and paper is None:
        return "-"
    if paper is None:
        return _fmt(ours)
    if ours is None:
        return f"- / {paper:.2f}"
    return f"{ours:.2f} / {paper:.2f} ({ours - paper:+.2f})"


def _changed(profile: Profile) -> str:
    """', with k=v, ...' for the keys a run changed from its built-in base profile."""
    from .profiles import PROFILES

    base = PROFILES.get(profile.name)
    if base is None:
        return ""
    ours, theirs = profile.to_dict(), base.to_dict()
    changed = [f"{k}={ours[k]}" for k in ours if k not in ("name", "notes") and ours[k] != theirs.get(k)]
    return f", with {', '.join(changed)}" if changed else ""


def _columns(exp):
    return [(g, s) for g in exp.groups for s in g.scales]


def write_experiment_tables(exp, results, out_dir: Path, profile: Profile, datasets: dict[str, str],
                            protocols: dict[str, str]) -> list[Path]:
    """OUT/<name>.md, .csv, .tex; returns their paths."""
    by_cell = {(r.cell.row.label, r.cell.group.id): r for r in results}
    cols = _columns(exp)
    has_paper = exp.paper_table is not None
    md = [f"# {exp.title}", "",
          "Each cell: this run / the paper's figure (this run minus the paper's)." if has_paper
          else "The paper prints no figures for this experiment: each cell is this run's.",
          "", f"- Profile: `{profile.name}`{_changed(profile)} - {profile.notes}"]
    md += [f"- {key}: `{path}`" for key, path in datasets.items()]
    for g in exp.groups:
        trained = g.train or "the datasets the rows name"
        at = ", at " + ", ".join(f"x{float(s):g}" for s in g.train_scales) if g.train_scales else ""
        md.append(f"- {g.title}: {protocols[g.id]}; trained on {trained}{at}, tested on {g.test}")
    md += ["", "| Method | " + " | ".join(f"{g.title} x{float(s):g}" for g, s in cols) + " |",
           "|---|" + "---:|" * len(cols)]
    for row in exp.rows:
        cells = []
        for g, s in cols:
            r = by_cell.get((row.label, g.id))
            cells.append("" if r is None else _cell_text(r.ours.get(s), r.paper.get(s)))
        md.append(f"| {row.label} | " + " | ".join(cells) + " |")
    diffs = [r.ours[s] - r.paper[s] for r in results for s in r.cell.group.scales
             if r.ours.get(s) is not None and r.paper.get(s) is not None]
    if diffs:
        md += ["", f"Cells with both figures: {len(diffs)}; this run minus the paper: mean {sum(diffs) / len(diffs):+.2f} "
               f"dB, from {min(diffs):+.2f} to {max(diffs):+.2f} dB."]
    md.append("")

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("row", "method", "encoder", "group", "scale", "ours_db", "paper_db", "difference_db", "runs"))
    for r in results:
        for s in r.cell.group.scales:
            o, p = r.ours.get(s), r.paper.get(s)
            w.writerow((r.cell.row.label, r.cell.method, r.cell.encoder or "-", r.cell.group.id, f"{float(s):g}",
                        "" if o is None else f"{o:.4f}", "" if p is None else f"{p:.2f}",
                        "" if o is None or p is None else f"{o - p:+.4f}", ";".join(r.runs)))

    spec = "l" + "".join("|" + "c" * len(g.scales) for g in exp.groups)
    tex = [f"% {exp.title}. Each cell: this run (the paper's figure). Profile: {profile.name}.",
           f"\\begin{{tabular}}{{{spec}}}", "\\hline",
           "Method & " + " & ".join(f"\\multicolumn{{{len(g.scales)}}}{{c}}{{{g.title}}}" for g in exp.groups)
           + " \\\\",
           "Scale & " + " & ".join(f"$\\times${float(s):g}" for _, s in cols) + " \\\\ \\hline"]
    for row in exp.rows:
        cells = []
        for g, s in cols:
            r = by_cell.get((row.label, g.id))
            o, p = (None, None) if r is None else (r.ours.get(s), r.paper.get(s))
            cells.append(_fmt(o) + ("" if p is None else f" ({p:.2f})"))
        tex.append(row.label.replace("_", "\\_") + " & " + " & ".join(cells) + " \\\\")
    tex += ["\\hline", "\\end{tabular}", ""]

    out = [out_dir / f"{exp.name}.md", out_dir / f"{exp.name}.csv", out_dir / f"{exp.name}.tex"]
    for path, text in zip(out, ("\n".join(md), buf.getvalue(), "\n".join(tex))):
        atomic_write_text(path, text)
    return out

