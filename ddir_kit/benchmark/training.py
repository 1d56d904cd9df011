"""Training one method on one dataset: resumable to the bit on CPU, and data-parallel under
torchrun.

A run folder holds:
    run.json    method, encoder, profile, dataset, model spec (written once)
    state.pt    model, optimizer, scheduler, every RNG state and the loader position
                (written atomically every ``checkpoint_every_iters`` and at the end)
    log.csv     iter, epoch, loss, lr, elapsed_s (rewritten atomically)
    model.pt    the final checkpoint (models.save_checkpoint), present only when finished

The sampler draws every sample from (seed, epoch, index) alone (sampler.py), so the loader's
state is the next iteration number; with the model, Adam, the scheduler and the global RNGs
restored, a resumed run repeats exactly the arithmetic of an uninterrupted one.

How the step uses the hardware (precision, memory format, Adam's kernels, compile, workers)
is set up by acceleration.py; the loss is read from the device only at logged iterations and
checkpoints, so a step never waits for the host.
"""

from __future__ import annotations

import csv
import io
import math
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import DdirKitError
from ..fileio import atomic_path, atomic_write_text
from . import acceleration
from .datasets import SRDataset, open_dataset
from .cpu_allocator import keep_freed_memory
from .distributed import DistContext, barrier, init_distributed
from .profiles import Profile
from .run_files import RunRecord
from .sampler import SAMPLER_VERSION, BatchStream, worker_init
from .training_data import training_patches

# Profile keys that change the arithmetic of training; a resume must keep them.
_TRAINING_KEYS = ("lr_patch_px", "queries", "repeat", "augment", "train_scales", "bicubic_scales", "batch",
                  "epochs", "learning_rate",
                  "learning_rate_by_method", "learning_rate_milestones_epochs", "learning_rate_gamma", "seed",
                  "precision", "channels_last", "optimizer_impl", "compile")
# Those of them that came later: a run recorded before them (no "acceleration" in its run.json)
# resumes with the values it ran with, whatever today's profile says.
_ACCELERATION_KEYS = ("channels_last", "optimizer_impl", "compile")


@dataclass(frozen=True)
class TrainSummary:
    run_dir: Path
    model_path: Path
    iters: int
    final_loss: float
    seconds: float
    resumed_at_iter: int | None
    skipped: bool = False
    notes: tuple[str, ...] = ()  # one line each: a profile key that could not apply here, or was kept by a resume


ProgressFn = Callable[[int, int, float], None]  # (iteration done, total, loss)


def _rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_state(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _write_log(path: Path, rows: list) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("iter", "epoch", "loss", "learning_rate", "elapsed_s"))
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def _check_resume(old: RunRecord, new: RunRecord, run_json: Path) -> tuple[Profile, list[str]]:
    """A resumed run must keep everything that changes its arithmetic. Returns the profile to
    resume with: ``new``'s, with the acceleration keys of a run recorded before they existed
    taken from the run; and a note for each of those that differed."""
    for key in ("method", "encoder"):
        if getattr(old, key) != getattr(new, key):
            raise DdirKitError(f"--resume with {key} {getattr(new, key)!r} but the run used {getattr(old, key)!r}",
                               run_json)
    if old.model_spec and old.model_spec != new.model_spec:
        raise DdirKitError(f"--resume with the model {new.model_spec} but the run trains {old.model_spec}", run_json)
    if old.sampler != new.sampler:
        raise DdirKitError(f"the run was started by an earlier release whose training sampler (version {old.sampler}) "
                           f"draws other samples than today's (version {new.sampler}); start it again in a new "
                           "--out folder", run_json)
    kept = {key: getattr(old.profile, key) for key in _ACCELERATION_KEYS} if not old.acceleration else {}
    notes = [f"profile {key}={_plain(value)!r} kept from the run (asked: {_plain(getattr(new.profile, key))!r})"
             for key, value in kept.items() if value != getattr(new.profile, key)]
    profile = replace(new.profile, **kept)
    for key in _TRAINING_KEYS:
        used, wanted = getattr(old.profile, key), getattr(profile, key)
        if used != wanted:
            raise DdirKitError(f"--resume with profile {key}={_plain(wanted)!r} but the run used {_plain(used)!r}",
                               run_json)
    return profile, notes


def check_trained_on(run_dir: Path, ds: SRDataset) -> None:
    """A finished run is reused only for the dataset it was trained on: run folders are named by
    method, encoder and profile (and by the dataset's role in reproduce), not by the data's path.
    Raises DdirKitError otherwise; a run without run.json (written by hand) is taken as it is."""
    run_json = Path(run_dir) / "run.json"
    if not run_json.is_file():
        return
    trained_on = Path(RunRecord.read(run_json).dataset)
    if trained_on.resolve() != Path(ds.root).resolve():
        raise DdirKitError(f"was trained on {trained_on}, not on {ds.root}; use another --out for other data", run_dir)


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def step_loss(net, model, batch: dict) -> torch.Tensor:
    """The training loss of one batch: query-form methods see sampled queries, image-form
    methods (method_interface.py) upscale the whole LR crop to its HR crop."""
    if getattr(model, "form", "query") == "image":
        return model.loss(net(batch["lr"], size=tuple(batch["hr"].shape[-2:])), batch["hr"])
    out = net(batch["lr"], batch["coord"], batch["cell"])
    return model.loss(out, batch["rgb"], batch.get("deform"))


