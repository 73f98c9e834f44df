"""Weights: manifest lookup -> local override / Hugging Face Hub / upstream URL -> sha256 -> load.

Where a file comes from, in order:

1. ``IQAMETRICS_WEIGHTS_DIR``: a folder of files named as in the manifest (``filename``), for
   air-gapped machines.  Checksums are verified there too.
2. The Hugging Face Hub through ``huggingface_hub.hf_hub_download`` into its usual cache,
   revision pinned by the manifest; honours ``HF_ENDPOINT`` (mirrors), ``HF_HUB_OFFLINE`` and
   ``HF_HUB_CACHE``/``HF_HOME``.
0. Small files shipped inside the package (``bundled``: LPIPS/DISTS heads, the BRISQUE model):
   no download, provenance and licence still recorded in the manifest.
3. An upstream URL for official releases hosted elsewhere, downloaded into
   ``IQAMETRICS_CACHE`` (default ``~/.cache/iqametrics``).  Entries marked ``manual`` (e.g.
   Google Drive links) are never fetched automatically.

Files are loaded as safetensors, ``.npz`` (``allow_pickle=False``) or legacy PyTorch
checkpoints with ``torch.load(weights_only=True)``: nothing is ever unpickled.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple, Union

import torch

__all__ = [
    "WeightEntry",
    "WeightsError",
    "WeightsUnavailableError",
    "ChecksumMismatchError",
    "manifest_path",
    "load_manifest",
    "get_entry",
    "fetch",
    "load_state_file",
    "load_state",
    "sha256_file",
    "load_unpublished",
]

MANIFEST_NAME = "weights_manifest.json"
SCHEMA_VERSION = 1
FORMATS = ("safetensors", "pth", "npz")
_DEFAULT_TIMEOUT = 10.0


class WeightsError(RuntimeError):
    """Base class of weight-related errors."""


class WeightsUnavailableError(WeightsError):
    """A weight file could not be found locally nor downloaded."""


class ChecksumMismatchError(WeightsError):
    """A weight file does not have the checksum the manifest records."""


@dataclass(frozen=True)
class WeightEntry:
    """One file of the manifest (see ``docs/weights.md`` for the schema)."""

    key: str
    filename: str
    format: str
    repo_id: Optional[str] = None
    hf_filename: Optional[str] = None
    revision: str = "main"
    url: Optional[str] = None
    bundled: Optional[str] = None
    manual: bool = False
    sha256: Optional[str] = None
    sha256_prefix: Optional[str] = None
    size: Optional[int] = None
    converter: Optional[str] = None
    licence: str = ""
    source: str = ""
    training_data: str = ""
    reported: dict = field(default_factory=dict)
    notes: str = ""

    @property
    def download_url(self) -> str:
        if self.repo_id:
            endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
            return f"{endpoint}/{self.repo_id}/resolve/{self.revision}/{self.hf_filename}"
        return self.url or ""

    @classmethod
    def from_json(cls, key: str, raw: dict) -> "WeightEntry":
        hf = raw.get("hf") or {}
        url = raw.get("url")
        bundled = raw.get("bundled")
        if not hf and not url and not bundled:
            raise ValueError(f"manifest entry {key!r} needs 'hf', 'url' or 'bundled'")
        hf_filename = hf.get("filename")
        filename = (
            raw.get("filename")
            or hf_filename
            or (url.rsplit("/", 1)[-1].split("?")[0] if url else None)
            or Path(bundled).name
        )
        fmt = raw.get("format") or _format_from_name(filename)
        if fmt not in FORMATS:
            raise ValueError(f"manifest entry {key!r}: format must be one of {FORMATS}, got {fmt!r}")
        sha = raw.get("sha256")
        prefix = raw.get("sha256_prefix")
        for value, n, what in ((sha, 64, "sha256"), (prefix, 8, "sha256_prefix")):
            if value is not None and (len(value) != n or any(c not in "0123456789abcdef" for c in value)):
                raise ValueError(f"manifest entry {key!r}: {what} must be {n} lowercase hex digits")
        return cls(
            key=key,
            filename=filename,
            format=fmt,
            repo_id=hf.get("repo_id"),
            hf_filename=hf_filename,
            revision=hf.get("revision", "main"),
            url=url,
            bundled=bundled,
            manual=bool(raw.get("manual", False)),
            sha256=sha,
            sha256_prefix=prefix,
            size=raw.get("size"),
            converter=raw.get("converter"),
            licence=raw.get("licence", ""),
            source=raw.get("source", ""),
            training_data=raw.get("training_data", ""),
            reported=raw.get("reported", {}),
            notes=raw.get("notes", ""),
        )


def _format_from_name(name: Optional[str]) -> Optional[str]:
    if not name:
        return None
    suffix = Path(name).suffix.lower()
    if suffix == ".safetensors":
        return "safetensors"
    if suffix == ".npz":
        return "npz"
    if suffix in (".pth", ".pt", ".pkl", ".ckpt", ".bin", ".tar"):
        return "pth"
    return None


# ----------------------------------------------------------------------------- manifest
def manifest_path() -> Path:
    """The manifest shipped in the package (wheel), or the repository root's (source checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / MANIFEST_NAME, here.parent / MANIFEST_NAME):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{MANIFEST_NAME} not found next to the package nor at the repository root")


