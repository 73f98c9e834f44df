"""Agreement statistics of IQA evaluation (MODELS.md §1.7), in numpy.

* :func:`srcc` (Spearman, average ranks for ties), :func:`krcc` (Kendall tau-b, O(n log n)),
  :func:`plcc` (Pearson), :func:`rmse`;
* the VQEG monotonic logistic mappings, 4- and 5-parameter (:func:`fit_logistic`), fitted with
  ``scipy.optimize.curve_fit`` before PLCC and RMSE;
* seeded bootstrap 95 % intervals (:func:`bootstrap_ci`);
* 2AFC: :func:`twoafc_accuracy` and BAPPS' human-agreement score (:func:`bapps_agreement`).

Own implementations rather than ``scipy.stats`` so that a thousand bootstrap resamples of a
10k-image set stay fast; the tests check every one against scipy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import numpy as np

__all__ = [
    "rankdata", "srcc", "krcc", "plcc", "rmse", "logistic4", "logistic5", "LogisticFit", "fit_logistic",
    "bootstrap_ci", "correlations", "preference", "twoafc_accuracy", "bapps_agreement",
]

TRAIN_EXTRA = 'pip install "iqametrics[train]"'


def _vectors(x, y) -> Tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"predictions and labels differ in length: {x.size} vs {y.size}")
    if x.size < 2:
        raise ValueError(f"need at least 2 samples, got {x.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("predictions and labels must be finite (no NaN or infinity)")
    return x, y


# --------------------------------------------------------------------------- correlations
# Each statistic works on the rows of 2-D arrays, so a thousand bootstrap resamples are a few
# vectorised passes; the public functions are the one-row case.
def rankdata(x) -> np.ndarray:
    """1-based ranks, ties get the average of their ranks (``scipy.stats.rankdata`` 'average')."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    new_group = np.empty(x.size, dtype=bool)
    new_group[:1] = True
    new_group[1:] = sorted_x[1:] != sorted_x[:-1]
    group = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    counts = np.diff(np.append(starts, x.size))
    ranks = np.empty(x.size)
    ranks[order] = (starts + (counts + 1) / 2.0)[group]
    return ranks


def _dense_ranks(x: np.ndarray) -> np.ndarray:
    """0-based dense ranks over the whole array: order and ties within any row are kept."""
    return np.unique(x, return_inverse=True)[1].reshape(x.shape).astype(np.int64)


def _row_offsets(v: np.ndarray) -> np.ndarray:
    """Shift row r of a non-negative integer array by r * (max + 1): rows become disjoint ranges."""
    return v + np.arange(v.shape[0], dtype=np.int64)[:, None] * (int(v.max()) + 1)


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    dx = x - x.mean(axis=1, keepdims=True)
    dy = y - y.mean(axis=1, keepdims=True)
    num = (dx * dy).sum(axis=1)
    den = np.sqrt((dx * dx).sum(axis=1) * (dy * dy).sum(axis=1))
    out = np.full(x.shape[0], np.nan)
    ok = den > 0
    out[ok] = np.clip(num[ok] / den[ok], -1.0, 1.0)
    return out


def _rank_rows(dense: np.ndarray) -> np.ndarray:
    rows, n = dense.shape
    ranks = rankdata(_row_offsets(dense).ravel()).reshape(rows, n)
    return ranks - np.arange(rows)[:, None] * n


def _srcc_rows(xd: np.ndarray, yd: np.ndarray) -> np.ndarray:
    return _pearson_rows(_rank_rows(xd), _rank_rows(yd))


