"""Weights: manifest lookup -> bundled / local override / Hugging Face Hub / upstream URL -> sha256 -> load.

Where a file comes from, in order:

0. Small files shipped inside the package (``bundled``: LPIPS/DISTS heads, the BRISQUE model):
   no download, provenance and licence still recorded in the manifest.
1. ``IQAMETRICS_WEIGHTS_DIR``: a folder of files named as in the manifest (``filename``), for
   air-gapped machines.  A variable naming a missing folder is an error.  Manifest checksums are
   verified there too.
2. The Hugging Face Hub through ``huggingface_hub.hf_hub_download`` into its usual cache, at the
   manifest's ``revision`` (``main`` in the shipped manifest: a branch, not pinned to a commit;
   a commit hash there pins it); honours ``HF_ENDPOINT`` (mirrors), ``HF_HUB_OFFLINE`` and
   ``HF_HUB_CACHE``/``HF_HOME``.
3. An upstream URL for official releases hosted elsewhere, downloaded into ``IQAMETRICS_CACHE``
   (default ``~/.cache/iqametrics``); Google Drive files through ``gdown`` when it is installed
   (``pip install "iqametrics[drive]"``).  Entries marked ``manual`` are never fetched
   automatically; entries with ``"published": false`` have no file anywhere.

Checks: a file's sha256 must equal the manifest's ``sha256`` (or start with its 8-hex
``sha256_prefix``).  Where no full checksum is published, the sha256 of the first download is
recorded in a lock file in the cache (:func:`lock_path`, keyed by manifest key and source URL)
and any later download or cached copy that differs is refused: trust on first use.

Files are loaded as safetensors, ``.npz`` (``allow_pickle=False``) or legacy PyTorch
checkpoints with ``torch.load(weights_only=True)``: nothing is ever unpickled.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import pickle
import re
import shutil
import struct
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

import torch

__all__ = [
    "WeightEntry",
    "WeightsError",
    "WeightsUnavailableError",
    "WeightsConfigError",
    "ChecksumMismatchError",
    "LockMismatchError",
    "CorruptWeightsError",
    "UnsafeWeightsError",
    "manifest_path",
    "load_manifest",
    "get_entry",
    "fetch",
    "load_state_file",
    "load_state",
    "sha256_file",
    "lock_path",
    "availability",
    "availability_note",
    "can_download",
    "check_cached",
    "CheckResult",
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


class WeightsConfigError(WeightsError):
    """The configuration of where weights come from is wrong (e.g. ``IQAMETRICS_WEIGHTS_DIR``)."""


class ChecksumMismatchError(WeightsError):
    """A weight file does not have the checksum the manifest records."""


class LockMismatchError(ChecksumMismatchError):
    """A downloaded file differs from the one first used for the same entry and source (see the lock)."""


class CorruptWeightsError(WeightsError):
    """A weight file is truncated or corrupt (or not a checkpoint at all)."""


class UnsafeWeightsError(WeightsError):
    """A checkpoint holds Python objects that ``torch.load(weights_only=True)`` refuses to unpickle."""


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
    published: bool = True
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
        """Where the file is fetched from now (``HF_ENDPOINT`` applied)."""
        if self.repo_id:
            endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
            return f"{endpoint}/{self.repo_id}/resolve/{self.revision}/{self.hf_filename}"
        return self.url or ""

    @property
    def source_url(self) -> str:
        """The file's canonical address (the Hub's own for Hub files, whatever mirror serves it):
        with the key, what the trust-on-first-use lock records a checksum for."""
        if self.repo_id:
            return f"https://huggingface.co/{self.repo_id}/resolve/{self.revision}/{self.hf_filename}"
        return self.url or ""

    @property
    def pinned(self) -> bool:
        """Whether a Hub file's ``revision`` is a commit hash (``main`` is a branch: the file may change)."""
        return bool(re.fullmatch(r"[0-9a-f]{40}", self.revision))

    @property
    def drive_id(self) -> Optional[str]:
        """The Google Drive file id of a Drive URL, else ``None``."""
        if not self.url or "drive.google.com" not in self.url:
            return None
        match = re.search(r"/file/d/([\w-]+)", self.url) or re.search(r"[?&]id=([\w-]+)", self.url)
        return match.group(1) if match else None

    @property
    def source_kind(self) -> str:
        """``bundled``, ``hub``, ``url``, ``drive``, ``manual`` or ``unpublished``."""
        if not self.published:
            return "unpublished"
        if self.bundled:
            return "bundled"
        if self.repo_id:
            return "hub"
        if self.manual:
            return "manual"
        return "drive" if self.drive_id else "url"

    @classmethod
    def from_json(cls, key: str, raw: dict) -> "WeightEntry":
        hf = raw.get("hf") or {}
        url = raw.get("url")
        bundled = raw.get("bundled")
        published = bool(raw.get("published", True))
        if published and not hf and not url and not bundled:
            raise ValueError(f"manifest entry {key!r} needs 'hf', 'url', 'bundled' or '\"published\": false'")
        if not published and (hf or url or bundled):
            raise ValueError(f"manifest entry {key!r}: an unpublished entry has no 'hf', 'url' or 'bundled'")
        if not published and not raw.get("filename"):
            raise ValueError(f"manifest entry {key!r}: an unpublished entry needs the 'filename' to look for")
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
            published=published,
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


