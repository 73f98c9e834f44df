"""VSI: visual saliency-induced index, with SDSP saliency.

L. Zhang, Y. Shen and H. Li, "VSI: A visual saliency-induced index for perceptual image quality
assessment", IEEE Trans. Image Processing 23(10):4270-4281, 2014; saliency: L. Zhang, Z. Gu and
H. Li, "SDSP: A novel saliency detection method by combining simple priors", ICIP 2013.

Follows the authors' ``VSI.m`` (with its ``SDSP``): images in 0-255.  SDSP resizes each channel to
256x256 (MATLAB ``imresize``, bilinear, antialiased), converts to L*a*b* (the code's sRGB/D50
constants), filters L, a, b with one log-Gabor (``omega0 = 0.021``, ``sigmaF = 1.34``, frequencies
beyond radius 0.5 masked), multiplies the response magnitude by a centre prior
(``sigmaD = 145``) and a warm-colour prior (``sigmaC = 0.001``), resizes back (bilinear) and
rescales to [0, 1] (``mat2gray``).  VSI then uses the LMN opponent channels, box-average
downsampling by ``F = max(1, round(min(H, W) / 256))`` (``conv2 'same'``, zero border) of L, M,
N and both saliency maps, Scharr gradients of L, and pools
``S_VS * S_GM^0.4 * real((S_M S_N)^0.02)`` weighted by ``max(VS1, VS2)`` with
``C_VS = 1.27``, ``C_GM = 386``, ``C_C = 130``.
"""
from __future__ import annotations


import torch
from torch import Tensor

from ._cache import cached_constants
from .color import rgb_to_lab, rgb_to_lmn
from .filters import auto_downsample_factor, average_downsample, gradient_magnitude, safe_sqrt
from .resize import imresize
from .similarity import real_power, similarity_map
from .spectral import frequency_grid, log_gabor
from ._pairs import check_pair

__all__ = ["vsi", "sdsp_saliency", "VSI_CONVENTIONS"]

_C_VS, _C_GM, _C_CHROM, _ALPHA, _LAMBDA = 1.27, 386.0, 130.0, 0.40, 0.020
_SIGMA_F, _OMEGA0, _SIGMA_D, _SIGMA_C = 1.34, 0.0210, 145.0, 0.001
_SDSP_SIZE = 256


#: ``"official"``: VSI.m/SDSP as published.  ``"iqa-optimization"``: the PyTorch port in Ding et al.'s
#: IQA-optimization, whose scores pyiqa publishes as the "official" VSI (the MATLAB code was not
#: at hand there): saliency at full resolution, a 0-based centre prior, XYZ divided by the
#: reciprocal of the D65 white (a slip in that port, kept to reproduce its numbers) and
#: ``|S_M S_N|^0.02`` instead of the real part of the power.
VSI_CONVENTIONS = ("official", "iqa-optimization")
_PORT_WHITE = (1 / 0.950456, 1.0, 1 / 1.088754)


@cached_constants(maxsize=8)
def _sdsp_priors(rows: int, cols: int, origin: int, device: torch.device, dtype: torch.dtype):
    """The log-Gabor transfer function and the centre prior of SDSP for a rows x cols image."""
    u, v = frequency_grid(rows, cols)
    radius = torch.sqrt(u * u + v * v)
    radius = torch.where(u * u + v * v > 0.25, torch.zeros_like(radius), radius)  # SDSP's mask
    lg = log_gabor(radius, _OMEGA0, _SIGMA_F)
    # centre prior around (rows/2, cols/2), pixel coordinates counted from `origin` (MATLAB: 1)
    i = torch.arange(origin, rows + origin, dtype=torch.float64) - rows / 2
    j = torch.arange(origin, cols + origin, dtype=torch.float64) - cols / 2
    centre = torch.exp(-(i[:, None] ** 2 + j[None, :] ** 2) / _SIGMA_D**2)
    return lg.to(device=device, dtype=dtype), centre.to(device=device, dtype=dtype)


def _min_max_normalise(x: Tensor) -> Tensor:
    """Per image ``(x - min) / (max - min)`` (MATLAB ``mat2gray``); 0 for a constant map."""
    lo, hi = torch.aminmax(x.flatten(1), dim=1)
    shape = (-1,) + (1,) * (x.dim() - 1)
    span = hi - lo
    return (x - lo.view(shape)) / torch.where(span > 0, span, 1.0).view(shape)


