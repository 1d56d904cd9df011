"""The dataset card: what a built SR dataset holds and how its degradations look, per scale.

    make_card(DATASET, CARD/, aligned=ALIGNED) ->
        CARD/card.json     machine-readable, format ``ddir-kit/card@1`` (docs/card.md)
        CARD/card.md       the same for people, with the figures
        CARD/figures/*.png

DATASET is any layout dataset/open.py reads (RealArbiSR, RealSR v3, paired folders). Per split
and scale the card counts pairs, scenes, sizes, bit depths and pixels; per scale it measures the
photometric shift between the bicubic-upscaled LR and the HR and the residual energy of the real
degradation against the bicubic one (card_measures.py); from ``aligned/`` it summarises the
registration (card_aligned.py); from manifest.json the split and the checksums.

manifest.json is read through the dataset's typed record (``DatasetManifest``); ``_manifest_fields``
keeps what the card shows.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import DdirKitError
from ..fileio import atomic_write_json, atomic_write_text, read_json, sha256_file
from ..scales import scale_tag
from .card_aligned import AlignedSummary, summarise_aligned
from .card_figures import FigureSample, HIST_BINS, write_figures
from .card_markdown import card_markdown
from .card_measures import (BICUBIC, FIT_LOWPASS_LR_PX, SPLIT_SIGMA_PER_SCALE, interior_values, measure_pair)
from .layout import SPLITS
from .manifest import DATASET_FORMAT, MANIFEST, DatasetManifest
from .open import open_dataset

CARD_FORMAT = "ddir-kit/card@1"
CARD_JSON, CARD_MD, FIGURES_DIR = "card.json", "card.md", "figures"


@dataclass(frozen=True)
class ScaleCard:
    """Per-scale figures of the card (both splits together). gain_*, offset_*: (R, G, B) mean and
    spread (population std) over pairs; real_*, synthetic_*: mean residual energies (full scale
    = 1) of the low and high bands; relative_blur_lr_px: mean over the ok pairs of aligned/ (None
    without it)."""

    scale: Fraction
    pairs: int
    gain_mean: tuple[float, float, float]
    gain_std: tuple[float, float, float]
    offset_mean: tuple[float, float, float]
    offset_std: tuple[float, float, float]
    real_low: float
    real_high: float
    synthetic_low: float
    synthetic_high: float
    relative_blur_lr_px: float | None


@dataclass(frozen=True)
class DatasetCard:
    out_dir: Path
    card_json: Path
    card_md: Path
    figures: tuple[Path, ...]
    layout: str
    pairs: int
    scales: tuple[ScaleCard, ...]
    warnings: tuple[str, ...]
    seconds: float


def _manifest_fields(root: Path) -> dict | None:
    """The fields of DATASET/manifest.json (written by `ddir-kit crop`) the card uses, or None
    when there is none (a downloaded dataset). Raises DdirKitError for a file that is not one."""
    path = root / MANIFEST
    if not path.is_file():
        return None
    rec = DatasetManifest.read(path)
    files = [{"split": f.split, "scale": None if f.scale is None else float(f.scale), "scene": f.scene,
              "name": f.name, "source": f.source, "hr": f.hr, "lr": f.lr,
              "hr_box_in_pair": None if f.hr_box_in_pair is None else list(f.hr_box_in_pair),
              "hr_sha256": f.hr_sha256, "lr_sha256": f.lr_sha256} for f in rec.files]
    return {"path": path, "sha256": sha256_file(path), "format": DATASET_FORMAT, "complete": rec.complete,
            "splits": {k: sorted(v) for k, v in (rec.splits or {}).items()}, "files": files,
            "skipped": [{"source": s.source, "reason": s.reason} for s in rec.skipped]}


def make_card(dataset: str | Path, out_dir: str | Path, aligned: str | Path | None = None, scale=None,
              command: str | None = None, figure_pairs: int = 3) -> DatasetCard:
    """Write the card of ``dataset`` into ``out_dir``; see the module docstring.

    scale: only for plain HR/LR folders (their one scale). command: the command line to record
    (default: this library call). figure_pairs: pairs shown per scale in the residual figures.
    Raises DdirKitError, in one line naming the file or folder, for a missing or empty dataset,
    an unreadable image, an HR that is not exactly s times its LR, an unfinished dataset, or an
    aligned/ folder without pair.json. ``out_dir`` may be new, empty or an earlier card.
    """
    t0 = time.monotonic()
    ds = open_dataset(dataset, scale)
    manifest = _manifest_fields(ds.root)
    if manifest is not None and not manifest["complete"]:
        raise DdirKitError("the dataset was not finished (crop was interrupted); rerun crop", manifest["path"])
    al = summarise_aligned(aligned) if aligned is not None else None
    out = Path(out_dir)
    old_figures = _claim_output(out)
    by_hr = {f["hr"]: f for f in manifest["files"]} if manifest else {}
    pairs, hist, samples, hashes = [], {}, {}, {}
    for split in ("Test", "Train"):  # Test first: its pairs are the ones the figures show
        table = ds.test if split == "Test" else ds.train
        for s in sorted(table):
            for pf in table[s]:
                lr, hr = ds.load_pair_photos(pf)
                m = measure_pair(lr.rgb, hr.rgb, s)
                rel_hr, rel_lr = (str(p.relative_to(ds.root)) for p in (pf.hr, pf.lr))
                hashes[rel_hr], hashes[rel_lr] = sha256_file(pf.hr), sha256_file(pf.lr)
                listed = by_hr.get(rel_hr, {})
                pairs.append(_pair_row(split, s, rel_hr, rel_lr, listed, lr, hr, m, hashes))
                counts = hist.setdefault(s, np.zeros((2, 3, HIST_BINS), np.int64))
                for k, img in enumerate((hr.rgb, m.up_lr)):
                    counts[k] += _histogram(interior_values(img, s))
                if len(samples.setdefault(s, [])) < figure_pairs:
                    samples[s].append(FigureSample.from_pair(f"{split}/{Path(rel_hr).name}", hr.rgb, m))
    pairs.sort(key=lambda p: (SPLITS.index(p["split"]), Fraction(p["scale_fraction"]), p["hr"]))
    scale_rows = [_scale_row(s, [p for p in pairs if Fraction(p["scale_fraction"]) == s], al) for s in sorted(hist)]
    warnings = _warnings(manifest, hashes, pairs, al)
    figures = write_figures(out / FIGURES_DIR, scale_rows, hist, samples, al)
    for stale in old_figures - {out / f["file"] for f in figures}:
        stale.unlink(missing_ok=True)
    seconds = time.monotonic() - t0
    card = {
        "format": CARD_FORMAT,
        "made_by": {"command": command or f"ddir_kit.dataset.card.make_card({str(dataset)!r}, ...)",
                    "kit_version": __version__, "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "seconds": round(seconds, 2)},
        "dataset": {"path": str(ds.root), "layout": ds.kind, "notes": list(ds.notes), "pairs": len(pairs),
                    "files": len(hashes), "content_sha256": _content_digest(hashes)},
        "methods": _methods(),
        "splits": _split_rows(pairs),
        "scales": scale_rows,
        "pairs": pairs,
        "manifest": _manifest_section(manifest, hashes),
        "aligned": al.to_dict() if al is not None else None,
        "figures": figures,
        "warnings": warnings,
    }
    atomic_write_text(out / CARD_MD, card_markdown(card))
    atomic_write_json(out / CARD_JSON, card)
    return DatasetCard(out, out / CARD_JSON, out / CARD_MD, tuple(out / f["file"] for f in figures), ds.kind,
                       len(pairs), tuple(_scale_card(r) for r in scale_rows), tuple(warnings), seconds)


def read_card(path: str | Path) -> dict:
    """card.json (or the CARD folder holding it) as a dict, the whole document (docs/card.md);
    raises DdirKitError for another file. ``CardPairs.read`` gives its per-pair rows typed."""
    path = Path(path)
    if path.is_dir():
        path = path / CARD_JSON
    rec = read_json(path)
    if not isinstance(rec, dict) or not str(rec.get("format", "")).startswith("ddir-kit/card@"):
        raise DdirKitError(f"not a dataset card (format {rec.get('format') if isinstance(rec, dict) else None!r})", path)
    return rec


@dataclass(frozen=True)
class CardPair:
    """One row of card.json's ``pairs``: the dataset pair, where it was cropped from (``source``:
    '<scene>/x<tag>' of aligned/, None without a manifest), its HR box in that pair's HR crop and
    the measured gain and offset (R, G, B; None where a channel could not be fitted)."""

    hr: str
    scale: float
    scale_fraction: Fraction
    source: str | None
    hr_box_in_pair: tuple[int, int, int, int] | None
    gain: tuple[float | None, ...]
    offset: tuple[float | None, ...]


@dataclass(frozen=True)
class CardAlignedPair:
    """One row of card.json's ``aligned.pairs``: a pair.json of aligned/ as the card read it."""

    pair: str
    scene: str
    status: str
    scale: float
    scale_fraction: Fraction
    hr_crop: tuple[int, int, int, int] | None
    relative_blur_lr_px: float | None


