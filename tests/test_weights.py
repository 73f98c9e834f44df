"""The weights path end to end: manifest -> override dir / Hub (local server) / URL -> sha256 -> load."""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from iqametrics import weights
from iqametrics.weights import ChecksumMismatchError, WeightsError, WeightsUnavailableError

from .hub_server import write_manifest as _write_manifest

REPO_ID = "iqametrics-test/weights"


def _safetensors_bytes(state: dict) -> bytes:
    from safetensors.torch import save

    return save(state)


@pytest.fixture
def state():
    g = torch.Generator().manual_seed(0)
    return {"layer.weight": torch.randn(4, 3, generator=g), "layer.bias": torch.randn(4, generator=g)}


def _hf_entry(filename: str, data: bytes, **extra) -> dict:
    entry = {
        "hf": {"repo_id": REPO_ID, "filename": filename, "revision": "main"},
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "format": "safetensors",
        "licence": "test",
    }
    entry.update(extra)
    return entry


def test_hub_download_verifies_and_loads(hub, state):
    data = _safetensors_bytes(state)
    hub.add(REPO_ID, "model.safetensors", data)
    _write_manifest(hub, {"toy": _hf_entry("model.safetensors", data)})
    path = weights.fetch("toy")
    assert path.read_bytes() == data
    assert any(req == ("GET", f"/{REPO_ID}/resolve/main/model.safetensors") for req in hub.requests)
    loaded, entry = weights.load_state("toy")
    assert entry.key == "toy"
    for k in state:
        torch.testing.assert_close(loaded[k], state[k], rtol=0, atol=0)


def test_checksum_prefix_is_accepted(hub, state):
    data = _safetensors_bytes(state)
    hub.add(REPO_ID, "m.safetensors", data)
    entry = _hf_entry("m.safetensors", data)
    entry["sha256_prefix"] = entry.pop("sha256")[:8]
    _write_manifest(hub, {"toy": entry})
    assert weights.fetch("toy").is_file()


def test_checksum_mismatch_is_refused(hub, state):
    data = _safetensors_bytes(state)
    hub.add(REPO_ID, "model.safetensors", data)
    entry = _hf_entry("model.safetensors", data)
    entry["sha256"] = "0" * 64
    _write_manifest(hub, {"toy": entry})
    with pytest.raises(ChecksumMismatchError, match="does not match the manifest entry 'toy'"):
        weights.fetch("toy")


def test_offline_with_cache_uses_cache_without_network(hub, state, monkeypatch):
    data = _safetensors_bytes(state)
    hub.add(REPO_ID, "model.safetensors", data)
    _write_manifest(hub, {"toy": _hf_entry("model.safetensors", data)})
    first = weights.fetch("toy")
    hub.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert weights.fetch("toy") == first
    assert hub.requests == []


def test_offline_without_cache_fails_with_instructions(hub, state, monkeypatch):
    data = _safetensors_bytes(state)
    hub.add(REPO_ID, "model.safetensors", data)
    _write_manifest(hub, {"toy": _hf_entry("model.safetensors", data)})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError) as err:
        weights.fetch("toy")
    message = str(err.value)
    assert "model.safetensors" in message and "offline" in message
    assert f"{hub.url}/{REPO_ID}/resolve/main/model.safetensors" in message
    assert "IQAMETRICS_WEIGHTS_DIR" in message
    assert hub.requests == []


def test_override_dir_is_used_first_and_verified(hub, state, monkeypatch, tmp_path):
    data = _safetensors_bytes(state)
    _write_manifest(hub, {"toy": _hf_entry("model.safetensors", data)})
    local = tmp_path / "local"
    local.mkdir()
    (local / "model.safetensors").write_bytes(data)
    monkeypatch.setenv("IQAMETRICS_WEIGHTS_DIR", str(local))
    assert weights.fetch("toy") == local / "model.safetensors"
    assert hub.requests == []
    (local / "model.safetensors").write_bytes(data[:-1] + b"\x00")
    with pytest.raises(ChecksumMismatchError):
        weights.fetch("toy")


def test_missing_file_on_hub(hub, state):
    data = _safetensors_bytes(state)
    _write_manifest(hub, {"toy": _hf_entry("absent.safetensors", data)})
    with pytest.raises(WeightsUnavailableError, match="absent.safetensors"):
        weights.fetch("toy")