def _check_convention(convention: str) -> bool:
    if convention not in VSI_CONVENTIONS:
        raise ValueError(f"convention must be one of {VSI_CONVENTIONS}, got {convention!r}")
    return convention == "official"


def sdsp_saliency(x: Tensor, *, convention: str = "official") -> Tensor:
    """SDSP saliency maps [B, 1, H, W] in [0, 1] of RGB images [B, 3, H, W] in [0, 1]."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"SDSP needs RGB images [B, 3, H, W], got {tuple(x.shape)}")
    official = _check_convention(convention)
    h, w = x.shape[-2:]
    small = imresize(x, size=(_SDSP_SIZE, _SDSP_SIZE), kernel="bilinear") if official else x
    lab = rgb_to_lab(small, "d50" if official else _PORT_WHITE)
    lg, centre = _sdsp_priors(*small.shape[-2:], 1 if official else 0, x.device, x.dtype)
    # the log-Gabor is real and even, so the filtered L, a, b are real: half spectra suffice
    rows, cols = lab.shape[-2:]
    response = torch.fft.irfft2(torch.fft.rfft2(lab) * lg[:, : cols // 2 + 1], s=(rows, cols))
    frequency_prior = safe_sqrt(response.square().sum(dim=1, keepdim=True))
    ab = _min_max_normalise(lab[:, 1:])
    colour_prior = 1 - torch.exp(-ab.square().sum(dim=1, keepdim=True) / _SIGMA_C**2)
    saliency = frequency_prior * centre * colour_prior
    if official:
        saliency = imresize(saliency, size=(h, w), kernel="bilinear")
    return _min_max_normalise(saliency)


def vsi(
    dist: Tensor, ref: Tensor, *, downsample: bool = True, convention: str = "official", data_range: float = 1.0
) -> Tensor:
    """VSI per image pair [B] for RGB images [B, 3, H, W] in ``[0, data_range]`` (higher is better).

    Args:
        downsample: the official automatic downsampling.
        convention: ``"official"`` (VSI.m) or ``"iqa-optimization"`` (see :data:`VSI_CONVENTIONS`).
    """
    check_pair(dist, ref)
    if dist.dim() != 4 or dist.shape[1] != 3:
        raise ValueError(f"VSI needs RGB images [B, 3, H, W], got {tuple(dist.shape)}")
    official = _check_convention(convention)
    f = auto_downsample_factor(*dist.shape[-2:]) if downsample else 1

    def channels(x: Tensor) -> Tensor:  # L, M, N and saliency, downsampled
        x = x / data_range if data_range != 1.0 else x
        saliency = average_downsample(sdsp_saliency(x, convention=convention), f, "zeros")
        # the box average is linear: averaging RGB and then converting equals the reference's
        # conversion then averaging, at a fraction of the cost
        return torch.cat((rgb_to_lmn(average_downsample(x, f, "zeros"), scale=255.0), saliency), dim=1)

    both = channels(torch.cat((dist, ref)))  # one pass over the pair
    lum, chroma, vs = both[:, :1], both[:, 1:3], both[:, 3:]
    grad = gradient_magnitude(lum, "scharr", "zeros")
    (g1, g2), (c1, c2), (vs1, vs2) = grad.chunk(2), chroma.chunk(2), vs.chunk(2)
    weight = torch.maximum(vs1, vs2)
    s_chroma = similarity_map(c1[:, :1], c2[:, :1], _C_CHROM) * similarity_map(c1[:, 1:], c2[:, 1:], _C_CHROM)
    sim = (
        similarity_map(g1, g2, _C_GM).pow(_ALPHA)
        * similarity_map(vs1, vs2, _C_VS)
        * (real_power(s_chroma, _LAMBDA) if official else real_power(s_chroma.abs(), _LAMBDA))
    )
    num = (sim * weight).sum(dim=(1, 2, 3))
    den = weight.sum(dim=(1, 2, 3))
    # no saliency anywhere in either image (both flat): 0/0 in VSI.m; the unweighted mean of the
    # similarity map instead (1 for identical images), with finite gradients
    salient = den > 0
    return torch.where(salient, num / torch.where(salient, den, 1.0), sim.mean(dim=(1, 2, 3)))
