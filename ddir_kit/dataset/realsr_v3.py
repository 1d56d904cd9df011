"""The RealSR version-3 layout (Cai et al., ICCV 2019):

    ROOT/<Camera>/{Train,Test}/<s>/<Camera>_<n>_HR.png
    ROOT/<Camera>/{Train,Test}/<s>/<Camera>_<n>_LR<s>.png

Integer scales only. Pairs are matched by name (``_HR`` <-> ``_LR<s>``), not by order. The
published LR files are stored at the HR size (already upsampled); readers that need an LR of
1/s the HR size say so explicitly (see ``benchmark.datasets``).
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

from ..errors import DdirKitError
from .layout import PairFiles

_HR = re.compile(r"^(?P<stem>.+)_HR\.png$", re.IGNORECASE)


def is_realsr_v3(root: str | Path) -> bool:
    """True when some ``*/{Train,Test}/<int>/`` folder holds an ``*_HR.png`` file."""
    root = Path(root)
    return any(root.glob("*/Train/[0-9]*/*_HR.png")) or any(root.glob("*/Test/[0-9]*/*_HR.png"))


def list_realsr_pairs(root: str | Path, split: str) -> dict[Fraction, list[PairFiles]]:
    """{scale: pairs} of one split over every camera folder, each list sorted by HR path.

    Raises DdirKitError for an HR file without its LR partner, or an LR without its HR.
    """
    root = Path(root)
    out: dict[Fraction, list[PairFiles]] = {}
    for scale_dir in sorted(root.glob(f"*/{split}/*")):
        if not scale_dir.is_dir():
            continue
        if not scale_dir.name.isdigit() or int(scale_dir.name) < 2:
            raise DdirKitError("RealSR v3 scale folders are integers >= 2", scale_dir)
        s = int(scale_dir.name)
        pairs = []
        hr_files = sorted(p for p in scale_dir.iterdir() if _HR.match(p.name))
        lr_names = {p.name for p in scale_dir.glob(f"*_LR{s}.png")}
        for hr in hr_files:
            lr = hr.with_name(f"{_HR.match(hr.name)['stem']}_LR{s}.png")
            if not lr.is_file():
                raise DdirKitError(f"no LR partner {lr.name}", hr)
            lr_names.discard(lr.name)
            pairs.append(PairFiles(hr, lr, Fraction(s)))
        if lr_names:
            raise DdirKitError(f"LR file without its HR partner: {sorted(lr_names)[0]}", scale_dir)
        if pairs:
            out.setdefault(Fraction(s), []).extend(pairs)
    return out
