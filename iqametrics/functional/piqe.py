"""PIQE: Perception-based Image Quality Evaluator (Venkatanath et al., NCC 2015).

Follows MATLAB's ``piqe`` (Image Processing Toolbox), the implementation the official scores
come from:

1. Pad the image to whole 16×16 blocks (``padarray(..., 'replicate', 'post')``), ``rgb2gray`` of
   the uint8 image, ``round(255 * im2double(.))``.
2. MSCN coefficients with the 7×7 Gaussian (sigma 7/6, ``'replicate'`` padding), ``C = 1``.
3. Per 16×16 block: the variance of its coefficients; blocks with variance > 0.1 are active.
   An active block shows a *noticeable artefact* when one of the 11 six-pixel segments of one
   of its four edges has a standard deviation < 0.1, and *noise* when
   ``sigma > 2 |sigma - r| / max(sigma, r)``, ``r`` being the ratio of the standard deviation of
   the two centre columns to that of the surround.  Its distortion is ``1 - var`` (artefact)
   plus ``var`` (noise).
4. ``score = 100 (sum of distortions + 1) / (number of active blocks + 1)`` (0 best, 100 worst).

MATLAB's surround is the block without columns 8 and 10 (1-based): it deletes column 8 and
then column 9 *of the shortened block*; that quirk is kept.  All blocks of all images are
processed at once.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .filters import pad
from .nss import gray_255, mscn, per_image_on_cpu, round_half_up

__all__ = ["piqe", "piqe_blocks", "edge_impaired", "centre_surround_ratio", "PIQEBlocks", "PIQE_BLOCK"]

PIQE_BLOCK = 16
_ACTIVITY_THRESHOLD = 0.1
_IMPAIRED_THRESHOLD = 0.1
_SEGMENT = 6


class PIQEBlocks(NamedTuple):
    """Block-level results [B, rows, cols] (the masks of MATLAB's ``piqe`` at block resolution)."""

    variance: Tensor
    active: Tensor
    artefact: Tensor
    noise: Tensor


def _std(x: Tensor, dim: int = -1) -> Tensor:
    return x.std(dim=dim, unbiased=True)


def piqe_blocks(x: Tensor, *, quantize: bool = True) -> PIQEBlocks:
    """Per-block variance, activity, noticeable-artefact and noise flags of ``x`` [B, C, H, W]."""
    b, _, h, w = x.shape
    n = PIQE_BLOCK
    pads = (0, (-w) % n, 0, (-h) % n)  # left, right, top, bottom: MATLAB pads after the image
    gray = gray_255(pad(x, pads, "replicate"), quantize=quantize)
    if not quantize:  # MATLAB rounds the grey image in every case: round(255 * im2double(I))
        gray = round_half_up(gray)
    imnorm = mscn(gray, padding="replicate")
    rows, cols = imnorm.shape[-2] // n, imnorm.shape[-1] // n
    blocks = imnorm.reshape(b, rows, n, cols, n).permute(0, 1, 3, 2, 4)  # [B, r, c, 16, 16]

    # per-column sums of the coefficients and of their squares give, in one pass, the block
    # variance and the centre/surround deviations (one-pass variances: the coefficients are O(1))
    col_s1 = blocks.sum(dim=-2)
    col_s2 = (blocks * blocks).sum(dim=-2)
    var = _var_from_sums(col_s1.sum(dim=-1), col_s2.sum(dim=-1), n * n)
    active = var > _ACTIVITY_THRESHOLD
    sigma = var.sqrt()
    ratio = centre_surround_ratio(col_s1, col_s2, n)
    beta = (sigma - ratio).abs() / torch.maximum(sigma, ratio)
    noise = sigma > 2 * beta
    return PIQEBlocks(var, active, edge_impaired(blocks) & active, noise & active)


def edge_impaired(blocks: Tensor) -> Tensor:
    """Noticeable-artefact test of [..., 16, 16] blocks: one of the 11 sliding 6-pixel segments
    of one of the four edges has a standard deviation below 0.1."""
    n = blocks.shape[-1]
    edges = torch.stack(
        (blocks[..., 0, :], blocks[..., :, n - 1], blocks[..., n - 1, :], blocks[..., :, 0]), dim=-2
    )  # [..., 4, 16]
    segments = edges.unfold(-1, _SEGMENT, 1)  # [..., 4, 11, 6]
    return (_std(segments) < _IMPAIRED_THRESHOLD).flatten(-2).any(dim=-1)


def _var_from_sums(s1: Tensor, s2: Tensor, count: int) -> Tensor:
    return ((s2 - s1 * s1 / count) / (count - 1)).clamp(min=0)


def centre_surround_ratio(col_s1: Tensor, col_s2: Tensor, n: int = PIQE_BLOCK) -> Tensor:
    """std(centre columns 8, 9) / std(surround) of blocks, from per-column sums [..., n] of the
    coefficients and of their squares (1-based columns).

    The surround is what MATLAB's ``Block(:,8) = []; Block(:,9) = []`` leaves: columns 8 and 10
    of the original block are removed.  0/0 gives 0, as MATLAB's NaN check.
    """
    centre = _var_from_sums(col_s1[..., 7] + col_s1[..., 8], col_s2[..., 7] + col_s2[..., 8], 2 * n)
    drop_s1 = col_s1[..., 7] + col_s1[..., 9]
    drop_s2 = col_s2[..., 7] + col_s2[..., 9]
    surround = _var_from_sums(col_s1.sum(-1) - drop_s1, col_s2.sum(-1) - drop_s2, n * (n - 2))
    ratio = (centre / surround).sqrt()
    return torch.where(torch.isnan(ratio), torch.zeros_like(ratio), ratio)


@per_image_on_cpu
def piqe(x: Tensor, *, quantize: bool = True) -> Tensor:
    """PIQE score per image (0 best, 100 worst) of ``x`` [B, C, H, W] in [0, 1]; float64 [B]."""
    blk = piqe_blocks(x, quantize=quantize)
    dist = blk.artefact * (1 - blk.variance) + blk.noise * blk.variance
    n_active = blk.active.flatten(1).sum(dim=1)
    return 100 * (dist.flatten(1).sum(dim=1) + 1) / (n_active + 1)
