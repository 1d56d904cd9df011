"""Training and evaluation profiles as dataclasses, with ``--set key=value`` overrides.

``paper`` is the official DDIR training recipe exactly (for GPUs; docs/protocols.md). ``quick`` reduces it so that all four
methods train on a 2-core CPU in minutes; each reduction is listed in its ``notes``. A profile
can also be a YAML file holding a ``base`` profile name and the fields it changes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import yaml

from ..errors import DdirKitError


@dataclass(frozen=True)
class Profile:
    name: str
    # sampler
    lr_patch_px: int = 48
    queries: int = 2304
    repeat: int = 20
    augment: bool = True
    # the Train split's scales to sample from (empty: all of them); the paper's Table 5 trains
    # on (2, 3, 4) only
    train_scales: tuple = ()
    # the scale range of bicubic-degradation training on HR-only datasets (LIIF's U[1, 4])
    bicubic_scales: tuple = (1.0, 4.0)
    # optimisation
    batch: int = 16  # global batch, split across torch.distributed ranks
    epochs: int = 1000
    # Adam's learning rate (spelt out: "lr" is the low-resolution image everywhere else in the kit)
    learning_rate: float = 2e-4  # DDIR's, and every method's that learning_rate_by_method does not name
    # the official configs: LIIF, LTE and CiaoSR train with 1e-4, DDIR with 2e-4
    learning_rate_by_method: dict = field(default_factory=lambda: {"liif": 1e-4, "lte": 1e-4, "ciaosr": 1e-4})
    learning_rate_milestones_epochs: tuple = (200, 400, 600, 800)  # multiplied by the gamma at each
    learning_rate_gamma: float = 0.5
    seed: int = 0
    # "bf16": forward pass and loss under torch.autocast (weights, gradients and Adam stay
    # fp32); evaluation is always fp32. Off by default: it moves PSNR by tenths of a dB and
    # only pays on hardware with native bf16 (benchmarks/demo_training_length.py).
    # "tf32": fp32 weights and activations, matrix products and convolutions in TF32 on CUDA
    # (no effect on a CPU). "fp32" turns TF32 off on CUDA, convolutions included.
    precision: str = "fp32"
    # how the step runs (benchmark/acceleration.py); the results agree to float rounding
    channels_last: bool = False  # the convolutions' weights and the LR input in channels-last memory
    optimizer_impl: str = "auto"  # Adam's kernels: auto (fused on CUDA, foreach on a CPU), foreach, fused, plain
    compile: bool = False  # torch.compile the encoders and the decoder MLPs (off until measured faster)
    # machinery
    num_workers: int | str = 2  # DataLoader worker processes per rank, or "auto" (from the CPUs it may use)
    torch_threads: int = 2  # per process, on CPU
    checkpoint_every_iters: int = 250
    log_every_iters: int = 10
    # evaluation
    protocol: str = "ddir"
    eval_max_memory_bytes: int = 2 << 30  # per chunk of queries in full-image inference
    # constructor arguments per method name, e.g. {"my_pkg.nets:Net": {"width": 32}}, for the
    # methods a run trains; --method-args given on the command line takes their place
    method_args: dict = field(default_factory=dict)
    notes: str = ""

    def learning_rate_for(self, method: str) -> float:
        return float(self.learning_rate_by_method.get(method, self.learning_rate))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for key in ("learning_rate_milestones_epochs", "train_scales", "bicubic_scales"):
            d[key] = list(d[key])
        return d


PROFILES = {
    "paper": Profile(
        name="paper", num_workers="auto",
        notes="the official DDIR recipe: 48 px LR crops at even offsets, 2304 queries, batch 16, Adam 2e-4 "
              "(LIIF, LTE and CiaoSR 1e-4, as their official configs), 1000 epochs of each image x20, learning "
              "rate halved at epochs 200/400/600/800"),
    "quick": Profile(
        name="quick",
        lr_patch_px=32, queries=1024, repeat=20, batch=4, epochs=15,
        learning_rate=5e-4, learning_rate_by_method={}, learning_rate_milestones_epochs=(12,), learning_rate_gamma=0.5,
        num_workers=1, torch_threads=2, checkpoint_every_iters=25, log_every_iters=5,
        eval_max_memory_bytes=1 << 30,
        # learning rate 5e-4 was chosen over 2e-4 and 1e-3 on a validation pair held out of City100's
        # training pairs (benchmarks/city100_quick_lr.py), never on test pairs.
        notes="reduced from the paper's recipe: 32 px LR crops (raised to a multiple of the scale's "
              "denominator) instead of 48, 1024 queries instead of 2304, batch 4 instead of 16, 15 epochs "
              "instead of 1000 (lr halved after epoch 12 instead of 200/400/600/800), one lr 5e-4 for all "
              "methods (paper: 2e-4, LIIF and LTE 1e-4); sampling, augmentation, losses and evaluation as in "
              "the paper"),
}


def _number(value):
    # YAML 1.1 reads "1e-3" (no dot) as a string; numbers written that way are still numbers.
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return value
    return value


_SCALE_TUPLES = ("train_scales", "bicubic_scales")


def _scale_value(name: str, v) -> float:
    try:
        return float(_number(v))
    except (TypeError, ValueError):
        raise DdirKitError(f"--set {name}: expected scales such as [2, 3, 4], got {v!r}") from None


def _coerce(name: str, value, current):
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        value = _number(value)
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise DdirKitError(f"--set {name}: expected true or false, got {value!r}")
        return value
    if isinstance(current, int):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise DdirKitError(f"--set {name}: expected an integer, got {value!r}")
        return int(value)
    if isinstance(current, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DdirKitError(f"--set {name}: expected a number, got {value!r}")
        return float(value)
    if isinstance(current, tuple):
        items = value if isinstance(value, (list, tuple)) else [value]
        if name in _SCALE_TUPLES:
            return tuple(_scale_value(name, v) for v in items)
        return tuple(int(v) for v in items)
    if isinstance(current, dict):
        if not isinstance(value, dict):
            raise DdirKitError(f"--set {name}: expected a mapping such as {{liif: 1e-4}}, got {value!r}")
        return dict(value)
    return str(value)


PRECISIONS = ("fp32", "bf16", "tf32")
OPTIMIZER_IMPLS = ("auto", "foreach", "fused", "plain")
_CHOICES = {"precision": PRECISIONS, "optimizer_impl": OPTIMIZER_IMPLS}

# The value a recorded profile (run.json, bench.json) takes for a key it lacks because it was
# written before the key existed: what that run did. Other missing keys take the default.
BEFORE_THE_KEY = {"optimizer_impl": "plain"}

# Names the keys had before the learning rate was spelt out; profile files, --set and run.json
# files written with them still read.
OLD_KEY_NAMES = {"lr": "learning_rate", "lr_by_method": "learning_rate_by_method",
                 "lr_milestones_epochs": "learning_rate_milestones_epochs", "lr_gamma": "learning_rate_gamma"}


def upgrade_keys(d: dict) -> dict:
    """A mapping of profile keys with the old learning-rate names replaced by today's."""
    out = {}
    for key, value in d.items():
        new = OLD_KEY_NAMES.get(key, key)
        if new in out:
            raise DdirKitError(f"profile key {new!r} given twice (also as {key!r})")
        out[new] = value
    return out


