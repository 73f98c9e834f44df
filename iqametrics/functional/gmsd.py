"""GMSD: gradient magnitude similarity deviation.

W. Xue, L. Zhang, X. Mou and A. C. Bovik, "Gradient magnitude similarity deviation: a highly
efficient perceptual image quality index", IEEE Trans. Image Processing 23(2):684-695, 2014.

Follows the authors' ``GMSD.m`` on the luma of the 8-bit image (``rgb2gray``, as the code takes
a grey image): a 2x2 box average with zero border (``conv2 'same'``) keeping every second
sample, Prewitt gradient magnitudes (``[1 0 -1]/3`` rows, zero border), the similarity map with
``T = 170`` (for 0-255 data) and its standard deviation (``std2``, normalised by N - 1).
Lower is better; 0 for identical images.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .color import luma_8bit
from .filters import average_downsample, gradient_magnitude
from .similarity import similarity_map
from ._pairs import check_pair

__all__ = ["gmsd"]

_T = 170.0  # for images in 0-255


def gmsd(
    dist: Tensor,
    ref: Tensor,
    *,
    color: str = "gray",
    quantize: bool = True,
    downsample: bool = True,
    data_range: float = 1.0,
) -> Tensor:
    """GMSD per image pair [B] for images [B, C, H, W] in ``[0, data_range]``.

    Args:
        color: ``"gray"`` (``rgb2gray``, default), ``"y"`` (Y of ``rgb2ycbcr``) or ``"rgb"``
            (one deviation over the maps of the three channels).
        quantize: round the luma to integers, as ``rgb2gray`` does for uint8 images
            (straight-through for gradients).
        downsample: the official 2x average downsampling.
    """
    check_pair(dist, ref)
    lumas = [luma_8bit(t, color, quantize=quantize, data_range=data_range) for t in (dist, ref)]
    if downsample:
        lumas = [average_downsample(t, 2, "zeros") for t in lumas]
    x = torch.cat(lumas)
    g = gradient_magnitude(x, "prewitt", "zeros")
    g_dist, g_ref = g.chunk(2)
    quality_map = similarity_map(g_ref, g_dist, _T)
    return quality_map.flatten(1).std(dim=1)