def _stat_key(path: Path) -> Tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def _digest(path: Path, fresh: bool = False) -> str:
    """sha256 of ``path``, remembered per (path, size, mtime) unless ``fresh``."""
    key = _stat_key(path)
    if fresh or key not in _VERIFIED:
        _VERIFIED[key] = sha256_file(path)
    return _VERIFIED[key]


def cache_dir() -> Path:
    return Path(os.environ.get("IQAMETRICS_CACHE", Path.home() / ".cache" / "iqametrics")).expanduser()


# ----------------------------------------------------------------------------- trust on first use
LOCK_NAME = "weights-lock.json"
_LOCK_MUTEX = threading.Lock()


def lock_path() -> Path:
    """The trust-on-first-use lock: ``$IQAMETRICS_CACHE/weights-lock.json``."""
    return cache_dir() / LOCK_NAME


def _read_lock(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as exc:
        raise WeightsError(f"the weights lock {path} cannot be read ({exc})") from exc
    try:
        files = json.loads(text)["files"]
        if not isinstance(files, dict):
            raise TypeError("'files' is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise WeightsError(
            f"the weights lock {path} cannot be read ({exc}). It records the sha256 of every file downloaded "
            "without a published checksum; repair it, or delete it to trust the files on their next use again."
        ) from exc
    return files


def _lock_record(entry: WeightEntry) -> Optional[dict]:
    return _read_lock(lock_path()).get(entry.key, {}).get(entry.source_url)


def _record_in_lock(entry: WeightEntry, digest: str, path: Path, shown: Path) -> dict:
    """Record ``digest`` for (key, source URL) unless a record exists; return the record that holds.

    The lock is rewritten atomically (temporary file + rename) and re-read just before, so
    concurrent processes lose at most a record, never the file.  An unwritable cache only warns:
    the file is then trusted again on its next use.
    """
    target = lock_path()
    record = {"sha256": digest, "size": path.stat().st_size, "first_used": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "path": str(shown)}
    with _LOCK_MUTEX:
        files = _read_lock(target)
        existing = files.get(entry.key, {}).get(entry.source_url)
        if existing is not None:
            return existing
        files.setdefault(entry.key, {})[entry.source_url] = record
        tmp = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".weights-lock-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"schema_version": 1, "about": _LOCK_ABOUT, "files": files}, f, indent=2, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
            tmp = None
        except OSError as exc:
            warnings.warn(f"could not record the sha256 of {path} in {target} ({exc}); the file will be trusted "
                          "again on its next use", RuntimeWarning, stacklevel=3)
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
    return record


_LOCK_ABOUT = ("sha256 of the first download of each weight file whose manifest entry has no full checksum, "
               "keyed by manifest key and source URL; iqametrics refuses a later file that differs (docs/weights.md)")


def _check(path: Path, entry: WeightEntry, trust_on_first_use: bool, fresh: bool = False,
           destination: Optional[Path] = None) -> str:
    """Check ``path`` against the manifest and, for downloads without a full checksum, the lock.

    Returns how the file was vouched for; raises :class:`ChecksumMismatchError` /
    :class:`LockMismatchError` when it differs.  ``destination``: where a download being checked
    will live (what the lock records as its path).
    """
    digest = _digest(path, fresh)
    expected = entry.sha256 or entry.sha256_prefix
    if expected and not digest.startswith(expected):
        raise ChecksumMismatchError(
            f"{path} does not match the manifest entry {entry.key!r}: sha256 {digest[:16]}..., expected "
            f"{expected}{'...' if len(expected) < 64 else ''}. The file is corrupt or is a different release; "
            f"delete it and download it again (`iqa download {entry.key}`, or from {entry.download_url or entry.url})."
        )
    if entry.sha256:
        return "sha256 matches the manifest"
    prefix = "sha256 prefix matches the manifest" if entry.sha256_prefix else "no published checksum"
    if not trust_on_first_use:
        return prefix
    record = _lock_record(entry)
    first = record is None
    if first:
        record = _record_in_lock(entry, digest, path, destination or path)
    if record["sha256"] != digest:
        raise LockMismatchError(
            f"{path} differs from the file first used for {entry.key!r} ({entry.source_url}): sha256 "
            f"{digest[:16]}... now, {record['sha256'][:16]}... recorded on {record.get('first_used', '?')} in "
            f"{lock_path()}. Either this copy is corrupt or was replaced on its way: delete it and download it "
            f"again (`iqa download {entry.key}`). Or the publisher replaced the file"
            f"{' (revision ' + entry.revision + ' is not pinned to a commit)' if entry.repo_id and not entry.pinned else ''}"
            ": if you trust the new "
            f"one, remove the {entry.key!r} record from {lock_path()} and it will be recorded on its next use."
        )
    return f"{prefix}; sha256 {'recorded in the lock now (first use)' if first else 'matches the lock'}"


def verify(path: Path, entry: WeightEntry, *, trust_on_first_use: bool = False) -> None:
    """Refuse a file whose sha256 (or its 8-hex prefix) differs from the manifest, or, with
    ``trust_on_first_use``, from the digest recorded in the lock at its first use."""
    _check(Path(path), entry, trust_on_first_use)


# ----------------------------------------------------------------------------- fetching
def _offline() -> bool:
    truthy = {"1", "true", "yes", "on"}
    return (
        os.environ.get("HF_HUB_OFFLINE", "").lower() in truthy
        or os.environ.get("IQAMETRICS_OFFLINE", "").lower() in truthy
    )


def _timeout() -> float:
    return float(os.environ.get("IQAMETRICS_DOWNLOAD_TIMEOUT", _DEFAULT_TIMEOUT))


def _override_dir() -> Optional[Path]:
    """``$IQAMETRICS_WEIGHTS_DIR`` as a folder, ``None`` when unset; a missing folder is an error."""
    value = os.environ.get("IQAMETRICS_WEIGHTS_DIR")
    if not value:
        return None
    folder = Path(value).expanduser()
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise WeightsConfigError(
            f"IQAMETRICS_WEIGHTS_DIR={value} {problem}. Point it at the folder that holds your weight files "
            "(named as in the manifest: `iqa info NAME` shows each file name), or unset it."
        )
    return folder


def _cache_target(entry: WeightEntry) -> Path:
    return cache_dir() / "weights" / entry.key / entry.filename


def _searched(entry: WeightEntry) -> List[str]:
    """Where the file was looked for, for error messages."""
    folder = os.environ.get("IQAMETRICS_WEIGHTS_DIR")
    places = [f"{Path(folder).expanduser() / entry.filename}" if folder else "IQAMETRICS_WEIGHTS_DIR (not set)"]
    if entry.repo_id:
        from huggingface_hub import constants

        places.append(f"the Hugging Face cache ({constants.HF_HUB_CACHE})")
    else:
        places.append(str(_cache_target(entry)))
    return places


def _how_to_supply(entry: WeightEntry) -> str:
    looked = f"Looked for {entry.filename} in: {'; '.join(_searched(entry))}."
    put_it = (f"save it as {entry.filename} in a folder and set IQAMETRICS_WEIGHTS_DIR to that folder, "
              "or pass weights=PATH (CLI: --weights PATH)")
    if not entry.published:
        return f"{looked} A checkpoint of yours is used when you {put_it}."
    size = f" ({entry.size / 1e6:.1f} MB)" if entry.size else ""
    where = entry.download_url or entry.url
    drive = ""
    if entry.source_kind == "drive" and not _has_gdown():
        drive = ('It is on Google Drive: with a Drive client installed (pip install "iqametrics[drive]") it '
                 "downloads by itself. ")
    return f"{looked} {drive}To supply it by hand, download {where}{size} on a machine with access, {put_it}."


def _unavailable(entry: WeightEntry, reason: str) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"Weights {entry.key!r} ({entry.filename}) are not available: {reason}. {_how_to_supply(entry)}"
    )


