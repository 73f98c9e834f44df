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
import inspect
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from .config import KINDS, MetricConfig, MetricInfo

__all__ = [
    "MetricInfo",
    "MetricConfig",
    "OptionError",
    "OptionValueError",
    "WeightsArgumentError",
    "register_metrics",
    "create",
    "list_metrics",
    "get_info",
    "get_config",
    "metric_options",
    "check_options",
    "UnknownMetricError",
]

#: create()'s own arguments (never metric options)
CREATE_ARGUMENTS = ("device", "pretrained", "weights", "as_loss", "differentiable")
#: option names that would select another registered variant of the same model
_SELECTORS = ("tag", "variant")


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


class OptionError(TypeError):
    """An option the metric does not take, or one its registered name fixes."""


class OptionValueError(OptionError, ValueError):
    """The metric refused the value of an option it takes (the metric's own error is the cause).

    Both a ``TypeError`` and a ``ValueError``, as the constructor's refusal may have been either."""


class WeightsArgumentError(ValueError):
    """``weights=`` that the metric cannot take: it has no learned weights, or the manifest key is
    another metric's."""


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


def metric_options(name: str) -> list:
    """The options ``create(name, ...)`` accepts, sorted (what a name fixes is not among them)."""
    entry = _resolve(name)
    return sorted(entry.metric_class.option_names() - entry.metric_class.variant_keys())


def _registered_name_for(entry: _Registered, key: str, value) -> list:
    """Registered names of the same model that ``key=value`` would select."""
    siblings = list(entry.metric_class.configs.values())
    if key in _SELECTORS:
        base = entry.config.name.split(".")[0]
        wanted = {str(value).lower(), f"{base}.{str(value).lower()}"}
        return [c.name for c in siblings if wanted & set(c.names)]
    return [c.name for c in siblings if key in c.variant_args and c.variant_args[key] == value]


def _plain(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _check_options(entry: _Registered, options: Mapping[str, Any]) -> None:
    config, cls = entry.config, entry.metric_class
    fixed = cls.variant_keys()
    name = config.name
    for key, value in options.items():
        if key in fixed or key in _SELECTORS:
            targets = [t for t in _registered_name_for(entry, key, value) if t != name]
            what = f"{key}={value!r}"
            own = config.variant_args.get(key)
            if own is not None and _plain(value) == _plain(own):
                raise OptionError(f"{key} is not an option of {name!r}: the name fixes it ({key}={own!r}); "
                                  "leave it out")
            fixed_at = f" (it means {key}={own!r})" if own is not None else ""
            if targets:
                use = " or ".join(repr(t) for t in targets)
                raise OptionError(
                    f"{what} would change which model {name!r} means{fixed_at}: use the registered name {use} "
                    f"instead (create({targets[0]!r}); CLI: -m {targets[0]})"
                )
            registered = ", ".join(c.name for c in cls.configs.values())
            raise OptionError(
                f"{what} would change which model {name!r} means{fixed_at}; no registered name has it. "
                f"Registered variants of this model: {registered}"
            )
    valid = cls.option_names() - fixed
    unknown = sorted(set(options) - valid)
    if unknown:
        listed = ", ".join(sorted(valid)) or "none"
        amp = " (it does not support AMP)" if "amp" in unknown else ""
        raise OptionError(
            f"{name} has no option {', '.join(repr(k) for k in unknown)}{amp}; its options are: {listed}"
        )


def kind_mismatch(parameter: Optional[inspect.Parameter], value: Any) -> Optional[str]:
    """What an option (``parameter`` of a constructor or function) takes, in words, when ``value`` is
    not of that kind; None when it is.  The kind is its default's; an option without a default, or
    whose annotation admits several kinds (MUSIQ's ``compile``: a flag or a backend name), is left
    to its own code."""
    if parameter is None or parameter.default is parameter.empty or _several_kinds(parameter.annotation):
        return None
    default = parameter.default
    if _same_kind(value, default):
        return None
    return f"{_KIND_NAMES.get(type(default), type(default).__name__)} (default {default!r})"


def _same_kind(value: Any, default: Any) -> bool:
    """A bool for a bool, a number for a float, an integer for an int, a string for a string, a
    sequence (not a string) for a tuple.  None, and anything for a default of None or of another
    type, passes: the option's own code decides (e.g. ``resize=None`` for the native size)."""
    if value is None or default is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) == isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, numbers.Real)
    if isinstance(default, int):
        return isinstance(value, numbers.Integral)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, tuple):
        return isinstance(value, Iterable) and not isinstance(value, (str, bytes))
    return True


def _several_kinds(annotation: Any) -> bool:
    """Whether a parameter's annotation (a string under ``from __future__ import annotations``)
    admits values of several kinds besides None: ``Union[bool, str]``, ``bool | str``."""
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return "Union[" in text or "|" in text


_KIND_NAMES = {bool: "true or false", float: "a number", int: "an integer", str: "a string", tuple: "a list"}


