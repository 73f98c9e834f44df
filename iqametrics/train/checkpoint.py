"""Training checkpoints: everything a run needs to continue exactly, in a file torch loads safely.

A checkpoint holds the trained module's state, the optimiser's and the AMP scaler's, the EMA
weights, the RNG states, the position in the run (epoch, step within it, global step), the best
validation so far and the recipe as JSON.  Only tensors, numbers, strings, lists and dicts: it
loads with ``torch.load(weights_only=True)``, like every other file iqametrics reads.
Writes are atomic (a temporary file renamed over the old one), so a run killed while saving
keeps its previous checkpoint.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Dict

import torch

__all__ = ["save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state", "save_weights", "CHECKPOINT_VERSION"]

CHECKPOINT_VERSION = 1


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_checkpoint(path, state: Dict[str, Any]) -> None:
    _atomic_write(Path(path), lambda tmp: torch.save({**state, "version": CHECKPOINT_VERSION}, tmp))


def load_checkpoint(path) -> Dict[str, Any]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path}: checkpoint version {state.get('version')!r}, this iqametrics reads {CHECKPOINT_VERSION}")
    return state


def save_weights(path, module_state: Dict[str, torch.Tensor], metadata: Dict[str, str]) -> None:
    """A module's weights as safetensors (what ``create(name, weights=PATH)`` loads), with string metadata."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in module_state.items()}
    _atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata=metadata))


def rng_state() -> Dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
