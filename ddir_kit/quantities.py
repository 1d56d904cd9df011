"""Quantities written on the command line, one parser each: sizes in pixels or millimetres,
amounts of memory, and shards of a batch. (Scales have their own module, scales.py.)"""

from __future__ import annotations

import re

from .errors import DdirKitError

_SIZE = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*[xX]\s*([0-9]*\.?[0-9]+)\s*")


def parse_size_px(text: str, what: str = "size") -> tuple[int, int]:
    """'1200x800' -> (1200, 800): a width and a height in whole pixels."""
    m = _SIZE.fullmatch(str(text))
    if not m or "." in m.group(0) or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise DdirKitError(f"cannot read {what} {text!r}; write WxH (width x height) in whole pixels, e.g. 1200x800")
    return int(m.group(1)), int(m.group(2))


def parse_size_mm(text: str, what: str = "size") -> tuple[float, float]:
    """'36x24' -> (36.0, 24.0): a width and a height in millimetres."""
    m = _SIZE.fullmatch(str(text))
    if not m or float(m.group(1)) <= 0 or float(m.group(2)) <= 0:
        raise DdirKitError(f"cannot read {what} {text!r}; write WxH (width x height) in mm, e.g. 36x24")
    return float(m.group(1)), float(m.group(2))


def parse_bytes(text: str) -> int:
    """'4GB', '512MB', '1.5GiB', '1000000' -> bytes (GB and GiB both mean 2**30 here)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", str(text).lower())
    if not m:
        raise DdirKitError(f"cannot read memory size {text!r}; write e.g. 4GB or 512MB")
    return int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2) or " "))


def parse_shard(text: str) -> tuple[int, int]:
    """'2/4' -> (2, 4): the second of four equal shares (1-based)."""
    try:
        i, n = (int(t) for t in str(text).split("/"))
    except ValueError:
        raise DdirKitError(f"--shard expects i/N such as 1/4, got {text!r}") from None
    if n < 1 or not 1 <= i <= n:
        raise DdirKitError(f"--shard i/N needs 1 <= i <= N, got {text!r}")
    return i, n
