"""The index files of an aligned/ folder, rebuilt from every pair.json in it after each run:

    aligned/report.csv     one row per pair (REPORT_FIELDS), plus pairs that failed without a folder
    aligned/manifest.json  format ALIGNED_FORMAT; per pair folder: scale, status, reason, the
                           input photos' checksums and the written images' checksums

Each has one typed row (ReportRow, AlignedPair) and one reader and writer here.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import DdirKitError
from ..fileio import atomic_write_json, atomic_write_text, read_json
from .pair_record import PAIR_JSON, PairRecord, Sources

REPORT_CSV = "report.csv"
MANIFEST_JSON = "manifest.json"
ALIGNED_FORMAT = "ddir-kit/aligned@1"
_FORMAT_NAME, _FORMAT_VERSION = ALIGNED_FORMAT.split("@")
REPORT_FIELDS = ["scene", "scale", "status", "reason", "scale_measured", "hr_crop", "lr_size",
                 "residual_median_abs", "zncc", "local_bad_tiles", "local_shift_max_px", "coarse_method", "seconds"]


@dataclass(frozen=True)
class ReportRow:
    """One row of report.csv. status: 'ok', 'rejected', 'failed' (no pair.json: unreadable input
    or no HR photo) or, in a run's own report, 'skipped'. scale: nominal (None for a scene that
    could not be used). hr_crop [x0, y0, w, h], HR px; lr_size (w, h). residual_median_abs and
    zncc: the global fit's (green, 0..255). local_bad_tiles: how many tiles the local check found
    bad (reports of earlier releases hold the bad-tile grid itself, rows of 0/1, and read back as
    that). local_shift_max_px: largest tile shift, LR px. seconds: registration time."""

    scene: str
    scale: float | None = None
    status: str = ""
    reason: str = ""
    scale_measured: float | None = None
    hr_crop: tuple[int, int, int, int] | None = None
    lr_size: tuple[int, int] | None = None
    residual_median_abs: float | None = None
    zncc: float | None = None
    local_bad_tiles: int | list | None = None
    local_shift_max_px: float | None = None
    coarse_method: str = ""
    seconds: float | None = None

    @classmethod
    def of_pair(cls, scene: str, rec: PairRecord) -> "ReportRow":
        res, local = rec.residual, rec.local_shift
        return cls(scene, float(rec.scale), rec.status, rec.reason, _round(rec.scale_measured, 5), rec.hr_crop,
                   rec.lr_size, res.median_abs if res else None, res.zncc_best90 if res else None,
                   local.bad_tiles if local else None, _round(local.shift_max_px if local else None, 3),
                   (rec.coarse.method if rec.coarse else None) or "", rec.total_seconds)

    def skipped(self, reason: str) -> "ReportRow":
        return replace(self, status="skipped", reason=reason)

    def to_row(self) -> dict:
        """The row as report.csv writes it ('' for None) and as ``on_pair`` callbacks get it
        (scale stays a number)."""
        out = {f: _cell(getattr(self, f)) for f in REPORT_FIELDS}
        out["hr_crop"] = " ".join(map(str, self.hr_crop)) if self.hr_crop else ""
        out["lr_size"] = "x".join(map(str, self.lr_size)) if self.lr_size else ""
        return out

    @classmethod
    def from_csv_row(cls, row: dict) -> "ReportRow":
        def num(key):
            text = row.get(key) or ""
            return float(text) if text else None

        crop, size, bad = row.get("hr_crop") or "", row.get("lr_size") or "", row.get("local_bad_tiles") or ""
        return cls(row.get("scene") or "", num("scale"), row.get("status") or "", row.get("reason") or "",
                   num("scale_measured"), tuple(int(v) for v in crop.split()) if crop else None,
                   tuple(int(v) for v in size.split("x")) if size else None, num("residual_median_abs"), num("zncc"),
                   json.loads(bad) if bad else None, num("local_shift_max_px"), row.get("coarse_method") or "",
                   num("seconds"))


def write_report_csv(path: str | Path, rows: list[ReportRow]) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=REPORT_FIELDS)
    writer.writeheader()
    for r in rows:
        writer.writerow(r.to_row())
    return atomic_write_text(path, buf.getvalue())


def read_report_csv(path: str | Path) -> list[ReportRow]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return [ReportRow.from_csv_row(r) for r in csv.DictReader(f)]
    except FileNotFoundError:
        raise DdirKitError("file not found", path) from None
    except (ValueError, csv.Error) as e:
        raise DdirKitError(f"malformed report ({e})", path) from None


@dataclass(frozen=True)
class AlignedPair:
    """One pair folder of the manifest: folder is '<scene>/x<tag>' under aligned/; outputs: file
    name -> SHA-256 of hr.png and lr.png (absent when no map was found)."""

    scene: str
    folder: str
    scale: float | None
    status: str
    reason: str = ""
    sources: Sources = field(default_factory=Sources)
    outputs: dict = field(default_factory=dict)

    @classmethod
    def of_pair(cls, scene: str, folder: str, rec: PairRecord) -> "AlignedPair":
        return cls(scene, folder, float(rec.scale), rec.status, rec.reason, rec.sources, rec.outputs)

    @classmethod
    def from_dict(cls, d: dict) -> "AlignedPair":
        return cls(d["scene"], d["folder"], d.get("scale"), d.get("status") or "", d.get("reason") or "",
                   Sources.from_dict(d.get("sources")), dict(d.get("outputs") or {}))

    def to_dict(self) -> dict:
        return {"scene": self.scene, "folder": self.folder, "scale": self.scale, "status": self.status,
                "reason": self.reason, "sources": self.sources.to_dict(), "outputs": self.outputs}


@dataclass
class AlignedManifest:
    pairs: list[AlignedPair] = field(default_factory=list)

    @classmethod
    def read(cls, path: str | Path) -> "AlignedManifest":
        d = read_json(path)
        fmt = d.get("format", "") if isinstance(d, dict) else ""
        name, _, version = fmt.partition("@")
        if name != _FORMAT_NAME:
            raise DdirKitError(f"not an aligned/ manifest (format {fmt!r}, expected {ALIGNED_FORMAT})", path)
        if not version.isdigit() or int(version) > int(_FORMAT_VERSION):
            raise DdirKitError(f"manifest format {fmt!r} is newer than this ddir-kit reads; update ddir-kit", path)
        try:
            return cls([AlignedPair.from_dict(p) for p in d.get("pairs") or []])
        except (KeyError, TypeError, AttributeError) as e:
            raise DdirKitError(f"malformed manifest ({type(e).__name__}: {e})", path) from None

    def write(self, path: str | Path) -> Path:
        return atomic_write_json(path, {"format": ALIGNED_FORMAT, "pairs": [p.to_dict() for p in self.pairs]})


def write_report(out_dir: str | Path, extra_rows: list[ReportRow] = ()) -> Path:
    """Rebuild report.csv and manifest.json from every pair.json under ``out_dir`` (plus rows for
    pairs that failed without a folder). Returns the path of report.csv."""
    out = Path(out_dir)
    rows, pairs = [], []
    if out.is_dir():
        for scene in sorted(d for d in out.iterdir() if d.is_dir() and not d.name.startswith(".")):
            for pair_dir in sorted(d for d in scene.iterdir() if d.is_dir() and not d.name.startswith(".")):
                pj = pair_dir / PAIR_JSON
                if not pj.is_file():
                    continue
                rec = PairRecord.read(pj)
                rows.append(ReportRow.of_pair(scene.name, rec))
                pairs.append(AlignedPair.of_pair(scene.name, f"{scene.name}/{pair_dir.name}", rec))
    report = write_report_csv(out / REPORT_CSV, rows + list(extra_rows))
    AlignedManifest(pairs).write(out / MANIFEST_JSON)
    return report


def _round(v, n):
    return None if v is None else round(float(v), n)


def _cell(v):
    return "" if v is None else v
