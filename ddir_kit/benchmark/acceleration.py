"""How a training step uses the hardware: the precision, the memory format of the
convolutions, Adam's kernels, torch.compile, the loader's workers, and reading the loss
without waiting for the device at every step.

The profile keys (profiles.py) are resolved for the device once per run into an
``Acceleration`` (recorded in run.json); the training loop then asks it for the autocast
context, the batch on the device and the optimizer. Apart from the precision, none of these
changes what is computed, only how: results agree to float rounding (tests/
test_training_acceleration.py). On a CPU TF32 has no effect, and ``auto`` picks foreach Adam.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import asdict, dataclass

import torch

from ..errors import DdirKitError
from .distributed import DistContext
from .profiles import Profile

# DataLoader workers that "auto" gives a rank at most: at the paper's shapes one worker draws
# about 1,700 DDIR samples/s, so 8 feed even a 16-sample step of 5 ms with room to spare.
MAX_AUTO_WORKERS = 8


@dataclass(frozen=True)
class Acceleration:
    """The profile's acceleration keys as they apply on one device (``to_dict`` goes to run.json).

    optimizer: the Adam implementation in use (foreach, fused or plain); num_workers: the
    resolved DataLoader worker count; notes: what a key could not do here, one line each.
    """

    device_type: str  # cpu | cuda
    precision: str
    tf32: bool  # TF32 matrix products and convolutions (CUDA only)
    bf16_autocast: bool
    channels_last: bool
    optimizer: str
    compile: bool
    num_workers: int
    pin_memory: bool
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["notes"] = list(self.notes)
        return d

    def autocast(self):
        """The context of the forward pass and the loss (bf16 autocast, or nothing)."""
        return torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16_autocast)

    def to_device(self, batch: dict, device: str) -> dict:
        """The loader's batch on ``device`` (asynchronous from pinned memory), the LR input in
        the memory format of the convolutions."""
        out = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        if self.channels_last and "lr" in out:
            out["lr"] = out["lr"].contiguous(memory_format=torch.channels_last)
        return out

    def adam(self, params, lr: float) -> torch.optim.Adam:
        flags = {"foreach": dict(foreach=True, fused=False), "fused": dict(foreach=False, fused=True),
                 "plain": dict(foreach=False, fused=False)}[self.optimizer]
        try:
            return torch.optim.Adam(params, lr=lr, **flags)
        except (RuntimeError, ValueError) as e:  # a torch without fused Adam for this device
            raise DdirKitError(f"--set optimizer_impl={self.optimizer}: torch's Adam refuses it here ({e})") from None


def plan(profile: Profile, ctx: DistContext) -> Acceleration:
    """Resolve the profile's acceleration keys for the device of ``ctx``."""
    device_type = torch.device(ctx.device).type
    notes = []
    tf32 = profile.precision == "tf32" and device_type == "cuda"
    if profile.precision == "tf32" and not tf32:
        notes.append("precision tf32 has no effect on a CPU: the run computes in fp32")
    optimizer = profile.optimizer_impl
    if optimizer == "auto":
        optimizer = "fused" if device_type == "cuda" else "foreach"
    workers = profile.num_workers
    if workers == "auto":
        workers = auto_workers(device_type, profile.torch_threads)
    return Acceleration(device_type, profile.precision, tf32, profile.precision == "bf16", profile.channels_last,
                        optimizer, profile.compile, int(workers), device_type == "cuda", tuple(notes))


def auto_workers(device_type: str, torch_threads: int, cpus: int | None = None, ranks: int | None = None) -> int:
    """DataLoader workers per rank from the CPUs this process may run on, shared by the ranks
    of this machine, less what the rank's own process needs (one core on CUDA, its torch
    threads on a CPU); at least 1, at most ``MAX_AUTO_WORKERS``."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if ranks is None:
        ranks = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
    own = 1 if device_type == "cuda" else max(1, torch_threads)
    return max(1, min(MAX_AUTO_WORKERS, cpus // max(1, ranks) - own))


@contextlib.contextmanager
def cuda_settings(acc: Acceleration):
    """While training on CUDA: TF32 on or off for matrix products and cuDNN convolutions, and
    cuDNN's search for its fastest convolution algorithms (cudnn.benchmark: a training step's
    shapes never change). The process's settings are restored afterwards (evaluation keeps
    torch's)."""
    if acc.device_type != "cuda":
        yield
        return
    flags = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = flags[0].allow_tf32, flags[1].allow_tf32, flags[1].benchmark
    flags[0].allow_tf32 = flags[1].allow_tf32 = acc.tf32
    flags[1].benchmark = True
    try:
        yield
    finally:
        flags[0].allow_tf32, flags[1].allow_tf32, flags[1].benchmark = saved


def prepare_model(model: torch.nn.Module, acc: Acceleration) -> torch.nn.Module:
    """Apply the memory format and torch.compile to ``model`` in place (its parameters and its
    state_dict keys stay the same objects and names); call before making the optimizer."""
    from ..models.encoders import ENCODER_CLASSES
    from ..models.mlp import MLP

    if acc.channels_last:
        model.to(memory_format=torch.channels_last)  # every 4-D weight: the encoders' and their heads'
    if acc.compile:
        for module in model.modules():
            if isinstance(module, tuple(ENCODER_CLASSES.values())):
                module.compile()
            elif isinstance(module, MLP):
                module.compile()
                # the fast decoding path enters the MLP after its first layer
                module.after_first = torch.compile(module.after_first)
    return model


class LossReader:
    """The loss of the latest step, kept on the device so that a step never waits for the
    host; ``read`` synchronises (under torchrun: one all-reduce of the mean loss and of
    whether any rank saw a non-finite loss since the last read)."""

    def __init__(self, ctx: DistContext, first_iter: int):
        self.ctx = ctx
        self.since = first_iter
        self._loss = self._nonfinite = None

    def add(self, loss: torch.Tensor) -> None:
        loss = loss.detach().float()
        bad = ~torch.isfinite(loss)
        self._loss = loss
        self._nonfinite = bad if self._nonfinite is None else self._nonfinite | bad

    def read(self, it: int, where) -> float:
        """The mean loss of iteration ``it`` over the ranks; raises DdirKitError (naming
        ``where``) when a loss since the previous read was not finite."""
        both = torch.stack([self._loss, self._nonfinite.float()])
        if self.ctx.active:
            torch.distributed.all_reduce(both)
            both[0] /= self.ctx.world
        loss, nonfinite = both.tolist()
        if nonfinite or not math.isfinite(loss):
            span = f"iteration {it}" if self.since == it else f"iterations {self.since} to {it}"
            raise DdirKitError(f"training diverged: the loss was not finite in {span} (loss {loss} at {it}; "
                               "it is checked at every logged iteration and checkpoint)", where)
        self.since = it + 1
        self._nonfinite = None
        return loss
