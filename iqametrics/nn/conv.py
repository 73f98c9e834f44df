"""Convolution helpers shared by models ported from TensorFlow/JAX.

* :func:`same_padding` / :func:`pad_same` / :func:`max_pool_same`: TF's ``padding="SAME"``, which puts the odd pixel of
  padding after the data (``pad_before = total // 2``).  PyTorch's symmetric ``padding=k // 2``
  differs from it whenever the stride is above 1, which shifts every window by one pixel.
* :class:`StdConv2d`: weight-standardised convolution (Qiao et al. 2019, "Micro-Batch Training
  with Batch-Channel Normalization and Weight Standardization"), as used by BiT ResNets and by
  MUSIQ's patch encoder: each output filter is centred and divided by ``std + eps`` over
  (in, kh, kw) before the convolution.
"""
from __future__ import annotations

from typing import Tuple

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["same_padding", "pad_same", "max_pool_same", "StdConv2d"]


def same_padding(size: int, kernel: int, stride: int) -> Tuple[int, int]:
    """(before, after) padding of TF ``SAME`` for one axis of length ``size``."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: Tensor, kernel: int, stride: int, value: float = 0.0) -> Tensor:
    """Pad the last two dimensions of ``x`` as TF ``SAME`` does before a ``kernel``/``stride`` window."""
    top, bottom = same_padding(int(x.shape[-2]), kernel, stride)
    left, right = same_padding(int(x.shape[-1]), kernel, stride)
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


def max_pool_same(x: Tensor, kernel: int, stride: int) -> Tensor:
    """Max-pooling with TF ``SAME`` padding (pads with -inf: padded cells never win)."""
    (top, bottom), (left, right) = same_padding(int(x.shape[-2]), kernel, stride), same_padding(int(x.shape[-1]), kernel, stride)
    if top == left == 0:
        # windows start at 0 and only the last may overhang: ceil_mode keeps it, without a padded copy
        return F.max_pool2d(x, kernel, stride, ceil_mode=True)
    return F.max_pool2d(F.pad(x, (left, right, top, bottom), value=float("-inf")), kernel, stride)


class StdConv2d(nn.Conv2d):
    """Weight-standardised 2-D convolution with TF ``SAME`` padding.

    ``w' = (w - mean(w)) / (std(w) + eps)`` per output filter, over (in, kh, kw).  ``correction``
    is the std's degrees-of-freedom correction: 0 (population std, ``jnp.std``; what the JAX
    BiT/MUSIQ code computes) or 1 (``torch.std``'s default, what some PyTorch ports use).
    ``eps`` is added to the std, not to the variance, as in the JAX code.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, *,
                 bias: bool = False, eps: float = 1e-5, correction: int = 0):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, bias=bias)
        if correction not in (0, 1):
            raise ValueError(f"correction must be 0 (population std) or 1 (unbiased), got {correction!r}")
        self.eps = eps
        self.correction = correction

    def standardized_weight(self) -> Tensor:
        w = self.weight.float()
        w = w - w.mean(dim=(1, 2, 3), keepdim=True)
        return w / (w.std(dim=(1, 2, 3), correction=self.correction, keepdim=True) + self.eps)

    def forward(self, x: Tensor) -> Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        (top, bottom), (left, right) = same_padding(int(x.shape[-2]), k, s), same_padding(int(x.shape[-1]), k, s)
        if top == bottom and left == right:  # symmetric: let the convolution pad (no copy)
            padding = (top, left)
        else:
            x, padding = F.pad(x, (left, right, top, bottom)), 0
        # standardise in float32 (autocast then casts the result for the convolution)
        return F.conv2d(x, self.standardized_weight().to(x.dtype), self.bias, self.stride, padding)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", eps={self.eps}, correction={self.correction}, padding=SAME"
