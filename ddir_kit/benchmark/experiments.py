"""The paper's experiments as data: one YAML file per experiment (ddir_kit/experiments/), read
into an ``Experiment`` (docs/experiments.md describes the schema).

An experiment is a table: column groups (what a group's models train on, what they are tested
on, at which scales, under which protocol, with which encoder) and rows (a method, with an
encoder or the group's). A cell is a (row, group) pair: one model (a fixed-scale method: one per
scale), trained on the group's (or the row's) training dataset at its training scales, scored
at the group's scales. The datasets are named by key: ``realarbisr`` (--data), ``realsr``
(--realsr) and ``div2k`` (--div2k, HR images only: bicubic degradation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import yaml

from ..errors import DdirKitError
from ..scales import as_fraction

EXPERIMENTS_DIR = Path(__file__).resolve().parents[1] / "experiments"
DATASET_KEYS = {"realarbisr": "--data", "realsr": "--realsr", "div2k": "--div2k"}
DATASET_HELP = {
    "realarbisr": "a RealArbiSR-layout dataset (Train and Test, HR<tag>/LR<tag>): RealArbiSR itself or one the kit built",
    "realsr": "RealSR (version 3: <Camera>/Train|Test/<s>/*_HR.png, *_LR<s>.png)",
    "div2k": "HR images only, e.g. DIV2K (DIV2K_train_HR/, DIV2K_valid_HR/): trained and tested with bicubic degradation",
}


@dataclass(frozen=True)
class Group:
    """A column group. train: the dataset key its models train on (None: rows say); train_scales:
    the training scales (None: every scale of the training split); encoder: the rows' encoder
    when they name none."""

    id: str
    title: str
    test: str
    scales: tuple[Fraction, ...]
    protocol: str = "ddir"
    train: str | None = None
    train_scales: tuple[Fraction, ...] | None = None
    encoder: str | None = None


@dataclass(frozen=True)
class Row:
    label: str
    method: str
    encoder: str | None = None
    train: str | None = None
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Cell:
    """One row in one group: the model(s) to train and where to score them."""

    row: Row
    group: Group
    method: str
    encoder: str | None
    train: str | None
    train_scales: tuple[Fraction, ...] | None

    @property
    def figure_row(self) -> str:
        """The row id of paper_figures.csv: 'bicubic', 'liif-edsr', 'fixed-scale-edsr'."""
        return self.method if self.encoder is None else f"{self.method}-{self.encoder}"


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    paper_table: int | None
    trains: str
    groups: tuple[Group, ...]
    rows: tuple[Row, ...]
    crops: bool = False
    profile: dict = field(default_factory=dict)
    source: Path | None = None

    def cells(self) -> list[Cell]:
        from ..models.registry import REGISTRY, method_entry

        out = []
        for group in self.groups:
            for row in self.rows:
                entry = method_entry(row.method)
                learns = not (row.method in REGISTRY and not entry.uses_encoder)  # bicubic learns nothing
                encoder = (row.encoder or group.encoder or "edsr") if entry.uses_encoder else None
                train = (row.train or group.train) if learns else None
                if learns and train is None:
                    raise DdirKitError(f"{self.name}: row {row.label!r} of group {group.id!r} names no dataset to "
                                       "train on (train: in the group or the row)", self.source)
                out.append(Cell(row, group, row.method, encoder, train, group.train_scales if learns else None))
        return out

    def datasets(self) -> list[str]:
        """The dataset keys the experiment reads, in DATASET_KEYS order."""
        used = {g.test for g in self.groups} | {c.train for c in self.cells() if c.train}
        return [k for k in DATASET_KEYS if k in used]


def experiment_names() -> list[str]:
    return sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml"))


def load_experiment(name_or_path: str | Path) -> Experiment:
    """A built-in experiment by name (table2 ... table7, fig1) or a user's YAML file."""
    path = Path(name_or_path)
    if not path.suffix and (EXPERIMENTS_DIR / f"{name_or_path}.yaml").is_file():
        path = EXPERIMENTS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise DdirKitError(f"unknown experiment {str(name_or_path)!r}; built-in: {', '.join(experiment_names())}, "
                           "or a YAML file (docs/experiments.md)")
    try:
        d = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise DdirKitError(f"not valid YAML ({e})", path) from None
    if not isinstance(d, dict):
        raise DdirKitError("an experiment file is a mapping (name, title, groups, rows)", path)
    try:
        groups = tuple(_group(g) for g in d["groups"])
        rows = tuple(Row(str(r["label"]), str(r["method"]), r.get("encoder"), r.get("train"), dict(r.get("args") or {}))
                     for r in d["rows"])
        exp = Experiment(str(d.get("name", path.stem)), str(d.get("title", path.stem)), d.get("paper_table"),
                         str(d.get("trains", "")), groups, rows, bool(d.get("crops", False)),
                         dict(d.get("profile") or {}), path)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise DdirKitError(f"experiment file lacks or mangles a field ({type(e).__name__}: {e})", path) from None
    except DdirKitError as e:
        raise DdirKitError(e.reason, path) from None
    for key in {g.test for g in groups} | {g.train for g in groups if g.train} | {r.train for r in rows if r.train}:
        if key not in DATASET_KEYS:
            raise DdirKitError(f"unknown dataset {key!r}; one of {', '.join(DATASET_KEYS)}", path)
    exp.cells()  # every cell resolvable: a clear error now rather than hours into a run
    return exp


def _group(g: dict) -> Group:
    scales = tuple(as_fraction(s) for s in g["scales"])
    train_scales = g.get("train_scales")
    return Group(str(g["id"]), str(g.get("title", g["id"])), str(g["test"]), scales, str(g.get("protocol", "ddir")),
                 g.get("train"), None if train_scales is None else tuple(as_fraction(s) for s in train_scales),
                 g.get("encoder"))
