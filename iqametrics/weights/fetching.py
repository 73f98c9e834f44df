"""Where a weight file comes from: bundled, ``IQAMETRICS_WEIGHTS_DIR``, the Hugging Face Hub, an
upstream URL or Google Drive; :func:`fetch` returns a local, checked path."""
from __future__ import annotations

import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, List, Optional, Union

from .errors import WeightsConfigError, WeightsUnavailableError
from .lock import _check, _digest, cache_dir, remember_digest, verify
from .manifest import WeightEntry, get_entry

__all__ = ["fetch", "bundled_path", "can_download"]

_DEFAULT_TIMEOUT = 10.0


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
        remember_digest(target, digest)  # the same bytes: not hashed again
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def bundled_path(entry: WeightEntry) -> Path:
    """Files shipped inside the package live in ``iqametrics/data/`` (with their licence notices)."""
    return Path(__file__).resolve().parent.parent / "data" / entry.bundled


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
