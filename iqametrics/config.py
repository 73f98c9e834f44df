"""What a registered name means, declared once: :class:`MetricInfo` and :class:`MetricConfig`.

Every model module declares one :class:`MetricConfig` per registered name, in one table made by
:func:`metric_configs` (timm's ``default_cfgs`` / ``generate_default_cfgs`` play this part for
timm's models), and registers it with :func:`iqametrics.registry.register_metrics`.  A config
holds everything that defines the name:

* ``info``: what users read (``iqa info``, ``docs/metrics.md``, ``metric.info``): direction, score
  range, the manifest keys of its weights, paper, licence, description, aliases;
* ``variant_args``: constructor arguments that make this variant what it is (head size, backbone,
  colour model, architecture read by the weights).  They belong to the name: ``create`` refuses
  them as options and names the registered name to use instead;
* ``defaults``: constructor arguments whose values this name chooses (the preprocessing its weights
  were trained and evaluated with); a user's options may override them.

The registry, the CLI, the docs generator and the loaders (``Metric.from_config``) read these
tables; nothing else states a name's weights, scale or head size.  This module imports nothing
heavy, so ``import iqametrics`` stays cheap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Dict, Mapping, Tuple

__all__ = ["KINDS", "MetricInfo", "MetricConfig", "metric_configs"]

KINDS = ("FR", "NR")


@dataclass(frozen=True)
class MetricInfo:
    """What a user needs to know about a registered metric.

    ``name`` is the canonical name (the bare name for a metric's default tag, ``name.tag``
    otherwise); ``aliases`` are other names that resolve to it (``musiq.koniq`` for ``musiq``).
    ``weights`` lists the manifest keys the pretrained metric downloads (empty: needs none).
    ``differentiable`` says whether ``create(..., as_loss=True)`` (a loss to minimise) and
    ``create(..., differentiable=True)`` (scores with gradients) are supported.
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


@dataclass(frozen=True)
class MetricConfig:
    """One registered name: its :class:`MetricInfo`, the arguments that make the variant and the
    defaults it chooses (see the module docstring)."""

    info: MetricInfo
    variant_args: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        both = sorted(set(self.variant_args) & set(self.defaults))
        if both:
            raise ValueError(f"{self.info.name}: {', '.join(both)} cannot be both a variant argument and a default")
        # read-only views: a table is a declaration, not state
        object.__setattr__(self, "variant_args", MappingProxyType(dict(self.variant_args)))
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))

    def __deepcopy__(self, memo) -> "MetricConfig":
        return self  # a declaration: copies of a metric share it

    def __reduce__(self):
        # mapping proxies do not pickle: rebuild from plain dicts (metrics sent to worker processes)
        return (type(self), (self.info, dict(self.variant_args), dict(self.defaults)))

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def names(self) -> Tuple[str, ...]:
        """The canonical name and its aliases."""
        return (self.info.name,) + tuple(self.info.aliases)

    @property
    def weights(self) -> Tuple[str, ...]:
        """Manifest keys loaded when the metric is built pretrained."""
        return self.info.weights


_CONFIG_FIELDS = ("variant_args", "defaults")


def metric_configs(common: Mapping[str, Any], variants: Mapping[str, Mapping[str, Any]], *,
                   default_tag: bool = True) -> Dict[str, MetricConfig]:
    """The config table of one metric class: ``{registered name: MetricConfig}``, in declaration order.

    ``common`` holds the :class:`MetricInfo` fields every variant shares (kind, paper, licence...);
    ``variants`` maps each name to its own fields (``weights``, ``score_range``, ``description``...)
    and optionally ``variant_args`` and ``defaults``; a variant's value replaces the common one.

    Tagged names ``base.tag``: the first tag listed for a ``base`` is its default, registered
    under the bare ``base`` with ``base.tag`` as its first alias (timm's rule for default tags);
    other tags keep their ``base.tag`` name.  A name without a tag is registered as written.
    ``default_tag=False`` registers every name as written (a family whose tags are different
    models, none of them *the* model: ``tfiqa.fr``, ``tfiqa.nr``).
    """
    table: Dict[str, MetricConfig] = {}
    defaulted = set()
    for key, own in variants.items():
        fields = {**common, **own}
        config_fields = {k: fields.pop(k) for k in _CONFIG_FIELDS if k in fields}
        base, dot, _ = key.partition(".")
        aliases = tuple(fields.pop("aliases", ()))
        name = key
        if default_tag and dot and base not in defaulted and base not in variants:
            name, aliases = base, (key,) + aliases
        defaulted.add(base)
        if name in table:
            raise ValueError(f"metric name {name!r} declared twice")
        table[name] = MetricConfig(MetricInfo(name=name, aliases=aliases, **fields), **config_fields)
    return table