def _check_option_kinds(entry: _Registered, options: Mapping[str, Any]) -> None:
    # a string where a flag belongs ("yes") is truthy, and a string where a number belongs fails
    # deep inside the maths: both are refused here, naming the option
    parameters = entry.metric_class.option_parameters()
    for key, value in options.items():
        wanted = kind_mismatch(parameters.get(key), value)
        if wanted:
            raise OptionValueError(f"{entry.config.name} ({key}={value!r}): {key} takes {wanted}")


def check_options(name: str, options: Mapping[str, Any]) -> None:
    """What :func:`create` checks of ``options`` before building ``name``: that the metric takes
    them (:class:`OptionError`) and that each value is of its default's kind (:class:`OptionValueError`).
    A value the metric itself refuses shows only when it is built."""
    entry = _resolve(name)
    _check_options(entry, options)
    _check_option_kinds(entry, options)


def _check_weights(entry: _Registered, weights) -> None:
    """A metric without learned weights takes none; a manifest key must be one of the metric's own."""
    info = entry.config.info
    if not info.weights:
        raise WeightsArgumentError(
            f"{info.name} has no learned weights, so it takes no weights= (CLI: --weights); got {str(weights)!r}"
        )
    text = str(weights)
    if Path(text).expanduser().exists():
        return
    from .weights import load_manifest

    if text not in load_manifest():
        return  # neither a file nor a key: loading says so
    own = set(info.weights)
    if text in own or text.split("@", 1)[0] in own:
        return
    owners = [e.config.name for e in _REGISTRY.values() if text.split("@", 1)[0] in e.config.info.weights]
    whose = f"it belongs to {', '.join(owners)}" if owners else "it is not the weights of any metric"
    raise WeightsArgumentError(
        f"manifest key {text!r} is not one of {info.name}'s weights ({', '.join(info.weights)}): {whose}. "
        f"Scores of other weights would be printed under {info.name}'s name; create the metric they belong to."
    )


def _build(entry: _Registered, *, pretrained: bool, options: Mapping[str, Any], arguments: Mapping[str, Any]):
    """``from_config``; a ``TypeError``/``ValueError`` from building with the user's options is
    their refusal (:class:`OptionValueError`, the metric's error as its cause).  Without options
    such an error is not the user's: it propagates unchanged, as do weight errors."""
    from .weights import WeightsError

    try:
        return entry.metric_class.from_config(entry.config, pretrained=pretrained, **arguments)
    except WeightsError:
        raise
    except (TypeError, ValueError) as exc:
        if not options:
            raise
        given = ", ".join(f"{k}={v!r}" for k, v in options.items())
        raise OptionValueError(f"{entry.config.name} ({given}): {exc}") from exc


def create(
    name: str,
    device=None,
    pretrained: bool = True,
    weights=None,
    *,
    as_loss: bool = False,
    differentiable: bool = False,
    **options,
):
    """Build a metric by name.

    Args:
        name: a name from :func:`list_metrics` or an alias (``musiq.koniq``); case-insensitive.
        device: where the metric runs (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"auto"``, a
            ``torch.device``); default CPU.  A device this machine does not have raises
            :class:`~iqametrics.devices.DeviceError` (a ``ValueError``) before anything is built.
        pretrained: load the published weights (downloaded once through the Hugging Face Hub,
            see ``docs/weights.md``).  ``False`` builds the architecture with its initial
            (random or seeded) weights without touching the network.
        weights: a local checkpoint file or one of the metric's manifest keys, in our layout or
            any upstream layout the metric's converters know; overrides ``pretrained``.  Metrics
            without learned weights take none.
        as_loss: return a loss to minimise, with gradients (metrics whose ``info.differentiable``
            is true): a distance as it is; a similarity with a finite best value ``b`` as
            ``b - score`` (``1 - SSIM``); an unbounded one as ``-score``.
        differentiable: return the metric's own scores, with gradients.
        **options: metric-specific options (see the metric's model card and
            :func:`metric_options`).  What the name fixes (its variant, weights, head or output
            scale) is not an option: another registered name is.  An option the metric does
            not take raises :class:`OptionError`, a value it refuses :class:`OptionValueError`.
    """
    entry = _resolve(name)
    config = entry.config
    info = config.info
    if device is not None:
        from .devices import resolve_device

        device = resolve_device(device)
    if (as_loss or differentiable) and not info.differentiable:
        flag = "as_loss" if as_loss else "differentiable"
        raise ValueError(
            f"{info.name} is not differentiable ({flag}=True); differentiable metrics: "
            f"{', '.join(n for n in list_metrics() if get_info(n).differentiable)}"
        )
    check_options(name, options)
    if weights is not None:
        _check_weights(entry, weights)
    arguments = {**config.defaults, **options, **config.variant_args}
    metric = _build(entry, pretrained=bool(pretrained) and weights is None, options=options, arguments=arguments)
    if weights is not None:
        metric.load_checkpoint(weights)
    if device is not None:
        metric = metric.to(device)
    metric.eval()
    metric.differentiable = bool(as_loss or differentiable)
    metric.as_loss = bool(as_loss)
    if not metric.differentiable:
        metric.requires_grad_(False)
    return metric
