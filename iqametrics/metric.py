"""Metric base classes: FR/NR dispatch, size grouping, inference mode, AMP, loss orientation,
checkpoint loading.  What a metric accepts as images and the checks on them: :mod:`iqametrics.inputs`.

Subclasses implement one method on a validated float32 batch already on the metric's device:

* :class:`NRMetric` -> ``_score(x)`` with ``x`` of shape [B, 3, H, W] in [0, 1];
* :class:`FRMetric` -> ``_score(dist, ref)`` with two such batches of the same size.

Metrics that can take images of different sizes in one forward pass (transformers with padding
masks, patch samplers) set ``accepts_mixed_sizes = True`` and implement ``_score_list`` on a list
of [3, H, W] tensors; the others receive one same-size group at a time and the scores are put
back in input order.  The same flag tells the file pipeline (:mod:`iqametrics.scoring`) whether
a batch may mix sizes.

What a metric *is* comes from its class's config table (:mod:`iqametrics.config`): ``metric.info``
is the :class:`~iqametrics.config.MetricInfo` of the registered name it was built as, whether it
was built by :func:`iqametrics.create` or directly (``SSIM()``, ``LPIPS(net="vgg")``).
"""
from __future__ import annotations

import contextlib
import inspect
import math
from typing import Callable, ClassVar, Dict, FrozenSet, List, Mapping, Optional, Union

import torch
from torch import Tensor, nn

from .config import MetricConfig, MetricInfo
from .inputs import (  # noqa: F401 - re-exported: these lived here before iqametrics.inputs
    RANGE_TOLERANCE,
    ImageTooSmallError,
    check_min_size,
    check_range,
    describe_images,
    group_by_size,
    normalise_tensor,
    to_image_list,
)

__all__ = ["Metric", "NRMetric", "FRMetric", "RANGE_TOLERANCE", "to_image_list", "ImageTooSmallError"]

