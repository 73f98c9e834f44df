"""Losses of the two-step 2AFC training of PRFNet (reconstruction, ``MODELS.md`` §6.3 [R]).

The paper (Wu et al., arXiv:2401.06992) says only that PRFNet is trained "first as classification,
then as regression"; the losses below are the reconstruction's reading of it:

* step 1, :func:`two_afc_classification_loss`: cross-entropy of the 2-way head (class 0 = A is
  closer, CLIC's ``T = 0``) against the label;
* step 2, :func:`two_afc_regression_loss`: mean squared error between ``σ(z)`` of the 1-logit head
  and the target probability that A is closer.

Targets are ``p_a``, the fraction of judges who chose A (0 or 1 for CLIC's hard oracle labels;
:class:`~iqametrics.train.data.records.TripletRecord` stores it under that name).  Note that
CLIC's ``T`` is ``1 − p_a``.  Pure functions: a scalar that keeps the graph.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["two_afc_classification_loss", "two_afc_regression_loss"]


def _targets(p_a: Tensor, n: int, like: Tensor) -> Tensor:
    p_a = p_a.reshape(-1).to(like.dtype)
    if p_a.numel() != n:
        raise ValueError(f"got {p_a.numel()} targets for {n} predictions")
    if torch.any((p_a < 0) | (p_a > 1)) or torch.any(torch.isnan(p_a)):
        raise ValueError("targets must be probabilities in [0, 1] (the fraction of judges choosing A)")
    return p_a


def two_afc_classification_loss(logits: Tensor, p_a: Tensor) -> Tensor:
    """Step 1: cross-entropy of [N, 2] logits (class 0: A is closer) with soft targets
    ``(p_a, 1 − p_a)``; for 0/1 labels, the usual cross-entropy with class ``T = 1 − p_a``."""
    if logits.dim() != 2 or logits.shape[1] != 2:
        raise ValueError(f"expected [N, 2] logits (class 0: A is closer), got shape {tuple(logits.shape)}")
    target = _targets(p_a, logits.shape[0], logits)
    log_p = F.log_softmax(logits, dim=1)
    return -(target * log_p[:, 0] + (1 - target) * log_p[:, 1]).mean()


def two_afc_regression_loss(logit: Tensor, p_a: Tensor) -> Tensor:
    """Step 2: ``mean (σ(z) − p_a)²`` for one logit per triplet ([N] or [N, 1])."""
    z = logit.reshape(-1)
    target = _targets(p_a, z.numel(), z)
    return F.mse_loss(torch.sigmoid(z), target)
