"""The training losses a recipe can name (``[loss] name = ...``), from :mod:`iqametrics.train.losses`."""
from __future__ import annotations

from typing import Callable, Dict

import torch.nn.functional as F

from . import losses

__all__ = ["LOSSES", "get_loss"]

LOSSES: Dict[str, Callable] = {
    "l1": losses.l1_loss,
    "l1_plcc": losses.l1_plcc_loss,
    "mse": lambda pred, target: F.mse_loss(pred.reshape(-1), target.reshape(-1).to(pred.dtype)),
    "pyramidiqa": losses.pyramidiqa_loss,
    "vtamiq": losses.vtamiq_loss,
    "emd": losses.emd_loss,
    "2afc_classification": losses.two_afc_classification_loss,
    "2afc_regression": losses.two_afc_regression_loss,
    # (distance, label, logits, histogram) of a joint FR + NR step, TFIQA's Eq. 11
    "tfiqa_uni": losses.tfiqa_uni_loss,
}


def get_loss(name: str, options: dict) -> Callable:
    """``loss(pred, target)`` with the recipe's options bound."""
    if name not in LOSSES:
        raise KeyError(f"unknown loss {name!r}; known: {', '.join(sorted(LOSSES))}")
    fn = LOSSES[name]
    return (lambda pred, target: fn(pred, target, **options)) if options else fn
