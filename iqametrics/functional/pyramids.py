"""Multi-scale decompositions shared by the classic metrics.

* :func:`steerable_pyramid`: the space-domain steerable pyramid of matlabPyrTools ``buildSpyr``
  (Simoncelli & Freeman 1995) with the ``sp5Filters`` (six orientations) and ``reflect1``
  edges, as the official VIF code ``vifvec.m`` calls it.
* :func:`laplacian_pyramid`: the Burt & Adelson (1983) Laplacian pyramid as written in the
  official NLPD code (``laplacian_pyramid_s`` of ``NLP_dist.m``, Laparra et al. 2016).
* :func:`corr_dn`: matlabPyrTools ``corrDn`` (correlate, then subsample) with ``reflect1`` edges.

All functions take batches [B, C, H, W] and filter every channel independently; they are
differentiable and run on any device and floating dtype.
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _sp5_filters
from ._cache import cached_constants
from .filters import pad

__all__ = ["corr_dn", "steerable_pyramid", "steerable_pyramid_max_height", "SteerablePyramid", "laplacian_pyramid"]

#: Burt & Adelson's generating kernel with a = 0.4, as in the official NLPD code
BURT_ADELSON_KERNEL = (0.05, 0.25, 0.4, 0.25, 0.05)


def _as_pair(v: Union[int, Sequence[int]]) -> Tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def corr_dn(x: Tensor, filters: Tensor, step: Union[int, Sequence[int]] = 1, start: Union[int, Sequence[int]] = 0) -> Tensor:
    """matlabPyrTools ``corrDn(x, filt, 'reflect1', step, start + 1)`` for odd-sized filters.

    Correlates every channel of ``x`` [B, C, H, W] with each of ``filters`` ([kh, kw] or
    [K, kh, kw]) and keeps the samples ``start, start + step, ...`` (0-based) of each axis.
    ``reflect1`` reflects the image about its edge samples (``dcb|abcd|cba``), which is what
    folding the filter at the border (``edges.c``) amounts to.  Returns [B, C·K, h, w] with
    ``h = ceil((H - start) / step)``, channels ordered (c, k).
    """
    if filters.dim() == 2:
        filters = filters.unsqueeze(0)
    k, kh, kw = filters.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"corr_dn needs odd-sized filters, got {kh}×{kw}")
    sh, sw = _as_pair(step)
    oh, ow = _as_pair(start)
    b, c, h, w = x.shape
    ph, pw = kh // 2, kw // 2
    xp = pad(x.reshape(b * c, 1, h, w), (pw, pw, ph, ph), "reflect")[..., oh:, ow:]
    weight = filters.to(device=x.device, dtype=x.dtype).unsqueeze(1)
    y = F.conv2d(xp, weight, stride=(sh, sw))
    return y.reshape(b, c * k, *y.shape[-2:])


class SteerablePyramid(NamedTuple):
    """``bands[l]`` is [B, C·n_orient, H_l, W_l] for level ``l`` (0 = finest, channels (c, orient));
    ``highpass`` is the residual high-pass band (None when not asked for); ``lowpass`` the
    residual low-pass image after the last level."""

    highpass: Optional[Tensor]
    bands: List[Tensor]
    lowpass: Tensor


@cached_constants(maxsize=8)
def _sp5(device, dtype):
    def mk(v):
        return torch.tensor(v, dtype=torch.float64).to(device=device, dtype=dtype)

    return (
        mk(_sp5_filters.HI0FILT),
        mk(_sp5_filters.LO0FILT),
        2 * mk(_sp5_filters.LOFILT_HALF),
        mk(_sp5_filters.BFILTS),
    )


def steerable_pyramid_max_height(height: int, width: int, filter_size: int = 9) -> int:
    """matlabPyrTools ``maxPyrHt``: levels whose low-pass input is at least ``filter_size`` wide."""
    levels = 0
    while height >= filter_size and width >= filter_size:
        levels += 1
        height, width = height // 2, width // 2
    return levels


def steerable_pyramid(
    x: Tensor,
    height: int = 4,
    *,
    orientations: Optional[Sequence[int]] = None,
    highpass: bool = True,
) -> SteerablePyramid:
    """Space-domain steerable pyramid with the ``sp5Filters`` (matlabPyrTools ``buildSpyr``).

    Follows ``buildSpyr(x, height, 'sp5Filters', 'reflect1')``: a high-pass residual and a
    low-pass image from the input, then per level six oriented band-pass images of the low-pass
    image and a 2× decimated low-pass image (``corrDn(lo, lofilt, 'reflect1', [2 2], [1 1])``).
    ``orientations`` picks band indices 0..5 (orientation ``k·π/6``; 0 is the derivative along
    the width axis, 3 along the height axis); default all six.  Computing fewer bands, or no
    high-pass, gives the same values for the bands computed.
    """
    if x.dim() != 4:
        raise ValueError(f"steerable_pyramid expects [B, C, H, W], got shape {tuple(x.shape)}")
    max_height = steerable_pyramid_max_height(*x.shape[-2:])
    if not 1 <= height <= max_height:
        raise ValueError(
            f"a steerable pyramid of {x.shape[-1]}×{x.shape[-2]} px has at most {max_height} levels, got height={height}"
        )
    hi0filt, lo0filt, lofilt, bfilts = _sp5(x.device, x.dtype)
    if orientations is not None:
        idx = [int(o) for o in orientations]
        if any(o < 0 or o >= bfilts.shape[0] for o in idx):
            raise ValueError(f"orientations must be in 0..{bfilts.shape[0] - 1}, got {idx}")
        bfilts = bfilts[idx]
    hi = corr_dn(x, hi0filt) if highpass else None
    lo = corr_dn(x, lo0filt)
    bands = []
    for _ in range(height):
        bands.append(corr_dn(lo, bfilts))
        lo = corr_dn(lo, lofilt, step=2)
    return SteerablePyramid(hi, bands, lo)


def _fir(x: Tensor, taps: Sequence[float], dim: int, n_out: int, stride: int = 1) -> Tensor:
    """``y[i] = sum_t taps[t] x[stride i + t]`` along ``dim`` (x already padded): a few
    multiply-adds of strided views, cheaper than a convolution for 2-5 taps in any dtype."""
    y = None
    for t, tap in enumerate(taps):
        if tap == 0:
            continue
        view = x.narrow(dim, t, stride * (n_out - 1) + 1)
        if stride > 1:
            view = view.movedim(dim, -1)[..., ::stride].movedim(-1, dim)
        y = view * tap if y is None else y.add_(view, alpha=tap)
    return y


def _pyr_down(x: Tensor, k: Sequence[float]) -> Tensor:
    """``imfilter(I, f'*f, 'symmetric')`` then ``I(1:2:end, 1:2:end)``, computing only the kept
    samples (strided separable passes)."""
    h, w = x.shape[-2:]
    r = len(k) // 2
    xp = pad(x, r, "symmetric")
    y = _fir(xp, k, -2, (h + 1) // 2, stride=2)
    return _fir(y, k, -1, (w + 1) // 2, stride=2)


def _upsample_axis(x: Tensor, k: Sequence[float], dim: int, out_len: int) -> Tensor:
    """One axis of ``upsample`` in NLP_dist.m, in polyphase form.

    The original pads by one sample (replicate), inserts zeros (gain 2 per axis), filters with
    the 5-tap kernel (zero padding) and crops.  Output sample ``2j`` is then
    ``2 (k0 I[j-1] + k2 I[j] + k4 I[j+1])`` and ``2j + 1`` is ``2 (k1 I[j] + k3 I[j+1])``, indices
    clamped to the image; only these products are computed.
    """
    n = x.shape[dim]
    first, last = x.narrow(dim, 0, 1), x.narrow(dim, n - 1, 1)
    xp = torch.cat([first, x, last], dim=dim)
    even = _fir(xp, (2 * k[0], 2 * k[2], 2 * k[4]), dim, n)
    odd = _fir(xp, (0.0, 2 * k[1], 2 * k[3]), dim, n)
    shape = list(even.shape)
    shape[dim] = 2 * n
    y = even.new_empty(shape).movedim(dim, -1)
    y[..., 0::2] = even.movedim(dim, -1)
    y[..., 1::2] = odd.movedim(dim, -1)
    return y.movedim(-1, dim).narrow(dim, 0, out_len)


def _pyr_up(x: Tensor, k: Sequence[float], out_hw: Tuple[int, int]) -> Tensor:
    """``upsample(I, odd, filter)`` of NLP_dist.m to size ``out_hw`` (separable)."""
    return _upsample_axis(_upsample_axis(x, k, -2, out_hw[0]), k, -1, out_hw[1])


def laplacian_pyramid(x: Tensor, levels: int = 6, kernel: Sequence[float] = BURT_ADELSON_KERNEL) -> List[Tensor]:
    """Laplacian pyramid as ``laplacian_pyramid_s`` in the official NLPD code.

    Level ``l < levels - 1`` holds ``J_l - upsample(downsample(J_l))`` and the last level the
    residual low-pass image; downsampling filters with symmetric padding and keeps even samples,
    upsampling is described in :func:`_pyr_up`.  Returns ``levels`` tensors, finest first.
    """
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    k = tuple(float(v) for v in kernel)
    if len(k) != 5:
        raise ValueError("the Laplacian pyramid kernel must have 5 taps")
    pyr = []
    j = x
    for _ in range(levels - 1):
        low = _pyr_down(j, k)
        pyr.append(j - _pyr_up(low, k, j.shape[-2:]))
        j = low
    pyr.append(j)
    return pyr
