"""MUSIQ's training loss on AVA: the earth mover's distance between score distributions."""
from __future__ import annotations

import math

import pytest
import torch

from iqametrics.train.losses import emd_loss


def test_emd_loss():
    p = torch.tensor([[1.0, 0.0], [0.25, 0.75]])
    q = torch.tensor([[0.0, 1.0], [0.25, 0.75]])
    # CDF gaps (1, 0): sqrt((1 + 0) / 2); identical distributions: 0
    torch.testing.assert_close(emd_loss(p, q, reduction="none"), torch.tensor([math.sqrt(0.5), 0.0]))
    torch.testing.assert_close(emd_loss(p, q, r=1, reduction="sum"), torch.tensor(0.5))
    logits = torch.randn(4, 10, requires_grad=True)
    target = torch.softmax(torch.randn(4, 10), -1)
    emd_loss(logits.softmax(-1), target).backward()
    same = logits.detach().softmax(-1).requires_grad_()
    emd_loss(same, same.detach()).backward()  # zero gap: the root's slope must not give NaN
    assert torch.isfinite(logits.grad).all() and torch.isfinite(same.grad).all()
    with pytest.raises(ValueError):
        emd_loss(p, q[:, :1])
