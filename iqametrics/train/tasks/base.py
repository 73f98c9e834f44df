"""What the trainer needs to know about a model: the :class:`Task` protocol and its shared parts.

A task ties one registered metric to its training: which module learns (the metric's
``weights_module()``, so that what is exported loads back through ``create(name, weights=...)``),
how one labelled record becomes a training sample (decoding, crops and flips in DataLoader
workers, with the model's own inference preprocessing code), how a batch of samples becomes
predictions, and which parameter groups the optimiser sees.

The trainer does the rest (optimiser, schedule, AMP, accumulation, DDP, checkpoints, logs,
validation through the metric's ordinary inference path).
"""
from __future__ import annotations

from typing import Any, ClassVar, Dict, List, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from ...weights import load_backbone  # noqa: F401 - the tasks import it from here
from ..config import Recipe, RecipeError
from ..labels import LABEL_MODES, LabelTransform
from ..options import Check, one_of, probability

__all__ = ["Task", "TrainingNet", "hflip", "random_seed", "stack_field", "load_backbone", "protocol_crop",
           "rating_histogram"]


def protocol_crop(image: Tensor, protocol, generator: torch.Generator) -> Tensor:
    """One random ``protocol.size`` crop of ``image`` [3, H, W] after the protocol's own resize (a
    :class:`~iqametrics.functional.crops.CropProtocol`): the training view of crop-averaging models."""
    from ...functional.crops import crop_offsets, extract_crops

    image = protocol.resized(image[None])[0]
    size = protocol.size
    offsets = crop_offsets(image.shape[-2], image.shape[-1], size, 1, mode="random", seed=random_seed(generator))
    return extract_crops(image, offsets, size)[0]


def rating_histogram(record, needed_by: str) -> Tensor:
    """The record's rating histogram as float32 frequencies summing to 1; ``needed_by`` (who learns
    histograms) is named in the error for a data set without them."""
    if record.distribution is None:
        raise ValueError(f"{record.key}: {needed_by} needs rating histograms; this data set has none")
    d = torch.tensor(record.distribution, dtype=torch.float32)
    return d / d.sum()


def random_seed(generator: torch.Generator) -> int:
    """A 62-bit seed drawn from ``generator`` (for functions of the library that take seeds)."""
    return int(torch.randint(0, 1 << 62, (1,), generator=generator))


def hflip(generator: torch.Generator, p: float, *images: Tensor):
    """The same horizontal flip, with probability ``p``, of every image ``[..., H, W]``."""
    if p > 0 and float(torch.rand((), generator=generator)) < p:
        return tuple(img.flip(-1) for img in images)
    return images


def stack_field(items: Sequence[Mapping[str, Any]], key: str) -> Tensor:
    """``torch.stack`` of one field of the samples, with a clear error for mixed sizes."""
    values = [item[key] for item in items]
    shapes = {tuple(v.shape) for v in values}
    if len(shapes) > 1:
        raise ValueError(
            f"training samples of one batch differ in size ({sorted(shapes)[:3]}...): this task needs images of "
            "one size (crop or resize them in the recipe's task options)"
        )
    return torch.stack(values)


class TrainingNet(nn.Module):
    """The module the optimiser and DDP see: ``forward(batch) -> predictions`` through the task.

    DDP's gradient synchronisation needs the training computation inside a ``forward`` call of the
    wrapped module; models expose training entry points under other names (``forward_patches``,
    ``forward_tokens``), so this wrapper calls the task's :meth:`Task.predict`.
    """

    def __init__(self, task: "Task", metric: nn.Module):
        super().__init__()
        self.metric = metric
        self._task = task

    def forward(self, batch: Dict[str, Any]) -> Tensor:
        return self._task.predict(self.metric, batch)


