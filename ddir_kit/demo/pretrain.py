"""The demo's pretrained models: LIIF, LTE, CiaoSR and DDIR at the demo's reduced width
(config.DEMO_METHOD_ARGS) trained by the kit on virtual-camera scenes that the demo never shows,
and shipped in ddir_kit/data/demo_models/.

Two CPU cores cannot train four implicit decoders far enough in the demo's 20 minutes for a
comparison to mean anything (benchmarks/results/demo_training_length.md). So the demo scores
these models on its own test scenes, beside a short from-scratch run that proves the training
path. They were made by ``ddir-kit demo pretrain`` (this module), which anyone can rerun:

1. the virtual camera shoots ``PRETRAIN_SCENES`` scenes with seed ``PRETRAIN_SEED`` at the six
   training scales (at their true focal lengths), on walls of City100 photos **other than** the
   six the demo's own scenes are made of (``demo_textures``): no test content is seen in training;
2. ``register`` aligns them (radial term and homography, as the demo), ``crop`` puts every scene
   in Train;
3. each method trains with the ``quick`` profile for ``PRETRAIN_EPOCHS`` epochs;
4. the checkpoints are stored with their checksums in SHA256SUMS and the recipe in README.md.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch

from ..errors import DdirKitError
from ..fileio import atomic_write_text, sha256_file
from .config import DEMO_METHOD_ARGS

MODELS_DIR = Path(__file__).resolve().parents[1] / "data" / "demo_models"
PRETRAIN_SEED = 1000
PRETRAIN_SCENES = 12
PRETRAIN_SENSOR_PX = (480, 320)  # the demo's own frames
PRETRAIN_SCALES = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
PRETRAIN_METHODS = ("liif", "lte", "ciaosr", "ddir")
PRETRAIN_EPOCHS = 40  # 40 epochs of 12 scenes x 20 / batch 4 = 2400 iterations


@dataclass(frozen=True)
class PretrainResult:
    out_dir: Path
    models: tuple[Path, ...]
    textures: tuple[Path, ...]
    iterations: dict
    seconds: dict


def demo_textures(folder: str | Path) -> list[Path]:
    """The City100 HR photos (``nikon_NNNH.png``) of a folder whose numbers are not those of the
    demo's packaged textures (``city100_NNN.jpg``): the pretraining scenes' walls."""
    from ..virtual_camera.scenes import packaged_textures, photos_in

    used = {m.group(1) for p in packaged_textures() if (m := re.search(r"_(\d{3})$", p.stem))}
    chosen = [p for p in photos_in(folder) if (m := re.fullmatch(r"nikon_(\d{3})H", p.stem)) and m.group(1) not in used]
    if len(chosen) < 3:
        raise DdirKitError(f"found {len(chosen)} City100 HR photos (nikon_NNNH.png) other than the demo's own "
                           f"({', '.join(sorted(used))}); the pretraining scenes need at least three", folder)
    return chosen


def pretrain_demo_models(work: str | Path, textures_dir: str | Path, out_dir: str | Path = MODELS_DIR,
                         device: str = "cpu", epochs: int = PRETRAIN_EPOCHS, jobs: int = 2,
                         log: Callable[[str], None] | None = None,
                         train_progress: Callable[[str], Callable] | None = None) -> PretrainResult:
    """Shoot, register and crop the pretraining scenes into ``work``, train the four methods
    there (resumable: a rerun continues), and copy their checkpoints to ``out_dir``."""
    from ..benchmark.profiles import load_profile
    from ..benchmark.run_files import logged_iterations, logged_seconds
    from ..benchmark.training import train_method
    from ..dataset.crop import CropSettings, crop_dataset
    from ..registration.config import RegistrationConfig
    from ..registration.register_captures import register_captures
    from ..virtual_camera.simulate_scenes import simulate_scenes

    log = log or (lambda _m: None)
    work, out_dir = Path(work), Path(out_dir)
    textures = demo_textures(textures_dir)
    log(f"shooting {PRETRAIN_SCENES} scenes (seed {PRETRAIN_SEED}) on " + ", ".join(p.name for p in textures))
    simulate_scenes(work / "captures", PRETRAIN_SCENES, scales=PRETRAIN_SCALES, seed=PRETRAIN_SEED,
                    sensor=PRETRAIN_SENSOR_PX, textures=textures)
    log("registering")
    register_captures(work / "captures", work / "aligned", jobs=jobs,
                      config=RegistrationConfig(radial=True, perspective=True))
    crop_dataset(work / "aligned", work / "dataset", CropSettings(test_fraction=0.0, seed=PRETRAIN_SEED))
    profile = load_profile("quick", {"epochs": epochs,
                                     "learning_rate_milestones_epochs": [max(1, round(0.8 * epochs))]})
    iterations, seconds, models = {}, {}, []
    out_dir.mkdir(parents=True, exist_ok=True)
    for method in PRETRAIN_METHODS:
        run = work / "runs" / f"{method}-edsr"
        log(f"training {method}-edsr ({epochs} epochs)")
        res = train_method(method, work / "dataset", run, profile, "edsr", resume=True, device=device,
                           progress=train_progress(f"{method}-edsr") if train_progress else None,
                           method_args=DEMO_METHOD_ARGS[method])
        # from the run's log, so that a run finished by an earlier call (skipped now) counts too
        iterations[method] = logged_iterations(run / "log.csv") or res.iters
        seconds[method] = logged_seconds(run / "log.csv") or round(res.seconds)
        dest = out_dir / f"{method}-edsr.pt"
        shutil.copyfile(run / "model.pt", dest)
        models.append(dest)
    _write_records(out_dir, models, textures, profile, iterations, seconds, device)
    return PretrainResult(out_dir, tuple(models), tuple(textures), iterations, seconds)


def _write_records(out_dir: Path, models, textures, profile, iterations, seconds, device) -> None:
    lines = [f"{sha256_file(p)}  {p.name}" for p in models]
    atomic_write_text(out_dir / "SHA256SUMS", "\n".join(lines) + "\n")
    tex = [f"- `{p.name}` (sha256 {sha256_file(p)[:16]})" for p in textures]
    rows = [f"| {m}-edsr | {iterations[m]} | {seconds[m]} | {(out_dir / f'{m}-edsr.pt').stat().st_size / 1e6:.1f} |"
            for m in PRETRAIN_METHODS]
    readme = ["# The demo's pretrained models", "",
              "Made by `ddir-kit demo pretrain --textures CITY100_DIR` (ddir_kit/demo/pretrain.py) on "
              f"{datetime.now(timezone.utc):%Y-%m-%d}, device `{device}`, torch {torch.__version__}.", "",
              f"- Data: {PRETRAIN_SCENES} virtual-camera scenes, seed {PRETRAIN_SEED}, "
              f"{PRETRAIN_SENSOR_PX[0]}x{PRETRAIN_SENSOR_PX[1]} frames, at "
              + ", ".join(f"x{s:g}" for s in PRETRAIN_SCALES) + " (true focal lengths), registered with "
              "`--radial --perspective`, every scene in Train; the walls are these City100 photos, none of "
              "which the demo's own scenes use:", *tex, "",
              f"- Training: profile `quick` with epochs={profile.epochs}, learning rate milestones "
              f"{list(profile.learning_rate_milestones_epochs)}; the demo's reduced widths (EDSR-baseline of 8 "
              "residual blocks of 32 channels, MLPs of 128): ddir_kit/demo/config.py DEMO_METHOD_ARGS.",
              "- Checksums in SHA256SUMS (the demo checks them before it scores the models).",
              "- Training seconds are wall time from each run's log: they include any wait for a CPU that "
              "other work shared, and a run resumed across calls counts its parts.", "",
              "| model | iterations | training s (wall, from its log) | MB |", "|---|---:|---:|---:|", *rows, ""]
    atomic_write_text(out_dir / "README.md", "\n".join(readme))


def verify_demo_models(models_dir: str | Path = MODELS_DIR) -> list[Path]:
    """The shipped models, each checked against SHA256SUMS; DdirKitError naming a missing or
    changed file."""
    models_dir = Path(models_dir)
    sums = models_dir / "SHA256SUMS"
    if not sums.is_file():
        raise DdirKitError("the demo's pretrained models are missing (no SHA256SUMS); make them with "
                           "`ddir-kit demo pretrain`", models_dir)
    out = []
    for line in sums.read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        path = models_dir / name.strip()
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise DdirKitError("does not match its checksum in SHA256SUMS (changed or incomplete)", path)
        out.append(path)
    return out

