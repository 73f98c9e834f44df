"""Two-alternative forced choice (2AFC): is A or B closer to the reference?

Every full-reference metric answers the question through :meth:`FRMetric.prefer
<iqametrics.metric.FRMetric.prefer>`, which returns ``p``, the probability that A is closer to
the reference than B.  This module holds the arithmetic, so that the metrics, the CLI and the
evaluation code share one definition.

Conventions followed:

* **BAPPS** (Zhang et al., CVPR 2018; ``lpips/trainer.py``, ``score_2afc_dataset``): a metric's
  answer is the hard decision of its two distances, and its agreement with the judges is
  ``p·h + (1 − p)·(1 − h)`` with ``h`` the fraction of judges choosing A; a tie scores 0.5.
  :func:`preference_from_scores` gives exactly that ``p`` (1, 0.5 or 0) by default.
* **CLIC perceptual track** (``fab-jul/clic2021-devkit``, README and ``psnr.py``): a submission
  appends ``T`` to each ``O,A,B`` row, ``T = 0`` when the pair (O, A) is preferred and 1
  otherwise; the devkit's own PSNR baseline writes 1 only when A is strictly worse, so a tie is
  0.  :func:`clic_decision` follows it.  The human label of a CLIC oracle row has the same
  orientation (and so does BAPPS' ``judge``, the fraction of judges choosing B).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

__all__ = ["preference_from_scores", "symmetric_probability", "clic_decision", "label_agreement"]


def symmetric_probability(margin: Tensor) -> Tensor:
    """``0.5 + 0.5·margin`` (``margin`` in [−1, 1], the evidence for A), computed so that a
    negated margin gives exactly the complement: ``f(−m) == 1 − f(m)`` bit for bit.

    The favoured side's value ``0.5 + 0.5·|m|`` lies in [0.5, 1], where ``1 − x`` is exact in
    floating point (Sterbenz), so the other side's ``1 − x`` complements it without rounding.
    """
    high = 0.5 + 0.5 * margin.abs()
    return torch.where(margin >= 0, high, 1.0 - high)


def preference_from_scores(
    score_a: Tensor, score_b: Tensor, higher_is_better: bool, *, scale: Optional[float] = None
) -> Tensor:
    """Probability that A is closer to the reference, from the scores of (A, ref) and (B, ref).

    Default: the hard decision, 1 when A scores better, 0 when B does, 0.5 on a tie (equal
    scores, including two infinite PSNRs), which is what BAPPS and CLIC evaluate: accuracy needs
    the decision only, and an uncalibrated score difference has no probability scale.
    ``scale`` > 0 gives instead ``σ(Δ / scale)`` with ``Δ`` the score difference oriented towards
    A, for a metric whose differences have been calibrated on judgements.  Both forms satisfy
    ``p(a, b) == 1 − p(b, a)`` exactly; a NaN score gives NaN.
    """
    if score_a.shape != score_b.shape:
        raise ValueError(f"score shapes differ: {tuple(score_a.shape)} and {tuple(score_b.shape)}")
    a, b = (score_a, score_b) if higher_is_better else (score_b, score_a)
    if scale is None:
        p = torch.where(a > b, 1.0, torch.where(a < b, 0.0, 0.5)).to(score_a.dtype)
    else:
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale!r}")
        # the larger score minus the smaller, so that swapping A and B changes only the sign
        high = torch.sigmoid((torch.maximum(a, b) - torch.minimum(a, b)) / scale)
        p = torch.where(a == b, 0.5, torch.where(a > b, high, 1.0 - high))
    return torch.where(torch.isnan(score_a) | torch.isnan(score_b), float("nan"), p)


def clic_decision(p: Tensor) -> Tensor:
    """CLIC's ``T`` column from probabilities that A is closer: 0 when A is preferred (ties
    included, as the devkit's ``psnr.py``), 1 when B is; NaN stays NaN."""
    t = (p < 0.5).to(torch.float32)
    return torch.where(torch.isnan(p), float("nan"), t)


def label_agreement(decision: Tensor, label: Tensor) -> Tensor:
    """Agreement of decisions ``T`` with labels in CLIC's orientation (0 = A closer; a fraction
    = share of judges choosing B): ``1 − |T − label|``.  For 0/1 labels this is the devkit's
    ``eval_csv.py`` accuracy; for fractions, BAPPS' agreement of a hard decision."""
    return 1.0 - (decision - label).abs()
