"""The weights path end to end: manifest -> override dir / Hub (local server) / URL -> sha256 -> load."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import types
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


def test_download_cut_short_is_refused_and_not_locked(hub, state):
    data = _safetensors_bytes(state)
    hub.raw["official.safetensors"] = data
    hub.cut["/raw/official.safetensors"] = len(data) // 2
    _write_manifest(hub, {"toy@official": {"url": f"{hub.url}/raw/official.safetensors", "format": "safetensors"}})
    with pytest.raises(WeightsUnavailableError, match=r"cut short \(\d+ of \d+ bytes\)"):
        weights.fetch("toy@official")
    assert not weights.lock_path().exists()  # a short file is never trusted
    assert not [p for p in Path(os.environ["IQAMETRICS_CACHE"]).rglob("*") if p.is_file()]


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
    with pytest.raises(ValueError, match="needs 'hf', 'url', 'bundled' or"):
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


# ------------------------------------------------------------------------- trust on first use
def _unchecked_hf_entry(filename: str, **extra) -> dict:
    entry = {"hf": {"repo_id": REPO_ID, "filename": filename, "revision": "main"}, "format": "safetensors"}
    entry.update(extra)
    return entry


def _lock(hub=None) -> dict:
    return json.loads(weights.lock_path().read_text())["files"]


def test_first_download_is_recorded_and_a_different_copy_refused(hub, state):
    data = _safetensors_bytes(state)
    hub.add(REPO_ID, "model.safetensors", data)
    _write_manifest(hub, {"toy": _unchecked_hf_entry("model.safetensors")})
    path = weights.fetch("toy")
    source = f"https://huggingface.co/{REPO_ID}/resolve/main/model.safetensors"
    record = _lock()["toy"][source]
    assert record["sha256"] == hashlib.sha256(data).hexdigest() and record["size"] == len(data)
    assert weights.fetch("toy") == path  # the same file passes
    path.write_bytes(_safetensors_bytes({"layer.weight": torch.zeros(2)}))  # the cached copy changes
    with pytest.raises(weights.LockMismatchError) as err:
        weights.fetch("toy")
    message = str(err.value)
    assert str(path) in message and str(weights.lock_path()) in message
    assert "iqa download toy" in message and "remove the 'toy' record" in message


def test_a_later_download_that_differs_is_refused_and_not_cached(hub, state):
    data = _safetensors_bytes(state)
    hub.raw["official.safetensors"] = data
    url = f"{hub.url}/raw/official.safetensors"
    _write_manifest(hub, {"toy@official": {"url": url, "format": "safetensors"}})
    path = weights.fetch("toy@official")
    path.unlink()
    hub.raw["official.safetensors"] = _safetensors_bytes({"other": torch.ones(3)})  # the publisher's file changed
    with pytest.raises(weights.LockMismatchError, match="differs from the file first used"):
        weights.fetch("toy@official")
    assert not path.exists()
    record = _lock()["toy@official"][url]
    assert record["sha256"] == hashlib.sha256(data).hexdigest() and record["path"] == str(path)  # the record is kept


def test_prefix_entries_keep_the_prefix_check_and_lock_the_full_digest(hub, state):
    data = _safetensors_bytes(state)
    digest = hashlib.sha256(data).hexdigest()
    hub.add(REPO_ID, "m.safetensors", data)
    _write_manifest(hub, {"toy": _unchecked_hf_entry("m.safetensors", sha256_prefix=digest[:8])})
    path = weights.fetch("toy")
    assert next(iter(_lock()["toy"].values()))["sha256"] == digest
    path.write_bytes(b"x" + data)
    with pytest.raises(ChecksumMismatchError, match="does not match the manifest entry"):
        weights.fetch("toy")


def test_lock_is_keyed_by_key_and_source(hub, state):
    """A manifest that moves an entry to another file starts a new record; a mirror does not."""
    first, second = _safetensors_bytes(state), _safetensors_bytes({"w": torch.ones(2)})
    hub.add(REPO_ID, "v1.safetensors", first)
    hub.add(REPO_ID, "v2.safetensors", second)
    _write_manifest(hub, {"toy": _unchecked_hf_entry("v1.safetensors")})
    weights.fetch("toy")
    _write_manifest(hub, {"toy": _unchecked_hf_entry("v2.safetensors")})
    weights.fetch("toy")
    assert len(_lock()["toy"]) == 2
    entry = weights.get_entry("toy")
    assert entry.source_url.startswith("https://huggingface.co/") and entry.download_url.startswith(hub.url)


def test_files_with_a_published_checksum_are_not_locked(hub, state):
    data = _safetensors_bytes(state)
    hub.add(REPO_ID, "model.safetensors", data)
    _write_manifest(hub, {"toy": _hf_entry("model.safetensors", data)})
    weights.fetch("toy")
    assert not weights.lock_path().exists()


def test_lock_is_written_atomically_and_a_broken_one_is_reported(hub, state):
    data = _safetensors_bytes(state)
    hub.add(REPO_ID, "a.safetensors", data)
    hub.add(REPO_ID, "b.safetensors", data + b" ")
    _write_manifest(hub, {"a": _unchecked_hf_entry("a.safetensors"), "b": _unchecked_hf_entry("b.safetensors")})
    weights.fetch("a")
    weights.fetch("b")
    assert set(_lock()) == {"a", "b"}
    assert [p.name for p in weights.lock_path().parent.iterdir() if p.is_file()] == [weights.LOCK_NAME]
    weights.lock_path().write_text("{ truncated")
    with pytest.raises(WeightsError, match="weights-lock.json cannot be read"):
        weights.fetch("a")


def test_unwritable_cache_warns_and_goes_on(hub, state, monkeypatch, tmp_path):
    data = _safetensors_bytes(state)
    hub.add(REPO_ID, "model.safetensors", data)
    _write_manifest(hub, {"toy": _unchecked_hf_entry("model.safetensors")})
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("IQAMETRICS_CACHE", str(blocker))
    with pytest.warns(RuntimeWarning, match="could not record the sha256"):
        assert weights.fetch("toy").is_file()


def test_override_dir_copies_are_checked_against_the_manifest_only(hub, state, monkeypatch, tmp_path):
    """Your own files (IQAMETRICS_WEIGHTS_DIR) are not downloads: the lock does not apply to them."""
    _write_manifest(hub, {"toy": _unchecked_hf_entry("model.safetensors")})
    local = tmp_path / "mine"
    local.mkdir()
    (local / "model.safetensors").write_bytes(_safetensors_bytes(state))
    monkeypatch.setenv("IQAMETRICS_WEIGHTS_DIR", str(local))
    assert weights.fetch("toy") == local / "model.safetensors"
    (local / "model.safetensors").write_bytes(_safetensors_bytes({"retrained": torch.ones(1)}))
    assert weights.fetch("toy") == local / "model.safetensors"
    assert not weights.lock_path().exists()


def test_check_cached_reports_each_state(hub, state):
    data = _safetensors_bytes(state)
    hub.add(REPO_ID, "model.safetensors", data)
    _write_manifest(hub, {
        "toy": _unchecked_hf_entry("model.safetensors"),
        "gone": _unchecked_hf_entry("absent.safetensors"),
        "mine": {"published": False, "filename": "mine.pth"},
    })
    assert weights.check_cached("gone") == weights.CheckResult("gone", True, None, "not downloaded")
    assert weights.check_cached("mine").detail == "no published weights"
    path = weights.fetch("toy")
    result = weights.check_cached("toy")
    assert result.ok and result.path == path and "matches the lock" in result.detail
    path.write_bytes(b"tampered")
    result = weights.check_cached("toy")
    assert not result.ok and "differs from the file first used" in result.detail
    assert hub.downloads() == [("GET", f"/{REPO_ID}/resolve/main/model.safetensors")]  # checking downloads nothing


# ------------------------------------------------------------------------- where files are looked for
def test_weights_dir_that_does_not_exist_is_an_error(hub, state, monkeypatch, tmp_path):
    _write_manifest(hub, {"toy": _unchecked_hf_entry("model.safetensors")})
    monkeypatch.setenv("IQAMETRICS_WEIGHTS_DIR", str(tmp_path / "typo"))
    with pytest.raises(weights.WeightsConfigError, match=r"IQAMETRICS_WEIGHTS_DIR=.*typo does not exist"):
        weights.fetch("toy")
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("IQAMETRICS_WEIGHTS_DIR", str(tmp_path / "file"))
    with pytest.raises(weights.WeightsConfigError, match="is not a folder"):
        weights.fetch("toy")
    assert hub.requests == []
    assert not issubclass(weights.WeightsConfigError, WeightsUnavailableError)  # models do not reword it


def test_missing_file_names_the_folders_searched(hub, monkeypatch, tmp_path):
    folder = tmp_path / "weights"
    folder.mkdir()
    _write_manifest(hub, {
        "toy": _unchecked_hf_entry("model.safetensors"),
        "toy@official": {"url": f"{hub.url}/raw/none.pth", "filename": "toy_official.pth", "format": "pth"},
    })
    monkeypatch.setenv("IQAMETRICS_WEIGHTS_DIR", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError) as err:
        weights.fetch("toy")
    assert str(folder / "model.safetensors") in str(err.value) and "Hugging Face cache" in str(err.value)
    with pytest.raises(WeightsUnavailableError) as err:
        weights.fetch("toy@official")
    cached = Path(os.environ["IQAMETRICS_CACHE"]) / "weights" / "toy@official" / "toy_official.pth"
    assert str(folder / "toy_official.pth") in str(err.value) and str(cached) in str(err.value)
    assert "save it as toy_official.pth" in str(err.value)


# ------------------------------------------------------------------------- Google Drive (gdown, optional)
DRIVE_URL = "https://drive.google.com/file/d/1AbC-d_E/view?usp=sharing"


class _FakeGdown(types.ModuleType):
    """Stands in for gdown: ``download(id=..., output=..., quiet=...)`` writes the file it is given."""

    def __init__(self, data: bytes, fail: Exception = None):
        super().__init__("gdown")
        self.data, self.fail, self.calls = data, fail, []

    def download(self, url=None, output=None, quiet=False, id=None):
        self.calls.append({"id": id, "output": output, "quiet": quiet, "url": url})
        if self.fail is not None:
            raise self.fail
        Path(output).write_bytes(self.data)
        return output


def test_drive_entry_downloads_through_gdown_and_is_locked(hub, state, monkeypatch):
    data = _safetensors_bytes(state)
    fake = _FakeGdown(data)
    monkeypatch.setitem(sys.modules, "gdown", fake)
    _write_manifest(hub, {"toy@drive": {"url": DRIVE_URL, "filename": "toy.safetensors", "format": "safetensors"}})
    entry = weights.get_entry("toy@drive")
    assert entry.source_kind == "drive" and entry.drive_id == "1AbC-d_E" and weights.can_download(entry)
    path = weights.fetch("toy@drive")
    assert path.read_bytes() == data and path.name == "toy.safetensors"
    assert [c["id"] for c in fake.calls] == ["1AbC-d_E"] and fake.calls[0]["quiet"]
    assert _lock()["toy@drive"][DRIVE_URL]["sha256"] == hashlib.sha256(data).hexdigest()
    assert weights.fetch("toy@drive") == path and len(fake.calls) == 1  # cached
    loaded, _ = weights.load_state("toy@drive")
    torch.testing.assert_close(loaded["layer.bias"], state["layer.bias"], rtol=0, atol=0)


def test_drive_download_with_a_wrong_checksum_leaves_nothing(hub, state, monkeypatch):
    monkeypatch.setitem(sys.modules, "gdown", _FakeGdown(b"not the release"))
    _write_manifest(hub, {"toy@drive": {"url": DRIVE_URL, "filename": "t.pth", "format": "pth", "sha256": "2" * 64}})
    with pytest.raises(ChecksumMismatchError):
        weights.fetch("toy@drive")
    assert not [p for p in Path(os.environ["IQAMETRICS_CACHE"]).rglob("*") if p.is_file()]


def test_drive_failure_keeps_the_cause(hub, monkeypatch):
    fake = _FakeGdown(b"", fail=OSError("quota exceeded"))
    monkeypatch.setitem(sys.modules, "gdown", fake)
    _write_manifest(hub, {"toy@drive": {"url": DRIVE_URL, "filename": "t.pth", "format": "pth"}})
    with pytest.raises(WeightsUnavailableError, match="quota exceeded") as err:
        weights.fetch("toy@drive")
    assert isinstance(err.value.__cause__, OSError)


def test_drive_without_gdown_says_how_to_get_it(hub, monkeypatch):
    monkeypatch.setitem(sys.modules, "gdown", None)  # `import gdown` raises ImportError
    _write_manifest(hub, {"toy@drive": {"url": DRIVE_URL, "filename": "toy_ckpt.pth", "format": "pth"}})
    assert not weights.can_download(weights.get_entry("toy@drive"))
    with pytest.raises(WeightsUnavailableError) as err:
        weights.fetch("toy@drive")
    message = str(err.value)
    assert 'pip install "iqametrics[drive]"' in message and "save it as toy_ckpt.pth" in message
    assert DRIVE_URL in message and hub.requests == []


def test_unpublished_entry_says_so(hub, monkeypatch, tmp_path):
    _write_manifest(hub, {"mine": {"published": False, "filename": "mine.pth", "format": "pth"}})
    with pytest.raises(WeightsUnavailableError) as err:
        weights.fetch("mine")
    message = str(err.value)
    assert "no published weights: train with `iqa train` or pass `--weights`" in message
    assert "save it as mine.pth" in message and "http" not in message
    folder = tmp_path / "w"
    folder.mkdir()
    torch.save({"w": torch.ones(1)}, folder / "mine.pth")
    monkeypatch.setenv("IQAMETRICS_WEIGHTS_DIR", str(folder))
    assert weights.fetch("mine") == folder / "mine.pth"


# ------------------------------------------------------------------------- errors keep their cause
def test_hub_failure_keeps_the_cause(hub, monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import HfHubHTTPError

    _write_manifest(hub, {"toy": _unchecked_hf_entry("model.safetensors")})
    hub.add(REPO_ID, "model.safetensors", b"x")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", broken)
    with pytest.raises(WeightsUnavailableError, match="OSError: disk full") as err:
        weights.fetch("toy")
    assert isinstance(err.value.__cause__, OSError)

    def bug(*args, **kwargs):
        raise TypeError("a programming error is not 'unavailable'")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", bug)
    with pytest.raises(TypeError, match="programming error"):
        weights.fetch("toy")
    assert issubclass(HfHubHTTPError, weights._hub_errors())


@pytest.mark.parametrize("fmt", ["safetensors", "pth", "legacy.pth", "npz"])
def test_truncated_file_is_reported_as_truncated(tmp_path, state, fmt):
    from safetensors.torch import save_file

    full = tmp_path / f"full.{fmt}"
    if fmt == "safetensors":
        save_file(state, full)
    elif fmt == "npz":
        np.savez(full, **{k: v.numpy() for k, v in state.items()})
    else:
        torch.save(state, full, _use_new_zipfile_serialization=fmt == "pth")
    data = full.read_bytes()
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(weights.CorruptWeightsError) as err:
        weights.load_state_file(cut)
    message = str(err.value)
    assert str(cut) in message and "truncated or corrupt" in message and "loaded safely" not in message
    assert err.value.__cause__ is not None


@pytest.mark.parametrize("content", [b"garbage", b"\x80\x02}q\x00(X\x01\x00\x00\x00x" + b"\x67" * 40])
def test_a_damaged_pickle_is_named_in_one_line_without_torchs_advice(tmp_path, content):
    """torch's weights-only error advises re-running with weights_only=False: wrong for a damaged
    file, unsafe for an untrusted one; the message keeps only what is wrong with the file."""
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    with pytest.raises(weights.CorruptWeightsError) as err:
        weights.load_state_file(bad)
    message = str(err.value)
    assert "\n" not in message and "weights_only" not in message and len(message) < 400, message
    assert message.startswith(f"{bad} is truncated or corrupt, or not a pth checkpoint (")
    assert message.endswith("); replace it with a complete copy.")


def test_truncated_manifest_file_says_how_to_download_again(hub, state, monkeypatch, tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    data = _safetensors_bytes(state)
    (folder / "model.safetensors").write_bytes(data[:40])
    _write_manifest(hub, {"toy": _unchecked_hf_entry("model.safetensors")})
    monkeypatch.setenv("IQAMETRICS_WEIGHTS_DIR", str(folder))
    with pytest.raises(weights.CorruptWeightsError, match=r"model.safetensors is truncated.*iqa download toy"):
        weights.load_state("toy")


def test_only_a_real_refusal_says_cannot_be_loaded_safely(tmp_path):
    torch.save({"x": _Evil()}, tmp_path / "evil.pth")
    with pytest.raises(weights.UnsafeWeightsError, match="cannot be loaded safely") as err:
        weights.load_state_file(tmp_path / "evil.pth")
    assert "unsupported global posix.system" in str(err.value).lower()  # what was refused
    assert err.value.__cause__ is not None


def test_drive_timeout_is_passed_where_gdown_takes_one(hub, state, monkeypatch):
    data = _safetensors_bytes(state)

    class WithTimeout(_FakeGdown):
        def download(self, url=None, output=None, quiet=False, id=None, timeout=None):
            self.calls.append({"timeout": timeout})
            Path(output).write_bytes(self.data)
            return output

    fake = WithTimeout(data)
    monkeypatch.setitem(sys.modules, "gdown", fake)
    monkeypatch.setenv("IQAMETRICS_DOWNLOAD_TIMEOUT", "7")
    _write_manifest(hub, {"toy@drive": {"url": DRIVE_URL, "filename": "t.safetensors", "format": "safetensors"}})
    weights.fetch("toy@drive")
    assert fake.calls == [{"timeout": 7.0}]
