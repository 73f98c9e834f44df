"""Model parameters shipped inside the package (NIQE pristine model, BRISQUE SVR), loaded once."""
from __future__ import annotations

from functools import lru_cache
from typing import Dict

import torch
from torch import Tensor


@lru_cache(maxsize=None)
def _load(key: str) -> Dict[str, Tensor]:
    from ..weights import fetch, get_entry, load_state_file

    entry = get_entry(key)
    with torch.inference_mode(False):
        return {k: v.to(torch.float64) for k, v in load_state_file(fetch(entry), entry.format).items()}


def bundled_params(key: str, device=None) -> Dict[str, Tensor]:
    """The float64 tensors of the bundled manifest entry ``key``, on ``device``."""
    return {k: v.to(device) for k, v in _load(key).items()}
