"""Checksums and the trust-on-first-use lock: a file is vouched for by the manifest's sha256, or,
where none is published, by the sha256 recorded in ``$IQAMETRICS_CACHE/weights-lock.json`` at its
first download (a later file that differs is refused)."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

from .errors import ChecksumMismatchError, LockMismatchError, WeightsError
from .manifest import WeightEntry

__all__ = ["sha256_file", "cache_dir", "LOCK_NAME", "lock_path", "verify"]


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


def remember_digest(path: Path, digest: str) -> None:
    """``digest`` is the sha256 of ``path`` as it is now (a file just moved into place): not hashed again."""
    _VERIFIED[_stat_key(path)] = digest


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
