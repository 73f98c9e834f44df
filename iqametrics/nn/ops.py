"""Small tensor operations shared by several models."""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["squared_difference", "expected_score"]


def squared_difference(a: Tensor, b: Tensor) -> Tensor:
    """``(a - b) ** 2``, squared in place on the temporary ``a - b`` when autograd does not need
    it: one allocation and one pass fewer on the large early feature maps."""
    d = a - b
    if d.requires_grad and torch.is_grad_enabled():
        return d * d
    return d.mul_(d)


def expected_score(logits: Tensor) -> Tensor:
    """The mean ``Σ k·p_k`` (k = 1..K) of the softmax distribution over K ordered score bins, in
    float32: how NIMA (Talebi & Milanfar 2018) and the models trained like it (MUSIQ on AVA,
    TFIQA) turn a predicted rating histogram into one score.  ``logits`` [..., K] -> [...]."""
    probs = logits.float().softmax(dim=-1)
    bins = torch.arange(1, logits.shape[-1] + 1, dtype=probs.dtype, device=probs.device)
    return probs @ bins
