"""MS-SSIM: multi-scale structural similarity.

Z. Wang, E. P. Simoncelli and A. C. Bovik, "Multi-scale structural similarity for image quality
assessment", Asilomar Conference on Signals, Systems and Computers, 2003.

Follows Wang's ``msssim.m``: the luma of the 8-bit image (``rgb2gray``), 5 scales with the
weights ``[0.0448, 0.2856, 0.3001, 0.2363, 0.1333]``; at each scale the SSIM statistics of
``ssim_index_new`` (11x11 Gaussian window, sigma 1.5, ``'valid'``, ``K = [0.01, 0.03]``), then a
2x2 box filter with symmetric border and every second sample; the contrast-structure means of
scales 1-4 and the SSIM mean of scale 5 are combined by ``method="product"`` (default,
``prod(mcs.^w) * mssim^w5``) or ``"wtd_sum"`` (``sum(w/sum(w) .* [mcs, mssim])``).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from .filters import average_downsample, gaussian_kernel1d
from .ssim import _prepare, ssim_and_cs

__all__ = ["ms_ssim", "MS_SSIM_WEIGHTS", "MS_SSIM_MIN_SIZE"]

#: the five scale weights of the paper (also the defaults of msssim.m)
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: smallest side with the default 11-px window and five scales
MS_SSIM_MIN_SIZE = 11 * 2 ** (len(MS_SSIM_WEIGHTS) - 1)


def ms_ssim(
    dist: Tensor,
    ref: Tensor,
    *,
    color: str = "gray",
    method: str = "product",
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
    quantize: bool = True,
    data_range: float = 1.0,
    k1: float = 0.01,
    k2: float = 0.03,
    window_size: int = 11,
    sigma: float = 1.5,
) -> Tensor:
    """MS-SSIM per image pair [B] for images [B, C, H, W] in ``[0, data_range]``.

    The smaller side must be at least ``window_size * 2^(scales-1)`` (176 px by default), as
    ``msssim.m`` requires.  ``color``, ``quantize``: as in :func:`~iqametrics.functional.ssim`.
    With ``method="product"`` a negative mean contrast-structure (only for nearly unrelated
    images; MATLAB returns a complex number there) is clamped to 0, so the score is 0.
    """
    if method not in ("product", "wtd_sum"):
        raise ValueError(f"method must be 'product' or 'wtd_sum', got {method!r}")
    levels = len(weights)
    if levels < 1 or sum(weights) == 0:
        raise ValueError("weights must be a non-empty sequence with a non-zero sum")
    x, y = _prepare(dist, ref, color=color, quantize=quantize, data_range=data_range)
    need = window_size * 2 ** (levels - 1)
    if min(x.shape[-2:]) < need:
        raise ValueError(
            f"MS-SSIM with {levels} scales needs images of at least {need}x{need} px, got {x.shape[-1]}x{x.shape[-2]}"
        )
    window = gaussian_kernel1d(window_size, sigma, dtype=torch.float64)
    c1, c2 = (k1 * 255) ** 2, (k2 * 255) ** 2  # the images are in 0-255 now
    values = []
    for level in range(levels):
        s, cs = ssim_and_cs(x, y, window, c1, c2)
        values.append(s if level == levels - 1 else cs)
        if level < levels - 1:
            x, y = average_downsample(x, 2, "symmetric"), average_downsample(y, 2, "symmetric")
    v = torch.stack(values, dim=1)  # [B, levels]
    w = torch.tensor(weights, dtype=v.dtype, device=v.device)
    if method == "wtd_sum":
        return (v * (w / w.sum())).sum(dim=1)
    return v.clamp_min(0).pow(w).prod(dim=1)
