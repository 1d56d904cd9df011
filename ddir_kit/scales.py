"""Scale factors as exact fractions, and the folder tags of the RealArbiSR layout.

A scale such as 2.3 is 23/10: an aligned pair at that scale has LR sides that are multiples
of 10 and HR sides exactly 23/10 of them (docs/conventions.md). Tags write the decimal
point as ``dot``: 1.5 -> ``1dot5``, 2 -> ``2``, 2.25 -> ``2dot25``.
"""

from __future__ import annotations

from fractions import Fraction

from .errors import DdirKitError

# Scales are set on a zoom ring and written with at most two decimals; limiting the
# denominator turns float noise (2.3000000001) back into 23/10.
_MAX_DENOMINATOR = 100


def as_fraction(scale: float | str | Fraction) -> Fraction:
    """The exact fraction of a scale given as a number, a decimal string or a tag."""
    if isinstance(scale, Fraction):
        frac = scale
    else:
        text = str(scale).strip().lower().lstrip("x").replace("dot", ".")
        try:
            frac = Fraction(text).limit_denominator(_MAX_DENOMINATOR)
        except (ValueError, ZeroDivisionError):
            raise DdirKitError(f"not a scale: {scale!r}") from None
    if frac <= 1:
        raise DdirKitError(f"scale must be greater than 1, got {scale!r}")
    return frac


def scale_tag(scale: float | str | Fraction) -> str:
    """Folder tag of a scale: 1.5 -> '1dot5', 2 -> '2', 2.3 -> '2dot3'."""
    frac = as_fraction(scale)
    if frac.denominator == 1:
        return str(frac.numerator)
    text = f"{float(frac):.4f}".rstrip("0")
    if Fraction(text) != frac:
        raise DdirKitError(f"scale {scale!r} has no short decimal form for a folder tag")
    return text.replace(".", "dot")


def parse_scale_list(text: str) -> list[Fraction]:
    """'1.5,2,2.5' -> [3/2, 2, 5/2]; tags and an optional leading 'x' are accepted."""
    items = [t for t in (s.strip() for s in text.split(",")) if t]
    if not items:
        raise DdirKitError("empty list of scales")
    return [as_fraction(t) for t in items]


def lr_size_multiple(scale: float | str | Fraction) -> int:
    """LR sides of an aligned pair are multiples of this (the scale's denominator)."""
    return as_fraction(scale).denominator
