"""Training tasks: one per model family (see :mod:`.base`); registered by name, discovered lazily."""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Dict

__all__ = ["register_task", "get_task", "list_tasks", "task_for"]

_TASKS: Dict[str, type] = {}
_DISCOVERED = False


def register_task(name: str) -> Callable[[type], type]:
    def decorator(cls: type) -> type:
        if name in _TASKS:
            raise ValueError(f"training task {name!r} registered twice")
        _TASKS[name] = cls
        return cls

    return decorator


def _discover() -> None:
    global _DISCOVERED
    if not _DISCOVERED:
        for module in pkgutil.iter_modules(__path__):
            if module.name != "base":
                importlib.import_module(f"{__name__}.{module.name}")
        _DISCOVERED = True


def get_task(name: str) -> type:
    """A registered task by name, or a user's task class as ``"package.module:ClassName"``."""
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise KeyError(f"cannot load training task {name!r}: {exc}") from exc
    _discover()
    if name not in _TASKS:
        raise KeyError(f"unknown training task {name!r}; known: {', '.join(sorted(_TASKS))}")
    return _TASKS[name]


def task_for(recipe):
    """The task of ``recipe``, its options checked: a :class:`~iqametrics.train.config.RecipeError`
    for an unknown task or option, or an option's value the task cannot take."""
    from ..config import RecipeError

    try:
        cls = get_task(recipe.model.task)
    except KeyError as exc:
        raise RecipeError(f"model.task: {exc.args[0]}") from None
    return cls(recipe)


def list_tasks() -> list:
    _discover()
    return sorted(_TASKS)
