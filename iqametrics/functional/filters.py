"""Filtering primitives shared by the classic metrics: windows, padding, separable convolution.

Padding modes use MATLAB's names where the references are MATLAB code:
``"replicate"``, ``"symmetric"`` (edge sample repeated: ``dcba|abcd|dcba``),
``"reflect"`` (edge not repeated: ``dcb|abcd|cba``, numpy/PyTorch reflect), ``"circular"``,
``"zeros"`` (MATLAB ``imfilter`` default), and ``"valid"`` (no padding; output shrinks).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "gaussian_kernel1d",
    "gaussian_kernel2d",
    "pad",
    "filter2d",
    "separable_filter2d",
    "PADDING_MODES",
]

PADDING_MODES = ("zeros", "replicate", "symmetric", "reflect", "circular", "valid")


def gaussian_kernel1d(size: int, sigma: float, *, dtype=torch.float32, device=None) -> Tensor:
    """Normalised 1-D Gaussian of ``size`` taps centred on the middle (MATLAB ``fspecial``)."""
    coords = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2.0
    g = torch.exp(-(coords**2) / (2.0 * sigma**2))
    return (g / g.sum()).to(dtype)


def gaussian_kernel2d(size: int, sigma: float, *, dtype=torch.float32, device=None) -> Tensor:
    """``fspecial('gaussian', size, sigma)``: the outer product of two 1-D Gaussians, sum 1."""
    g = gaussian_kernel1d(size, sigma, dtype=torch.float64, device=device)
    k = torch.outer(g, g)
    return (k / k.sum()).to(dtype)


def _symmetric_pad(x: Tensor, pads: Tuple[int, int, int, int]) -> Tensor:
    left, right, top, bottom = pads
    h, w = x.shape[-2:]
    if max(left, right) > w or max(top, bottom) > h:
        # repeat the mirrored image as often as needed (MATLAB padarray semantics)
        idx_w = _symmetric_index(w, left, right, x.device)
        idx_h = _symmetric_index(h, top, bottom, x.device)
        return x.index_select(-1, idx_w).index_select(-2, idx_h)
    parts = [x]
    if left:
        parts.insert(0, x[..., :left].flip(-1))
    if right:
        parts.append(x[..., w - right :].flip(-1))
    x = torch.cat(parts, dim=-1) if len(parts) > 1 else x
    parts = [x]
    if top:
        parts.insert(0, x[..., :top, :].flip(-2))
    if bottom:
        parts.append(x[..., h - bottom :, :].flip(-2))
    return torch.cat(parts, dim=-2) if len(parts) > 1 else x


def _symmetric_index(n: int, before: int, after: int, device) -> Tensor:
    idx = torch.arange(-before, n + after, device=device)
    period = 2 * n
    idx = idx % period
    return torch.where(idx >= n, period - 1 - idx, idx)


def _reflect_index(n: int, before: int, after: int, device) -> Tensor:
    idx = torch.arange(-before, n + after, device=device)
    if n == 1:
        return torch.zeros_like(idx)
    period = 2 * (n - 1)
    idx = idx % period
    return torch.where(idx >= n, period - idx, idx)


def _reflect_pad(x: Tensor, pads: Tuple[int, int, int, int]) -> Tensor:
    left, right, top, bottom = pads
    h, w = x.shape[-2:]
    if max(left, right) >= w or max(top, bottom) >= h:
        # reflect repeatedly, as matlabPyrTools' reflect1 folds a filter larger than the image
        idx_w = _reflect_index(w, left, right, x.device)
        idx_h = _reflect_index(h, top, bottom, x.device)
        return x.index_select(-1, idx_w).index_select(-2, idx_h)
    shape = x.shape
    y = F.pad(x.reshape(-1, 1, *shape[-2:]), pads, mode="reflect")
    return y.reshape(*shape[:-2], *y.shape[-2:])


def pad(x: Tensor, pads: Union[int, Sequence[int]], mode: str = "zeros") -> Tensor:
    """Pad the last two dimensions; ``pads`` = (left, right, top, bottom) or one int for all."""
    if isinstance(pads, int):
        pads = (pads, pads, pads, pads)
    pads = tuple(int(p) for p in pads)
    if mode == "valid" or not any(pads):
        return x
    if mode == "zeros":
        return F.pad(x, pads)
    if mode == "symmetric":
        return _symmetric_pad(x, pads)
    if mode == "reflect":
        return _reflect_pad(x, pads)
    if mode in ("replicate", "circular"):
        shape = x.shape
        y = F.pad(x.reshape(-1, 1, *shape[-2:]), pads, mode=mode)
        return y.reshape(*shape[:-2], *y.shape[-2:])
    raise ValueError(f"padding mode must be one of {PADDING_MODES}, got {mode!r}")


def _same_pads(kh: int, kw: int) -> Tuple[int, int, int, int]:
    # MATLAB imfilter 'same' centres the kernel at floor((k+1)/2): extra tap goes after
    top, left = (kh - 1) // 2, (kw - 1) // 2
    return left, kw - 1 - left, top, kh - 1 - top


def filter2d(x: Tensor, kernel: Tensor, padding: str = "zeros") -> Tensor:
    """Correlate every channel of ``x`` [B,C,H,W] with one 2-D ``kernel`` [kh,kw] (imfilter)."""
    kh, kw = kernel.shape[-2:]
    b, c, h, w = x.shape
    xp = pad(x, _same_pads(kh, kw), padding)
    weight = kernel.to(x.dtype).reshape(1, 1, kh, kw)
    y = F.conv2d(xp.reshape(b * c, 1, *xp.shape[-2:]), weight)
    return y.reshape(b, c, *y.shape[-2:])


def separable_filter2d(
    x: Tensor, kernel_v: Tensor, kernel_h: Optional[Tensor] = None, padding: str = "zeros"
) -> Tensor:
    """Correlate with a separable kernel ``outer(kernel_v, kernel_h)``: two 1-D passes.

    Equal to :func:`filter2d` with the outer-product kernel for every padding mode (the padding
    is applied once, before both passes), at ``O(k)`` instead of ``O(k²)`` per pixel.
    """
    kernel_h = kernel_v if kernel_h is None else kernel_h
    kh, kw = kernel_v.numel(), kernel_h.numel()
    b, c, h, w = x.shape
    xp = pad(x, _same_pads(kh, kw), padding)
    y = xp.reshape(b * c, 1, *xp.shape[-2:])
    y = F.conv2d(y, kernel_v.to(x.dtype).reshape(1, 1, kh, 1))
    y = F.conv2d(y, kernel_h.to(x.dtype).reshape(1, 1, 1, kw))
    return y.reshape(b, c, *y.shape[-2:])
