"""Visual information fidelity: the wavelet-domain VIF and the pixel-domain VIFp.

Sheikh & Bovik, "Image information and visual quality", IEEE TIP 15(2):430-444, 2006.

* :func:`vif` follows the authors' ``vifvec.m`` (with ``vifsub_est_M.m`` and
  ``refparams_vecgsm.m``): a four-level steerable pyramid (``sp5Filters``, ``reflect1`` edges),
  a Gaussian scale mixture model of 3×3 coefficient vectors in the 0° and 90° subbands of every
  level, a locally estimated gain-plus-noise distortion channel, and ``sigma_nsq = 0.4``.
* :func:`vifp` follows ``vifp_mscale.m``, the pixel-domain simplification (four Gaussian
  scales, scalar model, ``sigma_nsq = 2``).  It is a different, cheaper metric, the one piq
  (``vif_p``) and torchmetrics (``VisualInformationFidelity``) implement.

Both take RGB (or grey) batches in [0, 1] and, by default, score the 8-bit grey image of MATLAB
``rgb2gray`` on the 0-255 scale, as the official scripts are run on ``rgb2gray(imread(...))``.
Scores are 1 for identical images, lower for distortions (above 1 for contrast enhancement);
a reference without any texture (a constant image) carries no information and scores NaN, as
with the official code.
"""
from __future__ import annotations

import math
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .color import rgb_to_gray_8bit
from .filters import gaussian_kernel1d, pad
from .pyramids import steerable_pyramid
from ._pairs import check_pair

__all__ = ["vif", "vifp", "VIF_MIN_SIZE", "VIFP_MIN_SIZE"]

#: smallest side for the four-level sp5 pyramid of vifvec.m (matlabPyrTools maxPyrHt)
VIF_MIN_SIZE = 72
#: smallest side that leaves a 3×3 window at the fourth scale of vifp_mscale.m
VIFP_MIN_SIZE = 41


def _gray_255(x: Tensor, quantize: bool, dtype, color: str) -> Tensor:
    return rgb_to_gray_8bit(x, quantize=quantize, color=color).to(dtype) * 255.0


def _distortion_channel(var_x: Tensor, var_y: Tensor, cov: Tensor, tol: float, norm: float) -> Tuple[Tensor, Tensor, Tensor]:
    """Gain ``g`` and noise variance ``vv`` of ``y = g x + v`` from local (co)variances.

    The guards are those of ``vifsub_est_M.m`` / ``vifp_mscale.m`` in their order.  ``norm``
    divides the residual variance (the window size in ``vifvec``, whose moments are window
    sums); like the official code the fall-back values are the unnormalised ``var_y``.
    Returns ``(g, vv, var_x)`` with ``var_x`` zeroed below ``tol``.
    """
    zero = torch.zeros((), dtype=var_x.dtype, device=var_x.device)
    var_x = var_x.clamp_min(0)
    var_y = var_y.clamp_min(0)
    g = cov / (var_x + tol)
    vv = (var_y - g * cov) / norm
    small_x = var_x < tol
    g = torch.where(small_x, zero, g)
    vv = torch.where(small_x, var_y, vv)
    var_x = torch.where(small_x, zero, var_x)
    small_y = var_y < tol
    g = torch.where(small_y, zero, g)
    vv = torch.where(small_y, zero, vv)
    negative = g < 0
    vv = torch.where(negative, var_y, vv)
    g = g.clamp_min(0)
    vv = vv.clamp_min(tol)
    return g, vv, var_x


def _block_centre_sums(t: Tensor, win: int, block: int) -> Tensor:
    """``corrDn(t, ones(win), 'reflect1', [M M], floor(M/2) + 1, size - ceil(M/2) + 1)``:
    window sums centred on the centres of the non-overlapping M×M blocks (two separable
    strided passes; the box is separable and its mean is exact in either order)."""
    p = win // 2
    s = block // 2
    tp = pad(t, p, "reflect")[..., s:, s:]
    nh, nw = t.shape[-2] // block, t.shape[-1] // block
    out = F.avg_pool2d(tp, (1, win), stride=(1, block))
    out = F.avg_pool2d(out, (win, 1), stride=(block, 1)) * float(win * win)
    return out[..., :nh, :nw]


