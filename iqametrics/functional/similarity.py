"""The similarity ratio every SSIM-like index is built from."""
from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["similarity_map", "real_power"]


def similarity_map(a: Tensor, b: Tensor, c: float) -> Tensor:
    """``(2ab + c) / (a^2 + b^2 + c)``: 1 where ``a == b``, smaller as they differ.

    SSIM's luminance and contrast-structure terms, GMSD's gradient similarity and the feature
    similarities of FSIM and VSI are all this ratio with their own stabilising constant ``c``
    (which must be in the units of ``a`` and ``b`` squared).
    """
    return (2 * a * b + c) / (a * a + b * b + c)


def real_power(x: Tensor, p: float) -> Tensor:
    """MATLAB's ``real(x .^ p)`` for real ``x``: ``|x|^p cos(p pi)`` where ``x < 0``.

    FSIMc and VSI raise a product of chrominance similarities, which can be negative, to a
    small power and keep the real part.  The gradient at ``x = 0`` is taken as 0.
    """
    ax = x.abs()
    nonzero = ax > 0
    mag = torch.where(nonzero, torch.where(nonzero, ax, torch.ones_like(ax)).pow(p), torch.zeros_like(ax))
    return torch.where(x >= 0, mag, mag * math.cos(math.pi * p))