class Task:
    """Base class of the training tasks (see the module docstring).

    Subclasses set ``kind`` (``"NR"``, ``"FR"`` or ``"2AFC"``), ``option_defaults`` (the task's
    own options, ``model.task_options`` of the recipe) and implement :meth:`load`,
    :meth:`collate` and :meth:`predict`.
    """

    kind: ClassVar[str] = "NR"
    #: the task's options and their defaults (a recipe may set only these)
    option_defaults: ClassVar[Dict[str, Any]] = {}
    #: a check of each option (:mod:`.options`) beyond the shared ``flip`` and ``labels``
    option_checks: ClassVar[Dict[str, Check]] = {}

    def __init__(self, recipe: Recipe):
        self.recipe = recipe
        options = dict(recipe.model.task_options)
        unknown = sorted(set(options) - set(self.option_defaults))
        if unknown:
            raise RecipeError(
                f"model.task_options: unknown {unknown} for task {recipe.model.task!r}; "
                f"valid: {sorted(self.option_defaults) or 'none'}"
            )
        self.options = {**self.option_defaults, **options}
        checks = self.checks()
        for name, value in self.options.items():
            if name in checks:
                try:
                    checks[name](value)
                except ValueError as exc:
                    raise RecipeError(f"model.task_options.{name} {exc}") from None
        self.labels: Optional[LabelTransform] = None

    @classmethod
    def checks(cls) -> Dict[str, Check]:
        """The checks of the task's options: the shared ones, then the task's own."""
        return {"flip": probability, "labels": one_of(*LABEL_MODES), **cls.option_checks}

    # ------------------------------------------------------------------ model
    def build_metric(self):
        """The metric being trained: built untrained, then started from ``model.init`` if given."""
        import iqametrics

        metric = iqametrics.create(self.recipe.model.metric, pretrained=False, **self.recipe.model.options)
        if self.recipe.model.init:
            self.load_init(metric, self.recipe.model.init)
        return metric

    def load_init(self, metric, source: str) -> None:
        """Start from ``source`` (manifest key or file, any layout the metric's converters know)."""
        metric.load_checkpoint(source)

    def trained_module(self, metric) -> nn.Module:
        """The module whose state dict is checkpointed and exported."""
        return metric.weights_module()

    def param_groups(self, metric) -> Dict[str, List[nn.Parameter]]:
        """Named groups of trainable parameters (a recipe's ``optim.group_lr`` refers to the names)."""
        return {"all": [p for p in self.trained_module(metric).parameters() if p.requires_grad]}

    def train_mode(self, metric) -> None:
        """Put the metric in training mode (tasks that freeze normalisation statistics override)."""
        metric.train()

    def freeze(self, metric) -> None:
        """Switch off the gradients of the parts that stay fixed (called once, after the trainer
        switched every gradient on): e.g. a frozen backbone."""

    def validation_metric(self, metric):
        """The metric that scores the validation split (a view of ``metric``: TFIQA's UNI validates its NR side)."""
        return metric

    def after_step(self, metric) -> None:
        """Called after every optimiser step (e.g. to project weights onto their constraints)."""

    def loss(self, net, batch: Dict[str, Any], loss_fn) -> Tensor:
        """The loss of one batch: ``loss_fn(net(batch), target)`` (tasks with several outputs override)."""
        return loss_fn(net(batch).float(), batch["target"])

    def network(self, metric) -> TrainingNet:
        return TrainingNet(self, metric)

    # ------------------------------------------------------------------ labels
    def fit_labels(self, train_set) -> LabelTransform:
        """The label transform of the recipe (``model.task_options.labels``), fitted on the training split."""
        self.labels = LabelTransform.fit(self.options.get("labels", "raw"), train_set)
        return self.labels

    def target(self, record) -> Tensor:
        return torch.tensor(self.labels(record.mos), dtype=torch.float32)

    # ------------------------------------------------------------------ data (runs in DataLoader workers)
    def load(self, record, generator: torch.Generator) -> Dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def collate(self, items: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
        batch = {key: stack_field(items, key) for key in items[0] if isinstance(items[0][key], Tensor)}
        return batch

    def to_device(self, batch: Dict[str, Any], device: torch.device) -> Dict[str, Any]:
        return {k: (v.to(device, non_blocking=True) if isinstance(v, Tensor) else v) for k, v in batch.items()}

    # ------------------------------------------------------------------ forward
    def predict(self, metric, batch: Dict[str, Any]) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ hooks
    def on_train_start(self, metric, train_set, context) -> None:
        """Called once before the first step (e.g. to initialise a head from frozen features)."""

    def on_train_end(self, metric, train_set, context) -> None:
        """Called once after the last step, before the final export (e.g. to refit a head)."""
