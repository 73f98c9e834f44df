"""Reading checkpoint files without unpickling arbitrary objects: safetensors, ``.npz``
(``allow_pickle=False``) and ``torch.load(weights_only=True)``."""
from __future__ import annotations

import pickle
import re
import struct
import zipfile
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import torch

from . import fetching
from .errors import CorruptWeightsError, UnsafeWeightsError, WeightsUnavailableError
from .manifest import MANIFEST_NAME, WeightEntry, _format_from_name, get_entry, load_manifest

__all__ = ["load_state_file", "load_state", "load_unpublished", "load_backbone"]


_TORCH_LOAD_ERRORS = (RuntimeError, OSError, EOFError, ValueError, KeyError, IndexError, struct.error, zipfile.BadZipFile)


def _reason(exc: BaseException, limit: int = 200) -> str:
    """The line of a reader's error that says what is wrong with the file.  torch's weights-only
    unpickler wraps it in paragraphs of advice (re-run with ``weights_only=False``) that are wrong
    for a damaged file and unsafe for an untrusted one: only its own error line is kept."""
    text = str(exc)
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1]
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    if len(line) > limit:  # a long line's first sentence ("... failed finding central directory.")
        line = line.split(". ", 1)[0] if ". " in line[:limit] else line[: limit - 1] + "…"
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


def _corrupt(path: Path, fmt: str, exc: BaseException, entry: Optional[WeightEntry]) -> CorruptWeightsError:
    again = (f"delete it and download it again (`iqa download {entry.key}`)" if entry is not None and entry.published
             else "replace it with a complete copy")
    return CorruptWeightsError(f"{path} is truncated or corrupt, or not a {fmt} checkpoint ({_reason(exc)}); {again}.")


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
        return _load_state_file(fetching.fetch(entry), entry.format, entry), entry
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


def load_backbone(module: torch.nn.Module, source, skip=(), problem: str = "does not fit the backbone") -> None:
    """Load ImageNet weights (a manifest key or a file) into ``module``: tensors whose names start
    with one of ``skip`` (a classifier) are ignored; any other missing or unexpected tensor is a
    ``ValueError`` "``source`` ``problem``: missing ..., unexpected ..."."""
    state, _ = load_state(source)
    own = module.state_dict()
    kept = {k: v for k, v in state.items() if not any(k.startswith(s) for s in skip)}
    missing, unexpected = sorted(set(own) - set(kept)), sorted(set(kept) - set(own))
    if missing or unexpected:
        raise ValueError(f"{source} {problem}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    module.load_state_dict(kept)
