"""Evaluate any metric of the package against a labelled dataset (``iqa evaluate``).

>>> from iqametrics.train.data import read_dataset
>>> from iqametrics.train.evaluate import evaluate_metric
>>> ev = evaluate_metric("brisque", read_dataset("clive:../shared/data/clive"), split="test")  # doctest: +SKIP
>>> print(ev.table()); ev.plot("brisque_clive.png")                                            # doctest: +SKIP

Scores come from :mod:`iqametrics.scoring` (decoding in workers, batching, one bad file costs
only itself): NR sets through ``score_files``, FR sets through ``compare_files``, 2AFC sets
through two ``compare_files`` passes (``ref`` vs ``a``, ``ref`` vs ``b``) decided as
``FRMetric.prefer`` decides, or through ``prefer(ref, a, b)`` itself for a metric that cannot score
a single pair (PRFNet). Unreadable files become failures listed in the
report; the statistics cover the records that were scored.

Orientation: a metric's scores are compared with the labels after negation when the two run in
opposite directions (a lower-is-better metric against MOS, a quality score against DMOS), so an
agreeing metric always gets positive coefficients; the report says when it negated.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from .stats import (  # noqa: F401 - re-exported: the evaluation API in one place
    LogisticFit, bapps_agreement, bootstrap_ci, correlations, fit_logistic, krcc, logistic4, logistic5, plcc,
    preference, rankdata, rmse, srcc, twoafc_accuracy,
)

__all__ = [
    "Evaluation", "evaluate_metric", "correlations", "srcc", "krcc", "plcc", "rmse", "fit_logistic", "LogisticFit",
    "logistic4", "logistic5", "bootstrap_ci", "twoafc_accuracy", "bapps_agreement", "preference", "rankdata",
    "trained_metric",
]


@dataclass
class Evaluation:
    """The scores of one metric on one dataset (split) and the agreement statistics.

    ``scores`` are the metric's outputs per scored record (for 2AFC: its decision for A, 1/0/0.5,
    or its probability for A from ``prefer``), ``labels`` the dataset's labels (MOS/DMOS, or the
    human fraction for A), ``failures`` ``(key, reason)`` of the records that could not be scored.
    """

    metric: str
    dataset: str
    split: Optional[str]
    kind: str
    keys: List[str]
    scores: List[float]
    labels: List[float]
    stats: Dict
    failures: List[Tuple[str, str]] = field(default_factory=list)
    metric_higher_is_better: bool = True
    labels_higher_is_better: bool = True
    score_pairs: Optional[List[Tuple[float, float]]] = None  # 2AFC: (score of a, score of b)
    notes: List[str] = field(default_factory=list)

    @property
    def n_scored(self) -> int:
        return len(self.scores)

    @property
    def negated(self) -> bool:
        return self.kind != "2AFC" and self.metric_higher_is_better != self.labels_higher_is_better

    def as_dict(self) -> dict:
        return {
            "metric": self.metric, "dataset": self.dataset, "split": self.split, "kind": self.kind,
            "n_records": self.n_scored + len(self.failures), "n_scored": self.n_scored,
            "n_failed": len(self.failures),
            "metric_higher_is_better": self.metric_higher_is_better,
            "labels_higher_is_better": self.labels_higher_is_better, "negated": self.negated,
            "stats": _jsonable(self.stats), "notes": list(self.notes),
            "failures": [{"key": k, "reason": r} for k, r in self.failures],
            "records": [{"key": k, "score": s, "label": lab} for k, s, lab in zip(self.keys, self.scores, self.labels)],
        }

    def to_json(self, path: Optional[Union[str, Path]] = None) -> str:
        """The report as JSON (also written to ``path`` when given)."""
        text = json.dumps(self.as_dict(), indent=2)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    def table(self) -> str:
        """A plain-text summary: counts, orientation and every statistic with its interval."""
        where = self.dataset + (f" (split {self.split})" if self.split else "")
        lines = [f"{'metric':<16}{self.metric}", f"{'dataset':<16}{where}",
                 f"{'records':<16}{self.n_scored} scored, {len(self.failures)} failed"]
        if self.kind == "2AFC":
            rows = [("2AFC accuracy", "accuracy"), ("BAPPS agreement", "agreement"), ("  soft", "agreement_soft")]
        else:
            labels = "MOS (higher is better)" if self.labels_higher_is_better else "DMOS (lower is better)"
            metric = "higher" if self.metric_higher_is_better else "lower"
            lines.append(f"{'labels':<16}{labels}; {self.metric} is {metric}-is-better"
                         + ("; scores negated" if self.negated else ""))
            rows = [("SRCC", "srcc"), ("KRCC", "krcc"), ("PLCC", "plcc"), ("RMSE", "rmse"), ("PLCC (5-par.)", "plcc_5"),
                    ("RMSE (5-par.)", "rmse_5"), ("PLCC (no fit)", "plcc_raw")]
        for title, key in rows:
            if key not in self.stats:
                continue
            value, ci = self.stats[key], self.stats.get(f"{key}_ci95")
            text = "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"
            if ci is not None and value is not None:
                text += f"  [{ci[0]:.4f}, {ci[1]:.4f}]"
            lines.append(f"{title:<16}{text}")
        for n in (4, 5):
            fit = self.stats.get(f"fit_{n}")
            if fit is not None and not fit["ok"]:
                lines.append(f"{f'{n}-par. fit':<16}failed: {fit['message']}")
        if self.stats.get("bootstrap"):
            lines.append(f"{'intervals':<16}95 % bootstrap, {self.stats['bootstrap']} resamples, "
                         f"seed {self.stats['seed']}")
        for key, reason in self.failures[:10]:
            lines.append(f"failed: {key}: {reason}")
        if len(self.failures) > 10:
            lines.append(f"... and {len(self.failures) - 10} more failures")
        return "\n".join(lines)

    def plot(self, path: Union[str, Path]) -> Path:
        """Scatter of the (oriented) scores against the labels with the fitted 4-parameter
        logistic, as a PNG; for 2AFC, the metric's preference for A against the humans'."""
        try:
            from matplotlib.figure import Figure  # no pyplot: leaves the user's backend alone
        except ImportError:
            raise ImportError('plots need matplotlib: pip install "iqametrics[train]"') from None
        fig = Figure(figsize=(6.0, 4.5), dpi=100)
        ax = fig.add_subplot()
        where = self.dataset + (f" [{self.split}]" if self.split else "")
        if self.kind == "2AFC":
            self._plot_2afc(ax)
            title = (f"{self.metric} on {where}: 2AFC accuracy {self.stats['accuracy']:.3f}, "
                     f"agreement {self.stats['agreement']:.3f}")
        else:
            self._plot_scores(ax)
            plcc_text = "n/a" if self.stats.get("plcc") is None else f"{self.stats['plcc']:.3f}"
            title = f"{self.metric} on {where}: SRCC {self.stats['srcc']:.3f}, PLCC {plcc_text}"
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
        return path

    def _plot_scores(self, ax) -> None:
        x = np.asarray(self.scores) * (-1.0 if self.negated else 1.0)
        ax.scatter(x, self.labels, s=8, alpha=0.5, linewidths=0, label=f"{self.n_scored} images")
        fit = self.stats.get("fit_4")
        if fit and fit["ok"]:
            xs = np.linspace(float(x.min()), float(x.max()), 200)
            ax.plot(xs, logistic4(xs, *fit["params"]), color="C3", label="4-parameter logistic")
        ax.set_xlabel(f"{'−' if self.negated else ''}{self.metric} score")
        ax.set_ylabel("MOS" if self.labels_higher_is_better else "DMOS")
        ax.legend(loc="best", fontsize=8)

    def _plot_2afc(self, ax) -> None:
        if self.score_pairs is not None:
            a, b = np.asarray(self.score_pairs).T
            x = (a - b) if self.metric_higher_is_better else (b - a)
            ax.set_xlabel(f"{self.metric}: preference for A (score difference)")
        else:
            x = np.asarray(self.scores) - 0.5
            ax.set_xlabel(f"{self.metric}: probability for A − 0.5")
        ax.scatter(x, self.labels, s=8, alpha=0.4, linewidths=0)
        ax.axhline(0.5, color="grey", lw=0.8)
        ax.axvline(0.0, color="grey", lw=0.8)
        ax.set_ylabel("human fraction for A")


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------- running a metric
def _collect(stream, progress: Optional[Callable[[int], None]]) -> Tuple[Dict[int, float], Dict[int, str]]:
    from iqametrics.batching import Failure

    scores, failures = {}, {}
    for item in stream:
        if isinstance(item, Failure):
            failures[item.index] = item.reason
        else:
            scores[item.index] = next(iter(item.scores.values()))
        if progress is not None:
            progress(1)
    return scores, failures


def _every_other(progress: Callable[[int], None]) -> Callable[[int], None]:
    """Progress per triplet when each triplet is two scored pairs."""
    count = [0]

    def step(k: int) -> None:
        count[0] += k
        if count[0] % 2 == 0:
            progress(1)
    return step


def _metric_direction(metric, higher_is_better: Optional[bool]) -> bool:
    if higher_is_better is not None:
        return bool(higher_is_better)
    info = getattr(metric, "info", None)
    if info is None:
        raise ValueError(f"{type(metric).__name__} has no MetricInfo (not made by iqametrics.create): "
                         "pass higher_is_better=")
    return bool(info.higher_is_better)


def trained_metric(recipe, weights, device: str = "auto"):
    """A run's exported model (``weights``) as users get it, ``create(recipe.model.metric, weights=...)``
    (a metric that is not registered, a user's own task, is built by its task), seen as the run's
    validation sees it: through the task's ``validation_metric`` (TFIQA UNI: its NR side)."""
    import iqametrics
    from iqametrics.devices import resolve_device
    from iqametrics.registry import UnknownMetricError

    from .tasks import task_for

    task = task_for(recipe)
    try:
        metric = iqametrics.create(recipe.model.metric, weights=str(weights), device=device, **recipe.model.options)
    except UnknownMetricError:
        metric = task.build_metric()
        metric.load_checkpoint(str(weights))
        metric = metric.to(resolve_device(device)).eval()
    return task.validation_metric(metric)


def evaluate_metric(metric, dataset, *, split: Optional[str] = None, batch_size: int = 16, workers=None,
                    bootstrap: int = 1000, seed: int = 0, higher_is_better: Optional[bool] = None,
                    progress: Optional[Callable[[int], None]] = None) -> Evaluation:
    """Score ``dataset`` (a :class:`~iqametrics.train.data.LabelledSet`, or only its ``split``)
    with ``metric`` (a metric or a metric name) and compute the agreement statistics.

    NR sets need an NR metric, FR and 2AFC sets an FR metric. ``higher_is_better`` overrides the
    metric's own direction (needed only for metrics not made by :func:`iqametrics.create`).
    ``progress(k)`` is called as records complete.
    """
    from iqametrics import create
    from iqametrics.scoring import compare_files, prefer_files, score_files

    if isinstance(metric, str):
        metric = create(metric)
    data = dataset.subset(split) if split is not None else dataset
    needed = "NR" if data.kind == "NR" else "FR"
    if metric.kind != needed:
        raise ValueError(f"{metric.name} is an {metric.kind} metric, but the {data.name} dataset is {data.kind}: "
                         f"it needs an {needed} metric")
    metric_hib = _metric_direction(metric, higher_is_better)
    records = data.records
    notes: List[str] = list(data.notes)
    pairs = None
    if data.kind == "NR":
        stream = score_files([metric], [r.path for r in records], batch_size=batch_size, workers=workers)
        scores, failures = _collect(stream, progress)
    elif data.kind == "FR":
        stream = compare_files([metric], [(r.ref, r.dist) for r in records], batch_size=batch_size, workers=workers)
        scores, failures = _collect(stream, progress)
    elif not getattr(metric, "scores_pairs", True) and callable(getattr(metric, "prefer", None)):
        # a native comparator (PRFNet); metrics that score pairs go through compare below, whose
        # two scores per triplet also feed the plot (prefer would decide the same from them)
        stream = prefer_files([metric], [(r.ref, r.a, r.b) for r in records], batch_size=batch_size, workers=workers)
        scores, failures = _collect(stream, progress)
        notes.append("preferences from the metric's prefer(ref, a, b)")
    else:
        n = len(records)
        stream = compare_files([metric], [(r.ref, r.a) for r in records] + [(r.ref, r.b) for r in records],
                               batch_size=batch_size, workers=workers)
        both, failed = _collect(stream, None if progress is None else _every_other(progress))
        pairs, failures = {}, {}
        for i in range(n):
            reasons = [failed[j] for j in (i, i + n) if j in failed]
            if reasons:
                failures[i] = "; ".join(reasons)
            else:
                pairs[i] = (both[i], both[i + n])
        decisions = preference([pairs[i][0] for i in sorted(pairs)], [pairs[i][1] for i in sorted(pairs)],
                               higher_is_better=metric_hib) if pairs else []
        scores = dict(zip(sorted(pairs), (float(d) for d in decisions)))
        notes.append("preferences from two compare passes (ref vs a, ref vs b); ties count one half")
    done = sorted(scores)
    if len(done) < 2:
        raise ValueError(f"only {len(done)} of {len(records)} records could be scored: "
                         + "; ".join(list(failures.values())[:3]))
    labels = [records[i].label for i in done]
    values = [scores[i] for i in done]
    if data.kind == "2AFC":
        stats = _twoafc_stats(np.asarray(values), np.asarray(labels), bootstrap, seed)
    else:
        stats = correlations(values, labels, higher_is_better=metric_hib == data.higher_is_better,
                             bootstrap=bootstrap, seed=seed)
    return Evaluation(
        metric=metric.name, dataset=data.name, split=split, kind=data.kind,
        keys=[records[i].key for i in done], scores=values, labels=labels, stats=stats,
        failures=[(records[i].key, failures[i]) for i in sorted(failures)],
        metric_higher_is_better=metric_hib, labels_higher_is_better=data.higher_is_better,
        score_pairs=[pairs[i] for i in done] if pairs is not None else None, notes=notes,
    )


def _twoafc_stats(h: np.ndarray, p_a: np.ndarray, bootstrap: int, seed: int) -> Dict:
    hard = np.where(h > 0.5, 1.0, np.where(h < 0.5, 0.0, 0.5))
    stats: Dict = {"n": int(h.size), "bootstrap": int(bootstrap), "seed": int(seed)}
    columns = {"accuracy": (twoafc_accuracy, hard), "agreement": (bapps_agreement, hard)}
    if not np.array_equal(hard, h):  # the metric gave probabilities: also the expected agreement
        columns["agreement_soft"] = (bapps_agreement, h)
    for name, (fn, decisions) in columns.items():
        stats[name] = fn(decisions, p_a)
        if bootstrap:
            stats[f"{name}_ci95"] = bootstrap_ci(fn, decisions, p_a, n=bootstrap, seed=seed)
    return stats