class Metric(nn.Module):
    """Base class of every metric.  See :class:`NRMetric` and :class:`FRMetric`.

    Class attributes a subclass may set:
        kind: ``"NR"`` or ``"FR"``.
        accepts_mixed_sizes: ``_score_list`` scores differently sized images in one pass (else
            the base class scores one same-size group at a time, and the file pipeline batches
            same-size images only).
        min_size: smallest (height, width) the metric can score.
        supports_amp: autocast is allowed (``create(..., amp="bf16")``), on CUDA and on CPU.
        converters: names of converters (``iqametrics.convert``) that can produce this layout.
        kwargs_target: where the constructor's ``**kwargs`` go (a network class, a function): its
            parameters are options too (:meth:`option_names`), less those in ``kwargs_fixed``
            (set by the registered name, not by users).

    ``configs`` is the class's config table, set by :func:`iqametrics.registry.register_metrics`.

    Args:
        amp: ``"bf16"`` / ``"fp16"`` autocast (only if ``supports_amp``).
        variant: the registered name being built (``create`` passes it to classes that serve
            several names); ``None``: the first config of the class whose ``variant_args`` agree
            with ``variant_args`` (the only one, for a class serving one name).
        variant_args: the constructor's arguments that select a variant (a subclass serving
            several names passes them, e.g. ``{"net": net}``).
    """

    kind: str = "NR"
    accepts_mixed_sizes: bool = False
    min_size: tuple = (1, 1)
    supports_amp: bool = False
    converters: tuple = ()
    kwargs_target: ClassVar[Optional[Callable]] = None
    kwargs_fixed: ClassVar[FrozenSet[str]] = frozenset()
    configs: ClassVar[Mapping[str, MetricConfig]] = {}

    def __init__(self, *, amp: Optional[str] = None, variant: Optional[str] = None,
                 variant_args: Optional[Mapping] = None):
        super().__init__()
        # an empty buffer so that .to(device) is tracked by metrics without parameters
        self.register_buffer("_device_anchor", torch.empty(0), persistent=False)
        self.config: Optional[MetricConfig] = self._select_config(variant, dict(variant_args or {}))
        #: scores keep their autograd graph (create(..., differentiable=True) or as_loss=True)
        self.differentiable = False
        #: forward returns a loss to minimise (see :meth:`loss`)
        self.as_loss = False
        self.amp_dtype = _parse_amp(amp) if amp else None
        if self.amp_dtype is not None and not self.supports_amp:
            raise ValueError(f"{type(self).__name__} does not support AMP (amp={amp!r})")

    # ------------------------------------------------------------------ what the metric is
    @classmethod
    def _own_configs(cls) -> Mapping[str, MetricConfig]:
        # only the class's own table: an unregistered subclass is not the registered metric
        return cls.__dict__.get("configs", {})

    @classmethod
    def _select_config(cls, variant: Optional[str], variant_args: dict) -> Optional[MetricConfig]:
        configs = cls._own_configs()
        if variant is not None:
            config = next((c for c in configs.values() if variant in c.names), None)
            if config is None:
                known = ", ".join(configs) or "none"
                raise ValueError(f"{cls.__name__} does not build {variant!r} (it builds: {known})")
            clash = {k: v for k, v in variant_args.items() if k in config.variant_args and config.variant_args[k] != v}
            if clash:
                raise ValueError(
                    f"{cls.__name__}({', '.join(f'{k}={v!r}' for k, v in clash.items())}) is not {config.name} "
                    f"({', '.join(f'{k}={config.variant_args[k]!r}' for k in clash)})"
                )
            return config
        for config in configs.values():
            if all(config.variant_args.get(k, v) == v for k, v in variant_args.items()):
                return config
        return None  # a configuration no registered name describes

    @classmethod
    def variant_keys(cls) -> FrozenSet[str]:
        """Constructor arguments that select one of this class's registered variants."""
        return frozenset(k for config in cls._own_configs().values() for k in config.variant_args)

    @property
    def info(self) -> Optional[MetricInfo]:
        """The :class:`MetricInfo` of the registered name this metric is (None if none is)."""
        return self.config.info if self.config is not None else None

    @classmethod
    def from_config(cls, config: MetricConfig, /, *, pretrained: bool, **arguments) -> "Metric":
        """Build the registered variant ``config``; ``create`` calls this with the config's
        ``variant_args`` and ``defaults`` and the user's options in ``arguments``.

        Default: construct (passing ``variant=config.name`` when the class serves several
        names), then load every manifest key of ``config.weights`` if ``pretrained``; a key whose
        manifest entry is unpublished loads the user's own file (``IQAMETRICS_WEIGHTS_DIR``) or fails
        with :meth:`unpublished_message`.  Override to change what building means (e.g. weights
        shipped in the package that load even when ``pretrained`` is false).
        """
        from .weights import get_entry, load_unpublished

        metric = cls.build_variant(config, **arguments)
        if pretrained:
            for key in config.weights:
                if get_entry(key).published:
                    metric.load_checkpoint(key)
                else:
                    load_unpublished(metric, key, cls.unpublished_message(config, key)
                                     + " pretrained=False builds the untrained network.")
        return metric

    @classmethod
    def unpublished_message(cls, config: MetricConfig, key: str) -> str:
        """What to do when nobody published the weights of ``config`` (manifest ``key``): how to train
        them (:meth:`training_hint`), then where a trained file goes (the manifest's file name)."""
        from .weights import get_entry

        return (f"{config.name} has no published weights{cls.unpublished_reason}: {cls.training_hint(config, key)}, "
                f"then pass weights=PATH (CLI: --weights PATH) or put {get_entry(key).filename} in IQAMETRICS_WEIGHTS_DIR.")

    #: why nobody published them, when that helps the user (" (...)"), for :meth:`unpublished_message`
    unpublished_reason: ClassVar[str] = ""

    @classmethod
    def training_hint(cls, config: MetricConfig, key: str) -> str:
        """How to train the weights of ``config`` when none are published: a subclass names its recipe."""
        return "train it (`iqa train --list`, docs/training.md)"

    @classmethod
    def build_variant(cls, config: MetricConfig, /, **arguments) -> "Metric":
        """Construct the variant ``config`` from ``arguments`` (untrained).  A class serving one
        name needs no ``variant`` argument; one serving several must pass it to ``Metric.__init__``."""
        several = len(cls._own_configs()) > 1
        metric = cls(variant=config.name, **arguments) if several else cls(**arguments)
        if metric.config is not config:
            raise RuntimeError(
                f"{cls.__name__} was built for {config.name!r} but says it is {metric.name!r}: its constructor "
                f"must pass variant= (and the arguments that select a variant) to Metric.__init__"
            )
        return metric

    @classmethod
    def option_names(cls) -> FrozenSet[str]:
        """Keyword arguments the constructor accepts, following ``**kwargs`` up the class chain.

        A subclass that forwards ``**kwargs`` somewhere else (a function, a network) names that target
        in ``kwargs_target``.  ``amp`` is listed only for classes that support it.
        """
        return frozenset(cls.option_parameters())

    @classmethod
    def option_parameters(cls) -> Dict[str, inspect.Parameter]:
        """The parameters behind :meth:`option_names` (their defaults say what kind of value each takes)."""
        found: Dict[str, inspect.Parameter] = {}

        def add(params, skip=frozenset()):
            for p in params:
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in skip:
                    found.setdefault(p.name, p)

        for klass in cls.__mro__:
            if "__init__" not in vars(klass) or klass is nn.Module:
                continue
            params = inspect.signature(vars(klass)["__init__"]).parameters.values()
            add(params)
            if not any(p.kind is p.VAR_KEYWORD for p in params):
                break
        if cls.kwargs_target is not None:
            add(inspect.signature(cls.kwargs_target).parameters.values(), cls.kwargs_fixed)
        for name in ("self", "variant", "variant_args") + (() if cls.supports_amp else ("amp",)):
            found.pop(name, None)
        return found

    # ------------------------------------------------------------------ helpers
    @property
    def device(self) -> torch.device:
        return self._device_anchor.device

    @property
    def name(self) -> str:
        return self.info.name if self.info is not None else type(self).__name__

    def check_size(self, height: int, width: int) -> None:
        """Raise :class:`ImageTooSmallError` if an image of this size cannot be scored."""
        check_min_size(self.name, self.min_size, height, width)

    def _prepare(self, images, what: str) -> Union[Tensor, List[Tensor]]:
        """A validated float32 batch on the metric's device, or a list if sizes differ."""
        if isinstance(images, Tensor):
            x = normalise_tensor(images)
            self.check_size(int(x.shape[-2]), int(x.shape[-1]))
            x = x.to(self.device, torch.float32, non_blocking=True)
            check_range(x, what)
            return x
        tensors = to_image_list(images)
        out = []
        for t in tensors:
            self.check_size(int(t.shape[-2]), int(t.shape[-1]))
            t = t.to(self.device, torch.float32, non_blocking=True)
            check_range(t, what)
            out.append(t)
        if len({tuple(t.shape) for t in out}) == 1:
            return torch.stack(out)
        return out

    def _grad_context(self):
        if self.differentiable or self.as_loss:
            return contextlib.nullcontext()
        return torch.inference_mode()

    def _amp_context(self):
        # CPU autocast pays off with bfloat16 on CPUs with AVX512-BF16/AMX (docs/benchmarks.md)
        if self.amp_dtype is not None and self.device.type in ("cuda", "cpu"):
            return torch.autocast(self.device.type, dtype=self.amp_dtype)
        return contextlib.nullcontext()

    def load_checkpoint(self, source) -> "Metric":
        """Load weights from a local file or a manifest key, converting upstream layouts.

        A manifest entry's ``converter`` is applied as recorded; for a local file our own
        layout is recognised by its keys, else ``self.converters`` are tried in order.  Loading
        is strict: a missing or unexpected tensor is an error.
        """
        from .convert import convert_for_model
        from .weights import load_state

        raw, entry = load_state(source)
        state = convert_for_model(
            raw,
            self.weights_module().state_dict().keys(),
            converter=entry.converter if entry is not None else None,
            candidates=self.converters,
        )
        self._load_converted(state)
        return self

    def weights_module(self) -> nn.Module:
        """The module whose state dict checkpoints hold: the metric itself unless a subclass
        wraps a network (``self.net``) that training code also uses on its own."""
        return self

    def _load_converted(self, state: dict) -> None:
        from .weights import CheckpointMismatchError

        own = self.weights_module().state_dict()
        wrong = [
            f"{k} {tuple(v.shape)} (expects {tuple(own[k].shape)})"
            for k, v in state.items()
            if k in own and hasattr(v, "shape") and tuple(v.shape) != tuple(own[k].shape)
        ]
        if wrong:
            raise CheckpointMismatchError(
                f"checkpoint does not match {self.name}: {len(wrong)} tensors have other shapes: "
                f"{', '.join(wrong[:3])}{'...' if len(wrong) > 3 else ''}"
            )
        missing, unexpected = self.weights_module().load_state_dict(state, strict=False)
        if missing or unexpected:
            raise CheckpointMismatchError(
                f"checkpoint does not match {self.name}: {len(missing)} missing keys "
                f"({', '.join(missing[:5])}{'...' if len(missing) > 5 else ''}), {len(unexpected)} unexpected "
                f"({', '.join(unexpected[:5])}{'...' if len(unexpected) > 5 else ''})"
            )

    def _score_by_size(self, *lists: List[Tensor]) -> Tensor:
        """``_score`` once per size: the images (NR) or the pairs (FR, whose two lists match in size)
        of one size are stacked into one batch; scores come back in the order given."""
        scores = torch.empty(len(lists[0]), device=self.device)
        for idx in group_by_size(lists[0]).values():
            stacked = [torch.stack([images[i] for i in idx]) for images in lists]
            scores[idx] = self._score(*stacked).reshape(-1).to(scores.dtype)
        return scores

    def _finish(self, scores: Tensor, n: int) -> Tensor:
        scores = scores.reshape(-1).float()
        if scores.numel() != n:
            raise RuntimeError(f"metric returned {scores.numel()} scores for {n} images")
        return self.loss(scores) if self.as_loss else scores

    def loss(self, scores: Tensor) -> Tensor:
        """Scores as a loss to minimise (what ``create(..., as_loss=True)`` returns), oriented by
        ``info``: a distance as it is; a similarity with a finite best value ``b``: ``b - score``
        (``1 - SSIM``); an unbounded similarity: ``-score``."""
        if self.info is None:
            raise ValueError(f"{self.name} is not a registered metric: its direction and range are unknown")
        if not self.info.higher_is_better:
            return scores
        best = self.info.score_range[1]
        return best - scores if math.isfinite(best) else -scores

    def extra_repr(self) -> str:
        return f"name={self.name!r}" if self.info is not None else ""


