"""Check ddir_kit/experiments/paper_figures.csv against the paper's text, cell by cell.

Reads every row of Tables 2-7 from the text (tab-separated rows after each table's caption;
Table 5's cells hold two numbers, x2x3x4 then All), maps each row label and column to the
figures file's (table, row, group, scale), and compares every number both ways: each figure
of the file must be in the text at its place, and each number of the text in the file. Prints
a line per table and writes the results file.

    python benchmarks/check_paper_figures.py --paper PATH/ddir-eccv2024.txt
"""

from __future__ import annotations

import re
from pathlib import Path

import harness

from ddir_kit.benchmark.paper_figures import paper_figures

NUM = re.compile(r"(?<![\w.])(\d{2}\.\d{2})(?![\w.])")
ROW_IDS = {  # a row's label in the paper -> (row id, or None for the encoder of the column group)
    "Bicubic": "bicubic", "EDSR-baseline": "fixed-scale-edsr",
    "EDSR-LIIF": "liif-edsr", "EDSR-LTE": "lte-edsr", "EDSR-CiaoSR": "ciaosr-edsr", "EDSR-DDIR": "ddir-edsr",
    "RDN-LIIF": "liif-rdn", "RDN-LTE": "lte-rdn", "RDN-CiaoSR": "ciaosr-rdn", "RDN-DDIR": "ddir-rdn",
    "EDSR-LIIF(+a)": "liif+a-edsr", "LIIF": "liif", "LTE": "lte", "CiaoSR": "ciaosr", "DDIR": "ddir",
}
SIX, FIVE, THREE = [1.5, 2, 2.5, 3, 3.5, 4], [1.7, 2.3, 2.7, 3.3, 3.7], [2, 3, 4]
LAYOUT = {  # table -> the column groups in print order: (group id, encoder for bare labels, scales)
    2: [("realarbisr", None, SIX), ("realsr", None, THREE)],
    3: [("edsr", "edsr", FIVE), ("rdn", "rdn", FIVE)],
    4: [("edsr", "edsr", THREE), ("rdn", "rdn", THREE)],
    6: [("realarbisr", None, SIX)],
    7: [("realarbisr", None, SIX), ("div2k", None, THREE)],
}
TABLE6_ROWS = ["ddir-none-edsr", "ddir-noapp-edsr", "ddir-nodeform-edsr", "ddir-edsr"]


def table_rows(text: str, table: int) -> list[str]:
    """The data lines of one table: from its caption to the next caption or section."""
    start = text.index(f"**Table {table}:**")
    end = len(text)
    for marker in (f"**Table {table + 1}:**", "\n## ", "\n# ", "Fig. 4:"):
        i = text.find(marker, start + 10)
        if i != -1:
            end = min(end, i)
    return [line for line in text[start:end].splitlines()[1:] if len(NUM.findall(line)) >= 3]


def read_text_figures(text: str) -> dict:
    out = {}
    for table in (2, 3, 4, 6, 7):
        rows = table_rows(text, table)
        for k, line in enumerate(rows):
            label = line.split("\t")[0].split(" [")[0].strip()
            cells = [c.strip() for c in line.split("\t")[1:] if c.strip()]
            if table == 6:  # the two check-mark columns come first: keep the numbers
                cells = NUM.findall(line)
            values = iter(cells)
            for group, encoder, scales in LAYOUT[table]:
                rid = TABLE6_ROWS[k] if table == 6 else ROW_IDS[label]
                if encoder is not None and rid not in ("bicubic",):
                    rid = f"{rid}-{encoder}"
                for s in scales:
                    v = next(values)
                    if v != "-":
                        out[(table, rid, group, s)] = v
    for line in table_rows(text, 5):
        label = line.split("\t")[0].split(" [")[0].strip()
        pairs = re.findall(r"(\d{2}\.\d{2})\s*(?:<b>)?(\d{2}\.\d{2})", line.replace("</b>", ""))
        for s, (a, b) in zip(SIX, pairs):
            out[(5, ROW_IDS[label], "x2x3x4", s)] = a
            out[(5, ROW_IDS[label], "all", s)] = b
    return out


def main():
    ap = harness.parser(__file__, __doc__)
    ap.add_argument("--paper", type=Path, required=True, help="the paper's text (ddir-eccv2024.txt)")
    args = ap.parse_args()
    run = harness.Run()
    text = args.paper.read_text()
    from_text = read_text_figures(text)
    from_file = {(t, r, g, float(s)): v for (t, r, g, s), v in paper_figures().items()}
    from_text = {(t, r, g, float(s)): v for (t, r, g, s), v in from_text.items()}
    lines = ["# The paper's figures file against the paper's text", "",
             f"Paper text: `{args.paper.name}`. Figures file: `ddir_kit/experiments/paper_figures.csv`.", "",
             "| table | in the file | read from the text | equal | only in the file | only in the text | differing |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    ok = True
    for t in range(2, 8):
        f = {k: v for k, v in from_file.items() if k[0] == t}
        x = {k: v for k, v in from_text.items() if k[0] == t}
        equal = sum(1 for k in f if x.get(k) == f[k])
        differ = [k for k in f if k in x and x[k] != f[k]]
        only_f, only_x = set(f) - set(x), set(x) - set(f)
        ok &= not (differ or only_f or only_x)
        lines.append(f"| {t} | {len(f)} | {len(x)} | {equal} | {len(only_f)} | {len(only_x)} | {len(differ)} |")
        for k in sorted(differ)[:5]:
            lines.append(f"|  | differs: {k}: file {f[k]}, text {x[k]} | | | | | |")
    lines += ["", "Every figure agrees." if ok else "SOME FIGURES DISAGREE (listed above).",
              "", "(A comparison of text, not a timing: the load average does not matter here.)"]
    run.write(args.out, "\n".join(lines) + "\n")
    print("\n".join(lines[4:]))


if __name__ == "__main__":
    main()
