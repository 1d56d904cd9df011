"""The registration side of the dataset card: what ``aligned/`` (the output of `ddir-kit register`)
says about each pair: status and reason, registration residuals, the measured relative blur of
the LR (pair.json's template_blur.sigma_lr_px) and the local-check map, summarised per scale.

pair.json is read through registration's typed record (``PairRecord``); ``_pair_fields``
keeps the fields the card uses, as plain values for card.json.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..errors import DdirKitError
from ..registration.pair_record import PAIR_JSON, PairRecord
from ..scales import scale_tag


def _pair_fields(path: Path) -> dict:
    """The fields of one aligned/<scene>/x<tag>/pair.json the card uses, with plain types.

    Raises DdirKitError naming the file when it is not a pair record.
    """
    rec = PairRecord.read(path)
    blur, residual, local, lum = rec.template_blur, rec.residual, rec.local_shift, rec.luminance
    return {
        "status": rec.status, "reason": rec.reason, "scale": rec.scale, "scale_measured": rec.scale_measured,
        "hr_crop": None if rec.hr_crop is None else list(rec.hr_crop),
        "lr_size": None if rec.lr_size is None else list(rec.lr_size),
        "relative_blur_lr_px": None if blur is None else blur.sigma_lr_px,
        "blur_estimated": None if blur is None else blur.estimated,
        "residual": {} if residual is None else
        {k: getattr(residual, k) for k in ("median_abs", "mean_abs", "zncc", "sharpness_ratio")
         if getattr(residual, k) is not None},
        "local_shift": None if local is None else
        {**{k: getattr(local, k) for k in ("tile_px", "tiles", "judged", "shift_median_px", "shift_p95_px",
                                           "shift_max_px", "zncc_min")}, "bad": local.bad_tiles},
        "luminance_green": {"gain": lum.get("gain"), "offset": lum.get("offset")} if lum else None,
    }


@dataclass
class AlignedSummary:
    """pairs: one dict per pair.json (``pair`` = '<scene>/x<tag>', ``scene``, ``scale`` as a
    float, plus the fields of _pair_fields). scales: one dict per scale (see docs/card.md).
    rejected: pairs whose status is not ok, with their reasons. incomplete: pair folders without
    pair.json (an interrupted registration)."""

    root: Path
    pairs: list[dict] = field(default_factory=list)
    scales: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)

    def pair(self, name: str) -> dict | None:
        return next((p for p in self.pairs if p["pair"] == name), None)

    def to_dict(self) -> dict:
        return {"path": str(self.root), "pairs": self.pairs, "scales": self.scales, "rejected": self.rejected,
                "incomplete": self.incomplete}


def summarise_aligned(aligned_dir: str | Path) -> AlignedSummary:
    """Read every aligned/<scene>/x<tag>/pair.json. Raises DdirKitError when the folder is
    missing or holds no pair.json."""
    root = Path(aligned_dir)
    if not root.is_dir():
        raise DdirKitError("aligned folder not found", root)
    out = AlignedSummary(root)
    for pair_dir in sorted(p for p in root.glob("*/x*") if p.is_dir()):
        if pair_dir.name.startswith(".") or pair_dir.parent.name.startswith("."):
            continue
        name = f"{pair_dir.parent.name}/{pair_dir.name}"
        if not (pair_dir / PAIR_JSON).is_file():
            out.incomplete.append(name)
            continue
        rec = _pair_fields(pair_dir / PAIR_JSON)
        row = {"pair": name, "scene": pair_dir.parent.name, **rec, "scale": float(rec["scale"]),
               "scale_fraction": str(rec["scale"]), "tag": scale_tag(rec["scale"])}
        out.pairs.append(row)
        if rec["status"] != "ok":
            out.rejected.append({"pair": name, "scale": row["scale"], "status": rec["status"], "reason": rec["reason"]})
    if not out.pairs:
        raise DdirKitError("no <scene>/x<scale>/pair.json here: not the output of `ddir-kit register`", root)
    scales = sorted({Fraction(p["scale_fraction"]) for p in out.pairs})
    out.scales = [_scale_summary(s, [p for p in out.pairs if Fraction(p["scale_fraction"]) == s]) for s in scales]
    return out


def _stats(values: list[float]) -> dict | None:
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None
    return {"n": len(vals), "mean": statistics.fmean(vals), "std": statistics.pstdev(vals),
            "min": min(vals), "max": max(vals)}


def _median(values) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return statistics.median(vals) if vals else None


def _scale_summary(scale: Fraction, pairs: list[dict]) -> dict:
    ok = [p for p in pairs if p["status"] == "ok"]
    local = [p["local_shift"] for p in ok if p["local_shift"]]
    return {
        "scale": float(scale), "scale_fraction": str(scale), "tag": scale_tag(scale),
        "pairs": len(pairs), "ok": len(ok), "rejected": len(pairs) - len(ok),
        "relative_blur_lr_px": _stats([p["relative_blur_lr_px"] for p in ok]),
        "blur_estimated": all(bool(p["blur_estimated"]) for p in ok) if ok else None,
        "scale_error_median": _median([p["scale_measured"] / p["scale"] - 1 for p in ok
                                       if p["scale_measured"] is not None]),
        "residual_median_abs_median": _median([p["residual"].get("median_abs") for p in ok]),
        "residual_zncc_median": _median([p["residual"].get("zncc") for p in ok]),
        "local_shift": None if not local else {
            "tiles_judged": sum(int(m.get("judged") or 0) for m in local),
            "tiles_bad": sum(int(m.get("bad") or 0) for m in local),
            "shift_median_px": _median([m.get("shift_median_px") for m in local]),
            "shift_p95_px_max": max((m["shift_p95_px"] for m in local if m.get("shift_p95_px") is not None),
                                    default=None),
            "zncc_min": min((m["zncc_min"] for m in local if m.get("zncc_min") is not None), default=None)},
    }