def apply_overrides(profile: Profile, overrides: dict) -> Profile:
    known = {f.name: f for f in fields(Profile)}
    changes = {}
    for key, value in upgrade_keys(overrides).items():
        if key not in known or key == "name":
            raise DdirKitError(f"unknown profile key {key!r}; keys: {', '.join(k for k in known if k != 'name')}")
        changes[key] = _workers(value) if key == "num_workers" else _coerce(key, value, getattr(profile, key))
    for key, choices in _CHOICES.items():
        value = changes.get(key, getattr(profile, key))
        if value not in choices:
            raise DdirKitError(f"--set {key}: expected one of {', '.join(choices)}, got {value!r}")
    return replace(profile, **changes)


def _workers(value) -> int | str:
    value = _number(value)
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise DdirKitError(f"--set num_workers: expected auto or a whole number >= 0, got {value!r}")


def parse_set(items: list[str] | tuple[str, ...]) -> dict:
    """['batch=8', 'epochs=20'] -> {'batch': 8, 'epochs': 20};
    values are YAML scalars, lists or mappings."""
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise DdirKitError(f"--set expects key=value, got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            raise DdirKitError(f"--set {key}: not a YAML value: {text!r}") from None
    return out


def load_profile(name_or_path: str, overrides: dict | None = None) -> Profile:
    """A built-in profile by name, or a YAML file ``{base: quick, batch: 8, ...}``; then overrides."""
    if name_or_path in PROFILES:
        prof = PROFILES[name_or_path]
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise DdirKitError(f"unknown profile {name_or_path!r}; built-in: {', '.join(PROFILES)}, or a YAML file")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise DdirKitError(f"not valid YAML ({e})", path) from None
        if not isinstance(data, dict):
            raise DdirKitError("a profile file is a mapping of keys to values", path)
        base = data.pop("base", "paper")
        if base not in PROFILES:
            raise DdirKitError(f"unknown base profile {base!r}", path)
        prof = replace(apply_overrides(PROFILES[base], data), name=path.stem)
    return apply_overrides(prof, overrides or {})


def profile_from_dict(d: dict) -> Profile:
    """A profile as a run or bench record stored it (keys it lacks: ``BEFORE_THE_KEY``)."""
    d = upgrade_keys(d)
    name = d.pop("name")
    d = {**BEFORE_THE_KEY, **d}
    return replace(apply_overrides(Profile(name=name), d), name=name)
