"""Shared fixtures. The real LR-HR pairs ship in tests/data/city100 (twelve City100 pairs cut to
what the tests read; its README says how); DDIR_KIT_SHARED=DIR reads DIR/data/city100 instead,
which must hold the same cut pairs: the tests' coordinates and pinned values are theirs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import pytest

REPO = Path(__file__).resolve().parents[1]
CITY100 = REPO / "tests" / "data" / "city100"


def city100_path() -> Path:
    shared = os.environ.get("DDIR_KIT_SHARED")
    return Path(shared) / "data" / "city100" if shared else CITY100


@pytest.fixture(scope="session")
def city100_dir() -> Path:
    """Twelve real Nikon LR-HR pairs nikon_NNN{H,L}.png, cut from City100 (tests/data/city100)."""
    path = city100_path()
    first = cv2.imread(str(path / "nikon_001H.png"), cv2.IMREAD_UNCHANGED)
    if first is None:
        pytest.fail(f"no City100 test pairs at {path}: they ship in tests/data/city100 "
                    "(restore them with git, or cut them with tests/data/city100/cut_city100.py)")
    _, _, w, h = json.loads((CITY100 / "crops.json").read_text())["pairs"]["001"]["frame_xywh"]
    if first.shape[:2] != (h, w):
        pytest.fail(f"{path} holds {first.shape[1]}x{first.shape[0]} photos, not the {w}x{h} crop of "
                    "tests/data/city100 the tests are written for")
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module: on a shared, loaded CPU two OpenMP threads spin against
    each other (100x slower here)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
