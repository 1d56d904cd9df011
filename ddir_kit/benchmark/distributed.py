"""torch.distributed set-up for torchrun: gloo on CPU, nccl on CUDA.

Under ``torchrun --nproc_per_node N ddir-kit train ...`` the environment holds RANK,
WORLD_SIZE and LOCAL_RANK; without them everything runs as a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..devices import resolve_device


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def init_distributed(device: str = "cpu") -> DistContext:
    """Join the process group torchrun describes (if any); the device is per-rank on CUDA."""
    resolve_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(device=device)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return DistContext(rank, world, local, device)


def barrier(ctx: DistContext) -> None:
    if ctx.active:
        dist.barrier()


def gather_to_main(ctx: DistContext, items: list) -> list:
    """Concatenate each rank's list on every rank (object all-gather; small records only)."""
    if not ctx.active:
        return list(items)
    out = [None] * ctx.world
    dist.all_gather_object(out, list(items))
    return [x for part in out for x in part]


def broadcast_object(ctx: DistContext, obj):
    if not ctx.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