def _tied_pairs_rows(v: np.ndarray) -> np.ndarray:
    """Pairs of equal values in each row of a non-negative integer array."""
    values, counts = np.unique(_row_offsets(v).ravel(), return_counts=True)
    row = values // (int(v.max()) + 1)
    return np.bincount(row, weights=counts * (counts - 1) // 2, minlength=v.shape[0])


def _inversions_rows(y: np.ndarray) -> np.ndarray:
    """Pairs i < j with y[i] > y[j] in each row (non-negative integers), by a bottom-up merge
    sort whose levels are vectorised: each right half counts the left-half values above it."""
    rows, n = y.shape
    size = 1 << max(n - 1, 0).bit_length()
    top = int(y.max()) + 1  # padding: larger than every value, so it adds no inversions
    a = np.full((rows, size), top, dtype=np.int64)
    a[:, :n] = y
    totals = np.zeros(rows, dtype=np.int64)
    width = 1
    while width < size:
        blocks = a.reshape(-1, 2 * width)
        m = blocks.shape[0]
        offset = (np.arange(m, dtype=np.int64) * (top + 1))[:, None]
        left = (blocks[:, :width] + offset).ravel()  # sorted rows over disjoint ranges: one sorted array
        at_most = np.searchsorted(left, (blocks[:, width:] + offset).ravel(), side="right")
        at_most -= np.repeat(np.arange(m, dtype=np.int64) * width, width)
        totals += (width - at_most).reshape(rows, -1).sum(axis=1)
        a = np.sort(blocks, axis=1).reshape(rows, size)
        width *= 2
    return totals


def _krcc_rows(xd: np.ndarray, yd: np.ndarray) -> np.ndarray:
    """Kendall's tau-b per row (Knight's algorithm: discordant pairs are the inversions of y
    after sorting by x, then y)."""
    n = xd.shape[1]
    joint_key = xd * (int(yd.max()) + 1) + yd  # orders by x, then y
    ys = np.take_along_axis(yd, np.argsort(joint_key, axis=1), axis=1)
    total = n * (n - 1) // 2
    x_ties, y_ties, joint = _tied_pairs_rows(xd), _tied_pairs_rows(yd), _tied_pairs_rows(joint_key)
    den = np.sqrt((total - x_ties) * (total - y_ties))
    out = np.full(xd.shape[0], np.nan)
    ok = den > 0
    out[ok] = ((total - x_ties - y_ties + joint - 2 * _inversions_rows(ys)) / np.where(ok, den, 1.0))[ok]
    return out


def _rmse_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean((x - y) ** 2, axis=1))


def plcc(x, y) -> float:
    """Pearson's linear correlation; NaN when either input is constant."""
    x, y = _vectors(x, y)
    return float(_pearson_rows(x[None], y[None])[0])


def srcc(x, y) -> float:
    """Spearman's rank correlation (Pearson of average ranks)."""
    x, y = _vectors(x, y)
    return float(_srcc_rows(_dense_ranks(x)[None], _dense_ranks(y)[None])[0])


def krcc(x, y) -> float:
    """Kendall's tau-b, O(n log n)."""
    x, y = _vectors(x, y)
    return float(_krcc_rows(_dense_ranks(x)[None], _dense_ranks(y)[None])[0])


def rmse(x, y) -> float:
    x, y = _vectors(x, y)
    return float(_rmse_rows(x[None], y[None])[0])


# --------------------------------------------------------------------------- logistic fits
def _expit(t):
    return 0.5 * (1.0 + np.tanh(0.5 * t))  # overflow-free logistic


def logistic4(x, b1, b2, b3, b4):
    """VQEG 4-parameter logistic: ``b2 + (b1 - b2) / (1 + exp(-(x - b3) / |b4|))``."""
    return b2 + (b1 - b2) * _expit((np.asarray(x, dtype=np.float64) - b3) / abs(b4))


def logistic5(x, b1, b2, b3, b4, b5):
    """5-parameter logistic (Sheikh et al. 2006): ``b1 (1/2 - 1/(1 + exp(b2 (x - b3)))) + |b4| x + b5``."""
    x = np.asarray(x, dtype=np.float64)
    return b1 * (_expit(b2 * (x - b3)) - 0.5) + abs(b4) * x + b5