def _from_override_dir(entry: WeightEntry) -> Optional[Path]:
    folder = _override_dir()
    if folder is None:
        return None
    for name in {entry.filename, entry.hf_filename} - {None}:
        candidate = folder / name
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


def _hub_errors() -> tuple:
    """What ``hf_hub_download`` raises for network and server trouble: its HTTP errors (and the
    HTTP client's, whose base class they share), ``OSError`` (requests' errors, disk) and ``ValueError``."""
    from huggingface_hub.errors import HfHubHTTPError

    client = [c for c in HfHubHTTPError.__mro__[1:] if c.__name__ == "HTTPError"]
    return (HfHubHTTPError, OSError, ValueError, *client)


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
    except LocalEntryNotFoundError as exc:  # a subclass of EntryNotFoundError in recent releases: test first
        why = "offline mode is on (HF_HUB_OFFLINE) and it is not in the cache" if offline else (
            "the Hub could not be reached and the file is not in the cache"
        )
        raise _unavailable(entry, why) from exc
    except (EntryNotFoundError, RepositoryNotFoundError) as exc:
        raise _unavailable(entry, f"the Hub has no such file ({type(exc).__name__})") from exc
    except _hub_errors() as exc:
        raise _unavailable(entry, f"download failed ({type(exc).__name__}: {exc})") from exc
    return Path(path)


