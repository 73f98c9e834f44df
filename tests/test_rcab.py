"""The residual channel-attention blocks (RCAN) of VTAMIQ's DiffNet: vector and map forms."""
from __future__ import annotations

import pytest
import torch

from iqametrics.nn.rcab import ChannelAttention, rcab_2d, rcab_vector, residual_group_2d, residual_group_vector


def test_rcab_vector_form_matches_the_authors_block():
    # VTAMIQ RCAB: PReLU -> 1×1 conv (768×768 + bias) -> CA (768->48->768, biases, PReLU)
    block = rcab_vector(768, 16)
    assert sum(p.numel() for p in block.parameters()) == 1 + 768 * 768 + 768 + (768 * 48 + 48) + 1 + (48 * 768 + 768)
    group = residual_group_vector(768, 4, 16)
    assert sum(p.numel() for p in group.parameters()) == 4 * 665_138 + 768 * 768 + 768
    torch.manual_seed(0)
    x = torch.randn(3, 768)
    z = block.body(x)
    gate = torch.sigmoid(block.attention.up(block.attention.act(block.attention.down(z))))
    assert torch.allclose(block(x), x + z * gate)
    assert torch.allclose(group(x), x + group.tail(group.blocks(x)))
    # the vector form is RCAN on a C×1×1 map: the same gate applied to a map gives the same numbers
    assert torch.allclose(block.attention(z[:, :, None, None])[:, :, 0, 0], block.attention(z))


def test_rcab_map_form():
    torch.manual_seed(0)
    x = torch.randn(2, 32, 9, 11)
    block = rcab_2d(32, 4)
    ca = block.attention
    z = block.body(x)
    gate = torch.sigmoid(ca.up(ca.act(ca.down(z.mean(dim=(2, 3))))))
    assert torch.allclose(block(x), x + z * gate[:, :, None, None])
    assert residual_group_2d(32, 2, 4)(x).shape == x.shape
    with pytest.raises(ValueError, match="divisible"):
        ChannelAttention(30, 16)