def _vector_covariance(flat: Tensor, block: int) -> Tensor:
    """Covariance [N, M², M²] of all overlapping M×M vectors of each map of ``flat`` [N, 1, H, W]
    (``refparams_vecgsm``: biased, normalised by their number)."""
    # the M²-fold copy of unfold is made for a few maps at a time (about 2^25 samples)
    lh, lw = flat.shape[-2] - block + 1, flat.shape[-1] - block + 1
    step = max(1, (1 << 25) // (block * block * lh * lw))
    out = []
    for chunk in flat[:, 0].split(step):
        # [n, M², L] (F.unfold's layout; stacking the shifted views is faster than im2col)
        patches = torch.stack(
            [chunk[:, i : i + lh, j : j + lw] for i in range(block) for j in range(block)], dim=1
        ).flatten(2)
        mean = patches.mean(dim=-1, keepdim=True)
        # E[xxᵀ] - m mᵀ: subbands are band-pass (m ≈ 0), so nothing cancels in float64
        out.append(patches @ patches.transpose(1, 2) / patches.shape[-1] - mean @ mean.transpose(1, 2))
    return torch.cat(out)


def _gsm_information(y: Tensor, yn: Tensor, win: int, block: int, sigma_nsq: float) -> Tuple[Tensor, Tensor]:
    """Information terms of one pyramid level (all its chosen subbands): (num, den) per image.

    ``y``/``yn`` are the reference/distorted subbands [B, C, H, W] in float64.
    """
    b, c = y.shape[:2]
    h3, w3 = (y.shape[-2] // block) * block, (y.shape[-1] // block) * block
    y = y[..., :h3, :w3]
    yn = yn[..., :h3, :w3]
    n = float(win * win)

    # distortion channel (vifsub_est_M): window moments around every block centre
    sums = _block_centre_sums(torch.cat([y, yn, y * yn, y * y, yn * yn], dim=1), win, block)
    sx, sy, sxy, sxx, syy = sums.split(c, dim=1)
    mean_x, mean_y = sx / n, sy / n
    cov = sxy - n * mean_x * mean_y
    var_x = sxx - n * mean_x * mean_x
    var_y = syy - n * mean_y * mean_y
    g, vv, _ = _distortion_channel(var_x, var_y, cov, tol=1e-15, norm=n)

    # reference GSM (refparams_vecgsm): covariance of all overlapping M×M vectors ...
    flat = y.reshape(b * c, 1, h3, w3)
    cu = _vector_covariance(flat, block)
    # ... and the multiplier field s² = x' Cu⁻¹ x / M² of the non-overlapping vectors
    vecs = F.unfold(flat, block, stride=block)  # [BC, M², nb]
    sol, info = torch.linalg.solve_ex(cu, vecs)
    ss = (sol * vecs).sum(dim=1) / (block * block)
    # a flat subband has a singular Cu: MATLAB's inv gives Inf and the score NaN; so do we,
    # for that image only, instead of raising for the whole batch
    ss = torch.where((info > 0).view(-1, 1), torch.full_like(ss, math.nan), ss)
    ss = ss.reshape(b, c, h3 // block, w3 // block)
    lam = torch.linalg.eigvalsh(cu).reshape(b, c, -1, 1, 1)

    # drop the blocks whose window reached past the subband border
    off = math.ceil((win // 2) / block)
    if off:
        g, vv, ss = (t[..., off:-off, off:-off] for t in (g, vv, ss))
    g, vv, ss = (t.unsqueeze(2) for t in (g, vv, ss))
    num = torch.log2(1 + g * g * ss * lam / (vv + sigma_nsq)).sum(dim=(1, 2, 3, 4))
    den = torch.log2(1 + ss * lam / sigma_nsq).sum(dim=(1, 2, 3, 4))
    return num, den


def vif(
    dist: Tensor,
    ref: Tensor,
    *,
    sigma_nsq: float = 0.4,
    block_size: int = 3,
    orientations: Sequence[int] = (0, 3),
    levels: int = 4,
    quantize: bool = True,
    color: str = "gray",
) -> Tensor:
    """Wavelet-domain VIF of ``vifvec.m`` per image: [B, C, H, W] pairs in [0, 1] -> [B].

    Args:
        sigma_nsq: variance of the visual noise (0.4 on the 0-255 scale, the official value).
        block_size: side M of the GSM coefficient vectors (3).
        orientations: steerable-pyramid bands used at every level (0 and 3 are the 0° and 90°
            bands, the official ``subbands = [4 7 ... 25]``; ``range(6)`` uses all six).
        levels: pyramid levels (4); the distortion-channel window at level ``l`` (0 finest) is
            ``2^(levels - l) + 1`` samples wide, as in the official code.
        quantize: round to 8-bit RGB and 8-bit grey as ``rgb2gray(imread(...))`` does
            (straight-through for gradients).
        color: ``"gray"`` (MATLAB ``rgb2gray``, as the published scores) or ``"y"`` (Y of
            ``rgb2ycbcr``).
    Images must be at least 72 px on each side for four levels (``maxPyrHt``).
    """
    check_pair(dist, ref, batched=True)
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    # the pyramid in float32 moves scores by < 1e-6 relative; the window moments (differences
    # of large sums) and the 9×9 solves need double precision
    work = torch.float64
    x = _gray_255(ref, quantize, torch.float32, color)
    y = _gray_255(dist, quantize, torch.float32, color)
    both = torch.cat([x, y], dim=0)
    pyr = steerable_pyramid(both, levels, orientations=orientations, highpass=False)
    b = x.shape[0]
    num = torch.zeros(b, dtype=work, device=x.device)
    den = torch.zeros_like(num)
    for level, band in enumerate(pyr.bands):
        win = 2 ** (levels - level) + 1
        band = band.to(work)
        n, d = _gsm_information(band[:b], band[b:], win, block_size, sigma_nsq)
        num = num + n
        den = den + d
    return (num / den).to(dist.dtype)


def vifp(dist: Tensor, ref: Tensor, *, sigma_nsq: float = 2.0, quantize: bool = True, color: str = "gray") -> Tensor:
    """Pixel-domain VIF of ``vifp_mscale.m`` per image: [B, C, H, W] pairs in [0, 1] -> [B].

    Four scales; at scale ``s`` (1..4) a Gaussian window of ``N = 2^(5-s) + 1`` taps and
    sigma ``N / 5`` ('valid' filtering), the image being low-passed with that window and
    decimated by two before scales 2-4.  Needs images of at least 41 px per side.
    Computed in float32 on images centred on the reference mean (the local moments are
    shift-invariant): scores agree with the double-precision original to ~1e-5 relative.
    ``quantize`` and ``color`` as in :func:`vif`.
    """
    check_pair(dist, ref, batched=True)
    if min(ref.shape[-2:]) < VIFP_MIN_SIZE:
        raise ValueError(f"vifp needs images of at least {VIFP_MIN_SIZE} px per side, got {tuple(ref.shape[-2:])}")
    x = _gray_255(ref, quantize, torch.float32, color)
    y = _gray_255(dist, quantize, torch.float32, color)
    centre = x.mean(dim=(-2, -1), keepdim=True)
    x, y = x - centre, y - centre
    num = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    den = torch.zeros_like(num)
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        k = gaussian_kernel1d(n, n / 5.0, dtype=x.dtype, device=x.device)
        if scale > 1:  # filter2(win, ., 'valid') then keep every other sample
            xy = _valid_filter(torch.cat([x, y], dim=1), k, stride=2)
            x, y = xy[:, :1], xy[:, 1:]
        m = _valid_filter(torch.cat([x, y, x * x, y * y, x * y], dim=1), k)
        mu_x, mu_y, exx, eyy, exy = m.double().unbind(1)
        var_x = exx - mu_x * mu_x
        var_y = eyy - mu_y * mu_y
        cov = exy - mu_x * mu_y
        g, sv, var_x = _distortion_channel(var_x, var_y, cov, tol=1e-10, norm=1.0)
        num = num + torch.log10(1 + g * g * var_x / (sv + sigma_nsq)).flatten(1).sum(1)
        den = den + torch.log10(1 + var_x / sigma_nsq).flatten(1).sum(1)
    return (num / den).to(dist.dtype)


def _valid_filter(t: Tensor, k: Tensor, stride: int = 1) -> Tensor:
    """Separable 'valid' correlation of every channel of ``t`` with ``outer(k, k)``, keeping
    every ``stride``-th output (depthwise convolutions)."""
    c = t.shape[1]
    t = F.conv2d(t, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), stride=(stride, 1), groups=c)
    return F.conv2d(t, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), stride=(1, stride), groups=c)
