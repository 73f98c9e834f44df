"""What ``iqa list`` / ``iqa info`` say about a metric's weights, and ``iqa download --verify``:
whether they can be had, and whether the copies already here are the ones vouched for."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Tuple, Union

from .errors import ChecksumMismatchError
from .fetching import _cache_target, _from_override_dir, _has_gdown, bundled_path
from .lock import _check
from .manifest import WeightEntry, get_entry

__all__ = ["availability", "availability_note", "check_cached", "CheckResult"]


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