@dataclass(frozen=True)
class CardPairs:
    """The per-pair rows of a card: the dataset's root, its pairs and (made with ``--aligned``)
    the aligned pairs behind them; None when the card was made without aligned/."""

    dataset_root: Path
    pairs: tuple[CardPair, ...]
    aligned: tuple[CardAlignedPair, ...] | None

    @classmethod
    def read(cls, card: str | Path | dict) -> "CardPairs":
        rec = card if isinstance(card, dict) else read_card(card)

        def box(v):
            return None if v is None else tuple(int(x) for x in v)

        pairs = tuple(CardPair(p["hr"], float(p["scale"]), Fraction(p["scale_fraction"]), p.get("source"),
                               box(p.get("hr_box_in_pair")), tuple(p["gain"]), tuple(p["offset"]))
                      for p in rec["pairs"])
        al = rec.get("aligned")
        aligned = None if not al else tuple(
            CardAlignedPair(a["pair"], a["scene"], a["status"], float(a["scale"]), Fraction(a["scale_fraction"]),
                            box(a.get("hr_crop")), a.get("relative_blur_lr_px"))
            for a in al["pairs"])
        return cls(Path(rec["dataset"]["path"]), pairs, aligned)


def _claim_output(out: Path) -> set[Path]:
    """The figures of an earlier card in ``out`` (to replace); refuses a folder holding anything else."""
    if (out / CARD_JSON).is_file():
        old = read_card(out)
        return {out / f["file"] for f in old.get("figures", []) if isinstance(f, dict) and f.get("file")}
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DdirKitError("is not empty and holds no dataset card; choose a new --out folder", out)
    return set()