def _parse_amp(amp) -> torch.dtype:
    table = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}
    if isinstance(amp, torch.dtype) and amp in table.values():
        return amp
    if isinstance(amp, str) and amp.lower() in table:
        return table[amp.lower()]
    raise ValueError(f"amp must be 'bf16' or 'fp16', got {amp!r}")


class NRMetric(Metric):
    """No-reference metric: ``m(images) -> scores [B]``."""

    kind = "NR"

    def _score(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score_list(self, images: List[Tensor]) -> Tensor:
        """Scores of differently sized images in one pass (subclasses with ``accepts_mixed_sizes``)."""
        raise NotImplementedError(f"{type(self).__name__} sets accepts_mixed_sizes but has no _score_list")

    def forward(self, images, *more, **keywords) -> Tensor:
        if more or keywords:
            passed = [describe_images(images)] + [describe_images(m) for m in more]
            passed += [f"{k}={describe_images(v)}" for k, v in keywords.items()]
            raise TypeError(
                f"{self.name} is a no-reference metric: call it with one argument, m(images), where images is "
                f"one image, a [B, 3, H, W] batch or a list; got {len(passed)} arguments ({'; '.join(passed)}). "
                f"To score several images pass them as one list or batch; to compare an image with a "
                f"reference use a full-reference metric (iqametrics.list_metrics('FR'))."
            )
        with self._grad_context():
            x = self._prepare(images, "images")
            with self._amp_context():
                if isinstance(x, Tensor):
                    scores = self._score(x)
                else:
                    scores = self._score_list(x) if self.accepts_mixed_sizes else self._score_by_size(x)
            return self._finish(scores, len(x))


class FRMetric(Metric):
    """Full-reference metric: ``m(dist, ref) -> scores [B]`` (distorted first; ``ref=`` also works)."""

    kind = "FR"
    #: False for a metric that only answers 2AFC questions (:meth:`prefer`), e.g. PRFNet
    scores_pairs: bool = True

    def _score(self, dist: Tensor, ref: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def prefer(self, ref, a, b, *, scale: Optional[float] = None) -> Tensor:
        """Probability [B] that ``a`` is closer to ``ref`` than ``b`` (two-alternative forced choice).

        Scores both sides (one batched forward each) and maps the two scores with
        :func:`iqametrics.preference.preference_from_scores`: 1 when A scores better, 0 when B
        does, 0.5 on a tie, oriented by ``info.higher_is_better``; ``scale`` gives a logistic of
        the score difference instead.  ``prefer(ref, a, b) == 1 - prefer(ref, b, a)`` exactly;
        NaN where either score is NaN (an image the metric cannot measure, docs/api.md).
        """
        from .preference import preference_from_scores

        if self.info is None:
            raise ValueError(
                f"{self.name}.prefer() needs to know whether higher scores are better: build the metric "
                "with iqametrics.create(name)"
            )
        refs = self._prepare(ref, "reference images")  # decoded and checked once for both sides
        # a metric built with as_loss=True returns losses: lower is better whatever the score's direction
        higher_is_better = self.info.higher_is_better and not self.as_loss
        return preference_from_scores(self(a, refs), self(b, refs), higher_is_better, scale=scale)

    def _score_list(self, dists: List[Tensor], refs: List[Tensor]) -> Tensor:
        """Scores of differently sized pairs in one pass (subclasses with ``accepts_mixed_sizes``)."""
        raise NotImplementedError(f"{type(self).__name__} sets accepts_mixed_sizes but has no _score_list")

    def forward(self, dist, ref=None) -> Tensor:
        if ref is None:
            raise TypeError(f"{self.name} is a full-reference metric: call it as m(dist, ref)")
        with self._grad_context():
            dists = self._prepare(dist, "distorted images")
            refs = self._prepare(ref, "reference images")
            if len(dists) != len(refs):
                raise ValueError(f"got {len(dists)} distorted images but {len(refs)} references")
            for i, (d, r) in enumerate(zip(dists, refs)):
                if d.shape != r.shape:
                    raise ValueError(
                        f"pair {i}: distorted image is {d.shape[-1]}×{d.shape[-2]} but its reference is "
                        f"{r.shape[-1]}×{r.shape[-2]}; {self.name} needs images of the same size"
                    )
            with self._amp_context():
                if isinstance(dists, Tensor) and isinstance(refs, Tensor):
                    scores = self._score(dists, refs)
                elif self.accepts_mixed_sizes:
                    scores = self._score_list(list(dists), list(refs))
                else:
                    scores = self._score_by_size(list(dists), list(refs))
            return self._finish(scores, len(dists))