def train_method(method: str, data: str | Path | SRDataset, out_dir: str | Path, profile: Profile,
                 encoder: str = "edsr", resume: bool = False, device: str = "cpu", scale=None,
                 progress: ProgressFn | None = None, ctx: DistContext | None = None,
                 method_args: dict | None = None) -> TrainSummary:
    """Train ``method`` with ``encoder`` on the Train split of ``data``; write the run folder.

    method_args: constructor arguments of the method (a method from outside takes its own; a
    fixed-scale model its ``scale``, and trains only on the Train pairs of that scale); None:
    the profile's ``method_args`` for this method.
    A finished run (model.pt present) is skipped, if it was trained on ``data`` (check_trained_on).
    An unfinished one needs ``resume=True``.
    Under torchrun, pass nothing for ``ctx``: the process group is joined here.
    """
    from ..models import make_model, save_checkpoint

    out_dir = Path(out_dir)
    ctx = ctx or init_distributed(device)
    model_path, state_path, log_path = out_dir / "model.pt", out_dir / "state.pt", out_dir / "log.csv"
    if model_path.is_file():
        check_trained_on(out_dir, data if isinstance(data, SRDataset) else open_dataset(data, scale))
        return TrainSummary(out_dir, model_path, 0, math.nan, 0.0, None, skipped=True)
    if state_path.is_file() and not resume:
        raise DdirKitError("an unfinished run is here; pass --resume to continue it or choose another --out", out_dir)

    ds = data if isinstance(data, SRDataset) else open_dataset(data, scale)
    if ctx.device == "cpu":
        torch.set_num_threads(profile.torch_threads)
        keep_freed_memory()
    random.seed(profile.seed)
    np.random.seed(profile.seed)
    torch.manual_seed(profile.seed)
    if method_args is None:
        method_args = profile.method_args.get(method, {})
    model = make_model(method, encoder, **dict(method_args))
    if not getattr(model, "trainable", True):
        raise DdirKitError(f"{method} has no weights to train")
    model.to(ctx.device)
    spec = model.spec

    patches, trained_scales = training_patches(ds, model, profile)
    image_form = getattr(model, "form", "query") == "image"
    record = RunRecord(method, encoder, profile, str(ds.root), ds.kind, trained_scales, ctx.world, spec,
                       SAMPLER_VERSION)
    run_json = out_dir / "run.json"
    notes = []
    if resume and run_json.is_file():
        profile, notes = _check_resume(RunRecord.read(run_json), record, run_json)
    acc = acceleration.plan(profile, ctx)
    notes += acc.notes
    record = replace(record, profile=profile, acceleration=acc.to_dict())
    acceleration.prepare_model(model, acc)

    per_epoch = patches.epoch_length // profile.batch
    if per_epoch == 0:
        raise DdirKitError(f"an epoch of {patches.epoch_length} patches holds no batch of {profile.batch}; "
                           "lower --set batch or raise --set repeat", ds.root)
    total = per_epoch * profile.epochs

    opt = acc.adam(model.parameters(), profile.learning_rate_for(method))
    sched = torch.optim.lr_scheduler.MultiStepLR(
        opt, milestones=[m * per_epoch for m in profile.learning_rate_milestones_epochs],
        gamma=profile.learning_rate_gamma)
    start, rows, elapsed0, resumed_at = 0, [], 0.0, None
    if resume and state_path.is_file():
        st = torch.load(state_path, map_location=ctx.device, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        _set_rng_state(st["rng"])
        start, rows, elapsed0 = st["loader"]["next_iter"], st["log"], st["elapsed_s"]
        resumed_at = start
    elif ctx.is_main:
        record.write(run_json)

    net = model
    if ctx.active:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.local_rank] if ctx.device.startswith("cuda") else None)
    stream = BatchStream(patches.epoch_length, profile.batch, profile.seed, total, start, ctx.rank, ctx.world,
                         numbered=image_form)
    loader = torch.utils.data.DataLoader(
        patches, batch_sampler=stream, num_workers=acc.num_workers,
        worker_init_fn=worker_init if acc.num_workers else None, pin_memory=acc.pin_memory)

    def save(next_iter: int) -> None:
        if ctx.is_main:
            _save_state(state_path, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                     "scheduler": sched.state_dict(), "rng": _rng_state(),
                                     "loader": {"next_iter": next_iter, "iters_per_epoch": per_epoch},
                                     "log": rows, "elapsed_s": elapsed0 + time.monotonic() - t0})
            _write_log(log_path, rows)
        barrier(ctx)

    t0 = time.monotonic()
    loss_value = math.nan  # the last loss read from the device (progress shows it)
    model.train()
    it = start
    losses = acceleration.LossReader(ctx, start + 1)
    with acceleration.cuda_settings(acc):
        for batch in loader:
            batch = acc.to_device(batch, ctx.device)
            with acc.autocast():
                loss = step_loss(net, model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            it += 1
            losses.add(loss)
            logged = it % profile.log_every_iters == 0 or it == total
            checkpoint = it % profile.checkpoint_every_iters == 0
            if logged or checkpoint:
                loss_value = losses.read(it, out_dir)
            if logged:
                rows.append((it, (it - 1) // per_epoch + 1, f"{loss_value:.6f}", f"{sched.get_last_lr()[0]:.3g}",
                             f"{elapsed0 + time.monotonic() - t0:.1f}"))
            if progress and ctx.is_main:  # no loss shown before the first read (a non-finite one raises)
                progress(it, total, None if math.isnan(loss_value) else loss_value)
            if checkpoint and it < total:
                save(it)
    save(total)
    if ctx.is_main:
        extra = {"method": method, "encoder": encoder, "profile": profile.name, "iters": total,
                 "train_scales": list(trained_scales), "dataset": str(ds.root)}
        with atomic_path(model_path) as tmp:
            save_checkpoint(tmp, model, extra=extra)
    barrier(ctx)
    return TrainSummary(out_dir, model_path, total, loss_value, elapsed0 + time.monotonic() - t0, resumed_at,
                        notes=tuple(notes))