def _histogram(values: np.ndarray) -> np.ndarray:
    idx = np.clip((values * HIST_BINS).astype(np.int64), 0, HIST_BINS - 1)
    return np.stack([np.bincount(idx[:, c], minlength=HIST_BINS) for c in range(3)])


def _pair_row(split, s, rel_hr, rel_lr, listed, lr, hr, m, hashes) -> dict:
    return {
        "split": split, "scale": float(s), "scale_fraction": str(s), "tag": scale_tag(s),
        "hr": rel_hr, "lr": rel_lr, "scene": listed.get("scene"), "source": listed.get("source"),
        "hr_box_in_pair": listed.get("hr_box_in_pair"),
        "hr_size": [hr.rgb.shape[1], hr.rgb.shape[0]], "lr_size": [lr.rgb.shape[1], lr.rgb.shape[0]],
        "bit_depth": {"hr": hr.bit_depth, "lr": lr.bit_depth},
        "hr_sha256": hashes[rel_hr], "lr_sha256": hashes[rel_lr],
        "gain": _nan_none(m.fit.gain), "offset": _nan_none(m.fit.offset), "fit_pixels": list(m.fit.pixels),
        "residual": {"real": m.real.to_dict(), "synthetic": m.synthetic.to_dict()},
    }


def _nan_none(values) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]  # JSON has no NaN


