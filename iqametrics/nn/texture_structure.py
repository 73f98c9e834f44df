"""The structure and texture statistics of DISTS (Ding et al., TPAMI 2020, Eqs. 6-7), shared with TFIQA.

For two feature maps ``x`` (distorted) and ``y`` (reference) of one channel, with means ``μ``,
population variances ``σ²`` and covariance ``σxy`` over the statistics dimensions, DISTS defines

    t = (2 μx μy + c1) / (μx² + μy² + c1)        (texture: compares the means)
    s = (2 σxy + c2) / (σx² + σy² + c2)          (structure: compares the correlations)

and the distance ``1 - Σ (α t + β s)`` with weights normalised to sum 1.  We return the
dissimilarities ``1 - t`` and ``1 - s`` written without the subtraction:

    1 - t = (μx - μy)² / (μx² + μy² + c1)
    1 - s = var(x - y) / (σx² + σy² + c2)       since var(x - y) = σx² + σy² - 2 σxy.

The two forms are equal in exact arithmetic; in single precision the second makes identical
inputs score exactly 0 (``x - y`` and ``μx - μy`` vanish) where the official code gives about
±1e-7, and with the moments clamped at 0 no dissimilarity is negative.  The moments are taken
as ``E[x²] - μ²`` in one pass each: ``torch.var_mean`` is several times slower on CPU, above
all on channels-last maps, and the official covariance ``E[xy] - μx μy`` has the same
cancellation.
"""
from __future__ import annotations

from typing import Sequence, Tuple, Union

from torch import Tensor

from .ops import squared_difference

__all__ = ["texture_structure_dissimilarity", "DISTS_C1", "DISTS_C2"]

DISTS_C1 = 1e-6
DISTS_C2 = 1e-6


def texture_structure_dissimilarity(
    x: Tensor,
    y: Tensor,
    dim: Union[int, Sequence[int]] = (2, 3),
    c1: float = DISTS_C1,
    c2: float = DISTS_C2,
) -> Tuple[Tensor, Tensor]:
    """``(1 - t, 1 - s)`` of DISTS for every position not in ``dim``.

    Args:
        x, y: tensors of the same shape, e.g. feature maps [B, C, H, W] (statistics over
            ``dim=(2, 3)``, one value per channel) or token embeddings [B, N, D] (``dim=-1``,
            one value per token, as TFIQA uses them).
        dim: the dimensions the means and (population) variances are taken over.
        c1, c2: the stabilising constants (1e-6 in DISTS).

    Returns:
        Two tensors with ``dim`` reduced: the texture and the structure dissimilarity, each
        in [0, 1] and [0, 2] respectively for non-negative inputs.
    """
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    dim = (dim,) if isinstance(dim, int) else tuple(dim)
    mean_x, mean_y = x.mean(dim), y.mean(dim)
    var_x = ((x * x).mean(dim) - mean_x.square()).clamp_min(0)
    var_y = ((y * y).mean(dim) - mean_y.square()).clamp_min(0)
    mean_diff = mean_x - mean_y
    var_diff = (squared_difference(x, y).mean(dim) - mean_diff.square()).clamp_min(0)
    texture = mean_diff.square() / (mean_x.square() + mean_y.square() + c1)
    structure = var_diff / (var_x + var_y + c2)
    return texture, structure
