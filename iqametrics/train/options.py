"""Checks of a recipe's option values (``model.task_options`` and ``loss.options``).

Each check takes a value and returns it, or raises ``ValueError`` saying what the option takes.
A task lists one check per option (``Task.option_checks``, run when the task is built) and a loss
has one per option in :data:`~.objectives.LOSS_OPTION_CHECKS` (run by ``get_loss``): both run
before any folder, data or weights are touched, so that a mistyped ``--set`` does not cost minutes
of feature extraction and then fail in a DataLoader worker or at the first step.
"""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Callable

__all__ = ["probability", "at_least", "positive", "non_negative", "flag", "one_of", "weights_or_off"]

Check = Callable[[Any], Any]


def _number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def probability(value: Any) -> float:
    if not (_number(value) and 0 <= value <= 1):
        raise ValueError(f"takes a probability from 0 to 1, got {value!r}")
    return value


def positive(value: Any) -> float:
    if not (_number(value) and value > 0):
        raise ValueError(f"takes a finite number > 0, got {value!r}")
    return value


def non_negative(value: Any) -> float:
    if not (_number(value) and value >= 0):
        raise ValueError(f"takes a finite number >= 0, got {value!r}")
    return value


def at_least(minimum: int) -> Check:
    """An integer of at least ``minimum``."""

    def check(value: Any) -> int:
        if not (isinstance(value, Integral) and not isinstance(value, bool) and value >= minimum):
            raise ValueError(f"takes an integer >= {minimum}, got {value!r}")
        return value

    return check


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"takes true or false, got {value!r}")
    return value


def one_of(*choices: str) -> Check:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"takes one of {', '.join(map(repr, choices))}, got {value!r}")
        return value

    return check


def weights_or_off(value: Any) -> Any:
    """A manifest key or file of weights, or false or "" (none)."""
    if value is False or value == "" or (isinstance(value, str) and value.strip()):
        return value
    raise ValueError(f"takes a manifest key or a weights file, or false for none, got {value!r}")