def _mean_std(rows: list[list[float]]) -> tuple[list[float | None], list[float | None]]:
    arr = np.array(rows, dtype=np.float64).reshape(-1, 3)  # None -> NaN
    ok = ~np.isnan(arr)
    means = [float(arr[ok[:, c], c].mean()) if ok[:, c].any() else None for c in range(3)]
    stds = [float(arr[ok[:, c], c].std()) if ok[:, c].any() else None for c in range(3)]
    return means, stds


def _band_stats(pairs: list[dict], kind: str) -> dict:
    out = {}
    for band in ("low", "high", "total"):
        vals = [p["residual"][kind][band] for p in pairs]
        out[band] = {"mean": statistics.fmean(vals), "std": statistics.pstdev(vals)}
    return out


def _scale_row(s: Fraction, pairs: list[dict], al: AlignedSummary | None) -> dict:
    gm, gs = _mean_std([p["gain"] for p in pairs])
    om, osd = _mean_std([p["offset"] for p in pairs])
    real, syn = _band_stats(pairs, "real"), _band_stats(pairs, "synthetic")
    blur = next((r["relative_blur_lr_px"] for r in al.scales if Fraction(r["scale_fraction"]) == s), None) if al else None
    return {"scale": float(s), "scale_fraction": str(s), "tag": scale_tag(s), "pairs": len(pairs),
            "photometric": {"gain": {"mean": gm, "std": gs}, "offset": {"mean": om, "std": osd}},
            "residual": {"real": real, "synthetic": syn,
                         "real_over_synthetic": {b: (real[b]["mean"] / syn[b]["mean"] if syn[b]["mean"] > 0 else None)
                                                 for b in ("low", "high", "total")}},
            "relative_blur_lr_px": blur}


def _scale_card(row: dict) -> ScaleCard:
    ph, res = row["photometric"], row["residual"]
    blur = row["relative_blur_lr_px"]

    def t(v):
        return tuple(float("nan") if x is None else x for x in v)

    return ScaleCard(Fraction(row["scale_fraction"]), row["pairs"], t(ph["gain"]["mean"]), t(ph["gain"]["std"]),
                     t(ph["offset"]["mean"]), t(ph["offset"]["std"]), res["real"]["low"]["mean"],
                     res["real"]["high"]["mean"], res["synthetic"]["low"]["mean"], res["synthetic"]["high"]["mean"],
                     None if blur is None else blur["mean"])


def _split_rows(pairs: list[dict]) -> list[dict]:
    rows = []
    for split in SPLITS:
        for s in sorted({Fraction(p["scale_fraction"]) for p in pairs if p["split"] == split}):
            ps = [p for p in pairs if p["split"] == split and Fraction(p["scale_fraction"]) == s]
            scenes = {p["scene"] for p in ps}
            rows.append({"split": split, "scale": float(s), "scale_fraction": str(s), "tag": scale_tag(s),
                         "pairs": len(ps), "scenes": None if None in scenes else len(scenes),
                         "hr_sizes": _sizes(p["hr_size"] for p in ps), "lr_sizes": _sizes(p["lr_size"] for p in ps),
                         "bit_depths": {k: sorted({p["bit_depth"][k] for p in ps}) for k in ("hr", "lr")},
                         "hr_pixels": sum(p["hr_size"][0] * p["hr_size"][1] for p in ps),
                         "lr_pixels": sum(p["lr_size"][0] * p["lr_size"][1] for p in ps)})
    return rows


