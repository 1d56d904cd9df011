"""The process pool that batch stages (ingest, register) use for `--jobs N`.

Workers are spawned, not forked: forking a process whose OpenCV or OpenMP thread pool has
already run can deadlock the child on a lock held by a thread that was not copied. Each worker
runs its libraries single-threaded (the pool is the parallelism) and dies with its parent, so
a killed batch never leaves workers writing behind it that would race a rerun.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor


def process_pool(jobs: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init)


def _worker_init() -> None:
    _die_with_parent()
    # LibRaw's and torch's OpenMP read OMP_NUM_THREADS when first imported, which happens later.
    os.environ["OMP_NUM_THREADS"] = "1"
    import cv2

    cv2.setNumThreads(1)


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    parent = multiprocessing.parent_process()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent.pid:  # it died before the request was made
        os._exit(1)
