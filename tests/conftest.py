"""Shared fixtures: real photos from ../shared/data (skipped cleanly when absent), seeded tensors."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$IQAMETRICS_SHARED_DATA`` or ``../shared/data`` beside the repository."""
    return Path(os.environ.get("IQAMETRICS_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "clive" / "images").is_dir():
        pytest.skip(f"real photos not available ({path} is absent)")
    return path


@pytest.fixture(scope="session")
def clive_dir(shared_data) -> Path:
    return shared_data / "clive" / "images"


@pytest.fixture(scope="session")
def clive_paths(clive_dir):
    """The LIVE Challenge photos, sorted by name."""
    return sorted(p for p in clive_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))


@pytest.fixture(scope="session")
def pristine_paths(shared_data):
    folder = shared_data / "pristine"
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(0)


@pytest.fixture(scope="session")
def example_image() -> Path:
    """The small example photo committed in the repository (made for this project)."""
    return REPO / "examples" / "example.jpg"
