"""LPIPS: Learned Perceptual Image Patch Similarity, v0.1 (Zhang et al., CVPR 2018).

R. Zhang, P. Isola, A. A. Efros, E. Shechtman, O. Wang, "The Unreasonable Effectiveness of Deep
Features as a Perceptual Metric", CVPR 2018.  Official code: richzhang/PerceptualSimilarity
(pip ``lpips`` 0.1.4, BSD-2-Clause).  Model card: ``docs/models/lpips.md``.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor, nn

from ..nn.backbones import LPIPS_SCALE, LPIPS_SHIFT, alexnet_features, squeezenet1_1_features, vgg16_features
from ..nn.ops import squared_difference
from ..config import metric_configs
from ..registry import register_metrics
from ._feature_distance import FeatureDistanceMetric

__all__ = ["LPIPS"]

# net -> (backbone builder, backbone converter, smallest image its deepest tap accepts)
_NETS = {
    "alex": (alexnet_features, "alexnet_features", (31, 31)),
    "vgg": (vgg16_features, "vgg16_features", (16, 16)),
    "squeeze": (squeezenet1_1_features, "squeezenet1_1_features", (17, 17)),
}
# lpips.ScalingLayer (LPIPS_SHIFT, LPIPS_SCALE) is applied after mapping [0, 1] to [-1, 1]
# lpips.normalize_tensor: f / (||f||_2 over channels + eps)
_UNIT_EPS = 1e-10


def _unit_normalise(f: Tensor) -> Tensor:
    return f / (torch.linalg.vector_norm(f, dim=1, keepdim=True) + _UNIT_EPS)


class LPIPS(FeatureDistanceMetric):
    """LPIPS v0.1 distance (lower is better; 0 for identical images).

    For every tapped layer ``l`` of an ImageNet backbone, the activations of both images are
    unit-normalised along the channels (``f / (||f|| + 1e-10)``), their squared difference is
    weighted per channel by the non-negative v0.1 linear head ``w_l`` and averaged over space;
    the layers are summed.  The input is mapped from [0, 1] to [-1, 1] and then shifted and
    scaled by the official ScalingLayer constants.

    ``net``: ``"alex"`` (default, as in the official package), ``"vgg"`` or ``"squeeze"``; each is
    its own registered name (``lpips``, ``lpips.vgg``, ``lpips.squeeze``).

    Departures from the ``lpips`` package (none changes the score beyond float rounding,
    about 1e-7 relative): the channel weighting is applied after the spatial mean instead of
    before it (the same linear map, on C numbers instead of a C×H×W map); ``spatial=True`` maps, ``lpips=False`` (unweighted) and the buggy
    v0.0 are not offered.  Differentiable: ``create("lpips", as_loss=True)`` gives gradients with
    respect to the images; the weights stay frozen.
    """

    def __init__(self, net: str = "alex", *, channels_last: bool = True, amp=None, variant=None):
        if net not in _NETS:
            raise ValueError(f"net must be one of {sorted(_NETS)}, got {net!r}")
        build, backbone_converter, self.min_size = _NETS[net]
        super().__init__(build(), channels_last=channels_last, amp=amp, variant=variant, variant_args={"net": net})
        self.net = net
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in self.backbone.channels)
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1), persistent=False)
        self.converters = ("lpips_official", backbone_converter)
        self.freeze()

    def _feature_maps(self, x: Tensor) -> Iterator[Tensor]:
        return self.backbone.iter_taps(((2 * x - 1) - self.shift) / self.scale)

    def _score(self, dist: Tensor, ref: Tensor) -> Tensor:
        total = dist.new_zeros(dist.shape[0])
        for lin, (fd, fr) in zip(self.lins, self._feature_pairs(dist, ref)):
            per_channel = squared_difference(_unit_normalise(fd), _unit_normalise(fr)).mean(dim=(2, 3))
            total = total + (per_channel * lin.weight.reshape(1, -1).to(per_channel.dtype)).sum(1)
        return total

    def extra_repr(self) -> str:
        return f"net={self.net!r}, channels_last={self.channels_last}"


# ----------------------------------------------------------------------------- registration
_DESCRIPTION = "LPIPS v0.1 perceptual distance, {} backbone (lower is better)."

register_metrics(LPIPS, metric_configs(
    dict(
        kind="FR",
        higher_is_better=False,
        score_range=(0.0, 1.0),
        paper="Zhang et al., The Unreasonable Effectiveness of Deep Features as a Perceptual Metric, CVPR 2018",
        licence="BSD-2-Clause (LPIPS v0.1 heads, bundled); backbone: torchvision ImageNet weights (BSD-3-Clause)",
        differentiable=True,
        notes="Typically in [0, 1]; larger values are possible. Options: channels_last, amp.",
    ),
    {
        # weights: (the bundled v0.1 head, the ImageNet backbone)
        "lpips.alex": dict(weights=("lpips.alex", "backbone.alexnet"), variant_args=dict(net="alex"),
                           description=_DESCRIPTION.format("AlexNet")),
        "lpips.vgg": dict(weights=("lpips.vgg", "backbone.vgg16"), variant_args=dict(net="vgg"),
                          description=_DESCRIPTION.format("VGG16")),
        "lpips.squeeze": dict(weights=("lpips.squeeze", "backbone.squeezenet1_1"), variant_args=dict(net="squeeze"),
                              description=_DESCRIPTION.format("SqueezeNet 1.1")),
    },
))
