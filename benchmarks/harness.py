"""The plumbing every script in benchmarks/ shares, so that every results file says how its
figures were taken.

- ``parser(__file__, __doc__, city100=...)``: the argument parser, with ``--out FILE`` (the
  results file, default ``benchmarks/results/<script>.md``) and, for scripts that read the real
  City100 pairs, ``--city100 DIR`` (default ``tests/data/city100``); ``city100_dir`` checks it.
- ``Run()``: made when a script starts; ``run.write(out, text)`` writes the results file with a
  provenance block after its title: the exact command, the git commit (and whether tracked
  files had uncommitted changes), the machine (CPU model, cores, RAM, GPU, torch...) and the
  1-minute load average at the start and at the end. ``run.load_now()`` samples the load for a
  table's row. A load above the core count means other work shared the CPUs: such a sample
  prints as "<load> LOADED", and the file gets a line starting "LOADED:".
- ``time_call(fn, repeats)``: wall and CPU seconds of a callable, with the load before and after.
- ``synthetic_train_batch`` and ``train_step``: the random batch and the training step that the
  training-step scripts time.

Scripts are run as files (``python benchmarks/x.py``), so importing this module also puts the
repository root first on sys.path: the checkout's ddir_kit is the one measured, installed or not.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ddir_kit.fileio import atomic_write_text

RESULTS_DIR = REPO / "benchmarks" / "results"
CITY100_DEFAULT = REPO / "tests" / "data" / "city100"
# the LR -> HR scale of the synthetic training batches (the query coordinates' HR grid)
SYNTHETIC_SCALE = 2.5


# --- command line -----------------------------------------------------------------------------

def parser(script_file: str, doc: str | None = None, *, city100: bool = False) -> argparse.ArgumentParser:
    """An ArgumentParser for benchmarks/<script>.py with its docstring as help and ``--out``
    (a Path; default benchmarks/results/<script>.md); ``--city100`` (a Path) too if asked."""
    stem = Path(script_file).stem
    ap = argparse.ArgumentParser(prog=f"benchmarks/{stem}.py", description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=RESULTS_DIR / f"{stem}.md", metavar="FILE",
                    help=f"the results file to write (default: benchmarks/results/{stem}.md)")
    if city100:
        ap.add_argument("--city100", type=Path, default=CITY100_DEFAULT, metavar="DIR",
                        help="folder of the City100 Nikon pairs, nikon_NNNH.png / nikon_NNNL.png "
                             "(default: tests/data/city100)")
    return ap


def city100_dir(path: Path) -> Path:
    """``path`` if it holds the City100 pairs; else the script stops with one line saying so."""
    if not (Path(path) / "nikon_001H.png").is_file():
        raise SystemExit(f"no City100 pairs in {path}: pass --city100 DIR pointing at the City100 pairs "
                         "(nikon_NNNH.png / nikon_NNNL.png)")
    return Path(path)


def command_line(argv: Sequence[str] | None = None) -> str:
    """The invocation as one shell line, the script named relative to the repository."""
    argv = list(sys.argv if argv is None else argv)
    script = Path(argv[0]).resolve() if argv else Path("?")
    with contextlib.suppress(ValueError):
        script = script.relative_to(REPO)
    return shlex.join(["python", str(script), *argv[1:]])


# --- load, commit, machine --------------------------------------------------------------------

def core_count() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Load:
    """The 1-minute load average at one moment, against the machine's core count."""

    one_min: float
    cores: int

    @property
    def loaded(self) -> bool:
        """More runnable work than cores: a time measured now includes waiting for a CPU."""
        return self.one_min > self.cores

    def __str__(self) -> str:
        return f"{self.one_min:.1f}" + (" LOADED" if self.loaded else "")


def load_now() -> Load:
    one_min = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return Load(float(one_min), core_count())


@dataclass(frozen=True)
class Commit:
    sha: str | None      # None outside a git checkout
    dirty: bool | None   # uncommitted changes to tracked files (untracked files do not count)

    def __str__(self) -> str:
        if self.sha is None:
            return "unknown (not a git checkout)"
        return f"{self.sha} ({'uncommitted changes in the tree' if self.dirty else 'clean tree'})"


def commit(repo: Path = REPO) -> Commit:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()

    try:
        sha = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return Commit(None, None)
    return Commit(sha, dirty)


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    ram_gib: float
    gpu: str | None
    torch: str
    torch_threads: int
    python: str
    numpy: str
    opencv: str
    system: str

    def __str__(self) -> str:
        return (f"{self.cpu}, {self.cores} cores, {self.ram_gib:.1f} GiB RAM, "
                f"{'GPU ' + self.gpu if self.gpu else 'no GPU'}; torch {self.torch} "
                f"({self.torch_threads} threads), Python {self.python}, numpy {self.numpy}, "
                f"OpenCV {self.opencv}; {self.system}")


def machine() -> Machine:
    """The machine as this process sees it now (torch's thread count as the script set it)."""
    import cv2
    import numpy as np
    import torch

    gpu = None
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        gpu = ", ".join(names) + f" (CUDA {torch.version.cuda})"
    return Machine(_cpu_name(), core_count(), _ram_bytes() / 2 ** 30, gpu, torch.__version__,
                   torch.get_num_threads(), platform.python_version(), np.__version__, cv2.__version__,
                   f"{platform.system()} {platform.release()}")


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _ram_bytes() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 0


