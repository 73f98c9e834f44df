"""Shared fixtures: real photos from ../shared/data (skipped cleanly when absent), seeded tensors."""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest
import torch

from .hub_server import HubServer

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subprocess_env(**extra) -> dict:
    """The environment for ``python -m iqametrics`` in a subprocess: this checkout first, one thread."""
    path = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", **extra}


def torchrun(nproc: int) -> list:
    """The start of a torchrun command line for ``nproc`` processes on this machine (CPU: gloo)."""
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
            "--master-addr", "127.0.0.1", "--master-port", str(free_port())]


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


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module of tests on small inputs: on a shared, oversubscribed
    machine every small parallel op waits for descheduled OpenMP threads (~50 ms an op).  A run
    that sets OMP_NUM_THREADS asks for that thread count (docs/developing.md): it is kept."""
    if os.environ.get("OMP_NUM_THREADS"):
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(0)


@pytest.fixture(scope="session")
def example_image() -> Path:
    """The small example photo committed in the repository (made for this project)."""
    return REPO / "examples" / "example.jpg"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A local Hub on 127.0.0.1 (HF_ENDPOINT points at it), a temporary manifest and caches."""
    from iqametrics.weights import manifest as weights  # where load_manifest looks up manifest_path

    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        for var in ("HF_HUB_OFFLINE", "IQAMETRICS_OFFLINE", "IQAMETRICS_WEIGHTS_DIR"):
            monkeypatch.delenv(var, raising=False)
        import huggingface_hub.constants as hf_constants

        monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        # huggingface_hub reads HF_HUB_OFFLINE once, at its import: an earlier test may have imported it offline
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setenv("IQAMETRICS_CACHE", str(tmp_path / "iqa-cache"))
        server.manifest = tmp_path / "weights_manifest.json"
        monkeypatch.setattr(weights, "manifest_path", lambda: server.manifest)
        weights._manifest_cached.cache_clear()
        yield server
        weights._manifest_cached.cache_clear()


@pytest.fixture
def register_toy(monkeypatch):
    """Register a toy metric class under ``info.name`` for one test: ``register_toy(cls, info)``."""
    from iqametrics import registry
    from iqametrics.config import MetricConfig

    def register(metric_class, info):
        config = MetricConfig(info)
        registry._ensure_models_imported()
        monkeypatch.setitem(registry._REGISTRY, info.name, registry._Registered(config, metric_class))
        monkeypatch.setattr(metric_class, "configs", {info.name: config}, raising=False)
        return config

    return register