@dataclass(frozen=True)
class LogisticFit:
    """A fitted monotonic mapping; ``params`` are in the units of the predictions given."""

    kind: int  # 4 or 5
    params: Tuple[float, ...]
    ok: bool
    message: str = ""

    def __call__(self, x) -> np.ndarray:
        if not self.ok:
            raise ValueError(f"the {self.kind}-parameter fit failed: {self.message}")
        return (logistic4 if self.kind == 4 else logistic5)(x, *self.params)

    def as_dict(self) -> dict:
        return {"parameters": self.kind, "params": [float(p) for p in self.params], "ok": self.ok,
                "message": self.message}


def _to_data_units(kind: int, p: np.ndarray, mx: float, sx: float, my: float, sy: float) -> Tuple[float, ...]:
    # the fit runs on z = (x - mx) / sx against (y - my) / sy for conditioning and finite
    # bounds; these are the same curves in the units of the data
    if kind == 4:
        return (my + sy * p[0], my + sy * p[1], mx + sx * p[2], sx * p[3])
    return (sy * p[0], p[1] / sx, mx + sx * p[2], sy * p[3] / sx, my + sy * (p[4] - p[3] * mx / sx))


#: bounds in standardised units (x and y divided by their standard deviations): the curve is
#: increasing (4-par.: upper asymptote above the mean label, lower below; 5-par.: b1, b2, b4 >= 0),
#: its asymptotes lie within 50 and its centre within 10 standard deviations, its slope scale within [0.01, 100]:
#: a compact box, so a noisy or linear set cannot send the solver towards a step or infinity
_BOUNDS = {
    4: ([0.0, -50.0, -10.0, 1e-2], [50.0, 0.0, 10.0, 1e2]),
    5: ([0.0, 0.0, -10.0, 0.0, -10.0], [20.0, 1e2, 10.0, 10.0, 10.0]),
}


#: evaluation budget of the solver: 2,000 residual evaluations of the trust-region solver (which
#: does not count the Jacobian's) match MINPACK's 10,000 of MODELS.md §1.7 (which does) for 4 parameters
MAX_EVALUATIONS = 2_000


def fit_logistic(pred, mos, parameters: int = 4) -> LogisticFit:
    """Fit the monotonically increasing VQEG logistic from ``pred`` to ``mos``: bounded least
    squares with ``scipy.optimize.least_squares`` (trust-region reflective, what ``curve_fit``
    runs for bounded problems), deterministic.

    The fit runs on standardised predictions and labels. Initialisation (MODELS.md §1.7):
    4-parameter ``b1 = max(mos)``, ``b2 = min(mos)``, ``b3 = mean(pred)``, ``b4 = std(pred) / 4``;
    5-parameter amplitude ``max - min``, unit slope per standard deviation, centre
    ``mean(pred)``, no linear term, offset ``mean(mos)``. Bounds (:data:`_BOUNDS`) keep the curve
    increasing, so a fit never turns an anti-correlated metric into a correlated one. Where the
    data leave a parameter undetermined (a linear trend gives the 5-parameter curve a flat
    direction) the solver may stop at its evaluation limit; the curve found is used and the
    message says so. A degenerate fit (constant output) comes back with ``ok=False``.
    """
    if parameters not in (4, 5):
        raise ValueError(f"parameters must be 4 or 5, got {parameters!r}")
    x, y = _vectors(pred, mos)
    try:
        from scipy.optimize import least_squares
    except ImportError:  # pragma: no cover - scipy is in the train extra
        raise ImportError(f"logistic fits need scipy: {TRAIN_EXTRA}") from None
    mx, sx, my, sy = float(x.mean()), float(x.std()), float(y.mean()), float(y.std())
    if sx == 0.0 or sy == 0.0:
        return LogisticFit(parameters, (), False, "constant predictions or labels")
    if x.size <= parameters:
        return LogisticFit(parameters, (), False, f"{x.size} samples cannot fit {parameters} parameters")
    z, t = (x - mx) / sx, (y - my) / sy
    lo, hi = _BOUNDS[parameters]
    if parameters == 4:
        fn, p0 = logistic4, [float(t.max()), float(t.min()), 0.0, 0.25]
    else:
        fn, p0 = logistic5, [float(t.max() - t.min()), 1.0, 0.0, 0.0, 0.0]
    result = least_squares(lambda p: fn(z, *p) - t, np.clip(p0, lo, hi), bounds=(lo, hi), method="trf",
                           max_nfev=MAX_EVALUATIONS)
    if not np.isfinite(result.x).all() or float(np.std(fn(z, *result.x))) <= 1e-9:
        return LogisticFit(parameters, (), False, "degenerate fit (constant output: no increasing trend)")
    message = "" if result.status > 0 else f"stopped at {MAX_EVALUATIONS} evaluations; curve used as found"
    params = _to_data_units(parameters, result.x, mx, sx, my, sy)
    return LogisticFit(parameters, tuple(float(v) for v in params), True, message)


