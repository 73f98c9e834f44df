"""FSIM and FSIMc: feature similarity index.

L. Zhang, L. Zhang, X. Mou and D. Zhang, "FSIM: A feature similarity index for image quality
assessment", IEEE Trans. Image Processing 20(8):2378-2386, 2011.  Follows the authors'
``FeatureSIM.m``: images in 0-255; Y, I, Q with the code's coefficients; box-average
downsampling by ``F = max(1, round(min(H, W) / 256))`` (``conv2 'same'``, zero border); phase
congruency (:mod:`.phase_congruency`) and Scharr gradient magnitude of Y; ``T1 = 0.85``,
``T2 = 160``, and for FSIMc ``T3 = T4 = 200``, ``lambda = 0.03``; pooling weighted by
``max(PC1, PC2)``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .color import rgb_to_yiq
from .filters import auto_downsample_factor, average_downsample, gradient_magnitude
from .phase_congruency import phase_congruency
from .similarity import real_power, similarity_map
from ._pairs import check_pair

__all__ = ["fsim"]

_T1, _T2, _T3, _T4, _LAMBDA = 0.85, 160.0, 200.0, 200.0, 0.03


def fsim(dist: Tensor, ref: Tensor, *, chromatic: bool = False, downsample: bool = True, data_range: float = 1.0) -> Tensor:
    """FSIM (``chromatic=False``) or FSIMc (``chromatic=True``) per image pair [B].

    Args:
        dist, ref: RGB [B, 3, H, W] (or grey [B, 1, H, W], for which FSIMc equals FSIM) in
            ``[0, data_range]``; the reference works on 0-255 values.
        chromatic: add the I/Q chrominance similarity (FSIMc).
        downsample: the official automatic downsampling (``False`` compares at full size).
    """
    check_pair(dist, ref)
    scale = 255.0 / data_range
    f = auto_downsample_factor(*dist.shape[-2:]) if downsample else 1

    def features(x: Tensor) -> Tensor:
        # the box average is linear: averaging RGB and then converting equals the reference's
        # conversion then averaging, at a fraction of the cost
        x = average_downsample(x, f, "zeros")
        return x * scale if x.shape[1] == 1 else rgb_to_yiq(x, scale=scale, luma_only=not chromatic)

    yiq = torch.cat((features(dist), features(ref)))
    y = yiq[:, :1]

    pc = phase_congruency(y)
    grad = gradient_magnitude(y, "scharr", "zeros")
    pc1, pc2 = pc.chunk(2)
    g1, g2 = grad.chunk(2)
    pc_max = torch.maximum(pc1, pc2)
    sim = similarity_map(pc1, pc2, _T1) * similarity_map(g1, g2, _T2)
    if yiq.shape[1] == 3:
        c1, c2 = yiq[:, 1:].chunk(2)
        iq = similarity_map(c1[:, :1], c2[:, :1], _T3) * similarity_map(c1[:, 1:], c2[:, 1:], _T4)
        sim = sim * real_power(iq, _LAMBDA)
    num = (sim * pc_max).sum(dim=(1, 2, 3))
    den = pc_max.sum(dim=(1, 2, 3))
    # two featureless (flat) images: 0/0 in the reference; nothing differs that FSIM can see
    return torch.where(den > 0, num / torch.where(den > 0, den, 1.0), 1.0)

