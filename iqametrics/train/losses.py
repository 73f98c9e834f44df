"""Training losses of the papers, as pure torch functions.

Every function takes predictions and targets of shape [N] (or [N, 1]) and returns a scalar tensor
that keeps the graph.  Each states the paper and the code it follows.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "emd_loss",
    "l1_loss",
    "l1_plcc_loss",
    "batch_pearson",
    "pyramidiqa_rank_loss",
    "pairwise_rank_loss_eq13",
    "pyramidiqa_loss",
    "vtamiq_rank_loss",
    "vtamiq_pearson_loss",
    "vtamiq_loss",
    "vtamiq_preference_probability",
    "vtamiq_pairwise_loss",
    "two_afc_classification_loss",
    "two_afc_regression_loss",
    "fr_label_from_mos",
    "tfiqa_fr_loss",
    "tfiqa_nr_loss",
    "tfiqa_uni_loss",
]


def _flat_pair(pred: Tensor, target: Tensor):
    pred, target = pred.reshape(-1), target.reshape(-1).to(pred.dtype)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same number of elements, got {pred.numel()} and {target.numel()}")
    return pred, target


# ----------------------------------------------------------------------------- HyperIQA / PyramidIQA
def l1_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error ``mean |q − y|``: HyperIQA's training loss (Su et al. 2020; ``SSL92/hyperIQA``
    ``HyerIQASolver.py``, ``torch.nn.L1Loss``) and PyramidIQA's Eq. (12)."""
    pred, target = _flat_pair(pred, target)
    return F.l1_loss(pred, target)


# ----------------------------------------------------------------------------- LiteIQA (iqametrics' own)
def l1_plcc_loss(pred: Tensor, target: Tensor, l1_scale: float = 1.0, plcc_weight: float = 1.0) -> Tensor:
    """``mean |q − y| / l1_scale + plcc_weight · (1 − r)``, r the batch's Pearson correlation.

    LiteIQA's fine-tuning loss (docs/models/liteiqa.md): the L1 term keeps the scores on the MOS
    scale, the correlation term asks for the ranking and linearity that SRCC/PLCC measure (as in
    VTAMIQ's and many NR models' losses).  ``l1_scale`` (the spread of the training MOS, e.g. their
    standard deviation) puts the two terms on the same footing.
    """
    if not l1_scale > 0:
        raise ValueError(f"l1_scale must be positive, got {l1_scale}")
    return l1_loss(pred, target) / l1_scale + plcc_weight * (1.0 - batch_pearson(pred, target))


def pyramidiqa_rank_loss(pred: Tensor, target: Tensor, margin: float = 0.5, min_gap: float = 0.1) -> Tensor:
    """Margin ranking hinge over all ordered pairs of a batch, as PyramidIQA's code implements it
    (``ukeSJTU/CS3324-IQA/ms_hyperIQA/train.py``, ``rank_loss``)::

        L = Σ_{i≠j} m_ij · max(0, margin − sign(y_i − y_j) · (q_i − q_j)) / Σ m_ij,   m_ij = [|y_i − y_j| > min_gap]

    ``margin`` and ``min_gap`` are in label units (the code's 0.5 and 0.1 are for 0–100 MOS; scale
    them with the labels).  Zero (with a graph) when the batch has no pair farther apart than ``min_gap``.
    The report's Eq. (13) is a different formula: :func:`pairwise_rank_loss_eq13`.
    """
    pred, target = _flat_pair(pred, target)
    dq = pred[:, None] - pred[None, :]
    dy = target[:, None] - target[None, :]
    mask = (dy.abs() > min_gap).to(pred.dtype)
    hinge = F.relu(margin - torch.sign(dy) * dq) * mask
    return hinge.sum() / mask.sum().clamp(min=1.0)


