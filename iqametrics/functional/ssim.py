"""SSIM: structural similarity index.

Z. Wang, A. C. Bovik, H. R. Sheikh and E. P. Simoncelli, "Image quality assessment: from error
visibility to structural similarity", IEEE Trans. Image Processing 13(4):600-612, 2004.

The default follows Wang's ``ssim.m`` (2009 release, the one on his page): the luma of the
8-bit image (``rgb2gray``), automatic downsampling by ``f = max(1, round(min(H, W) / 256))``
(an ``f x f`` box filter with symmetric border, every ``f``-th sample), an 11x11 Gaussian
window (sigma 1.5) applied without padding (``filter2(..., 'valid')``), ``K1 = 0.01``,
``K2 = 0.03``, and the mean of the SSIM map.  ``downsample=False`` is the 2004 ``ssim_index.m``
(the paper's code, and the convention of the published calibration scores); ``color="rgb"`` is
the mean over R, G, B (colour SSIM as scikit-image, piq and torchmetrics compute it).
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

from .color import luma_8bit
from .filters import auto_downsample_factor, average_downsample, gaussian_kernel1d, separable_filter2d
from .similarity import similarity_map
from ._pairs import check_pair

__all__ = ["ssim"]


def ssim(
    dist: Tensor,
    ref: Tensor,
    *,
    color: str = "gray",
    downsample: bool = True,
    quantize: bool = True,
    data_range: float = 1.0,
    k1: float = 0.01,
    k2: float = 0.03,
    window_size: int = 11,
    sigma: float = 1.5,
    padding: str = "valid",
) -> Tensor:
    """SSIM per image pair [B], for images [B, C, H, W] in ``[0, data_range]``.

    Args:
        color: ``"gray"`` (MATLAB ``rgb2gray``, default), ``"y"`` (Y of ``rgb2ycbcr``) or
            ``"rgb"`` (SSIM of each channel, averaged).
        downsample: Wang's automatic downsampling (``ssim.m``); ``False`` for ``ssim_index.m``.
        quantize: round the luma to integers, as ``rgb2gray``/``rgb2ycbcr`` do for uint8
            images (straight-through for gradients; nothing to round with ``color="rgb"``).
        window_size, sigma: the Gaussian window.
        padding: ``"valid"`` (official: the map shrinks by ``window_size - 1``) or a padding
            mode of :func:`~iqametrics.functional.filters.pad` to keep the map full-size.
    """
    x, y = _prepare(dist, ref, color=color, quantize=quantize, data_range=data_range)
    if downsample:
        f = auto_downsample_factor(*x.shape[-2:])
        x, y = average_downsample(x, f, "symmetric"), average_downsample(y, f, "symmetric")
    window = gaussian_kernel1d(window_size, sigma, dtype=torch.float64)
    s, _ = ssim_and_cs(x, y, window, (k1 * 255) ** 2, (k2 * 255) ** 2, padding)
    return s


def _prepare(dist: Tensor, ref: Tensor, *, color: str, quantize: bool, data_range: float) -> Tuple[Tensor, Tensor]:
    """The 8-bit luma (0-255) of both images."""
    check_pair(dist, ref, batched=True)
    return tuple(luma_8bit(t, color, quantize=quantize, data_range=data_range) for t in (dist, ref))


def ssim_and_cs(
    x: Tensor, y: Tensor, window: Tensor, c1: float, c2: float, padding: str = "valid"
) -> Tuple[Tensor, Tensor]:
    """Mean SSIM and mean contrast-structure term per image [B] (averaged over channels too).

    ``window`` is the 1-D factor of the separable window (best on the CPU, see
    :func:`~iqametrics.functional.filters.separable_filter2d`).  Local moments are taken about the
    reference's mean (SSIM's variances and covariance do not change, and float32 loses much
    less to cancellation in ``E[x^2] - E[x]^2``).
    """
    k = window.numel()
    if min(x.shape[-2:]) < k:
        raise ValueError(f"images of {x.shape[-1]}x{x.shape[-2]} px are smaller than the {k}x{k} SSIM window")
    centre = y.detach().mean(dim=(-2, -1), keepdim=True)
    if torch.is_grad_enabled() and (x.requires_grad or y.requires_grad):
        xc, yc = x - centre, y - centre
        maps = torch.stack((xc, yc, xc * xc, yc * yc, xc * yc), dim=2)
    else:  # write straight into one buffer: saves a pass over five maps
        maps = torch.empty(*x.shape[:2], 5, *x.shape[2:], dtype=x.dtype, device=x.device)
        xc = torch.sub(x, centre, out=maps[:, :, 0])
        yc = torch.sub(y, centre, out=maps[:, :, 1])
        torch.mul(xc, xc, out=maps[:, :, 2])
        torch.mul(yc, yc, out=maps[:, :, 3])
        torch.mul(xc, yc, out=maps[:, :, 4])
    maps = separable_filter2d(maps, window, padding=padding)
    mu_x, mu_y, xx, yy, xy = maps.unbind(2)
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov = xy - mu_x * mu_y
    cs_map = (2 * cov + c2) / (var_x + var_y + c2)
    luminance = similarity_map(mu_x + centre, mu_y + centre, c1)
    return (luminance * cs_map).mean(dim=(1, 2, 3)), cs_map.mean(dim=(1, 2, 3))
