"""The training losses a recipe can name (``[loss] name = ...``), from :mod:`iqametrics.train.losses`."""
from __future__ import annotations

import inspect
from typing import Callable, Dict

import torch.nn.functional as F

from ..registry import kind_mismatch
from . import losses
from .config import RecipeError
from .options import Check, non_negative, one_of, positive

__all__ = ["LOSSES", "LOSS_OPTION_CHECKS", "get_loss"]

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


#: a check of every option of every loss (``pyramidiqa``'s ``margin`` and ``min_gap`` are forwarded
#: to its rank term); the losses' own checks would otherwise fire only at the first step
LOSS_OPTION_CHECKS: Dict[str, Dict[str, Check]] = {
    "l1_plcc": {"l1_scale": positive, "plcc_weight": non_negative},
    "pyramidiqa": {"rank_weight": non_negative, "rank": one_of("code", "eq13"), "margin": non_negative, "min_gap": non_negative},
    "vtamiq": {"variant": one_of("paper", "code"), "mae_weight": non_negative},
    # "none" keeps one loss per item, which the trainer cannot step on
    "emd": {"r": positive, "reduction": one_of("mean", "sum")},
}


def get_loss(name: str, options: dict) -> Callable:
    """``loss(pred, target)`` with the recipe's options bound; a :class:`RecipeError` for an unknown
    loss, an option it does not take, a value of another type than the option's default, or one
    outside the option's range."""
    if name not in LOSSES:
        raise RecipeError(f"loss.name: unknown loss {name!r}; known: {', '.join(sorted(LOSSES))}")
    fn = LOSSES[name]
    _check_options(name, fn, options)
    return (lambda pred, target: fn(pred, target, **options)) if options else fn


def _check_options(name: str, fn: Callable, options: dict) -> None:
    # checked when the trainer is built: a misspelt option or a value out of range would otherwise
    # fail at the first step, after minutes of setup (data, weights, a head's initial fit)
    # every option of a loss has a check (tested), forwarded ones included: the checks name them all
    parameters = inspect.signature(fn).parameters
    named = {k: p for k, p in parameters.items() if p.default is not p.empty}  # the rest are the inputs
    checks = LOSS_OPTION_CHECKS.get(name, {})
    for key, value in options.items():
        if key not in checks:
            raise RecipeError(f"loss.options: {name!r} takes no option {key!r}; its options: {sorted(checks) or 'none'}")
        wanted = kind_mismatch(named.get(key), value)
        if wanted:
            raise RecipeError(f"loss.options.{key}: {name!r} takes {wanted}, got {value!r}")
        try:
            checks[key](value)
        except ValueError as exc:
            raise RecipeError(f"loss.options.{key}: {name!r} {exc}") from None
    forwarded = sorted(set(options) - set(named))
    if name == "pyramidiqa" and forwarded and options.get("rank", "code") != "code":
        raise RecipeError(f"loss.options: {forwarded} belong to pyramidiqa's rank='code' term; rank={options['rank']!r} takes none")