def _sizes(sizes, most: int = 20) -> list[dict]:
    counts = Counter(tuple(s) for s in sizes)
    return [{"size": list(wh), "pairs": n} for wh, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:most]]


def _content_digest(hashes: dict[str, str]) -> str:
    """sha256 over the lines '<relative path> <sha256>' of every image file, sorted by path: one
    fingerprint of the dataset's contents."""
    text = "".join(f"{p} {h}\n" for p, h in sorted(hashes.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _manifest_section(manifest: dict | None, hashes: dict[str, str]) -> dict | None:
    if manifest is None:
        return None
    listed = {}
    for f in manifest["files"]:
        for k in ("hr", "lr"):
            if f.get(k) and f.get(f"{k}_sha256"):
                listed[f[k]] = f[f"{k}_sha256"]
    train, test = set(manifest["splits"].get("Train", [])), set(manifest["splits"].get("Test", []))
    file_scenes: dict[str, set] = {}
    for f in manifest["files"]:
        file_scenes.setdefault(f.get("scene"), set()).add(f.get("split"))
    return {"path": str(manifest["path"]), "sha256": manifest["sha256"], "format": manifest["format"],
            "splits": manifest["splits"],
            "scenes_in_both": sorted((train & test) | {s for s, sp in file_scenes.items() if len(sp) > 1 and s}),
            "skipped": manifest["skipped"],
            "checksums": {"listed": len(listed), "matched": sum(1 for p, h in listed.items() if hashes.get(p) == h),
                          "differ": sorted(p for p, h in listed.items() if p in hashes and hashes[p] != h),
                          "not_in_dataset": sorted(p for p in listed if p not in hashes),
                          "not_listed": sorted(p for p in hashes if p not in listed)}}


def _warnings(manifest, hashes, pairs, al) -> list[str]:
    out = []
    if manifest is None:
        out.append("no manifest.json: scenes and the split's scene lists are unknown, checksums not verified")
    else:
        sec = _manifest_section(manifest, hashes)
        for p in sec["checksums"]["differ"]:
            out.append(f"{p}: content differs from manifest.json")
        if sec["checksums"]["not_in_dataset"]:
            out.append(f"{len(sec['checksums']['not_in_dataset'])} files listed in manifest.json are not in the dataset")
        for s in sec["scenes_in_both"]:
            out.append(f"scene {s} is in both Train and Test")
    for p in pairs:
        if None in p["gain"]:
            out.append(f"{p['hr']}: too few unclipped pixels for a gain/offset fit in some channel")
    if al is not None and al.incomplete:
        out.append(f"aligned/: {len(al.incomplete)} pair folders without pair.json (interrupted registration?)")
    return out


def _methods() -> dict:
    return {
        "bicubic": BICUBIC,
        "photometric_fit": (f"per channel, HR ~ gain * up(LR) + offset by least squares, up = bicubic to the HR size; "
                            f"both low-passed by a Gaussian of {FIT_LOWPASS_LR_PX:g} LR px; clipped pixels "
                            "(< 1/255 or > 254/255) and their low-pass reach left out; border ceil(2 s) HR px left out"),
        "residuals": ("real = GT - up(LR); synthetic = GT - up(down(GT)), both bicubic; energy = mean square over "
                      "the border-trimmed pixels and the 3 channels, full scale = 1"),
        "frequency_split": (f"low = Gaussian low-pass of the residual, sigma = {SPLIT_SIGMA_PER_SCALE:.4f} s HR px "
                            "(amplitude response 1/2 at the LR Nyquist frequency 1/(2 s) cycles per HR px); "
                            "high = residual - low"),
        "border_hr_px": "ceil(2 s)",
        "relative_blur": ("from aligned/<scene>/x<tag>/pair.json template_blur.sigma_lr_px: the Gaussian sigma (LR px) "
                          "by which registration blurs the HR before its area downscale to match the LR photo"),
    }
