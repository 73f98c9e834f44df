"""DISTS: Deep Image Structure and Texture Similarity (Ding et al., TPAMI 2020).

K. Ding, K. Ma, S. Wang, E. P. Simoncelli, "Image Quality Assessment: Unifying Structure and
Texture Similarity", IEEE TPAMI 44(5), 2022 (arXiv 2004.07728, 2020).  Official code:
dingkeyan93/DISTS (pip ``DISTS_pytorch`` 0.1, MIT).  Model card: ``docs/models/dists.md``.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor, nn

from ..config import metric_configs
from ..nn.texture_structure import DISTSStages, texture_structure_distance
from ..registry import register_metrics
from ._feature_distance import FeatureDistanceMetric

__all__ = ["DISTS"]


class DISTS(FeatureDistanceMetric):
    """DISTS distance (lower is better; 0 for identical images).

    Six stages are compared: the raw image in [0, 1] and VGG16's relu1_2, relu2_2, relu3_3,
    relu4_3 and relu5_3 computed on the ImageNet-normalised image, every max-pool replaced by
    an L2 pool (3×3 Hann taps, stride 2).  For every channel the texture term ``t`` compares
    the spatial means and the structure term ``s`` the correlation (``c1 = c2 = 1e-6``); with
    the learned non-negative weights ``α, β`` (1,475 each) normalised to sum 1,
    ``D = 1 - Σ (α t + β s) = Σ (α (1 - t) + β (1 - s))``.

    Departure from ``DISTS_pytorch`` (float rounding only, about 1e-7): the terms are summed as
    ``Σ α (1 - t) + β (1 - s)`` with ``1 - s = var(x - y) / (σx² + σy² + c2)`` (see
    :mod:`iqametrics.nn.texture_structure`), which is the same quantity without the
    cancellations, so identical images score exactly 0 and no score is negative.  The
    command-line script of the official repository resizes images whose shorter side exceeds
    256 px before scoring; its library call, which we follow, does not.
    Differentiable: ``create("dists", as_loss=True)`` gives gradients with respect to the images;
    the weights stay frozen.
    """

    converters = ("dists_official", "vgg16_features")

    def __init__(self, *, channels_last: bool = True, amp=None):
        super().__init__(DISTSStages(), channels_last=channels_last, amp=amp)
        self.stage_channels = self.backbone.stage_channels
        n = sum(self.stage_channels)
        # the official initialisation, replaced by the released weights in create()
        self.alpha = nn.Parameter(torch.empty(n).normal_(0.1, 0.01))
        self.beta = nn.Parameter(torch.empty(n).normal_(0.1, 0.01))
        self.freeze()

    def _feature_maps(self, x: Tensor) -> Iterator[Tensor]:
        return self.backbone.iter_stages(x)

    def _score(self, dist: Tensor, ref: Tensor) -> Tensor:
        alpha, beta = self.alpha.to(dist.dtype), self.beta.to(dist.dtype)
        return texture_structure_distance(self._feature_pairs(dist, ref), alpha, beta, self.stage_channels)

    def extra_repr(self) -> str:
        return f"channels_last={self.channels_last}"


# ----------------------------------------------------------------------------- registration
register_metrics(DISTS, metric_configs(
    dict(
        kind="FR",
        higher_is_better=False,
        score_range=(0.0, 1.0),
        paper="Ding et al., Image Quality Assessment: Unifying Structure and Texture Similarity, TPAMI 2020",
        licence="MIT (DISTS alpha/beta, bundled); backbone: torchvision ImageNet VGG16 weights (BSD-3-Clause)",
        differentiable=True,
    ),
    {"dists": dict(
        weights=("dists", "backbone.vgg16"),  # (the bundled alpha/beta head, the ImageNet backbone)
        description="DISTS structure and texture distance on VGG16 features (lower is better).",
        notes="Typically in [0, 1]; bounded by 2. Options: channels_last, amp.",
    )},
))
