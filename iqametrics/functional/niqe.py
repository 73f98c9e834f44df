"""NIQE: Natural Image Quality Evaluator (Mittal, Soundararajan & Bovik, IEEE SPL 2013).

Follows the official MATLAB release (``computequality.m``, ``computefeature.m``,
``estimateaggdparam.m``; LIVE, UT Austin) step by step:

1. ``rgb2gray`` of the uint8 image, in [0, 255]; crop to whole 96×96 blocks.
2. Two scales (the second ``imresize(im, 0.5)``, MATLAB bicubic with antialiasing): MSCN
   coefficients with the 7×7 Gaussian and ``imfilter(..., 'replicate')``; per block (96 px,
   then 48 px) 18 features: the AGGD fit of the coefficients (shape, mean of the two scales)
   and of their products with the 4 neighbours (``circshift`` *within the block*: shape, mean,
   left and right scale).
3. A multivariate Gaussian fitted to the block features (``nanmean``; ``nancov`` on the blocks
   without NaN features), and the distance to the pristine model:
   ``sqrt((mu_p - mu_d) pinv((cov_p + cov_d) / 2) (mu_p - mu_d)')``.

The sharpness of the blocks is computed by ``computequality.m`` but unused there (the
threshold only selects pristine blocks when training the model), so it is not computed here.
Blocks of all images of the batch are processed together; nothing loops over blocks.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ._bundled import bundled_params
from .nss import aggd_fit, gray_255, mscn, neighbour_products, per_image_on_cpu
from .resize import imresize

__all__ = ["niqe", "niqe_features", "NIQE_BLOCK", "NIQE_WEIGHTS_KEY"]

NIQE_BLOCK = 96
NIQE_WEIGHTS_KEY = "niqe"

# computefeature.m: neighbour shifts (right, down, down-right, down-left) for the paired products
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


def _blocks(x: Tensor, size: int) -> Tensor:
    """[B, 1, H, W] with H, W multiples of ``size`` -> [B, n_blocks, size, size] (row-major grid)."""
    b, _, h, w = x.shape
    x = x.reshape(b, h // size, size, w // size, size)
    return x.permute(0, 1, 3, 2, 4).reshape(b, -1, size, size)


def _block_features(structdis: Tensor, size: int) -> Tensor:
    """The 18 features of ``computefeature.m`` for every block: [B, n_blocks, 18]."""
    blocks = _blocks(structdis, size)
    lg = torch.lgamma
    alpha, left, right = aggd_fit(blocks.flatten(-2))
    scale = ((lg(1 / alpha) - lg(3 / alpha)).exp()).sqrt()
    feats = [alpha, (left + right) * scale / 2]
    for pair in neighbour_products(blocks, _SHIFTS):
        alpha, left, right = aggd_fit(pair.flatten(-2))
        scale = ((lg(1 / alpha) - lg(3 / alpha)).exp()).sqrt()
        beta_l, beta_r = left * scale, right * scale
        mean = (beta_r - beta_l) * (lg(2 / alpha) - lg(1 / alpha)).exp()
        feats += [alpha, mean, beta_l, beta_r]
    return torch.stack(feats, dim=-1)


def niqe_features(x: Tensor, *, block_size: int = NIQE_BLOCK, quantize: bool = True) -> Tensor:
    """Block features [B, n_blocks, 36] (18 per scale) of images [B, C, H, W] in [0, 1]."""
    if block_size % 2:
        raise ValueError(f"block_size must be even (the second scale halves it), got {block_size}")
    im = gray_255(x, quantize=quantize)
    h, w = im.shape[-2:]
    rows, cols = h // block_size, w // block_size
    if rows == 0 or cols == 0:
        raise ValueError(f"NIQE needs at least one {block_size}×{block_size} block; image is {w}×{h}")
    im = im[..., : rows * block_size, : cols * block_size]
    feats = []
    for scale in (1, 2):
        structdis = mscn(im, padding="replicate")
        feats.append(_block_features(structdis, block_size // scale))
        if scale == 1:
            im = imresize(im, 0.5)
    return torch.cat(feats, dim=-1)


def _nan_mean_cov(feats: Tensor):
    """MATLAB ``nanmean`` (per column) and ``nancov`` (rows with a NaN removed) of [B, N, D]."""
    valid = ~torch.isnan(feats)
    zeros = torch.zeros_like(feats)
    mu = torch.where(valid, feats, zeros).sum(1) / valid.sum(1)
    complete = valid.all(dim=-1, keepdim=True)  # [B, N, 1]
    n = complete.sum(1)  # [B, 1]
    f = torch.where(complete, feats, zeros)
    mu_c = f.sum(1) / n
    centred = torch.where(complete, f - mu_c[:, None], zeros)
    cov = centred.transpose(1, 2) @ centred / (n - 1).clamp(min=1)[..., None]
    if feats.shape[1] == 1:
        # one block: the features form a row vector, for which MATLAB's nancov returns the
        # variance of its 36 entries (a scalar added to every element of the pristine covariance)
        row = feats[:, 0]
        cov = row.var(dim=-1, unbiased=True)[:, None, None].expand_as(cov)
    return mu, cov


@per_image_on_cpu
def niqe(
    x: Tensor,
    mu_pris: Optional[Tensor] = None,
    cov_pris: Optional[Tensor] = None,
    *,
    block_size: int = NIQE_BLOCK,
    quantize: bool = True,
) -> Tensor:
    """NIQE score per image (lower is better) of ``x`` [B, C, H, W] in [0, 1].

    ``mu_pris`` [36] / ``cov_pris`` [36, 36] default to the pristine model of the official
    release (``modelparameters.mat``, bundled).  ``quantize`` reads the input as 8-bit, as the
    reference does.  Computed in float64; returns float64 [B].
    """
    if mu_pris is None or cov_pris is None:
        params = bundled_params(NIQE_WEIGHTS_KEY, x.device)
        mu_pris, cov_pris = params["mu_pris_param"], params["cov_pris_param"]
    mu_pris = mu_pris.to(x.device, torch.float64).reshape(-1)
    cov_pris = cov_pris.to(x.device, torch.float64)
    feats = niqe_features(x, block_size=block_size, quantize=quantize)
    mu, cov = _nan_mean_cov(feats)
    # an image with no measurable block (flat: every block's features NaN) has no NIQE; MATLAB's
    # pinv refuses its NaN matrix, and here it would fail the whole batch: it scores NaN alone
    measured = torch.isfinite(mu).all(-1) & torch.isfinite(cov).flatten(1).all(-1)
    score = torch.full((x.shape[0],), float("nan"), dtype=torch.float64, device=x.device)
    if measured.any():
        inv = torch.linalg.pinv((cov_pris + cov[measured]) / 2)
        d = (mu_pris - mu[measured]).unsqueeze(-1)
        score[measured] = (d.transpose(1, 2) @ inv @ d).reshape(-1).sqrt()
    return score
