"""Keep freed memory inside the process during CPU training (glibc only).

glibc serves every allocation above 32 MB with its own mmap and unmaps it on free, so each
training step's 150 MB activations come back as fresh pages that the kernel must fault in and
zero, again every step. Telling malloc never to mmap and never to trim its heap lets the
next step reuse the same memory once the heap has settled (a few steps): at the paper's shapes
on one thread, a tenth off the fast path's step and a quarter off the reference path's
(benchmarks/results/train_step_speed.md). The price is fragmentation: peak memory there rose
from 1.86 to 2.45 GiB and then stayed flat. A user who set MALLOC_MMAP_MAX_ or
MALLOC_TRIM_THRESHOLD_ keeps their choice; inference does not call this, so the memory budgets
of `upscale` and `test` are unaffected.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc's malloc.h
_applied = False


def keep_freed_memory() -> bool:
    """Apply once per process; True if glibc took the settings."""
    global _applied
    if _applied:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(k in os.environ for k in ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_")):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    # mallopt returns 1 on success and takes an int: 2**31 - 1 is the largest trim threshold
    ok = libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1) == 1
    _applied = ok
    return ok
