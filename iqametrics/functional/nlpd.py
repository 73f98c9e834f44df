"""Normalized Laplacian pyramid distance (NLPD).

Laparra, Ballé, Berardino & Simoncelli, "Perceptual image quality assessment using a normalized
Laplacian pyramid", Human Vision and Electronic Imaging, IS&T Electronic Imaging 2016.

Follows the authors' ``NLP_dist.m`` (the 2016 release, ``DMOS_Lap_dn2``): a six-level Laplacian
pyramid (Burt & Adelson kernel, symmetric borders), each level divided by ``sigma_l`` plus a
weighted sum of the absolute neighbouring coefficients (``conv2(|L|, F2, 'same')``, parameters
learned on the McGill data set), then the mean over levels of the per-level RMS difference.
Input is the grey image in [0, 1] (``rgb2gray`` of the 8-bit image by default).  0 for
identical images; larger is worse.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .color import rgb_to_gray_8bit
from .pyramids import laplacian_pyramid
from ._pairs import check_pair

__all__ = ["nlpd"]

#: sigma_l of the divisive normalisation, levels 1..6 (DN_filters in NLP_dist.m)
NLPD_SIGMAS = (0.0248, 0.0185, 0.0179, 0.0191, 0.0220, 0.2782)

# 5×5 neighbourhood weights F2 of each level (DN_filters in NLP_dist.m), as printed there
_Z = (0.0, 0.0, 0.0, 0.0, 0.0)
NLPD_WEIGHTS = (
    (_Z, (0, 0, 0.1011, 0, 0), (0, 0.1493, 0, 0.1460, 0.0072), (0, 0, 0.1015, 0, 0), _Z),
    (_Z, (0, 0, 0.0757, 0, 0), (0, 0.1986, 0, 0.1846, 0), (0, 0, 0.0837, 0, 0), _Z),
    (_Z, (0, 0, 0.0477, 0, 0), (0, 0.2138, 0, 0.2243, 0), (0, 0, 0.0467, 0, 0), _Z),
    (_Z, _Z, (0, 0.2503, 0, 0.2616, 0), _Z, _Z),
    (_Z, _Z, (0, 0.2598, 0, 0.2552, 0), _Z, _Z),
    (_Z, _Z, (0, 0.2215, 0, 0.0717, 0), _Z, _Z),
)


def nlpd(dist: Tensor, ref: Tensor, *, quantize: bool = True, color: str = "gray") -> Tensor:
    """NLPD per image: [B, C, H, W] pairs in [0, 1] -> [B] (0 = identical).

    ``quantize`` rounds to 8-bit RGB and 8-bit grey (``rgb2gray`` of a ``uint8`` image;
    straight-through for gradients); ``color="y"`` uses the Y of ``rgb2ycbcr`` instead of ``rgb2gray``.
    Images need at least 32 px per side (six levels).
    """
    check_pair(dist, ref, batched=True)
    b = dist.shape[0]
    # double precision reproduces the published scores to ~1e-14; the sparse filters below
    # keep it cheap
    both = torch.cat([ref, dist])
    both = rgb_to_gray_8bit(both, quantize=quantize, color=color).double()
    levels = laplacian_pyramid(both, len(NLPD_SIGMAS))
    rms = []
    for lap, sigma, weights in zip(levels, NLPD_SIGMAS, NLPD_WEIGHTS):
        normed = lap / (sigma + _neighbour_sum(lap.abs(), weights))
        diff = normed[:b] - normed[b:]
        # the clamp keeps the gradient finite (zero) for identical images; no effect on values
        rms.append(diff.pow(2).flatten(1).mean(1).clamp_min(1e-300).sqrt())
    return torch.stack(rms, 1).mean(1).to(dist.dtype)


def _neighbour_sum(a: Tensor, weights) -> Tensor:
    """``conv2(a, F2, 'same')`` (a true convolution, zero padding) for the sparse 5×5 ``F2``:
    one multiply-add of a shifted view per non-zero weight."""
    h, w = a.shape[-2:]
    ap = F.pad(a, (2, 2, 2, 2))
    out = None
    for r, row in enumerate(weights):
        for c, wv in enumerate(row):
            if wv:
                # convolution: output (i, j) takes a[i + 2 - r, j + 2 - c] = ap[i + 4 - r, j + 4 - c]
                view = ap[..., 4 - r : 4 - r + h, 4 - c : 4 - c + w]
                out = view * wv if out is None else out.add_(view, alpha=wv)
    return out
