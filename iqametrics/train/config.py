"""Recipes: what to train, on which data, and how, as one small TOML file per model and paper setting.

A recipe is a nested table whose sections map onto the dataclasses below.  Every key is checked
when the recipe is read: a misspelt key is an error naming the section and the valid keys, so
a typo never silently falls back to a default.  ``--set section.key=value`` overrides any value
(the value is read as a TOML literal: ``3``, ``1e-4``, ``true``, ``"adamw"``, ``[6, 9]``).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = [
    "Recipe",
    "DataConfig",
    "ModelConfig",
    "OptimConfig",
    "ScheduleConfig",
    "LossConfig",
    "TrainConfig",
    "RecipeError",
    "read_recipe",
    "parse_recipe",
    "apply_overrides",
]


#: values of ``train.select``
SELECT = ("srcc", "plcc", "accuracy", "loss", "last")


class RecipeError(ValueError):
    """A recipe (or an override of it) is malformed; the message names the key."""


@dataclass
class DataConfig:
    """Which data set and splits.  ``layout``/``options`` go to ``iqametrics.train.data.read_dataset``."""

    layout: str = "generic"
    options: Dict[str, Any] = field(default_factory=dict)
    #: split the model learns from ("all": every record of the data set)
    train_split: str = "train"
    #: split scored after every epoch (SRCC/PLCC, best-checkpoint selection); "" for none
    val_split: str = "val"
    #: draws of every training item per epoch (HyperIQA/PyramidIQA: 25 crops of each image)
    repeats: int = 1
    #: keep only the first N items of each split (smoke runs, quick experiments; 0: all)
    limit: int = 0
    #: k-fold cross-validation inside ``train_split`` (0: off): fold ``fold`` is the validation split
    #: and the other k - 1 folds train (``iqametrics.train.data.splits.kfold``: seeded by ``fold_seed``,
    #: stable per file, by content for FR); ``val_split`` is then unused.  ``iqa train --cross-validate``
    #: runs every fold.
    folds: int = 0
    fold: int = 0
    fold_seed: int = 0
    #: a second data set for tasks that learn from two at once (TFIQA's UNI: one batch of each per step)
    joint_layout: str = ""
    joint_options: Dict[str, Any] = field(default_factory=dict)
    joint_train_split: str = "train"
    #: its batch per step (0: train.batch_size)
    joint_batch_size: int = 0


@dataclass
class ModelConfig:
    """The network: a training task, the registered metric it trains, and its options."""

    #: a name from ``iqametrics.train.tasks.list_tasks()``
    task: str = ""
    #: the registered metric whose architecture is trained (its weights are what is exported)
    metric: str = ""
    #: options of ``iqametrics.create(metric, pretrained=False, **options)``
    options: Dict[str, Any] = field(default_factory=dict)
    #: weights to start from: a manifest key or a file (our layout or a known upstream one); "" for none
    init: str = ""
    #: task-specific training options (crop size, labels, frozen parts...)
    task_options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimConfig:
    name: str = "adamw"  # adam | adamw | sgd
    lr: float = 1e-4
    weight_decay: float = 0.0
    betas: Tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    #: learning rate per named parameter group of the task (e.g. ``{backbone = 2e-5}``); others use ``lr``
    group_lr: Dict[str, float] = field(default_factory=dict)
    #: build a fresh optimiser (empty moments) every epoch, as HyperIQA's official solver does
    reset_each_epoch: bool = False


@dataclass
class ScheduleConfig:
    #: constant | cosine | step
    name: str = "constant"
    #: the unit the schedule counts: "step" (optimiser steps) or "epoch"
    per: str = "step"
    #: linear warm-up from 0, in the unit of ``per``
    warmup: int = 0
    #: cosine: period in units of ``per`` (0: the whole run); its floor ``eta_min``
    t_max: int = 0
    eta_min: float = 0.0
    #: step: the lr is multiplied by ``gamma`` at each milestone
    milestones: List[int] = field(default_factory=list)
    gamma: float = 0.1
    #: per-group overrides of the fields above, e.g. ``{backbone = {name = "constant"}}``
    groups: Dict[str, Dict[str, Any]] = field(default_factory=dict)


@dataclass
class LossConfig:
    #: a name from ``iqametrics.train.losses.LOSSES``
    name: str = "l1"
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainConfig:
    epochs: int = 1
    #: images (pairs, triplets) per optimiser step, summed over processes and accumulation steps
    batch_size: int = 8
    #: micro-batches whose gradients are summed before each optimiser step
    accumulate: int = 1
    #: clip the global gradient norm to this value (0: no clipping)
    clip_grad_norm: float = 0.0
    #: "bf16" | "fp16" | "" (float32)
    amp: str = ""
    #: exponential moving average of the weights, evaluated and exported instead of them (0: off)
    ema_decay: float = 0.0
    seed: int = 0
    #: decoding processes (None: up to 4)
    workers: Optional[int] = None
    #: stop after this many optimiser steps in all (smoke runs; 0: no limit)
    max_steps: int = 0
    #: validation metric that picks the best checkpoint: srcc | plcc | accuracy | loss; "last": no
    #: selection, the last epoch is kept (cross-validation: the validation fold must not choose the model)
    select: str = "srcc"
    #: validation every this many epochs (the last epoch is always validated)
    val_every: int = 1
    #: log the training loss every this many optimiser steps
    log_every: int = 10
    channels_last: bool = False
    #: a uniform model soup (:mod:`iqametrics.train.soup`): one run per seed, their weights averaged
    #: into the model; empty: one run seeded by ``seed``
    soup_seeds: List[int] = field(default_factory=list)


_SECTIONS = {
    "data": DataConfig,
    "model": ModelConfig,
    "optim": OptimConfig,
    "schedule": ScheduleConfig,
    "loss": LossConfig,
    "train": TrainConfig,
}


@dataclass
class Recipe:
    """A complete training configuration (see the module docstring)."""

    name: str = ""
    description: str = ""
    #: where the values come from (paper, official code, MODELS.md section)
    source: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def validate(self) -> "Recipe":
        t = self.train
        if not self.model.task:
            raise RecipeError("model.task is required")
        if not self.model.metric:
            raise RecipeError("model.metric is required")
        for name, value, low in (("train.epochs", t.epochs, 1), ("train.batch_size", t.batch_size, 1),
                                 ("train.accumulate", t.accumulate, 1), ("data.repeats", self.data.repeats, 1),
                                 ("train.val_every", t.val_every, 1), ("train.log_every", t.log_every, 1),
                                 ("data.limit", self.data.limit, 0), ("train.max_steps", t.max_steps, 0),
                                 ("data.folds", self.data.folds, 0), ("data.fold", self.data.fold, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise RecipeError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.data.folds == 1:
            raise RecipeError("data.folds must be 0 (no cross-validation) or at least 2, got 1")
        if self.data.folds and self.data.fold >= self.data.folds:
            raise RecipeError(f"data.fold must be below data.folds ({self.data.folds}), got {self.data.fold}")
        if t.batch_size % t.accumulate:
            raise RecipeError(f"train.batch_size ({t.batch_size}) must be a multiple of train.accumulate ({t.accumulate})")
        if t.amp not in ("", "bf16", "fp16"):
            raise RecipeError(f"train.amp must be '', 'bf16' or 'fp16', got {t.amp!r}")
        if not 0.0 <= t.ema_decay < 1.0:
            raise RecipeError(f"train.ema_decay must be in [0, 1), got {t.ema_decay}")
        seeds = t.soup_seeds
        if not isinstance(seeds, (list, tuple)) or any(not isinstance(x, int) or isinstance(x, bool) for x in seeds):
            raise RecipeError(f"train.soup_seeds must be a list of integer seeds, got {seeds!r}")
        if len(seeds) == 1 or len(set(seeds)) != len(seeds):
            raise RecipeError(f"train.soup_seeds must name at least 2 different seeds (or none), got {seeds!r}")
        if t.select not in SELECT:
            raise RecipeError(f"train.select must be one of {', '.join(SELECT)}, got {t.select!r}")
        if self.optim.name not in ("adam", "adamw", "sgd"):
            raise RecipeError(f"optim.name must be adam, adamw or sgd, got {self.optim.name!r}")
        _check_schedule("schedule", dataclasses.asdict(self.schedule))
        for group, overrides in self.schedule.groups.items():
            unknown = set(overrides) - {f.name for f in fields(ScheduleConfig)} | ({"groups"} & set(overrides))
            if unknown:
                raise RecipeError(f"schedule.groups.{group}: unknown keys {sorted(unknown)}")
            _check_schedule(f"schedule.groups.{group}", {**dataclasses.asdict(self.schedule), **overrides})
        return self


def recipe_changes(saved: Mapping[str, Any], recipe: "Recipe") -> List[str]:
    """The ``section.key`` names whose values differ between a saved recipe (its JSON, as a run
    folder keeps it) and ``recipe`` (a whole section when it is not a table).  A key the saved
    recipe lacks (a run from before that key existed) counts as its default value.  The prose
    (``description``, ``source``) documents a recipe and never counts."""
    now = json.loads(recipe.to_json())  # tuples become lists, as in the saved JSON
    defaults = json.loads(Recipe().to_json())
    changed = []
    for section in (set(saved) | set(now)) - {"description", "source"}:
        a, b = saved.get(section, defaults.get(section)), now.get(section)
        if isinstance(a, dict) and isinstance(b, dict):
            default = defaults.get(section) or {}
            changed += [f"{section}.{k}" for k in set(a) | set(b) if a.get(k, default.get(k)) != b.get(k)]
        elif a != b:
            changed.append(section)
    return sorted(changed)


def _check_schedule(where: str, s: Mapping) -> None:
    if s["name"] not in ("constant", "cosine", "step"):
        raise RecipeError(f"{where}.name must be constant, cosine or step, got {s['name']!r}")
    if s["per"] not in ("step", "epoch"):
        raise RecipeError(f"{where}.per must be 'step' or 'epoch', got {s['per']!r}")


def _build(cls, raw: Mapping, where: str):
    if not isinstance(raw, Mapping):
        raise RecipeError(f"[{where}] must be a table, got {type(raw).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise RecipeError(f"[{where}] has unknown keys {unknown}; valid keys: {sorted(known)}")
    values = {}
    for key, value in raw.items():
        default = getattr(cls(), key)
        if isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if default is not None and not isinstance(value, type(default)) and not (
            isinstance(default, (list, tuple)) and isinstance(value, (list, tuple))
        ):
            raise RecipeError(f"{where}.{key} must be {type(default).__name__}, got {value!r}")
        values[key] = value
    return cls(**values)


def parse_recipe(raw: Mapping, name: str = "") -> Recipe:
    """A :class:`Recipe` from the nested dict of a TOML file (keys checked, see the module docstring)."""
    raw = dict(raw)
    top = {k: raw.pop(k) for k in ("name", "description", "source") if k in raw}
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise RecipeError(f"unknown recipe sections {unknown}; valid: {sorted(_SECTIONS)} and name/description/source")
    sections = {key: _build(cls, raw.get(key, {}), key) for key, cls in _SECTIONS.items()}
    for key, value in top.items():
        if not isinstance(value, str):
            raise RecipeError(f"{key} must be a string")
    return Recipe(name=top.get("name", name), description=top.get("description", ""),
                  source=top.get("source", ""), **sections).validate()


def _toml():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11: the train extra installs tomli
        import tomli as tomllib
    return tomllib


def read_recipe(path) -> Recipe:
    """Read a recipe file (TOML)."""
    path = Path(path)
    with open(path, "rb") as f:
        try:
            raw = _toml().load(f)
        except Exception as exc:  # tomllib.TOMLDecodeError; the module is chosen at run time
            raise RecipeError(f"{path}: not valid TOML: {exc}") from exc
    return parse_recipe(raw, name=path.stem)


def _parse_value(text: str):
    try:
        return _toml().loads(f"v = {text}")["v"]
    except Exception:  # not a TOML literal: a bare word is a string
        return text


def apply_overrides(recipe: Recipe, overrides: Sequence[str]) -> Recipe:
    """A copy of ``recipe`` with ``section.key=value`` overrides applied (``model.options.resize=...``
    reaches into the option tables)."""
    raw = recipe.to_dict()
    for item in overrides:
        if "=" not in item:
            raise RecipeError(f"--set expects section.key=value, got {item!r}")
        dotted, text = item.split("=", 1)
        parts = dotted.strip().split(".")
        if len(parts) < 2 and parts[0] not in ("name", "description", "source"):
            raise RecipeError(f"--set expects section.key=value, got {item!r}")
        node = raw
        for depth, part in enumerate(parts[:-1]):
            if part not in node or not isinstance(node[part], dict):
                where = ".".join(parts[: depth + 1])
                raise RecipeError(f"--set {dotted}: {where!r} is not a section of the recipe")
            node = node[part]
        if len(parts) == 2 and parts[0] in _SECTIONS and parts[1] not in node:
            valid = sorted(f.name for f in fields(_SECTIONS[parts[0]]))
            raise RecipeError(f"--set {dotted}: unknown key {parts[1]!r}; valid keys of [{parts[0]}]: {valid}")
        node[parts[-1]] = _parse_value(text.strip())
    return parse_recipe(raw, name=recipe.name)
