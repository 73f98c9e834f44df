"""Training losses from the IQA papers (pure functions on tensors).

Each function is self-contained; the training subpackage (``iqametrics.train``) builds on them.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["emd_loss"]


def emd_loss(pred: Tensor, target: Tensor, r: float = 2.0, reduction: str = "mean") -> Tensor:
    """Earth mover's distance between score distributions over ordered bins.

    ``EMD(p, p̂) = ((1/N) Σ_{m=1}^{N} |CDF_p(m) − CDF_p̂(m)|^r)^(1/r)`` with ``CDF_p(m) = Σ_{i≤m} p_i``:
    Talebi & Milanfar, "NIMA: Neural Image Assessment", TIP 2018, eq. 1; MUSIQ (Ke et al., ICCV
    2021, eq. 3) trains its AVA model with ``r = 2`` on 10 bins.

    Args:
        pred, target: [..., N] distributions (each sums to 1 over the last dimension; ``pred`` is
            typically a softmax output).
        r: the norm (2 in NIMA and MUSIQ).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` over the leading dimensions.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    if pred.dim() < 1 or pred.shape[-1] < 1:
        raise ValueError(f"distributions need a bin dimension, got shape {tuple(pred.shape)}")
    if r <= 0:
        raise ValueError(f"r must be positive, got {r}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    gap = (pred.cumsum(-1) - target.cumsum(-1)).abs().pow(r).mean(-1)
    # the r-th root has an infinite slope at 0: keep the gradient finite when pred == target
    positive = gap > 0
    loss = torch.where(positive, torch.where(positive, gap, torch.ones_like(gap)).pow(1.0 / r), torch.zeros_like(gap))
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
