"""Uniform model soups: one run per seed, their weights averaged into one model.

M. Wortsman et al., "Model soups: averaging weights of multiple fine-tuned models improves accuracy
without increasing inference time", ICML 2022.  Runs fine-tuned from the same starting weights that
differ only in their random draws (crops, flips, order) tend to end in one basin of the loss, where
the average of their weights scores about like the average of their predictions: an ensemble's
gain at one model's cost.

A recipe with ``train.soup_seeds = [0, 1]`` trains ``OUT/seed-0`` and ``OUT/seed-1`` (the recipe with
that ``train.seed``, each an ordinary run folder) and writes their mean to ``OUT/model.safetensors``
with ``OUT/run.json`` (the members' summaries inside), which ``iqa export`` and ``--cross-validate``
use like any run.  ``--resume`` reuses finished members and resumes an interrupted one.

The members must start from the same weights: a task whose starting point depends on
``train.seed`` (a randomly initialised head) makes members that do not average.  LiteIQA's start
(ImageNet backbone, ridge head in closed form) does not depend on it.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from .config import Recipe, RecipeError
from .trainer import MIN_VALIDATION_ITEMS, RunDirectoryError, RunResult, run_splits, source_version, train_or_reuse

__all__ = ["train_soup", "member_recipe", "average_weights"]

def member_recipe(recipe: Recipe, seed: int) -> Recipe:
    """The run of ``recipe``'s soup seeded ``seed``: the same recipe, one run."""
    train = dataclasses.replace(recipe.train, seed=seed, soup_seeds=[])
    return dataclasses.replace(recipe, train=train).validate()


def average_weights(paths: Sequence[Path]) -> Tuple[Dict[str, torch.Tensor], List[Dict[str, str]]]:
    """The mean of the floating-point tensors of ``paths`` (safetensors of one architecture), computed
    in float64 and stored in each tensor's own dtype; integer tensors (BatchNorm's batch counters) must
    agree and are kept.  Returns the state and each file's metadata."""
    from safetensors import safe_open

    total: Dict[str, torch.Tensor] = {}
    dtypes: Dict[str, torch.dtype] = {}
    metadata = []
    for i, path in enumerate(paths):
        with safe_open(str(path), "pt") as f:
            metadata.append(dict(f.metadata() or {}))
            keys = set(f.keys())
            if i and keys != set(total):
                raise ValueError(f"{path} holds other tensors than {paths[0]}: not members of one soup")
            for key in keys:
                t = f.get_tensor(key)
                dtypes.setdefault(key, t.dtype)
                if i and t.shape != total[key].shape:
                    raise ValueError(f"{key} has shape {tuple(t.shape)} in {path}, {tuple(total[key].shape)} in {paths[0]}")
                if not t.is_floating_point():
                    if i and not torch.equal(t, total[key]):
                        raise ValueError(f"{key} differs between {paths[0]} and {path}: integer tensors must agree")
                    total[key] = t
                else:
                    total[key] = t.double() if not i else total[key] + t.double()
    state = {k: (v / len(paths)).to(dtypes[k]) if v.is_floating_point() else v for k, v in total.items()}
    return state, metadata


def _validate_soup(recipe: Recipe, model_path: Path, val_set, labels: str, device: str) -> Dict[str, Any]:
    """The soup scored on the runs' validation split as a run's final validation is: the file users
    load, through the task's validation metric, oriented by the members' labels (JSON)."""
    from .evaluate import trained_metric
    from .labels import LabelTransform
    from .validation import validation_scores

    if val_set is None or len(val_set) < MIN_VALIDATION_ITEMS:
        return {}
    return validation_scores(trained_metric(recipe, model_path, device), val_set,
                             LabelTransform.from_dict(json.loads(labels)), batch_size=recipe.train.batch_size)


def train_soup(recipe: Recipe, dataset, out_dir, *, joint_dataset=None, device: str = "auto", resume: bool = False,
               overwrite: bool = False, quiet: bool = False, echo: Optional[Callable[[str], None]] = None,
               **trainer_options) -> RunResult:
    """Train the members of ``recipe``'s soup (``train.soup_seeds``) into ``out_dir/seed-S`` and write
    their average to ``out_dir/model.safetensors`` (see the module docstring)."""
    from .. import distributed
    from .checkpoint import save_weights

    recipe = recipe.validate()
    seeds = list(recipe.train.soup_seeds)
    if not seeds:
        raise RecipeError(f"recipe {recipe.name!r} has no train.soup_seeds: train it with Trainer")
    if distributed.launched_by_torchrun():
        raise RunDirectoryError("a soup (train.soup_seeds) trains its members one after another on one process: run "
                                "it without torchrun, or train each member under torchrun (--set train.seed=S --set "
                                "'train.soup_seeds=[]' --out RUN/seed-S) and then average them with --resume --out RUN")
    out_dir = Path(out_dir)
    echo = echo or (lambda text: None)
    members = [(seed, out_dir / f"seed-{seed}") for seed in seeds]
    held = [d for _, d in members if (d / "last.pt").exists() or (d / "model.safetensors").exists()]
    if not resume and not overwrite and (held or (out_dir / "model.safetensors").exists()):
        raise RunDirectoryError(f"{out_dir} already holds a run: resume it (--resume) or --overwrite it")
    if overwrite:
        for name in ("model.safetensors", "run.json", "recipe.json"):
            (out_dir / name).unlink(missing_ok=True)
    summaries = []
    for seed, run_dir in members:
        summary = train_or_reuse(member_recipe(recipe, seed), dataset, run_dir, device=device, overwrite=overwrite,
                                 quiet=quiet, echo=echo, joint_dataset=joint_dataset, **trainer_options)
        summaries.append({"seed": seed, "dir": run_dir.name, **summary})
    state, metadata = average_weights([d / "model.safetensors" for _, d in members])
    labels = {m.get("labels") for m in metadata}
    if len(labels) != 1:
        raise ValueError(f"the members of {out_dir} map scores differently (labels {sorted(labels)}): they do not average")

    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / "model.safetensors"
    (out_dir / "recipe.json").write_text(recipe.to_json())
    save_weights(model_path, state, {**metadata[0], "recipe": recipe.to_json(), "validation": "{}"})
    _, val_set = run_splits(recipe, dataset)
    final = _validate_soup(recipe, model_path, val_set, metadata[0]["labels"], device)
    save_weights(model_path, state, {**metadata[0], "recipe": recipe.to_json(), "validation": json.dumps(final)})
    first = summaries[0]
    seconds = round(sum(s.get("seconds") or 0.0 for s in summaries), 1)
    summary = {
        **{k: first.get(k) for k in ("recipe", "metric", "dataset", "train_items", "val_items", "epochs", "processes",
                                      "device", "labels", "dataset_licence")},
        "steps": first.get("steps"), "best": {}, "final": final, "seconds": seconds, "commit": source_version(),
        "soup": {"seeds": seeds, "members": summaries},
    }
    (out_dir / "run.json").write_text(json.dumps(summary, indent=2))
    echo(f"{out_dir.name}: soup of {len(seeds)} runs written")
    return RunResult(out_dir, model_path, first.get("epochs") or 0, first.get("steps") or 0, {}, final, seconds)