# --------------------------------------------------------------------------- bootstrap
def _interval(values: np.ndarray, level: float) -> Tuple[float, float]:
    values = values[np.isfinite(values)]  # resamples where the statistic is undefined are left out
    if values.size == 0:
        return (float("nan"), float("nan"))
    tail = 100.0 * (1.0 - level) / 2.0
    lo, hi = np.percentile(values, [tail, 100.0 - tail])
    return (float(lo), float(hi))


def bootstrap_ci(statistic: Callable[..., float], *arrays, n: int = 1000, seed: int = 0,
                 level: float = 0.95) -> Tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(*arrays)``: ``n`` resamples of the indices
    with replacement from ``numpy.random.default_rng(seed)``; resamples where the statistic is
    undefined (NaN or ValueError) are left out."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    arrays = [np.asarray(a) for a in arrays]
    size = arrays[0].shape[0]
    rng = np.random.default_rng(seed)
    values = np.empty(n)
    for i in range(n):
        idx = rng.integers(0, size, size)
        try:
            values[i] = statistic(*(a[idx] for a in arrays))
        except ValueError:
            values[i] = np.nan
    return _interval(values, level)


def _bootstrap_rows(columns: Dict[str, tuple], n: int, seed: int, level: float = 0.95,
                    chunk: int = 50) -> Dict[str, Tuple[float, float]]:
    """:func:`bootstrap_ci` for row-wise statistics ``{name: (row_fn, x, y)}``, all on the same
    resamples, ``chunk`` resamples per vectorised pass."""
    size = next(iter(columns.values()))[2].shape[0]
    rng = np.random.default_rng(seed)
    values: Dict[str, list] = {name: [] for name in columns}
    for start in range(0, n, chunk):
        idx = rng.integers(0, size, (min(chunk, n - start), size))
        for name, (fn, x, y) in columns.items():
            values[name].append(fn(x[idx], y[idx]))
    return {name: _interval(np.concatenate(v), level) for name, v in values.items()}


