"""Model parameters shipped inside the package (NIQE pristine model, BRISQUE SVR), loaded once."""
from __future__ import annotations

from typing import Dict

import torch
from torch import Tensor

from ._cache import cached_constants


@cached_constants(maxsize=None)
def _load(key: str) -> Dict[str, Tensor]:
    from ..weights import fetch, get_entry, load_state_file

    entry = get_entry(key)
    return {k: v.to(torch.float64) for k, v in load_state_file(fetch(entry), entry.format).items()}


def bundled_params(key: str, device=None) -> Dict[str, Tensor]:
    """The float64 tensors of the bundled manifest entry ``key``, on ``device``."""
    return {k: v.to(device) for k, v in _load(key).items()}
