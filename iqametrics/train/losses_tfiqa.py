"""TFIQA's training losses (Zeng & Kwong, Sec. 3.5, Eqs. 9-11), as pure torch functions.

* FR, Eq. (9): ``L_fr = MSE(Score_fr, label_fr)``.  The label mapping is not stated [R]: KADID-10k's
  MOS (1-5, higher is better) becomes a distance in [0, 1] by ``(5 - MOS) / 4``
  (:func:`fr_label_from_mos`), the orientation and range of the FR head's output.
* NR, Eq. (10): ``L_nr = EMD(p_nr, label_nr)`` between the softmax of the 5 logits and the rating
  histogram (KonIQ-10k's normalised vote fractions c1..c5), with NIMA's definition and r = 2 [R,
  NIMA's default]: :func:`iqametrics.losses.emd_loss`.
* UNI, Eq. (11): ``L_all = L_fr + L_nr``, unweighted [P].

Kept apart from ``iqametrics/losses.py`` until the losses move to ``iqametrics/train/losses.py``.
"""
from __future__ import annotations

from typing import Tuple

import torch.nn.functional as F
from torch import Tensor

from ..losses import emd_loss

__all__ = ["fr_label_from_mos", "tfiqa_fr_loss", "tfiqa_nr_loss", "tfiqa_uni_loss"]

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
    distance, label = distance.reshape(-1), label.reshape(-1).to(distance.dtype)
    if distance.shape != label.shape:
        raise ValueError(f"distance and label must have the same number of elements, got {distance.numel()} and {label.numel()}")
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
