"""Caching of constant tensors (filters, window matrices) built once per size, device and dtype."""
from __future__ import annotations

import functools

import torch


def cached_constants(maxsize: int = 16):
    """``functools.lru_cache`` for functions returning constant tensors.

    The tensors are built outside inference mode, so that a cache filled by a scoring call can
    serve a later call that needs gradients (inference tensors cannot enter autograd).
    """

    def decorator(fn):
        def build(*args):  # runs on a cache miss only
            with torch.inference_mode(False):
                return fn(*args)

        return functools.lru_cache(maxsize=maxsize)(functools.wraps(fn)(build))

    return decorator