# --- one run and its results file -------------------------------------------------------------

class Run:
    """One invocation of a benchmark script: made at its start, it writes the results file."""

    def __init__(self, argv: Sequence[str] | None = None):
        self.command = command_line(argv)
        self.commit = commit()
        self.started = datetime.now(timezone.utc)
        self._t0 = time.monotonic()
        self.start_load = load_now()
        self.samples: list[tuple[str, Load]] = [("start", self.start_load)]

    def load_now(self, label: str = "") -> Load:
        """The load now, remembered: a LOADED sample is named in the file's LOADED line."""
        load = load_now()
        self.samples.append((label, load))
        return load

    def note(self, timing: "Timing", label: str = "") -> None:
        """Remember the loads around a ``time_call`` timing."""
        self.samples += [(label, timing.load_before), (label, timing.load_after)]

    @property
    def loaded(self) -> bool:
        return any(load.loaded for _, load in self.samples)

    def provenance(self, end: Load, host: Machine) -> list[str]:
        """The lines that say how the figures were taken (markdown, one fact per line)."""
        lines = [f"- Command: `{self.command}`",
                 f"- Commit: {self.commit}",
                 f"- Machine: {host}",
                 f"- Load average (1 min): {self.start_load.one_min:.2f} at the start, {end.one_min:.2f} at the end "
                 f"({end.cores} cores)",
                 f"- Started {self.started:%Y-%m-%d %H:%M} UTC, ran {time.monotonic() - self._t0:.0f} s"]
        readings = self.samples + [("end", end)]
        over = [(label, load) for label, load in readings if load.loaded]
        if over:
            label, top = max(over, key=lambda r: r[1].one_min)
            lines += ["", f"LOADED: the 1-min load average exceeded the {end.cores} cores at {len(over)} of "
                          f"{len(readings)} readings (highest {top.one_min:.1f}, {label or 'during the run'}): other "
                          "work shared the CPUs, so times measured then are slower than this machine alone would "
                          "give (a load figure in a table reads '<load> LOADED' there)."]
        return lines

    def write(self, out: Path, text: str) -> Path:
        """Write ``text`` (markdown) to ``out`` atomically, the provenance block after its title
        line (a first line starting '# '), else at the top. Callable again as a run progresses."""
        lines = text.strip("\n").split("\n")
        title, rest = (lines[:1], lines[1:]) if lines[0].startswith("# ") else ([], lines)
        while rest and not rest[0].strip():
            rest.pop(0)
        block = ["How this was measured:", "", *self.provenance(load_now(), machine()), ""]
        body = title + ([""] if title else []) + block + rest
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_text(out, "\n".join(body) + "\n")


# --- timing -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    """Seconds of each timed call: wall clock and this process's CPU time (all its threads)."""

    wall_s: tuple[float, ...]
    cpu_s: tuple[float, ...]
    load_before: Load
    load_after: Load

    @property
    def best(self) -> tuple[float, float]:
        """(wall s, CPU s) of the fastest call."""
        return min(zip(self.wall_s, self.cpu_s))

    @property
    def median_wall_s(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def loaded(self) -> bool:
        return self.load_before.loaded or self.load_after.loaded


def time_call(fn: Callable[[], object], repeats: int = 1, warmup: int = 0) -> tuple[Timing, object]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed; (timing, last result).
    On a machine shared with other jobs CPU time shows the work done, wall time what one waits;
    ``timing.loaded`` says whether the load exceeded the cores before or after."""
    for _ in range(warmup):
        fn()
    before, walls, cpus, out = load_now(), [], [], None
    for _ in range(max(1, repeats)):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return Timing(tuple(walls), tuple(cpus), before, load_now()), out


# --- the synthetic training step --------------------------------------------------------------

def synthetic_train_batch(gen, device, batch: int, patch_px: int, queries: int, scale: float = SYNTHETIC_SCALE):
    """A random training batch: (lr (B,3,P,P), coord (B,Q,2), cell (B,Q,2), target (B,Q,3),
    deform (B,Q,3)) on ``device``; Q query points drawn without repeats from the x``scale`` HR
    grid of a P px patch. Drawn on the CPU from ``gen`` (a torch.Generator), so it is the same
    batch on every device."""
    import torch

    from ddir_kit.models.coords import make_coord

    hr_px = int(patch_px * scale)
    lr = torch.rand(batch, 3, patch_px, patch_px, generator=gen)
    coords = make_coord((hr_px, hr_px))
    idx = torch.stack([torch.randperm(hr_px * hr_px, generator=gen)[:queries] for _ in range(batch)])
    coord = coords[idx]
    cell = torch.full((batch, queries, 2), 2.0 / hr_px)
    target = torch.rand(batch, queries, 3, generator=gen)
    deform = torch.rand(batch, queries, 3, generator=gen) - 0.5
    return tuple(t.to(device) for t in (lr, coord, cell, target, deform))


def train_step(model, opt, batch, bf16: bool = False) -> None:
    """Forward, L1 loss, backward, Adam step; the forward pass and loss under bf16 autocast if
    asked (as `--set precision=bf16` trains)."""
    import torch

    lr, coord, cell, target, deform = batch
    autocast = (torch.autocast(lr.device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext())
    with autocast:
        out = model(lr, coord, cell)
        loss = model.loss(out, target, deform if model.uses_deform_target else None)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
