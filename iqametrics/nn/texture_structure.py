"""DISTS (Ding et al., TPAMI 2020): the compared stages and the structure/texture statistics, shared with TFIQA.

:class:`DISTSStages` is what DISTS compares: the image itself, then VGG16's relu1_2 ... relu5_3 with
L2 pooling on the ImageNet-normalised image.  TFIQA (Zeng & Kwong) compares the same six stages
and adds its transformer layers; :func:`texture_structure_distance` is the weighted sum both use.

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

from typing import Iterable, Iterator, Sequence, Tuple, Union

import torch
from torch import Tensor

from .backbones import IMAGENET_MEAN, IMAGENET_STD, VGG16_TAPS, TappedFeatures, vgg16_layers
from .ops import squared_difference

__all__ = [
    "DISTSStages",
    "texture_structure_dissimilarity",
    "texture_structure_distance",
    "normalised_weights",
    "DISTS_C1",
    "DISTS_C2",
]

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


def normalised_weights(alpha: Tensor, beta: Tensor) -> Tuple[Tensor, Tensor]:
    """``α, β`` divided by their joint sum ``Σα + Σβ`` (DISTS's normalisation)."""
    total_weight = (alpha.sum() + beta.sum()).clamp_min(torch.finfo(alpha.dtype).tiny)
    return alpha / total_weight, beta / total_weight


def texture_structure_distance(
    pairs: Iterable[Tuple[Tensor, Tensor]], alpha: Tensor, beta: Tensor, sizes: Sequence[int]
) -> Tensor:
    """``Σ_k Σ_j α̂_kj (1 - t_kj) + β̂_kj (1 - s_kj)``, i.e. ``1 - Σ (α̂ t + β̂ s)``, per image.

    Args:
        pairs: for every stage ``k`` a pair of tensors [B, n_k, ...] (channels of a feature map
            [B, C, H, W], or tokens [B, N, D]); the moments are taken over every dimension after
            the second, so each of the ``n_k`` channels or tokens gets one ``t`` and one ``s``.
        alpha, beta: the weights [Σ n_k], in the stages' order; divided by their joint sum here
            (DISTS normalises in its forward pass, so identical inputs score exactly 0).
        sizes: ``n_k`` of every stage.

    Returns:
        [B] distances.
    """
    sizes = tuple(int(n) for n in sizes)
    alpha, beta = normalised_weights(alpha, beta)
    alphas, betas = alpha.split(sizes), beta.split(sizes)
    pairs = iter(pairs)
    total, stages = None, 0
    for a, b, (x, y) in zip(alphas, betas, pairs):
        texture, structure = texture_structure_dissimilarity(x, y, dim=tuple(range(2, x.dim())))
        if total is None:
            total = x.new_zeros(x.shape[0])
        total = total + (texture * a).sum(1) + (structure * b).sum(1)
        stages += 1
    if stages != len(sizes) or next(pairs, None) is not None:
        raise ValueError(f"{len(sizes)} stages are weighted but {stages if stages < len(sizes) else 'more'} were compared")
    return total


class DISTSStages(TappedFeatures):
    """The six stages DISTS compares, for images in [0, 1].

    Stage 0 is the image itself (not normalised); stages 1-5 are VGG16's relu1_2, relu2_2,
    relu3_3, relu4_3 and relu5_3 (64, 128, 256, 512, 512 channels) on the ImageNet-normalised
    image, every max-pool replaced by :class:`~iqametrics.nn.backbones.L2Pool2d`.  The parameters
    are torchvision's ``features.*`` (loaded from ImageNet checkpoints by the ``vgg16_features``
    converter); the normalisation constants are not state.
    """

    def __init__(self):
        super().__init__(vgg16_layers(pool="l2"), VGG16_TAPS)
        self.stage_channels = (3,) + tuple(self.channels)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def iter_stages(self, x: Tensor) -> Iterator[Tensor]:
        """The six maps, shallowest first, each as soon as it is computed (see :meth:`iter_taps`)."""
        yield x
        yield from self.iter_taps((x - self.mean) / self.std)
