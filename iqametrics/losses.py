"""Training losses of the papers implemented in iqametrics.

Each loss is a plain function on prediction and target tensors of shape [B]; the training
subpackage (:mod:`iqametrics.train`) combines them into recipes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "vtamiq_rank_loss",
    "vtamiq_pearson_loss",
    "vtamiq_loss",
    "vtamiq_preference_probability",
    "vtamiq_pairwise_loss",
]


# ----------------------------------------------------------------------------- VTAMIQ
# Chubarau & Clark 2021, §3.4 (Eq. 5) and the authors' training code (run_main.py, c67f036).
# Predictions and targets are distortion levels (0 = no distortion), as VTAMIQ outputs them.


def _check_pair(pred: Tensor, target: Tensor) -> None:
    if pred.dim() != 1 or pred.shape != target.shape:
        raise ValueError(
            f"pred and target must be 1-D of the same length, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )


def vtamiq_rank_loss(pred: Tensor, target: Tensor, eps: float = 1e-6, normalise_by_pred: bool = False) -> Tensor:
    """Pairwise rank loss averaged over the C(B, 2) pairs of the batch (paper Eq. 5).

    ``ℓ_ij = max(0, −(y_i − y_j)(q_i − q_j) / (|y_i − y_j| + eps))`` for predictions ``q`` and
    targets ``y``: zero when a pair is ordered as its targets, ``|q_i − q_j|`` otherwise.  The
    authors' code also divides each term by ``max(|q_i|, |q_j|)`` (``normalise_by_pred=True``).
    A batch of one image has no pairs: the loss is 0.
    """
    _check_pair(pred, target)
    if pred.numel() < 2:
        return pred.sum() * 0.0
    i, j = torch.triu_indices(pred.numel(), pred.numel(), offset=1, device=pred.device)
    dy = target[i] - target[j]
    loss = torch.clamp_min(-dy * (pred[i] - pred[j]) / (dy.abs() + eps), 0.0)
    if normalise_by_pred:
        loss = loss / torch.maximum(pred[i].abs(), pred[j].abs())
    return loss.mean()


def vtamiq_pearson_loss(pred: Tensor, target: Tensor, eps: float = 1e-6) -> Tensor:
    """``1 − clamp(r, 0, 1)`` with Pearson's r of the batch (the authors' code, weight 0.2)."""
    _check_pair(pred, target)
    p = pred - pred.mean()
    t = target - target.mean()
    r = torch.dot(p / (p.norm() + eps), t / (t.norm() + eps))
    return 1.0 - r.clamp(0.0, 1.0)


def vtamiq_loss(pred: Tensor, target: Tensor, variant: str = "paper", mae_weight: float = 1.0) -> Tensor:
    """VTAMIQ's training loss.

    ``"paper"``: ``MAE + rank`` (simple sum, §3.4).  ``"code"`` (c67f036 ``loss_func``):
    ``(w·MAE + rank/max|q| + 0.2·(1 − r)) / (w + 1.2)`` with ``w = mae_weight``, which the authors
    decay by ×0.975 per epoch.
    """
    if variant == "paper":
        return F.l1_loss(pred, target) + vtamiq_rank_loss(pred, target)
    if variant == "code":
        total = (
            mae_weight * F.l1_loss(pred, target)
            + vtamiq_rank_loss(pred, target, normalise_by_pred=True)
            + 0.2 * vtamiq_pearson_loss(pred, target)
        )
        return total / (mae_weight + 1.2)
    raise ValueError(f"variant must be 'paper' or 'code', got {variant!r}")


def vtamiq_preference_probability(q_a: Tensor, q_b: Tensor) -> Tensor:
    """PieAPP-style probability that A is preferred to B from distortion levels: ``1 / (1 + e^(q_A − q_B))``."""
    return torch.sigmoid(q_b - q_a)


def vtamiq_pairwise_loss(q_a: Tensor, q_b: Tensor, prob_a: Tensor) -> Tensor:
    """MSE between the predicted and the human preference probability of A (PieAPP stage, 2022 code)."""
    return F.mse_loss(vtamiq_preference_probability(q_a, q_b), prob_a)
