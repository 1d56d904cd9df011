"""The paper's published figures (ddir_kit/experiments/paper_figures.csv), looked up by table,
row, column group and scale."""

from __future__ import annotations

import csv
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from ..errors import DdirKitError

FIGURES_CSV = Path(__file__).resolve().parents[1] / "experiments" / "paper_figures.csv"


@lru_cache(maxsize=None)
def paper_figures(path: Path = FIGURES_CSV) -> dict[tuple[int, str, str, Fraction], str]:
    """{(table, row, group, scale): the figure as printed (text, e.g. '34.37')}."""
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    out = {}
    for r in csv.DictReader(lines):
        try:
            key = (int(r["table"]), r["row"], r["group"], Fraction(r["scale"]).limit_denominator(100))
        except (KeyError, ValueError) as e:
            raise DdirKitError(f"malformed figure row {r} ({e})", path) from None
        out[key] = r["value"]
    return out


def paper_figure(table: int | None, row: str, group: str, scale) -> float | None:
    if table is None:
        return None
    value = paper_figures().get((int(table), row, group, Fraction(scale).limit_denominator(100)))
    return None if value is None else float(value)
