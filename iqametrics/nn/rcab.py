"""Residual channel attention (RCAN, Zhang et al., ECCV 2018): channel attention, RCAB, residual group.

Two forms share one implementation:

* the map form of RCAN (``[B, C, H, W]`` features; body ``conv3×3 → ReLU → conv3×3``, group tail
  ``conv3×3``), built by :func:`rcab_2d` / :func:`residual_group_2d`;
* the vector form of VTAMIQ (Chubarau & Clark 2021, §3.3; ``[B, C]`` features, i.e. RCAN on a
  ``C×1×1`` map, where every 1×1 convolution is a linear layer; body ``PReLU → Linear``, PReLU
  inside the attention gate, group tail ``Linear``), built by :func:`rcab_vector` /
  :func:`residual_group_vector`.

The channel-attention gate pools its input to a ``[B, C]`` vector (global average pooling; the
identity for vectors) and runs the squeeze/excite layers as linear layers, so one
:class:`ChannelAttention` serves both forms.
"""
from __future__ import annotations

from typing import Callable, Sequence

from torch import Tensor, nn

__all__ = [
    "ChannelAttention",
    "ResidualChannelAttentionBlock",
    "ResidualGroup",
    "rcab_2d",
    "rcab_vector",
    "residual_group_2d",
    "residual_group_vector",
]


class ChannelAttention(nn.Module):
    """``x · sigmoid(up(act(down(pool(x)))))``: RCAN's CA / squeeze-and-excitation gate.

    ``down`` maps ``C → C // reduction`` and ``up`` back to ``C`` (the 1×1 convolutions of RCAN,
    stored as linear layers).  Works on ``[B, C]`` vectors and ``[B, C, H, W]`` maps.
    """

    def __init__(self, channels: int, reduction: int = 16, act: Callable[[], nn.Module] = nn.ReLU, bias: bool = True):
        super().__init__()
        if channels % reduction:
            raise ValueError(f"channels ({channels}) must be divisible by reduction ({reduction})")
        self.down = nn.Linear(channels, channels // reduction, bias=bias)
        self.act = act()
        self.up = nn.Linear(channels // reduction, channels, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        pooled = x.mean(dim=(-2, -1)) if x.dim() == 4 else x
        gate = self.up(self.act(self.down(pooled))).sigmoid()
        return x * (gate[..., None, None] if x.dim() == 4 else gate)


class ResidualChannelAttentionBlock(nn.Module):
    """RCAB: ``x + CA(body(x))``."""

    def __init__(self, body: nn.Module, attention: ChannelAttention):
        super().__init__()
        self.body = body
        self.attention = attention

    def forward(self, x: Tensor) -> Tensor:
        return x + self.attention(self.body(x))


class ResidualGroup(nn.Module):
    """RG: ``x + tail(RCAB_n(...RCAB_1(x)))``."""

    def __init__(self, blocks: Sequence[nn.Module], tail: nn.Module):
        super().__init__()
        self.blocks = nn.Sequential(*blocks)
        self.tail = tail

    def forward(self, x: Tensor) -> Tensor:
        return x + self.tail(self.blocks(x))


def rcab_2d(channels: int, reduction: int = 16, kernel_size: int = 3) -> ResidualChannelAttentionBlock:
    """RCAN's block on feature maps: ``conv → ReLU → conv``, then CA with ReLU."""
    pad = kernel_size // 2
    body = nn.Sequential(
        nn.Conv2d(channels, channels, kernel_size, padding=pad),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, kernel_size, padding=pad),
    )
    return ResidualChannelAttentionBlock(body, ChannelAttention(channels, reduction, nn.ReLU))


def residual_group_2d(channels: int, n_blocks: int, reduction: int = 16, kernel_size: int = 3) -> ResidualGroup:
    blocks = [rcab_2d(channels, reduction, kernel_size) for _ in range(n_blocks)]
    return ResidualGroup(blocks, nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2))


def rcab_vector(channels: int, reduction: int = 16) -> ResidualChannelAttentionBlock:
    """VTAMIQ's block on vectors: ``PReLU → Linear``, then CA with PReLU (one shared slope each)."""
    body = nn.Sequential(nn.PReLU(), nn.Linear(channels, channels))
    return ResidualChannelAttentionBlock(body, ChannelAttention(channels, reduction, nn.PReLU))


def residual_group_vector(channels: int, n_blocks: int, reduction: int = 16) -> ResidualGroup:
    blocks = [rcab_vector(channels, reduction) for _ in range(n_blocks)]
    return ResidualGroup(blocks, nn.Linear(channels, channels))