def _download_url(entry: WeightEntry, out: Path) -> None:
    request = urllib.request.Request(entry.url, headers={"User-Agent": "iqametrics"})
    try:
        with open(out, "wb") as f, urllib.request.urlopen(request, timeout=_timeout()) as response:
            announced = response.headers.get("Content-Length")
            shutil.copyfileobj(response, f, 1 << 20)
            received = f.tell()
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:  # e.g. IncompleteRead
        raise _unavailable(entry, f"download failed ({type(exc).__name__}: {exc})") from exc
    # read(n) returns what arrived when a connection drops: a short file must not be trusted (or locked)
    if announced is not None and announced.isdigit() and received != int(announced):
        raise _unavailable(entry, f"the download was cut short ({received} of {announced} bytes)")


def _download_drive(entry: WeightEntry, out: Path) -> None:
    """Google Drive through ``gdown`` (optional: ``pip install "iqametrics[drive]"``), imported only here."""
    try:
        import gdown
    except ImportError as exc:
        raise _unavailable(entry, "it is on Google Drive and no Drive client (gdown) is installed") from exc
    errors = (OSError, ValueError) + tuple(
        getattr(getattr(gdown, "exceptions", None), name)
        for name in ("FileURLRetrievalError", "DownloadError")
        if isinstance(getattr(getattr(gdown, "exceptions", None), name, None), type)
    )
    import inspect

    # gdown waits forever by default; its `timeout` (seconds between bytes) arrived in later releases
    extra = {"timeout": _timeout()} if "timeout" in inspect.signature(gdown.download).parameters else {}
    try:
        result = gdown.download(id=entry.drive_id, output=str(out), quiet=True, **extra)
    except errors as exc:
        raise _unavailable(entry, f"the Google Drive download failed ({type(exc).__name__}: {exc})") from exc
    if result is None or not out.is_file() or out.stat().st_size == 0:
        raise _unavailable(entry, "Google Drive did not deliver the file (a download quota, or the link's permissions)")


def _from_cache_or_download(entry: WeightEntry) -> Path:
    """Entries outside the Hub: the iqametrics cache, else a download into it (verified before it lands)."""
    target = _cache_target(entry)
    if target.is_file():
        return target
    kind = entry.source_kind
    if kind == "unpublished":
        raise _unavailable(entry, "no published weights: train with `iqa train` or pass `--weights`")
    if kind == "manual":
        raise _unavailable(entry, "this release cannot be downloaded automatically")
    if _offline():
        raise _unavailable(entry, "offline mode is on and it is not in the cache")
    download: Callable[[WeightEntry, Path], None] = _download_drive if kind == "drive" else _download_url
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=".part-"))
    try:
        part = scratch / entry.filename
        download(entry, part)
        _check(part, entry, trust_on_first_use=True, destination=target)
        digest = _digest(part)
        os.replace(part, target)
        _VERIFIED[_stat_key(target)] = digest  # the same bytes: not hashed again
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def bundled_path(entry: WeightEntry) -> Path:
    """Files shipped inside the package live in ``iqametrics/data/`` (with their licence notices)."""
    return Path(__file__).resolve().parent / "data" / entry.bundled


