"""The files of a training run and of a bench folder, each with one typed reader and writer.

    <run>/run.json        RunRecord: what was trained, on what, with which profile
    <bench>/bench.json    BenchRecord: the methods, dataset and profile of a bench run
    <run>/scores.json     ScoreCache: per-image scores with the key they are valid for
    <run>/log.csv         the training log (training.py writes it); ``logged_seconds`` reads it

Versions: run.json files without a ``format`` field are version 1 (written before the
learning-rate keys were spelt out and before ``precision`` existed); they read as today's, with
the old key names mapped and every later key at the value that reproduces what the run did.
Their ``sampler`` is 1: the sampler before it took the official crop offsets and DDIR's 8-bit
target. Profiles recorded before ``optimizer_impl`` existed read it as "plain" (the Adam they
ran); a run.json without ``acceleration`` predates channels_last, optimizer_impl and compile,
and a resume keeps the values its profile reads with (training.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DdirKitError
from ..fileio import atomic_write_json, read_json
from .metrics import ImageScore
from .profiles import Profile, profile_from_dict

RUN_FORMAT = "ddir-kit/run@2"
BENCH_FORMAT = "ddir-kit/bench@2"
SCORES_FORMAT = "ddir-kit/scores@1"


def _mapping(path: Path, what: str) -> dict:
    d = read_json(path)
    if not isinstance(d, dict):
        raise DdirKitError(f"not a {what} (expected a JSON object)", path)
    return d


@dataclass(frozen=True)
class RunRecord:
    """run.json. train_scales: the scales of the Train split the run sampled from;
    acceleration: the profile's acceleration keys as they applied on the run's device
    (acceleration.Acceleration.to_dict; empty for runs recorded before it existed)."""

    method: str
    encoder: str
    profile: Profile
    dataset: str
    dataset_kind: str
    train_scales: tuple[float, ...]
    world_size: int
    model_spec: dict
    sampler: int = 1
    format: str = RUN_FORMAT
    acceleration: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"format": self.format, "method": self.method, "encoder": self.encoder,
                "profile": self.profile.to_dict(), "dataset": self.dataset, "dataset_kind": self.dataset_kind,
                "train_scales": list(self.train_scales), "world_size": self.world_size,
                "model_spec": self.model_spec, "sampler": self.sampler, "acceleration": self.acceleration}

    def write(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def read(cls, path: str | Path) -> "RunRecord":
        path = Path(path)
        d = _mapping(path, "run record")
        try:
            return cls(method=str(d["method"]), encoder=str(d["encoder"]),
                       profile=profile_from_dict(d["profile"]), dataset=str(d.get("dataset", "")),
                       dataset_kind=str(d.get("dataset_kind", "")),
                       train_scales=tuple(float(s) for s in d.get("train_scales", ())),
                       world_size=int(d.get("world_size", 1)), model_spec=dict(d.get("model_spec", {})),
                       sampler=int(d.get("sampler", 1)), acceleration=dict(d.get("acceleration") or {}))
        except (KeyError, TypeError, ValueError) as e:
            raise DdirKitError(f"run record lacks or mangles a field ({type(e).__name__}: {e})", path) from None
        except DdirKitError as e:
            raise DdirKitError(f"run record's profile: {e.reason}", path) from None


@dataclass(frozen=True)
class BenchRecord:
    """bench.json: written for the record at the start of a bench run."""

    methods: tuple[str, ...]
    encoder: str
    dataset: str
    dataset_kind: str
    profile: Profile
    protocol: str
    train_scales: tuple[float, ...]
    test_scales: tuple[float, ...]
    format: str = BENCH_FORMAT

    def to_dict(self) -> dict:
        return {"format": self.format, "methods": list(self.methods), "encoder": self.encoder,
                "dataset": self.dataset, "dataset_kind": self.dataset_kind, "profile": self.profile.to_dict(),
                "protocol": self.protocol, "train_scales": list(self.train_scales),
                "test_scales": list(self.test_scales)}

    def write(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def read(cls, path: str | Path) -> "BenchRecord":
        path = Path(path)
        d = _mapping(path, "bench record")
        try:
            return cls(methods=tuple(d["methods"]), encoder=str(d["encoder"]), dataset=str(d["dataset"]),
                       dataset_kind=str(d.get("dataset_kind", "")), profile=profile_from_dict(d["profile"]),
                       protocol=str(d["protocol"]), train_scales=tuple(float(s) for s in d["train_scales"]),
                       test_scales=tuple(float(s) for s in d["test_scales"]))
        except (KeyError, TypeError, ValueError) as e:
            raise DdirKitError(f"bench record lacks or mangles a field ({type(e).__name__}: {e})", path) from None


@dataclass(frozen=True)
class ScoreCache:
    """scores.json: the per-image scores of one method's checkpoint, valid while ``key`` (the
    checkpoint's checksum, protocol, dataset, scales, image counts) is unchanged."""

    key: dict
    images: tuple[ImageScore, ...]
    test_s: float | None = None
    format: str = SCORES_FORMAT

    def to_dict(self) -> dict:
        return {"format": self.format, "key": self.key, "test_s": self.test_s,
                "images": [{"name": s.name, "scale": s.scale, "psnr_y": s.psnr_y_db, "ssim_y": s.ssim_y}
                           for s in self.images]}

    def write(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def read(cls, path: str | Path) -> "ScoreCache":
        path = Path(path)
        d = _mapping(path, "score cache")
        try:
            images = tuple(ImageScore(str(r["name"]), float(r["scale"]), float(r["psnr_y"]), float(r["ssim_y"]))
                           for r in d["images"])
            return cls(key=dict(d["key"]), images=images, test_s=d.get("test_s"))
        except (KeyError, TypeError, ValueError) as e:
            raise DdirKitError(f"score cache lacks or mangles a field ({type(e).__name__}: {e})", path) from None


def logged_seconds(log_csv: str | Path) -> int | None:
    """The elapsed seconds of a training log's last row (its last column), or None."""
    last = _last_row(log_csv)
    try:
        return None if last is None else round(float(last[-1]))
    except ValueError:
        return None


def logged_iterations(log_csv: str | Path) -> int | None:
    """The iteration of a training log's last row (its first column), or None."""
    last = _last_row(log_csv)
    try:
        return None if last is None else int(last[0])
    except ValueError:
        return None


def _last_row(log_csv: str | Path) -> list[str] | None:
    lines = Path(log_csv).read_text().strip().splitlines()
    return lines[-1].split(",") if len(lines) > 1 else None