def test_unreachable_hub_fails_fast(hub, state, monkeypatch):
    import socket

    data = _safetensors_bytes(state)
    _write_manifest(hub, {"toy": _hf_entry("model.safetensors", data)})
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("HF_ENDPOINT", dead)
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as err:
        weights.fetch("toy")
    assert time.monotonic() - start < 10, "an unreachable Hub must fail within seconds"
    assert dead in str(err.value) and "model.safetensors" in str(err.value)


def test_silent_hub_times_out(hub, state, monkeypatch):
    """A server that accepts connections but never answers: fail after the configured timeout."""
    import socket

    data = _safetensors_bytes(state)
    _write_manifest(hub, {"toy": _hf_entry("model.safetensors", data)})
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{listener.getsockname()[1]}")
        monkeypatch.setenv("IQAMETRICS_DOWNLOAD_TIMEOUT", "1")
        start = time.monotonic()
        with pytest.raises(WeightsUnavailableError):
            weights.fetch("toy")
        assert time.monotonic() - start < 10
    finally:
        listener.close()


def test_url_entry_downloads_into_cache(hub, state):
    data = _safetensors_bytes(state)
    hub.raw["official.safetensors"] = data
    entry = {"url": f"{hub.url}/raw/official.safetensors", "sha256": hashlib.sha256(data).hexdigest(), "format": "safetensors"}
    _write_manifest(hub, {"toy@official": entry})
    path = weights.fetch("toy@official")
    assert path.read_bytes() == data and "iqa-cache" in str(path)
    hub.requests.clear()
    assert weights.fetch("toy@official") == path and hub.requests == []


def test_url_entry_bad_checksum_leaves_nothing_behind(hub, state):
    data = _safetensors_bytes(state)
    hub.raw["official.safetensors"] = data
    entry = {"url": f"{hub.url}/raw/official.safetensors", "sha256": "1" * 64, "format": "safetensors"}
    _write_manifest(hub, {"toy@official": entry})
    with pytest.raises(ChecksumMismatchError):
        weights.fetch("toy@official")
    cache = Path(os.environ["IQAMETRICS_CACHE"])
    assert not [p for p in cache.rglob("*") if p.is_file()]


def test_manual_entry_is_never_fetched(hub, state):
    entry = {"url": f"{hub.url}/raw/drive", "manual": True, "filename": "ckpt.pth", "format": "pth"}
    _write_manifest(hub, {"toy@drive": entry})
    with pytest.raises(WeightsUnavailableError, match="cannot be downloaded automatically"):
        weights.fetch("toy@drive")
    assert hub.requests == []


def test_unknown_key_suggests(hub, state):
    data = _safetensors_bytes(state)
    _write_manifest(hub, {"musiq.koniq": _hf_entry("a.safetensors", data)})
    with pytest.raises(KeyError, match="musiq.koniq"):
        weights.get_entry("musiq.konig")


def test_manifest_validation(hub):
    _write_manifest(hub, {"bad": {"format": "pth"}})
    with pytest.raises(ValueError, match="needs 'hf', 'url' or 'bundled'"):
        weights.load_manifest()
    _write_manifest(hub, {"bad": {"url": "http://x/y.pth", "sha256": "abc"}})
    with pytest.raises(ValueError, match="64 lowercase hex"):
        weights.load_manifest()


# ------------------------------------------------------------------------- file formats
def test_load_formats(tmp_path, state):
    from safetensors.torch import save_file

    save_file(state, tmp_path / "a.safetensors")
    torch.save(state, tmp_path / "a.pth")
    np.savez(tmp_path / "a.npz", **{k: v.numpy() for k, v in state.items()})
    for name in ("a.safetensors", "a.pth", "a.npz"):
        loaded = weights.load_state_file(tmp_path / name)
        for k in state:
            torch.testing.assert_close(torch.as_tensor(loaded[k]), state[k], rtol=0, atol=0)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickled_objects_are_refused(tmp_path):
    torch.save({"x": _Evil()}, tmp_path / "evil.pth")
    with pytest.raises(WeightsError, match="weights_only=True"):
        weights.load_state_file(tmp_path / "evil.pth")


def test_load_state_missing_path_and_key():
    with pytest.raises(FileNotFoundError, match="neither a weights file nor a key"):
        weights.load_state("no/such/file.pth")


def test_real_manifest_is_valid():
    weights._manifest_cached.cache_clear()
    entries = weights.load_manifest()
    for key, entry in entries.items():
        assert entry.format in weights.FORMATS
        if entry.bundled:
            assert weights.bundled_path(entry).is_file(), f"{key}: bundled file missing"
            assert entry.sha256, f"{key}: a bundled file's checksum is known, record it"
