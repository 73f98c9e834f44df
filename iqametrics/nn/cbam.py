"""CBAM: Convolutional Block Attention Module (Woo et al., ECCV 2018, arXiv:1807.06521).

Channel gate then spatial gate, each multiplying the features by a sigmoid attention map:

* channel: ``M_c = σ(MLP(avgpool(F)) + MLP(maxpool(F)))`` with a shared MLP ``C → C/r → C`` (ReLU);
* spatial: ``M_s = σ(conv_k×k([mean_c(F'); max_c(F')]))``.

Defaults follow PyramidIQA's variant (Lyu 2025, code ``ukeSJTU/CS3324-IQA/ms_hyperIQA/models.py``):
``r = 16``, kernel 7, **no biases** in the MLP or the convolution and no BatchNorm after the
convolution (the original CBAM code has both); ``bias=True`` restores the biases.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["CBAM", "ChannelGate", "SpatialGate"]


class ChannelGate(nn.Module):
    def __init__(self, channels: int, reduction: int = 16, bias: bool = False):
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(f"channels and reduction must be positive, got {channels}, {reduction}")
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden, bias=bias), nn.ReLU(inplace=True), nn.Linear(hidden, channels, bias=bias)
        )

    def forward(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        # one MLP call on the stacked descriptors; the MLP is shared between the two
        pooled = self.mlp(torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))]))
        gate = torch.sigmoid(pooled[:b] + pooled[b:])
        return x * gate[:, :, None, None]


class SpatialGate(nn.Module):
    def __init__(self, kernel_size: int = 7, bias: bool = False):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        desc = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(desc))


class CBAM(nn.Module):
    """Channel then spatial attention on a [B, C, H, W] map; output has the input's shape."""

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7, bias: bool = False):
        super().__init__()
        self.channel = ChannelGate(channels, reduction, bias)
        self.spatial = SpatialGate(kernel_size, bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.spatial(self.channel(x))