@lru_cache(maxsize=None)
def _manifest_cached(path: str) -> Dict[str, WeightEntry]:
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    if raw.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: unsupported schema_version {raw.get('schema_version')!r}")
    return {key: WeightEntry.from_json(key, value) for key, value in raw["weights"].items()}


def load_manifest(path: Optional[Union[str, Path]] = None) -> Dict[str, WeightEntry]:
    """All manifest entries, keyed ``name[.tag]`` (alternative sources: ``name[.tag]@source``)."""
    return _manifest_cached(str(path or manifest_path()))


def get_entry(key: str) -> WeightEntry:
    entries = load_manifest()
    if key not in entries:
        import difflib

        close = difflib.get_close_matches(key, list(entries), n=5)
        hint = f" Close matches: {', '.join(close)}." if close else ""
        raise KeyError(f"no weights named {key!r} in {MANIFEST_NAME}.{hint}")
    return entries[key]


# ----------------------------------------------------------------------------- checksums
def sha256_file(path: Union[str, Path], chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


_VERIFIED: Dict[Tuple[str, int, int], str] = {}


def verify(path: Path, entry: WeightEntry) -> None:
    """Refuse a file whose sha256 (or its 8-hex prefix) differs from the manifest."""
    if not entry.sha256 and not entry.sha256_prefix:
        return
    stat = path.stat()
    cache_key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    digest = _VERIFIED.get(cache_key) or sha256_file(path)
    expected = entry.sha256 or entry.sha256_prefix
    if not digest.startswith(expected):
        raise ChecksumMismatchError(
            f"{path} does not match the manifest entry {entry.key!r}: sha256 {digest[:16]}..., expected "
            f"{expected}{'...' if len(expected) < 64 else ''}. The file is corrupt or is a different release; "
            f"delete it and download it again from {entry.download_url or entry.url}."
        )
    _VERIFIED[cache_key] = digest


# ----------------------------------------------------------------------------- fetching
def _offline() -> bool:
    truthy = {"1", "true", "yes", "on"}
    return (
        os.environ.get("HF_HUB_OFFLINE", "").lower() in truthy
        or os.environ.get("IQAMETRICS_OFFLINE", "").lower() in truthy
    )


def _timeout() -> float:
    return float(os.environ.get("IQAMETRICS_DOWNLOAD_TIMEOUT", _DEFAULT_TIMEOUT))


def _how_to_supply(entry: WeightEntry) -> str:
    size = f" ({entry.size / 1e6:.1f} MB)" if entry.size else ""
    where = entry.download_url or entry.url
    remote_name = entry.hf_filename or entry.filename
    name_it = "" if remote_name == entry.filename else f" under the name {entry.filename}"
    return (
        f"To supply it by hand, download {where}{size} on a machine with access, save it{name_it} in a folder "
        f"and set IQAMETRICS_WEIGHTS_DIR to that folder, or pass weights=PATH (CLI: --weights PATH)."
    )


def _unavailable(entry: WeightEntry, reason: str) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"Weights {entry.key!r} ({entry.filename}) are not available: {reason}. {_how_to_supply(entry)}"
    )


def _from_override_dir(entry: WeightEntry) -> Optional[Path]:
    folder = os.environ.get("IQAMETRICS_WEIGHTS_DIR")
    if not folder:
        return None
    for name in {entry.filename, entry.hf_filename} - {None}:
        candidate = Path(folder).expanduser() / name
        if candidate.is_file():
            return candidate
    return None


def _probe(url: str) -> Optional[str]:
    """One HEAD request with a short timeout and no retries: ``None`` if the server answered.

    ``hf_hub_download`` retries unreachable servers with exponential backoff for minutes when
    nothing is cached; probing first lets an air-gapped machine fail in seconds.
    """
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "iqametrics"})
    try:
        with urllib.request.urlopen(request, timeout=_timeout()):
            return None
    except urllib.error.HTTPError:
        return None  # the server answered (401/404/...): let huggingface_hub interpret it
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"the Hub could not be reached ({reason})"