def correlations(pred, mos, *, higher_is_better: bool = True, bootstrap: int = 1000, seed: int = 0) -> Dict:
    """SRCC, KRCC, PLCC and RMSE of predictions against opinion scores, with 95 % intervals.

    ``higher_is_better`` says whether a larger ``pred`` should go with a larger ``mos``; when it
    is False (a distance against MOS, a quality score against DMOS) ``pred`` is negated first, so
    agreement is always positive. PLCC and RMSE are computed after the 4-parameter logistic fit
    (``plcc``, ``rmse``) and after the 5-parameter one (``plcc_5``, ``rmse_5``), in the labels'
    units; ``plcc_raw`` is Pearson without a fit. A failed fit leaves its PLCC/RMSE at None and
    says why in ``fit_4``/``fit_5``. Intervals (``<name>_ci95``) come from ``bootstrap``
    resamples (0: none), the same resamples for every statistic; the logistic is fitted once on
    the whole set and the resamples draw (fitted prediction, label) pairs.
    """
    if bootstrap < 0:
        raise ValueError(f"bootstrap must be >= 0, got {bootstrap}")
    x, y = _vectors(pred, mos)
    if not higher_is_better:
        x = -x
    out: Dict = {"n": int(x.size), "negated": not higher_is_better, "bootstrap": int(bootstrap), "seed": int(seed)}
    xd, yd = _dense_ranks(x), _dense_ranks(y)
    columns = {"srcc": (_srcc_rows, xd, yd), "krcc": (_krcc_rows, xd, yd), "plcc_raw": (_pearson_rows, x, y)}
    for parameters, suffix in ((4, ""), (5, "_5")):
        fit = fit_logistic(x, y, parameters)
        out[f"fit_{parameters}"] = fit.as_dict()
        if fit.ok:
            mapped = fit(x)
            columns[f"plcc{suffix}"] = (_pearson_rows, mapped, y)
            columns[f"rmse{suffix}"] = (_rmse_rows, mapped, y)
        else:
            out[f"plcc{suffix}"] = out[f"rmse{suffix}"] = None
    for name, (fn, a, b) in columns.items():
        out[name] = float(fn(a[None], b[None])[0])
    if bootstrap:
        for name, interval in _bootstrap_rows(columns, bootstrap, seed).items():
            out[f"{name}_ci95"] = interval
    return out


# --------------------------------------------------------------------------- 2AFC
def preference(score_a, score_b, *, higher_is_better: bool) -> np.ndarray:
    """The metric's decision for A per triplet: 1 (A preferred), 0 (B), 0.5 (tie), as
    :func:`iqametrics.preference.preference_from_scores` decides, on finite scores."""
    import torch

    from ..preference import preference_from_scores

    a = np.asarray(score_a, dtype=np.float64).reshape(-1)
    b = np.asarray(score_b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("scores of A and B must be finite and as many")
    return preference_from_scores(torch.from_numpy(a), torch.from_numpy(b), higher_is_better).numpy()


def _check_fractions(h, p_a) -> Tuple[np.ndarray, np.ndarray]:
    h = np.asarray(h, dtype=np.float64).reshape(-1)
    p = np.asarray(p_a, dtype=np.float64).reshape(-1)
    if h.shape != p.shape or h.size == 0:
        raise ValueError(f"need as many decisions as labels (got {h.size} and {p.size}), at least one")
    for name, v in (("decisions", h), ("human fractions", p)):
        if not (np.isfinite(v).all() and (v >= 0).all() and (v <= 1).all()):
            raise ValueError(f"{name} must lie in [0, 1]")
    return h, p


def bapps_agreement(h, p_a) -> float:
    """BAPPS 2AFC score (Zhang et al. 2018): mean of ``h p + (1 - h)(1 - p)``, ``p`` the fraction of
    humans for A and ``h`` the metric's decision for A (1, 0, 0.5 for a tie; the LPIPS code's
    ``(d0 < d1)(1 - gts) + (d1 < d0) gts + (d0 == d1) 0.5``), or its probability for A."""
    h, p = _check_fractions(h, p_a)
    return float(np.mean(h * p + (1.0 - h) * (1.0 - p)))


def twoafc_accuracy(h, p_a) -> float:
    """Fraction of triplets where the metric sides with the human majority (CLIC's accuracy for
    hard labels); a tie on either side counts one half."""
    h, p = _check_fractions(h, p_a)
    metric_side, human_side = np.sign(h - 0.5), np.sign(p - 0.5)
    return float(np.mean(np.where((metric_side == 0) | (human_side == 0), 0.5, metric_side == human_side)))
