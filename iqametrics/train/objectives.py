"""The training losses a recipe can name (``[loss] name = ...``), from :mod:`iqametrics.train.losses`."""
from __future__ import annotations

import inspect
from typing import Callable, Dict

import torch.nn.functional as F

from ..registry import kind_mismatch
from . import losses
from .config import RecipeError

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
    """``loss(pred, target)`` with the recipe's options bound; a :class:`RecipeError` for an unknown
    loss, an option it does not take, or a value of another type than the option's default."""
    if name not in LOSSES:
        raise RecipeError(f"loss.name: unknown loss {name!r}; known: {', '.join(sorted(LOSSES))}")
    fn = LOSSES[name]
    _check_options(name, fn, options)
    return (lambda pred, target: fn(pred, target, **options)) if options else fn


def _check_options(name: str, fn: Callable, options: dict) -> None:
    # checked when the trainer is built: a misspelt option would otherwise fail at the first step,
    # after minutes of setup (data, weights, a head's initial fit)
    parameters = inspect.signature(fn).parameters
    named = {k: p for k, p in parameters.items() if p.default is not p.empty}  # the rest are the inputs
    takes_more = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    for key, value in options.items():
        if key not in named:
            if takes_more:
                continue
            raise RecipeError(f"loss.options: {name!r} takes no option {key!r}; its options: {sorted(named) or 'none'}")
        wanted = kind_mismatch(named[key], value)
        if wanted:
            raise RecipeError(f"loss.options.{key}: {name!r} takes {wanted}, got {value!r}")
