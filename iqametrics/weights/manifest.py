"""The weights manifest (``weights_manifest.json``, schema in ``docs/weights.md``): one
:class:`WeightEntry` per file, looked up by key."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, Optional, Union

__all__ = ["WeightEntry", "MANIFEST_NAME", "SCHEMA_VERSION", "FORMATS", "manifest_path", "load_manifest", "get_entry",
           "entries_for"]

MANIFEST_NAME = "weights_manifest.json"
SCHEMA_VERSION = 1
FORMATS = ("safetensors", "pth", "npz")


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


def manifest_path() -> Path:
    """The manifest shipped in the package (wheel), or the repository root's (source checkout)."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / MANIFEST_NAME, package.parent / MANIFEST_NAME):
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


def entries_for(keys: Iterable[str]) -> list:
    return [get_entry(k) for k in keys]
