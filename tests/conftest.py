"""Shared fixtures. Real LR-HR pairs live in ../shared/data beside the repository (CI lays a
copy there too); DDIR_KIT_SHARED points elsewhere if needed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("DDIR_KIT_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def city100_dir() -> Path:
    """../shared/data/city100: twelve real Nikon LR-HR pairs (see its README)."""
    path = shared_dir() / "data" / "city100"
    if not (path / "nikon_001H.png").is_file():
        pytest.skip(f"City100 test pairs not found at {path}")
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
