"""The base of the registered classic full-reference metrics: one function of
:mod:`iqametrics.functional` with fixed options, and the config table they share.

The maths lives in ``functional/``; the classes in :mod:`~iqametrics.models.classic_fr` and
:mod:`~iqametrics.models.vif_nlpd_mad` only hold options and register names.
"""
from __future__ import annotations

import inspect
import math
import numbers
from typing import Callable, Dict

from ..config import MetricConfig, metric_configs
from ..metric import FRMetric

__all__ = ["FunctionalFRMetric", "classic_fr_configs", "OUR_LICENCE"]

OUR_LICENCE = "Apache-2.0 (iqametrics implementation)"

# options of the functions that only make sense above zero (their kinds are checked by create):
# data_range=0 gave PSNR -inf, window_size=0 an SSIM of 1 for any pair, a negative sigma a score
_POSITIVE_NUMBERS = frozenset({"data_range", "k1", "k2", "sigma", "eps", "sigma_nsq"})
_POSITIVE_INTEGERS = frozenset({"window_size", "block_size", "levels"})


def _check_positive(options: Dict[str, object]) -> None:
    for key, value in options.items():
        number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if key in _POSITIVE_NUMBERS and not (number and math.isfinite(value) and value > 0):
            raise ValueError(f"{key} must be a finite number above 0, got {value!r}")
        if key in _POSITIVE_INTEGERS and not (number and isinstance(value, numbers.Integral) and value >= 1):
            raise ValueError(f"{key} must be an integer of at least 1, got {value!r}")


class FunctionalFRMetric(FRMetric):
    """A full-reference metric that calls one function of :mod:`iqametrics.functional` with fixed options.

    Subclasses set ``function``; the options are checked against its signature when the metric
    is built, so a misspelt option fails at ``create`` rather than at the first image.  Options
    that a registered name fixes (``chromatic`` of ``fsim``/``fsimc``) select the variant.
    """

    function: Callable = None

    def __init__(self, amp=None, variant=None, **options):
        variant_args = {k: options[k] for k in type(self).variant_keys() if k in options}
        super().__init__(amp=amp, variant=variant, variant_args=variant_args)
        try:
            inspect.signature(type(self).function).bind(None, None, **options)
        except TypeError as err:
            raise TypeError(f"{type(self).__name__}: {err}") from None
        _check_positive(options)
        self.options = options

    @classmethod
    def option_parameters(cls):
        # the function's keyword parameters (after dist and ref) are options too
        params = list(inspect.signature(cls.function).parameters.values())[2:]
        return {**super().option_parameters(), **{p.name: p for p in params if p.kind is not p.VAR_KEYWORD}}

    def _score(self, dist, ref):
        return type(self).function(dist, ref, **self.options)

    def extra_repr(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return ", ".join(s for s in (super().extra_repr(), opts) if s)


def classic_fr_configs(paper: str, variants: Dict[str, dict], **common) -> Dict[str, MetricConfig]:
    """The config table of a classic FR metric: our implementation, a differentiable similarity in
    [0, 1] unless ``common`` or a variant says otherwise."""
    shared = dict(kind="FR", paper=paper, licence=OUR_LICENCE, score_range=(0.0, 1.0), higher_is_better=True,
                  differentiable=True)
    return metric_configs({**shared, **common}, variants)
