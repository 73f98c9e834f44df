"""Learning-rate schedules as pure functions of the step (or epoch) count.

The trainer sets every group's learning rate from these functions before each optimiser step,
so a resumed run needs no scheduler state to continue exactly where it stopped.
"""
from __future__ import annotations

import math
from dataclasses import asdict
from typing import Dict, Mapping

from .config import ScheduleConfig

__all__ = ["learning_rate", "group_schedules"]


def learning_rate(base_lr: float, schedule: Mapping, *, step: int, epoch: int, total_steps: int, total_epochs: int) -> float:
    """The learning rate of a group whose initial rate is ``base_lr`` at optimiser ``step`` of ``epoch``.

    ``schedule`` holds the fields of :class:`~iqametrics.train.config.ScheduleConfig`.  ``cosine``
    follows ``torch.optim.lr_scheduler.CosineAnnealingLR`` (``eta_min + (base − eta_min)(1 + cos(π t / T)) / 2``);
    ``step`` follows ``MultiStepLR``; both after a linear warm-up of ``warmup`` units from ``base/warmup``.
    """
    per_epoch = schedule["per"] == "epoch"
    t = epoch if per_epoch else step
    total = total_epochs if per_epoch else total_steps
    warmup = int(schedule.get("warmup", 0))
    if warmup and t < warmup:
        return base_lr * (t + 1) / warmup
    name = schedule["name"]
    if name == "constant":
        return base_lr
    if name == "cosine":
        period = int(schedule.get("t_max") or 0) or max(total - warmup, 1)
        eta_min = float(schedule.get("eta_min", 0.0))
        tc = min(t - warmup, period)
        return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * tc / period)) / 2
    if name == "step":
        passed = sum(1 for m in schedule.get("milestones", ()) if t >= int(m))
        return base_lr * float(schedule.get("gamma", 0.1)) ** passed
    raise ValueError(f"unknown schedule {name!r}")


def group_schedules(config: ScheduleConfig, groups) -> Dict[str, dict]:
    """The schedule of every named parameter group: the recipe's, updated by its per-group overrides."""
    base = {k: v for k, v in asdict(config).items() if k != "groups"}
    unknown = set(config.groups) - set(groups)
    if unknown:
        raise ValueError(f"schedule.groups names groups the task does not have: {sorted(unknown)}; groups: {sorted(groups)}")
    return {g: {**base, **config.groups.get(g, {})} for g in groups}
