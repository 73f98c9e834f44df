"""Converters from upstream checkpoint layouts to our state dicts.

A converter is registered with :func:`register_converter` in a module of this package
(``convert/musiq.py``, ``convert/hyperiqa.py``, ...); modules are discovered on first use, so
adding a converter needs no edit here.  The manifest's ``converter`` field names the converter
for a downloaded file; for a local file the metric's ``converters`` are tried in order and the
first whose ``detect`` accepts the state is used.  Converters are pure functions on dicts of
tensors, tested exactly (every tensor checked, inverse mapping round-trips).
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Mapping, Optional

from torch import Tensor

__all__ = ["Converter", "register_converter", "get_converter", "list_converters", "convert_for_model", "unwrap_state"]

StateDict = Dict[str, Tensor]


@dataclass(frozen=True)
class Converter:
    name: str
    convert: Callable[[Mapping], StateDict]
    detect: Callable[[Mapping], bool]
    inverse: Optional[Callable[[Mapping], dict]] = None
    description: str = ""


def unwrap_state(state: Mapping, wrappers=(), *, strip_module: bool = False) -> Mapping:
    """The state dict inside a training checkpoint: the value of the first of ``wrappers`` that
    holds a mapping (else ``state`` itself); with ``strip_module``, the tensors of a model saved
    from ``DataParallel`` lose their ``module.`` prefix."""
    for key in wrappers:
        if isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if strip_module:
        tensors = [k for k, v in state.items() if isinstance(v, Tensor)]
        if tensors and all(k.startswith("module.") for k in tensors):
            state = {k[len("module."):]: state[k] for k in tensors}
    return state


_CONVERTERS: Dict[str, Converter] = {}
_DISCOVERED = False


def register_converter(name: str, *, detect: Callable[[Mapping], bool], inverse=None, description: str = ""):
    """Decorator registering ``convert(upstream_state) -> our_state`` under ``name``."""

    def decorator(fn):
        if name in _CONVERTERS:
            raise ValueError(f"converter {name!r} registered twice")
        _CONVERTERS[name] = Converter(name, fn, detect, inverse, description or (fn.__doc__ or "").strip())
        return fn

    return decorator


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    _DISCOVERED = True


def get_converter(name: str) -> Converter:
    _discover()
    if name not in _CONVERTERS:
        raise KeyError(f"unknown converter {name!r}; known: {', '.join(sorted(_CONVERTERS))}")
    return _CONVERTERS[name]


def list_converters() -> list:
    _discover()
    return sorted(_CONVERTERS)


def _keys_match(state: Mapping, own_keys: Iterable[str]) -> bool:
    return set(own_keys) <= set(k for k in state if isinstance(state.get(k), Tensor))


def convert_for_model(
    state: Mapping, own_keys: Iterable[str], *, converter: Optional[str] = None, candidates: Iterable[str] = ()
) -> StateDict:
    """Bring ``state`` into the layout whose keys are ``own_keys``.

    ``converter`` (from the manifest) is applied unconditionally; otherwise a state that already
    has our keys is used as is (extra keys dropped only if they are not tensors), else the first
    candidate converter whose ``detect`` accepts it.
    """
    own_keys = list(own_keys)
    if converter:
        return get_converter(converter).convert(state)
    if _keys_match(state, own_keys):
        return {k: state[k] for k in own_keys}
    for name in candidates:
        conv = get_converter(name)
        if conv.detect(state):
            return conv.convert(state)
    from ..weights.errors import CheckpointMismatchError

    sample = ", ".join(list(state)[:5])
    tried = ", ".join(candidates) or "none"
    raise CheckpointMismatchError(
        f"checkpoint layout not recognised (first keys: {sample}); tried our layout and converters: {tried}"
    )
