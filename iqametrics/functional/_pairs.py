"""Argument checks shared by the full-reference functions."""
from __future__ import annotations

from torch import Tensor


def check_pair(dist: Tensor, ref: Tensor, *, batched: bool = False) -> None:
    """Raise ValueError unless ``dist`` and ``ref`` have the same shape (and, with ``batched``,
    are [B, C, H, W] batches)."""
    if batched and (dist.shape != ref.shape or dist.dim() != 4):
        raise ValueError(
            f"dist and ref must be [B, C, H, W] batches of the same shape, got {tuple(dist.shape)} and {tuple(ref.shape)}"
        )
    if dist.shape != ref.shape:
        raise ValueError(f"dist and ref must have the same shape, got {tuple(dist.shape)} and {tuple(ref.shape)}")
