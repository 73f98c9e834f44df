"""k-fold cross-validation of a recipe: one training run per fold, then the out-of-fold report.

``iqa train RECIPE --data ROOT --cross-validate 5 --out DIR`` trains fold k into ``DIR/fold-k``
(``data.folds = 5``, ``data.fold = k``: :func:`~iqametrics.train.trainer.fold_split`), scores each
fold's held-out items with that fold's exported model through the metric's ordinary inference path
(:func:`~iqametrics.train.evaluate.evaluate_metric`), and writes

* ``cv.json``: per fold SRCC, KRCC, PLCC (after the 4-parameter logistic fit), PLCC without a fit
  and RMSE, their mean and standard deviation across folds (ddof 1), and the same statistics of the
  pooled out-of-fold predictions with bootstrap intervals;
* ``cv.md``: that table in Markdown, for a model card;
* ``cv_predictions.json`` and ``cv.png``: every item's out-of-fold score and the scatter plot with
  the fitted logistic (the report and plot of ``iqa evaluate``).

A fold already trained with the same recipe is reused and an interrupted one resumed, so the
folds can also be trained one by one (``--set data.folds=5 --set data.fold=K --out DIR/fold-K``,
e.g. on several machines) before one ``--cross-validate`` call writes the report.  The recipe's
``train.select`` should be ``last``: a fold's held-out items must not choose its epoch.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from .config import Recipe
from .trainer import resolve_data, run_splits, source_version, train_or_reuse

__all__ = ["cross_validate", "fold_recipe", "report_markdown", "STATISTICS"]

#: the per-fold statistics (keys of :func:`~iqametrics.train.stats.correlations`) and their titles
STATISTICS = {"srcc": "SRCC", "krcc": "KRCC", "plcc": "PLCC", "plcc_raw": "PLCC (no fit)", "rmse": "RMSE"}


def fold_recipe(recipe: Recipe, folds: int, fold: int) -> Recipe:
    """``recipe`` training fold ``fold`` of ``folds`` (validated on it)."""
    data = dataclasses.replace(recipe.data, folds=folds, fold=fold)
    return dataclasses.replace(recipe, data=data).validate()


def _fmt(value) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


def _summary(rows: List[Dict[str, float]]) -> Dict[str, Dict[str, float]]:
    out: Dict[str, Dict[str, float]] = {"mean": {}, "std": {}}
    for key in STATISTICS:
        values = np.array([r[key] for r in rows if r.get(key) is not None], dtype=np.float64)
        out["mean"][key] = float(values.mean()) if values.size else math.nan
        out["std"][key] = float(values.std(ddof=1)) if values.size > 1 else math.nan
    return out


def report_markdown(report: Dict[str, Any]) -> str:
    keys = list(STATISTICS)
    lines = ["| fold | photos | " + " | ".join(STATISTICS[k] for k in keys) + " |",
             "|---|---|" + "---|" * len(keys)]
    for row in report["per_fold"]:
        lines.append(f"| {row['fold']} | {row['n']} | " + " | ".join(_fmt(row[k]) for k in keys) + " |")
    mean, std = report["mean"], report["std"]
    lines.append("| mean ± sd | | " + " | ".join(f"{_fmt(mean[k])} ± {_fmt(std[k])}" for k in keys) + " |")
    pooled = report["pooled"]
    lines.append(f"| pooled out-of-fold | {pooled['n']} | " + " | ".join(_fmt(pooled[k]) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def cross_validate(recipe: Recipe, data: str, out_dir, *, folds: int = 5, device: str = "auto", overwrite: bool = False,
                   quiet: bool = False, bootstrap: int = 1000, echo: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    """Train and score every fold of ``recipe`` on ``data`` (``[LAYOUT:]ROOT``); returns the report
    written to ``out_dir/cv.json`` (see the module docstring)."""
    from .evaluate import Evaluation, correlations, evaluate_metric, trained_metric

    echo = echo or (lambda text: None)
    if int(folds) != folds or folds < 2:
        raise ValueError(f"folds must be an integer of at least 2, got {folds!r}")
    out_dir = Path(out_dir)
    dataset = resolve_data(str(data), recipe)
    per_fold: List[Dict[str, Any]] = []
    keys: List[str] = []
    scores: List[float] = []
    labels: List[float] = []
    metric_hib = True
    for k in range(folds):
        r = fold_recipe(recipe, folds, k)
        run_dir = out_dir / f"fold-{k}"
        run = train_or_reuse(r, dataset, run_dir, device=device, overwrite=overwrite, quiet=quiet, echo=echo)
        _, val = run_splits(r, dataset)  # the fold's held-out items, as its run validated on
        metric = trained_metric(r, run_dir / "model.safetensors", device)
        ev = evaluate_metric(metric, val, bootstrap=0)
        metric_hib = ev.metric_higher_is_better
        row = {"fold": k, "n": ev.n_scored, "failed": len(ev.failures), "seconds": run.get("seconds"),
               **{key: ev.stats.get(key) for key in STATISTICS}}
        per_fold.append(row)
        echo(f"fold {k}: " + ", ".join(f"{STATISTICS[s]} {_fmt(row[s])}" for s in ("srcc", "plcc")))
        keys += ev.keys
        scores += ev.scores
        labels += ev.labels
    pooled = correlations(scores, labels, higher_is_better=metric_hib == dataset.higher_is_better, bootstrap=bootstrap)
    evaluation = Evaluation(metric=recipe.model.metric, dataset=dataset.name, split=f"{folds}-fold out-of-fold",
                            kind=dataset.kind, keys=keys, scores=scores, labels=labels, stats=pooled,
                            metric_higher_is_better=metric_hib, labels_higher_is_better=dataset.higher_is_better,
                            notes=[f"recipe {recipe.name}, folds seeded {recipe.data.fold_seed}"])
    report = {
        "recipe": recipe.name, "dataset": dataset.name, "folds": folds, "fold_seed": recipe.data.fold_seed,
        "per_fold": per_fold, **_summary(per_fold),
        "pooled": {"n": len(scores), **{k: pooled.get(k) for k in STATISTICS},
                   **{f"{k}_ci95": pooled.get(f"{k}_ci95") for k in ("srcc", "plcc")}},
        "commit": source_version(), "written": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "cv.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "cv.md").write_text(report_markdown(report))
    evaluation.to_json(out_dir / "cv_predictions.json")
    try:
        evaluation.plot(out_dir / "cv.png")
    except ImportError:  # matplotlib is in the train extra; the numbers do not need it
        echo("no cv.png: plots need matplotlib")
    return report
