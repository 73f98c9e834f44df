"""Caching of constant tensors (filters, window matrices, filter banks) built per size, device and dtype.

Every :func:`cached_constants` function shares one least-recently-used store whose tensors
together stay under a byte budget (:data:`DEFAULT_BUDGET_BYTES`, 256 MiB; environment variable
``IQAMETRICS_CONSTANT_CACHE_BYTES`` or :func:`set_constant_cache_budget`).  Per-size constants
grow with the image (MAD's log-Gabor bank is 20 × H × W float64: 1.9 GB for a 12 MP photo), so a
count limit alone does not bound memory.  A value larger than the whole budget is returned
without being kept: it is rebuilt on the next call.
"""
from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from typing import Hashable, Optional

import torch

__all__ = ["cached_constants", "set_constant_cache_budget", "constant_cache_budget", "constant_cache_bytes", "clear_constant_cache"]

DEFAULT_BUDGET_BYTES = 256 * 2**20
_ENV = "IQAMETRICS_CONSTANT_CACHE_BYTES"


def _nbytes(value, seen: Optional[set] = None) -> int:
    """Bytes of the tensor storages in ``value`` (tensors, nested tuples/lists/dicts); shared storage counted once."""
    seen = set() if seen is None else seen
    if isinstance(value, torch.Tensor):
        storage = value.untyped_storage()
        key = (storage.data_ptr(), value.device)
        if key in seen:
            return 0
        seen.add(key)
        return storage.nbytes()
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v, seen) for v in value)
    return 0


def _budget_from_env() -> int:
    text = os.environ.get(_ENV)
    if not text:
        return DEFAULT_BUDGET_BYTES
    try:
        budget = int(float(text))
    except ValueError:
        raise ValueError(f"{_ENV} must be a number of bytes, got {text!r}") from None
    if budget < 0:
        raise ValueError(f"{_ENV} must be at least 0, got {text!r}")
    return budget


class _ByteBoundedLRU:
    """One store for every cached function: (function, args) -> (value, bytes), least recent first."""

    def __init__(self):
        self._entries: "OrderedDict[Hashable, tuple]" = OrderedDict()
        self._lock = threading.Lock()
        self._budget: Optional[int] = None  # read from the environment on first use
        self.total = 0

    @property
    def budget(self) -> int:
        if self._budget is None:
            self._budget = _budget_from_env()
        return self._budget

    def set_budget(self, budget: int) -> None:
        with self._lock:
            self._budget = int(budget)
            self._evict()

    def get(self, key):
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return None
            self._entries.move_to_end(key)
            return hit

    def put(self, key, value, group: str, group_max: Optional[int]) -> None:
        size = _nbytes(value)
        with self._lock:
            if size > self.budget or key in self._entries:
                return
            self._entries[key] = (value, size)
            self.total += size
            if group_max is not None:
                in_group = [k for k in self._entries if k[0] == group]
                for old in in_group[: max(0, len(in_group) - group_max)]:
                    self.total -= self._entries.pop(old)[1]
            self._evict()

    def _evict(self) -> None:
        while self.total > self.budget and self._entries:
            self.total -= self._entries.popitem(last=False)[1][1]

    def clear(self, group: Optional[str] = None) -> None:
        with self._lock:
            for key in [k for k in self._entries if group is None or k[0] == group]:
                self.total -= self._entries.pop(key)[1]


_STORE = _ByteBoundedLRU()


def set_constant_cache_budget(budget_bytes: int) -> None:
    """Bytes that the cached constants of all metrics may hold together (0 disables caching)."""
    if not isinstance(budget_bytes, int) or isinstance(budget_bytes, bool) or budget_bytes < 0:
        raise ValueError(f"the budget must be a non-negative number of bytes, got {budget_bytes!r}")
    _STORE.set_budget(budget_bytes)


def constant_cache_budget() -> int:
    """The current budget in bytes."""
    return _STORE.budget


def constant_cache_bytes() -> int:
    """Bytes held by the cached constants now."""
    return _STORE.total


def clear_constant_cache() -> None:
    _STORE.clear()


def cached_constants(maxsize: Optional[int] = 16):
    """Memoise a function of hashable arguments that returns constant tensors.

    Entries are shared with every other cached function under one byte budget (see the module
    docstring); ``maxsize`` additionally limits how many argument sets of this function are kept
    (``None``: no count limit).  The tensors are built outside inference mode, so that a cache
    filled by a scoring call can serve a later call that needs gradients (inference tensors
    cannot enter autograd).
    """

    def decorator(fn):
        group = f"{fn.__module__}.{fn.__qualname__}"

        @functools.wraps(fn)
        def cached(*args, **kwargs):
            key = (group, args, tuple(sorted(kwargs.items())))
            hit = _STORE.get(key)
            if hit is not None:
                return hit[0]
            with torch.inference_mode(False):
                value = fn(*args, **kwargs)
            _STORE.put(key, value, group, maxsize)
            return value

        cached.cache_clear = lambda: _STORE.clear(group)
        return cached

    return decorator
