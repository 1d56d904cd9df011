"""OUT/manifest.json of a virtual-camera output folder (a calibration sweep or a folder of
simulated scenes): the run's parameters and its finished files, so that a rerun with the same
parameters skips them and one with other parameters is refused.

Fields (``format`` = SIMULATION_MANIFEST_FORMAT):
    params: the run's parameters as JSON (kind 'calibration_sweep' or 'scenes', seed, lens,
        camera, ...); a rerun must match them exactly
    done: files finished so far, relative to OUT, in the order they were written
    complete: true once the run finished
Files written before ``format`` was added have the same fields and read as @1; a later
version converts older files in ``read_simulation_manifest``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DdirKitError
from ..fileio import atomic_write_json, jsonable, read_json

SIMULATION_MANIFEST_FORMAT = "ddir-kit/simulation-manifest@1"
MANIFEST_JSON = "manifest.json"


@dataclass
class SimulationManifest:
    """The contents of manifest.json; ``open`` / ``mark_done`` / ``finish`` keep it on disk
    while a run writes its files."""

    path: Path
    params: dict
    done: list[str] = field(default_factory=list)
    complete: bool = False

    @classmethod
    def open(cls, out: Path, params: dict) -> "SimulationManifest":
        """The manifest of a run with ``params`` into ``out``: the one already there (same
        parameters), or a new one in an empty folder (created)."""
        path = out / MANIFEST_JSON
        params = jsonable(params)
        if path.exists():
            old = read_simulation_manifest(out)
            if old.params != params:
                raise DdirKitError("folder holds a different simulation (other parameters); "
                                   "use an empty folder", out)
            old.complete = False
            return old
        out.mkdir(parents=True, exist_ok=True)
        if any(p.name != MANIFEST_JSON for p in out.iterdir()):
            raise DdirKitError("folder is not empty and has no manifest.json; use an empty folder", out)
        m = cls(path, params)
        m._write()
        return m

    def is_done(self, name: str) -> bool:
        return name in self.done and (self.path.parent / name).is_file()

    def mark_done(self, name: str) -> None:
        if name not in self.done:
            self.done.append(name)
        self._write()

    def finish(self) -> None:
        self.complete = True
        self._write()

    def to_dict(self) -> dict:
        return dict(format=SIMULATION_MANIFEST_FORMAT, params=self.params, done=list(self.done),
                    complete=self.complete)

    def _write(self) -> None:
        atomic_write_json(self.path, self.to_dict())


def read_simulation_manifest(out: str | Path) -> SimulationManifest:
    """OUT/manifest.json of a virtual-camera folder; DdirKitError naming it when malformed."""
    path = Path(out) / MANIFEST_JSON
    d = read_json(path)
    fmt = d.get("format", SIMULATION_MANIFEST_FORMAT) if isinstance(d, dict) else None
    if fmt != SIMULATION_MANIFEST_FORMAT:
        raise DdirKitError(f"not a virtual-camera manifest (format {fmt!r}, expected "
                           f"{SIMULATION_MANIFEST_FORMAT!r})", path)
    try:
        return SimulationManifest(path, d["params"], [str(n) for n in d.get("done", [])], bool(d.get("complete")))
    except (KeyError, TypeError) as e:
        raise DdirKitError(f"malformed virtual-camera manifest ({type(e).__name__}: {e})", path) from None
