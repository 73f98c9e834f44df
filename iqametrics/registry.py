"""Metric registry: names -> (config, metric class), and ``create``/``list_metrics``/``get_info``.

Model modules declare a config table (:func:`iqametrics.config.metric_configs`) and register it
with :func:`register_metrics` when ``iqametrics.models`` is imported.  That import happens
lazily, on the first call of :func:`list_metrics`, :func:`get_info` or :func:`create`, so
``import iqametrics`` stays cheap.  Model modules must not import timm or torchvision at module
level for the same reason.

The registry never imports :mod:`iqametrics.metric`: a registered class is used through what
every :class:`~iqametrics.metric.Metric` has (``configs``, ``option_names()``, ``from_config()``).
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from .config import KINDS, MetricConfig, MetricInfo

__all__ = [
    "MetricInfo",
    "MetricConfig",
    "register_metrics",
    "create",
    "list_metrics",
    "get_info",
    "get_config",
    "UnknownMetricError",
]



@dataclass(frozen=True)
class _Registered:
    config: MetricConfig
    metric_class: Any  # a Metric subclass


_REGISTRY: dict = {}
_ALIASES: dict = {}
_MODELS_IMPORTED = False


class UnknownMetricError(KeyError):
    """Raised by :func:`create` and :func:`get_info` for a name that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it readable
        return str(self.args[0]) if self.args else ""


def register_metrics(metric_class, configs: Mapping[str, MetricConfig]) -> None:
    """Register every name of ``configs`` (a table from :func:`~iqametrics.config.metric_configs`)
    as built by ``metric_class``, and make the table the class's ``configs`` (so that a metric
    built directly, ``SSIM()``, knows its :class:`MetricInfo` too)."""
    for config in configs.values():
        for name in config.names:
            if name in _REGISTRY or name in _ALIASES:
                raise ValueError(f"metric name {name!r} is registered twice")
    metric_class.configs = dict(configs)
    for config in configs.values():
        _REGISTRY[config.name] = _Registered(config, metric_class)
        for alias in config.info.aliases:
            _ALIASES[alias] = config.name


def _ensure_models_imported() -> None:
    global _MODELS_IMPORTED
    if not _MODELS_IMPORTED:
        importlib.import_module("iqametrics.models")
        _MODELS_IMPORTED = True


def _resolve(name: str) -> _Registered:
    _ensure_models_imported()
    if not isinstance(name, str):
        raise TypeError(f"metric name must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key in _REGISTRY:
        return _REGISTRY[key]
    candidates = sorted(set(_REGISTRY) | set(_ALIASES))
    close = difflib.get_close_matches(key, candidates, n=5, cutoff=0.5)
    close += [c for c in candidates if c.startswith(key.split(".")[0] + ".") and c not in close]
    hint = f" Did you mean: {', '.join(close[:6])}?" if close else ""
    raise UnknownMetricError(
        f"Unknown metric {name!r}.{hint} `iqa list` or iqametrics.list_metrics() shows all metrics."
    )


def list_metrics(kind: Optional[str] = None) -> list:
    """Sorted canonical metric names, optionally only ``kind='FR'`` or ``'NR'``."""
    _ensure_models_imported()
    if kind is not None:
        kind = kind.upper()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS} or None, got {kind!r}")
    return sorted(n for n, e in _REGISTRY.items() if kind is None or e.config.info.kind == kind)


def get_info(name: str) -> MetricInfo:
    """The :class:`MetricInfo` of a metric, without building it."""
    return _resolve(name).config.info


def get_config(name: str) -> MetricConfig:
    """The :class:`MetricConfig` of a metric (its info, variant arguments and defaults)."""
    return _resolve(name).config


def create(
    name: str,
    device=None,
    pretrained: bool = True,
    weights=None,
    *,
    as_loss: bool = False,
    **options,
):
    """Build a metric by name.

    Args:
        name: a name from :func:`list_metrics` or an alias (``musiq.koniq``); case-insensitive.
        device: where the metric runs (``"cuda"``, ``torch.device``...); default CPU.
        pretrained: load the published weights (downloaded once through the Hugging Face Hub,
            see ``docs/weights.md``).  ``False`` builds the architecture with its initial
            (random or seeded) weights without touching the network.
        weights: a local checkpoint file or a manifest key, in our layout or any upstream layout
            the metric's converters know; overrides ``pretrained``.
        as_loss: keep gradients (only for metrics whose ``info.differentiable`` is true).
        **options: metric-specific options (see the metric's model card).
    """
    entry = _resolve(name)
    config = entry.config
    info = config.info
    if as_loss and not info.differentiable:
        raise ValueError(
            f"{info.name} is not differentiable and cannot be used as a loss; "
            f"differentiable metrics: {', '.join(n for n in list_metrics() if get_info(n).differentiable)}"
        )
    arguments = {**config.defaults, **options, **config.variant_args}
    metric = entry.metric_class.from_config(config, pretrained=bool(pretrained) and weights is None, **arguments)
    if weights is not None:
        metric.load_checkpoint(weights)
    if device is not None:
        metric = metric.to(device)
    metric.eval()
    metric.as_loss = bool(as_loss)
    if not as_loss:
        metric.requires_grad_(False)
    return metric