def _from_hub(entry: WeightEntry) -> Path:
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError

    cached = try_to_load_from_cache(entry.repo_id, entry.hf_filename, revision=entry.revision)
    offline = _offline()
    if not isinstance(cached, str) and not offline:
        problem = _probe(entry.download_url)
        if problem:
            raise _unavailable(entry, problem + " and the file is not in the cache")
    endpoint = os.environ.get("HF_ENDPOINT") or None
    try:
        path = hf_hub_download(
            entry.repo_id,
            entry.hf_filename,
            revision=entry.revision,
            endpoint=endpoint,
            local_files_only=offline,
            etag_timeout=_timeout(),
        )
    except LocalEntryNotFoundError:  # a subclass of EntryNotFoundError in recent releases: test first
        why = "offline mode is on (HF_HUB_OFFLINE) and it is not in the cache" if offline else (
            "the Hub could not be reached and the file is not in the cache"
        )
        raise _unavailable(entry, why) from None
    except (EntryNotFoundError, RepositoryNotFoundError) as exc:
        raise _unavailable(entry, f"the Hub has no such file ({type(exc).__name__})") from None
    except Exception as exc:  # network stacks raise many types; the message names the cause
        raise _unavailable(entry, f"download failed ({type(exc).__name__}: {exc})") from None
    return Path(path)


def cache_dir() -> Path:
    return Path(os.environ.get("IQAMETRICS_CACHE", Path.home() / ".cache" / "iqametrics")).expanduser()


def _from_url(entry: WeightEntry) -> Path:
    target = cache_dir() / "weights" / entry.key / entry.filename
    if target.is_file():
        return target
    if entry.manual:
        raise _unavailable(entry, "this release cannot be downloaded automatically")
    if _offline():
        raise _unavailable(entry, "offline mode is on and it is not in the cache")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        request = urllib.request.Request(entry.url, headers={"User-Agent": "iqametrics"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=_timeout()) as response:
            shutil.copyfileobj(response, out, 1 << 20)
        verify(Path(tmp), entry)
        os.replace(tmp, target)
    except ChecksumMismatchError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise _unavailable(entry, f"download failed ({exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def bundled_path(entry: WeightEntry) -> Path:
    """Files shipped inside the package live in ``iqametrics/data/`` (with their licence notices)."""
    return Path(__file__).resolve().parent / "data" / entry.bundled


def fetch(key_or_entry: Union[str, WeightEntry]) -> Path:
    """Local path of a manifest file, downloading it if needed; the checksum is verified."""
    entry = key_or_entry if isinstance(key_or_entry, WeightEntry) else get_entry(key_or_entry)
    if entry.bundled:
        path = bundled_path(entry)
        if not path.is_file():
            raise WeightsUnavailableError(f"bundled file {path} is missing: the installation is incomplete")
        verify(path, entry)
        return path
    path = _from_override_dir(entry)
    if path is None:
        path = _from_hub(entry) if entry.repo_id else _from_url(entry)
    verify(path, entry)
    return path


# ----------------------------------------------------------------------------- loading
def load_state_file(path: Union[str, Path], format: Optional[str] = None) -> Dict[str, object]:
    """Read a checkpoint without unpickling arbitrary objects.

    safetensors -> dict of tensors; npz -> dict of tensors (``allow_pickle=False``);
    anything else -> ``torch.load(weights_only=True)`` (nested dicts are returned as they are).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such weights file: {path}")
    fmt = format or _format_from_name(path.name)
    if fmt is None:
        with open(path, "rb") as f:
            head = f.read(16)
        fmt = "npz" if head[:2] == b"PK" and path.suffix == ".npz" else ("safetensors" if head[8:9] == b"{" else "pth")
    if fmt == "safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path)))
    if fmt == "npz":
        import numpy as np

        with np.load(path, allow_pickle=False) as data:
            return {k: torch.from_numpy(np.array(data[k])) for k in data.files}
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(
            f"{path} cannot be loaded safely with torch.load(weights_only=True): {exc}. "
            "iqametrics never unpickles arbitrary objects; convert the file to safetensors first."
        ) from None


def load_state(source: Union[str, Path]) -> Tuple[Dict[str, object], Optional[WeightEntry]]:
    """Load a manifest key or a local file; returns the raw state and its manifest entry (if any)."""
    text = str(source)
    if not Path(text).expanduser().exists() and text in load_manifest():
        entry = get_entry(text)
        return load_state_file(fetch(entry), entry.format), entry
    path = Path(text).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{text!r} is neither a weights file nor a key of {MANIFEST_NAME}")
    return load_state_file(path), None


def load_unpublished(metric, key: str, explanation: str):
    """Load into ``metric`` the user's checkpoint for a model without published weights (the file
    of manifest entry ``key``, from ``IQAMETRICS_WEIGHTS_DIR``); without one, raise
    :class:`WeightsUnavailableError` with ``explanation`` (how to train it or where to put it)."""
    try:
        return metric.load_checkpoint(key)
    except WeightsUnavailableError:
        raise WeightsUnavailableError(explanation) from None


def entries_for(keys: Iterable[str]) -> list:
    return [get_entry(k) for k in keys]
