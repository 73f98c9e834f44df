"""Exponential moving average of a module's floating-point state, for evaluation and export."""
from __future__ import annotations

from typing import Dict

import torch
from torch import Tensor, nn

__all__ = ["EMA"]


class EMA:
    """``ema ← decay · ema + (1 − decay) · value`` for every float tensor of the state dict after
    each optimiser step; integer buffers (BatchNorm's counters) are copied."""

    def __init__(self, module: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.shadow: Dict[str, Tensor] = {k: v.detach().clone() for k, v in module.state_dict().items()}

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        for k, v in module.state_dict().items():
            s = self.shadow[k]
            if torch.is_floating_point(s):
                s.mul_(self.decay).add_(v.detach().to(s.dtype), alpha=1.0 - self.decay)
            else:
                s.copy_(v)

    def state_dict(self) -> Dict[str, Tensor]:
        return self.shadow

    def load_state_dict(self, state: Dict[str, Tensor]) -> None:
        for k, v in state.items():
            self.shadow[k].copy_(v)