def fetch(key_or_entry: Union[str, WeightEntry]) -> Path:
    """Local path of a manifest file, downloading it if needed; checksum (or lock) verified."""
    entry = key_or_entry if isinstance(key_or_entry, WeightEntry) else get_entry(key_or_entry)
    if entry.bundled:
        path = bundled_path(entry)
        if not path.is_file():
            raise WeightsUnavailableError(f"bundled file {path} is missing: the installation is incomplete")
        verify(path, entry)
        return path
    path = _from_override_dir(entry)
    if path is not None:  # the user's own copy: checked against the manifest, not the download lock
        verify(path, entry)
        return path
    if entry.repo_id:
        path = _from_hub(entry)
        _check(path, entry, trust_on_first_use=True)
        return path
    path = _from_cache_or_download(entry)
    _check(path, entry, trust_on_first_use=entry.published)
    return path


# ----------------------------------------------------------------------------- availability
#: short labels of ``iqa list`` and what they mean (``iqa info``), most restrictive first
_AVAILABILITY = {
    "unpublished": ("unpublished", "no published weights: train with `iqa train` or pass `--weights`"),
    "manual": ("by hand", "the weights must be downloaded by hand (`iqa download NAME` says from where)"),
    "drive": ("drive", "on Google Drive: downloaded automatically when gdown is installed "
                       '(pip install "iqametrics[drive]"), otherwise by hand (`iqa download NAME` says how)'),
    "download": ("download", "downloaded automatically on first use (Hugging Face Hub or the publisher's URL) "
                             "and checked by sha256"),
    "bundled": ("bundled", "shipped with the package: no download"),
    "none": ("none needed", "no weight files"),
}


def _availability_kind(keys: Iterable[str]) -> str:
    kinds = {get_entry(k).source_kind for k in keys}
    kinds = {"download" if k in ("hub", "url") else k for k in kinds}
    for kind in _AVAILABILITY:  # the most restrictive file decides
        if kind in kinds:
            return kind
    return "none"


def availability(keys: Iterable[str]) -> str:
    """Short label for a metric's weights (its manifest ``keys``): ``none needed``, ``bundled``,
    ``download``, ``drive`` (Google Drive: automatic with gdown), ``by hand`` or ``unpublished``."""
    return _AVAILABILITY[_availability_kind(keys)][0]


def availability_note(keys: Iterable[str]) -> str:
    """One sentence saying whether and how a metric's weights can be obtained."""
    kind = _availability_kind(keys)
    note = _AVAILABILITY[kind][1]
    if kind == "drive":
        note += "; gdown is " + ("installed" if _has_gdown() else "not installed")
    return note


def _has_gdown() -> bool:
    """Whether ``import gdown`` would work, without importing it."""
    import importlib.util
    import sys

    if "gdown" in sys.modules:
        return sys.modules["gdown"] is not None
    return importlib.util.find_spec("gdown") is not None


def can_download(entry: WeightEntry) -> bool:
    """Whether :func:`fetch` can get the file without a person (bundled files included)."""
    kind = entry.source_kind
    if kind == "drive":
        return _has_gdown()
    return kind in ("bundled", "hub", "url")


