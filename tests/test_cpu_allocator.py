"""CPU training keeps freed memory in the process: once a repeated step of big tensors has run
a few times, the next one reuses their pages instead of faulting in fresh ones (glibc Linux
only; a user's MALLOC_* choice wins)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="glibc malloc settings")

PROBE = """
import resource, cv2, torch
from ddir_kit.benchmark.cpu_allocator import keep_freed_memory
applied = keep_freed_memory()
def step():  # like a training step: a few big activations, made and freed in turn
    a = torch.ones(20_000_000); b = a * 2; c = b + a; del a; d = c * b; del b, c, d
for _ in range(6):  # the heap settles after a few steps (measured: 4)
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
step()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _probe(**env) -> tuple[bool, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, check=True)
    applied, faults = out.stdout.split()
    return applied == "True", int(faults)


def test_freed_training_memory_is_reused_without_page_faults():
    applied, faults = _probe()
    assert applied and faults < 2_000  # four fresh 80 MB tensors are about 78,000 4 KiB pages


def test_a_users_malloc_setting_is_left_alone():
    applied, faults = _probe(MALLOC_TRIM_THRESHOLD_="131072")
    assert not applied and faults > 20_000
