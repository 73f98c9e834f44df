"""Metric registry: names -> (MetricInfo, factory), and ``create``/``list_metrics``.

Model modules register their factories with :func:`register_metric` when
``iqametrics.models`` is imported.  That import happens lazily, on the first call of
:func:`list_metrics`, :func:`get_info` or :func:`create`, so ``import iqametrics`` stays cheap.
Model modules must not import timm or torchvision at module level for the same reason.
"""
from __future__ import annotations

import difflib
import math
import importlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from .metric import Metric

__all__ = ["MetricInfo", "register_metric", "create", "list_metrics", "get_info", "UnknownMetricError"]

KINDS = ("FR", "NR")


@dataclass(frozen=True)
class MetricInfo:
    """What a user needs to know about a registered metric.

    ``name`` is the canonical name (the bare name for a metric's default tag, ``name.tag``
    otherwise); ``aliases`` are other names that resolve to it (``musiq.koniq`` for ``musiq``).
    ``weights`` lists the manifest keys the pretrained metric downloads (empty: needs none).
    ``differentiable`` says whether ``create(..., as_loss=True)`` is supported.
    """

    name: str
    kind: str
    higher_is_better: bool
    score_range: Tuple[float, float]
    paper: str
    licence: str
    weights: Tuple[str, ...] = ()
    differentiable: bool = False
    description: str = ""
    aliases: Tuple[str, ...] = ()
    notes: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"MetricInfo.kind must be one of {KINDS}, got {self.kind!r}")
        lo, hi = self.score_range
        if not lo <= hi:
            raise ValueError(f"MetricInfo.score_range must be (low, high), got {self.score_range!r}")

    @property
    def needs_download(self) -> bool:
        return bool(self.weights)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "higher_is_better": self.higher_is_better,
            # JSON has no infinity: an unbounded end is null
            "score_range": [v if math.isfinite(v) else None for v in self.score_range],
            "paper": self.paper,
            "licence": self.licence,
            "weights": list(self.weights),
            "differentiable": self.differentiable,
            "description": self.description,
            "aliases": list(self.aliases),
            "notes": self.notes,
        }


@dataclass
class _Entry:
    info: MetricInfo
    factory: Callable[..., "Metric"]
    defaults: dict = field(default_factory=dict)


_REGISTRY: dict = {}
_ALIASES: dict = {}
_MODELS_IMPORTED = False


class UnknownMetricError(KeyError):
    """Raised by :func:`create` and :func:`get_info` for a name that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it readable
        return str(self.args[0]) if self.args else ""


def register_metric(info: MetricInfo, **defaults) -> Callable:
    """Decorator registering ``factory(*, pretrained: bool, **options) -> Metric`` under ``info.name``.

    ``defaults`` are keyword options passed to the factory for this name (so one factory serves
    several tags, e.g. ``register_metric(info_spaq, tag="spaq")``).  The factory builds the
    metric without touching the network when ``pretrained`` is false.
    """

    def decorator(factory: Callable) -> Callable:
        names = (info.name,) + tuple(info.aliases)
        for name in names:
            if name in _REGISTRY or name in _ALIASES:
                raise ValueError(f"metric name {name!r} is registered twice")
        _REGISTRY[info.name] = _Entry(info=info, factory=factory, defaults=dict(defaults))
        for alias in info.aliases:
            _ALIASES[alias] = info.name
        return factory

    return decorator


def _ensure_models_imported() -> None:
    global _MODELS_IMPORTED
    if not _MODELS_IMPORTED:
        importlib.import_module("iqametrics.models")
        _MODELS_IMPORTED = True


def _resolve(name: str) -> _Entry:
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
    return sorted(n for n, e in _REGISTRY.items() if kind is None or e.info.kind == kind)


def get_info(name: str) -> MetricInfo:
    """The :class:`MetricInfo` of a metric, without building it."""
    return _resolve(name).info


def create(
    name: str,
    device=None,
    pretrained: bool = True,
    weights=None,
    *,
    as_loss: bool = False,
    **options,
) -> "Metric":
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
    info = entry.info
    if as_loss and not info.differentiable:
        raise ValueError(
            f"{info.name} is not differentiable and cannot be used as a loss; "
            f"differentiable metrics: {', '.join(n for n in list_metrics() if get_info(n).differentiable)}"
        )
    kwargs = {**entry.defaults, **options}
    metric = entry.factory(pretrained=bool(pretrained) and weights is None, **kwargs)
    metric.info = info
    metric.as_loss = bool(as_loss)
    if weights is not None:
        metric.load_checkpoint(weights)
    if device is not None:
        metric = metric.to(device)
    metric.eval()
    if not as_loss:
        metric.requires_grad_(False)
    return metric


def with_name(info: MetricInfo, name: str, **changes) -> MetricInfo:
    """A copy of ``info`` under another name (for registering tagged variants)."""
    return replace(info, name=name, **changes)