def _locate(entry: WeightEntry) -> Tuple[Optional[Path], str]:
    """Where the file is now, without downloading: (path or None, which source)."""
    if entry.bundled:
        return bundled_path(entry), "bundled"
    path = _from_override_dir(entry)
    if path is not None:
        return path, "IQAMETRICS_WEIGHTS_DIR"
    if entry.repo_id:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(entry.repo_id, entry.hf_filename, revision=entry.revision)
        return (Path(cached), "Hugging Face cache") if isinstance(cached, str) else (None, "")
    target = _cache_target(entry)
    return (target, "iqametrics cache") if target.is_file() else (None, "")


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check_cached` found for one manifest entry (``path`` is ``None`` when there is no file)."""

    key: str
    ok: bool
    path: Optional[Path]
    detail: str

    def line(self) -> str:
        if self.path is None:
            return f"{self.key}: {self.detail}"
        if self.ok:
            return f"{self.key}: ok, {self.detail}: {self.path}"
        return f"{self.key}: FAILED: {self.detail}"


def check_cached(entry: Union[str, WeightEntry]) -> CheckResult:
    """Re-hash the local copy of a manifest file (nothing is downloaded) against the manifest and the lock.

    ``ok`` is false only for a file that differs or cannot be read; a file not present is ``ok``
    with the detail ``not downloaded``.
    """
    entry = entry if isinstance(entry, WeightEntry) else get_entry(entry)
    path, source = _locate(entry)
    if path is None or not path.is_file():
        detail = "no published weights" if not entry.published else (
            "missing: the installation is incomplete" if entry.bundled else "not downloaded")
        return CheckResult(entry.key, not entry.bundled, None, detail)
    tofu = source in ("Hugging Face cache", "iqametrics cache") and entry.published
    try:
        how = _check(path, entry, trust_on_first_use=tofu, fresh=True)
    except ChecksumMismatchError as exc:
        return CheckResult(entry.key, False, path, str(exc))
    except OSError as exc:
        return CheckResult(entry.key, False, path, f"cannot be read ({exc})")
    if source == "IQAMETRICS_WEIGHTS_DIR" and not entry.sha256:
        how += " (your copy in IQAMETRICS_WEIGHTS_DIR: the download lock does not cover it)"
    return CheckResult(entry.key, True, path, f"{how} [{source}]")


# ----------------------------------------------------------------------------- loading
_TORCH_LOAD_ERRORS = (RuntimeError, OSError, EOFError, ValueError, KeyError, IndexError, struct.error, zipfile.BadZipFile)


def _corrupt(path: Path, fmt: str, exc: BaseException, entry: Optional[WeightEntry]) -> CorruptWeightsError:
    again = (f"delete it and download it again (`iqa download {entry.key}`)" if entry is not None and entry.published
             else "replace it with a complete copy")
    return CorruptWeightsError(
        f"{path} is truncated or corrupt, or not a {fmt} checkpoint ({type(exc).__name__}: {exc}); {again}."
    )


def _load_state_file(path: Path, fmt: Optional[str], entry: Optional[WeightEntry]) -> Dict[str, object]:
    if not path.is_file():
        raise FileNotFoundError(f"no such weights file: {path}")
    fmt = fmt or _format_from_name(path.name)
    if fmt is None:
        with open(path, "rb") as f:
            head = f.read(16)
        fmt = "npz" if head[:2] == b"PK" and path.suffix == ".npz" else ("safetensors" if head[8:9] == b"{" else "pth")
    if fmt == "safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(path)))
        except (SafetensorError, OSError, ValueError) as exc:
            raise _corrupt(path, fmt, exc, entry) from exc
    if fmt == "npz":
        import numpy as np

        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: torch.from_numpy(np.array(data[k])) for k in data.files}
        except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
            raise _corrupt(path, fmt, exc, entry) from exc
        except ValueError as exc:
            if "allow_pickle" in str(exc):
                raise UnsafeWeightsError(f"{path} holds pickled objects, which iqametrics never loads ({exc})") from exc
            raise _corrupt(path, fmt, exc, entry) from exc
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        refusal = re.search(r"[^\n]*unsupported global[^\n]*", str(exc), re.IGNORECASE)
        if refusal:  # the weights-only unpickler met an object it will not build
            raise UnsafeWeightsError(
                f"{path} cannot be loaded safely with torch.load(weights_only=True): it needs Python objects that "
                f"are not tensors ({refusal.group(0).strip()}). iqametrics never unpickles arbitrary objects; "
                "convert the file to safetensors first."
            ) from exc
        raise _corrupt(path, fmt, exc, entry) from exc
    except _TORCH_LOAD_ERRORS as exc:
        raise _corrupt(path, fmt, exc, entry) from exc


def load_state_file(path: Union[str, Path], format: Optional[str] = None) -> Dict[str, object]:
    """Read a checkpoint without unpickling arbitrary objects.

    safetensors -> dict of tensors; npz -> dict of tensors (``allow_pickle=False``);
    anything else -> ``torch.load(weights_only=True)`` (nested dicts are returned as they are).
    A truncated or corrupt file raises :class:`CorruptWeightsError`; a checkpoint that needs
    arbitrary Python objects raises :class:`UnsafeWeightsError`.
    """
    return _load_state_file(Path(path), format, None)


def load_state(source: Union[str, Path]) -> Tuple[Dict[str, object], Optional[WeightEntry]]:
    """Load a manifest key or a local file; returns the raw state and its manifest entry (if any)."""
    text = str(source)
    if not Path(text).expanduser().exists() and text in load_manifest():
        entry = get_entry(text)
        return _load_state_file(fetch(entry), entry.format, entry), entry
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
