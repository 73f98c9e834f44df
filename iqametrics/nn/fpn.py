"""Feature pyramid network (Lin et al., CVPR 2017, arXiv:1612.03144): lateral 1×1 convolutions,
a top-down path that adds each upsampled coarser level to the next finer lateral, and a 3×3
smoothing convolution on every merged level.

Defaults follow PyramidIQA (code ``ukeSJTU/CS3324-IQA/ms_hyperIQA/models.py``): the coarser map is
resized **bilinearly to the exact size** of the finer one (``align_corners=False``) where the
original FPN uses nearest ×2 upsampling (``upsample="nearest"``), every level is smoothed, the
coarsest included, and there is no activation.  Convolutions have biases and PyTorch's default
initialisation; models apply their own.
"""
from __future__ import annotations

from typing import List, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FPN"]


class FPN(nn.Module):
    """``FPN(in_channels)(features) -> levels``: features and levels ordered fine to coarse.

    Args:
        in_channels: channels of each input level, finest first (e.g. ResNet layer2/3/4).
        out_channels: common width of the output levels.
        upsample: ``"bilinear"`` (to the exact size) or ``"nearest"``.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int = 256, upsample: str = "bilinear"):
        super().__init__()
        if len(in_channels) < 1:
            raise ValueError("FPN needs at least one input level")
        if upsample not in ("bilinear", "nearest"):
            raise ValueError(f"upsample must be 'bilinear' or 'nearest', got {upsample!r}")
        self.upsample = upsample
        self.laterals = nn.ModuleList(nn.Conv2d(c, out_channels, 1) for c in in_channels)
        self.smooth = nn.ModuleList(nn.Conv2d(out_channels, out_channels, 3, padding=1) for _ in in_channels)

    def _up(self, x: Tensor, like: Tensor) -> Tensor:
        if self.upsample == "bilinear":
            return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)
        return F.interpolate(x, size=like.shape[-2:], mode="nearest")

    def forward(self, features: Sequence[Tensor]) -> List[Tensor]:
        if len(features) != len(self.laterals):
            raise ValueError(f"FPN built for {len(self.laterals)} levels, got {len(features)}")
        merged = [self.laterals[-1](features[-1])]
        for lateral, feat in zip(reversed(self.laterals[:-1]), reversed(features[:-1])):
            lat = lateral(feat)
            merged.insert(0, self._up(merged[0], lat) + lat)
        return [smooth(p) for smooth, p in zip(self.smooth, merged)]