def pairwise_rank_loss_eq13(pred: Tensor, target: Tensor) -> Tensor:
    """PyramidIQA report, Eq. (13) (from the course handout; not what its code trains with)::

        L = 1/M Σ_{i<j} max(0, |q_i − q_j| − sign(q_i − q_j) · (y_i − y_j)),   M = N(N − 1)/2

    It vanishes when each predicted pair is ordered like its labels and no farther apart than they are.
    Zero for a batch of one.
    """
    pred, target = _flat_pair(pred, target)
    n = pred.numel()
    dq = pred[:, None] - pred[None, :]
    dy = target[:, None] - target[None, :]
    terms = F.relu(dq.abs() - torch.sign(dq) * dy)
    upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=pred.device), diagonal=1)
    return (terms * upper).sum() / max(1, n * (n - 1) // 2)


def pyramidiqa_loss(pred: Tensor, target: Tensor, rank_weight: float = 0.3, rank: str = "code", **rank_options) -> Tensor:
    """PyramidIQA's total loss, Eq. (14): ``L1 + λ · L_rank`` with ``λ = 0.3``.

    ``rank="code"`` uses :func:`pyramidiqa_rank_loss` (what the author trained with; ``margin`` and
    ``min_gap`` may be passed), ``rank="eq13"`` the report's :func:`pairwise_rank_loss_eq13`.
    """
    if rank == "code":
        rank_term = pyramidiqa_rank_loss(pred, target, **rank_options)
    elif rank == "eq13":
        if rank_options:
            raise TypeError(f"the Eq. (13) rank loss takes no options, got {sorted(rank_options)}")
        rank_term = pairwise_rank_loss_eq13(pred, target)
    else:
        raise ValueError(f"rank must be 'code' or 'eq13', got {rank!r}")
    return l1_loss(pred, target) + rank_weight * rank_term


# ----------------------------------------------------------------------------- VTAMIQ
# Chubarau & Clark 2021, §3.4 (Eq. 5) and the authors' training code (run_main.py, c67f036).
# Predictions and targets are distortion levels (0 = no distortion), as VTAMIQ outputs them.


def vtamiq_rank_loss(pred: Tensor, target: Tensor, eps: float = 1e-6, normalise_by_pred: bool = False) -> Tensor:
    """Pairwise rank loss averaged over the C(B, 2) pairs of the batch (paper Eq. 5).

    ``ℓ_ij = max(0, −(y_i − y_j)(q_i − q_j) / (|y_i − y_j| + eps))`` for predictions ``q`` and
    targets ``y``: zero when a pair is ordered as its targets, ``|q_i − q_j|`` otherwise.  The
    authors' code also divides each term by ``max(|q_i|, |q_j|)`` (``normalise_by_pred=True``);
    here that divisor is at least ``eps``, so two predictions of 0 give a finite term (0, as they
    are tied) and finite gradients where the authors' code gives NaN (0/0).  Elsewhere (divisor
    ≥ eps) the two agree exactly.  Near 0 the normalised term's gradient grows as 1/max(|q|, eps).
    A batch of one image has no pairs: the loss is 0.
    """
    pred, target = _flat_pair(pred, target)
    if pred.numel() < 2:
        return pred.sum() * 0.0
    i, j = torch.triu_indices(pred.numel(), pred.numel(), offset=1, device=pred.device)
    dy = target[i] - target[j]
    loss = torch.clamp_min(-dy * (pred[i] - pred[j]) / (dy.abs() + eps), 0.0)
    if normalise_by_pred:
        loss = loss / torch.maximum(pred[i].abs(), pred[j].abs()).clamp_min(eps)
    return loss.mean()


def batch_pearson(pred: Tensor, target: Tensor, eps: float = 1e-6) -> Tensor:
    """Pearson's r of the batch, differentiable; ``eps`` keeps a constant batch finite (r = 0)."""
    pred, target = _flat_pair(pred, target)
    p = pred - pred.mean()
    t = target - target.mean()
    return torch.dot(p / (p.norm() + eps), t / (t.norm() + eps))


def vtamiq_pearson_loss(pred: Tensor, target: Tensor, eps: float = 1e-6) -> Tensor:
    """``1 − clamp(r, 0, 1)`` with Pearson's r of the batch (the authors' code, weight 0.2)."""
    return 1.0 - batch_pearson(pred, target, eps).clamp(0.0, 1.0)


def vtamiq_loss(pred: Tensor, target: Tensor, variant: str = "paper", mae_weight: float = 1.0) -> Tensor:
    """VTAMIQ's training loss.

    ``"paper"``: ``MAE + rank`` (simple sum, §3.4).  ``"code"`` (c67f036 ``loss_func``):
    ``(w·MAE + rank/max|q| + 0.2·(1 − r)) / (w + 1.2)`` with ``w = mae_weight``, which the authors
    decay by ×0.975 per epoch.
    """
    if variant == "paper":
        return l1_loss(pred, target) + vtamiq_rank_loss(pred, target)
    if variant == "code":
        total = (
            mae_weight * l1_loss(pred, target)
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


# ----------------------------------------------------------------------------- MUSIQ (AVA) / NIMA
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


# ----------------------------------------------------------------------------- PRFNet (2AFC, reconstruction)
# The paper (Wu et al., arXiv:2401.06992) says only that PRFNet is trained "first as classification,
# then as regression"; these losses are MODELS.md §6.3's reading of it [R]. Targets are p_a, the
# fraction of judges who chose A (CLIC's hard oracle labels: 0 or 1; note CLIC's T = 1 - p_a).

def _afc_targets(p_a: Tensor, n: int, like: Tensor) -> Tensor:
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
    target = _afc_targets(p_a, logits.shape[0], logits)
    log_p = F.log_softmax(logits, dim=1)
    return -(target * log_p[:, 0] + (1 - target) * log_p[:, 1]).mean()


def two_afc_regression_loss(logit: Tensor, p_a: Tensor) -> Tensor:
    """Step 2: ``mean (σ(z) − p_a)²`` for one logit per triplet ([N] or [N, 1])."""
    z = logit.reshape(-1)
    target = _afc_targets(p_a, z.numel(), z)
    return F.mse_loss(torch.sigmoid(z), target)


# ----------------------------------------------------------------------------- TFIQA (Zeng & Kwong)
# TFIQA's training losses (Zeng & Kwong, Sec. 3.5, Eqs. 9-11), as pure torch functions.
#
# * FR, Eq. (9): ``L_fr = MSE(Score_fr, label_fr)``.  The label mapping is not stated [R]: KADID-10k's
# MOS (1-5, higher is better) becomes a distance in [0, 1] by ``(5 - MOS) / 4``
# (:func:`fr_label_from_mos`), the orientation and range of the FR head's output.
# * NR, Eq. (10): ``L_nr = EMD(p_nr, label_nr)`` between the softmax of the 5 logits and the rating
# histogram (KonIQ-10k's normalised vote fractions c1..c5), with NIMA's definition and r = 2 [R,
# NIMA's default]: :func:`emd_loss`.
# * UNI, Eq. (11): ``L_all = L_fr + L_nr``, unweighted [P].

#: KADID-10k's rating scale (a 5-level ACR scale; MOS in [1, 5], higher is better)
KADID_SCALE = (1.0, 5.0)


def fr_label_from_mos(mos: Tensor, scale: Tuple[float, float] = KADID_SCALE) -> Tensor:
    """A MOS on ``scale = (worst, best)`` as a distance in [0, 1]: ``(best - MOS) / (best - worst)``,
    i.e. ``(5 - MOS) / 4`` for KADID-10k [R]."""
    worst, best = (float(v) for v in scale)
    if not best > worst:
        raise ValueError(f"scale must be (worst, best) with best > worst, got {scale!r}")
    return (best - mos) / (best - worst)


def tfiqa_fr_loss(distance: Tensor, label: Tensor) -> Tensor:
    """Eq. (9): mean squared error between the FR distances [N] and their labels [N] (distances
    in [0, 1], e.g. :func:`fr_label_from_mos` of KADID-10k's MOS)."""
    distance, label = _flat_pair(distance, label)
    return F.mse_loss(distance, label)


def tfiqa_nr_loss(logits: Tensor, distribution: Tensor, r: float = 2.0) -> Tensor:
    """Eq. (10): EMD between the softmax of the NR head's logits [N, 5] and the rating
    histograms [N, 5] (each normalised to sum 1), averaged over the batch."""
    if logits.shape != distribution.shape:
        raise ValueError(f"logits and distribution must have the same shape, got {tuple(logits.shape)} and {tuple(distribution.shape)}")
    sums = distribution.sum(-1)
    if (sums - 1).abs().max() > 1e-3:
        raise ValueError("each rating histogram must be normalised to sum 1 (KonIQ's c1..c5 fractions, not counts)")
    return emd_loss(logits.float().softmax(-1), distribution.float(), r=r)


def tfiqa_uni_loss(distance: Tensor, label: Tensor, logits: Tensor, distribution: Tensor) -> Tensor:
    """Eq. (11): ``L_fr + L_nr`` for one FR batch (e.g. KADID-10k) and one NR batch (KonIQ-10k)."""
    return tfiqa_fr_loss(distance, label) + tfiqa_nr_loss(logits, distribution)
