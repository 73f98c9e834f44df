"""HyperIQA's hyper network head and target network (Su et al., CVPR 2020, "Blindly Assess Image
Quality in the Wild Guided by a Self-Adaptive Hyper Network"; code ``SSL92/hyperIQA/models.py``).

:class:`HyperNetHead` turns a content feature map ``[N, C, s, s]`` into the weights and biases of a
small per-sample MLP (the *target network*): the weights of every layer but the last come from a
3×3 convolution whose output ``[N, f_in·f_out/s², s, s]`` is read row-major as ``[N, f_out, f_in]``;
the last layer's weights and every bias come from linear maps of the globally averaged features.
:func:`target_net` runs that MLP on a batch of input vectors (sigmoid after every layer but the
last).  The official code does this with grouped 1×1 convolutions; a batched matrix product is the
same arithmetic.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["HyperNetHead", "target_net"]


class HyperNetHead(nn.Module):
    """Generates target-network parameters from a feature map.

    Args:
        in_channels: channels ``C`` of the feature map (HyperIQA: 112).
        layer_sizes: target-network widths, input first, output last
            (HyperIQA: ``(224, 112, 56, 28, 14, 1)``).
        feature_size: spatial side ``s`` of the feature map (HyperIQA: 7); every
            ``f_in · f_out`` of the convolution-generated layers must be divisible by ``s²``.
    """

    def __init__(self, in_channels: int = 112, layer_sizes: Sequence[int] = (224, 112, 56, 28, 14, 1), feature_size: int = 7):
        super().__init__()
        sizes = [int(n) for n in layer_sizes]
        if len(sizes) < 2:
            raise ValueError("layer_sizes needs at least an input and an output size")
        cells = feature_size * feature_size
        for f_in, f_out in zip(sizes[:-2], sizes[1:-1]):
            if (f_in * f_out) % cells:
                raise ValueError(f"a {f_in}→{f_out} target layer has {f_in * f_out} weights, not divisible by {feature_size}²")
        self.layer_sizes = tuple(sizes)
        self.feature_size = feature_size
        self.weight_convs = nn.ModuleList(
            nn.Conv2d(in_channels, f_in * f_out // cells, 3, padding=1) for f_in, f_out in zip(sizes[:-2], sizes[1:-1])
        )
        self.weight_fc = nn.Linear(in_channels, sizes[-2] * sizes[-1])
        self.bias_fcs = nn.ModuleList(nn.Linear(in_channels, f_out) for f_out in sizes[1:])

    def forward(self, feat: Tensor) -> Tuple[List[Tensor], List[Tensor]]:
        """``feat [N, C, s, s]`` -> (weights ``[N, f_out, f_in]`` per layer, biases ``[N, f_out]`` per layer)."""
        s = self.feature_size
        if feat.shape[-2:] != (s, s):
            raise ValueError(f"HyperNetHead expects {s}×{s} feature maps, got {tuple(feat.shape[-2:])}")
        n = feat.shape[0]
        sizes = self.layer_sizes
        pooled = feat.mean(dim=(2, 3))
        weights = [
            conv(feat).reshape(n, f_out, f_in) for conv, f_in, f_out in zip(self.weight_convs, sizes[:-2], sizes[1:-1])
        ]
        weights.append(self.weight_fc(pooled).reshape(n, sizes[-1], sizes[-2]))
        biases = [fc(pooled) for fc in self.bias_fcs]
        return weights, biases


def target_net(
    x: Tensor, weights: Sequence[Tensor], biases: Sequence[Tensor], *, dropout: float = 0.0, training: bool = False
) -> Tensor:
    """Per-sample MLP: ``x [N, f_0]`` through layers ``(weights[i], biases[i])``; sigmoid after every
    layer but the last.  ``dropout`` (PyramidIQA: 0.5) follows the first sigmoid, active only when
    ``training``.  Returns ``[N, f_last]`` squeezed to ``[N]`` when the output size is 1.
    """
    h = x.unsqueeze(1)
    last = len(weights) - 1
    for i, (w, b) in enumerate(zip(weights, biases)):
        h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        if i < last:
            h = torch.sigmoid(h)
            if i == 0 and dropout > 0:
                h = F.dropout(h, dropout, training)
    h = h.squeeze(1)
    return h.squeeze(1) if h.shape[1] == 1 else h
