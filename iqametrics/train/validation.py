"""Per-epoch validation: the metric scores the validation split through its inference path."""
from __future__ import annotations

from typing import Dict

import numpy as np

__all__ = ["validation_scores"]


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def validation_scores(metric, dataset, labels, *, batch_size: int = 16) -> Dict[str, float]:
    """SRCC and raw PLCC (NR, FR) or accuracy (2AFC) of ``metric`` on ``dataset``, oriented so that
    agreement is positive (the trained scores' direction follows the label transform)."""
    from ..scoring import compare_files, score_files

    records = dataset.records
    if dataset.kind == "NR":
        results = list(score_files([metric], [r.path for r in records], batch_size=batch_size, workers=0))
    elif dataset.kind == "FR":
        results = list(compare_files([metric], [(r.ref, r.dist) for r in records], batch_size=batch_size, workers=0))
    else:
        raise NotImplementedError("2AFC validation arrives with the 2AFC tasks")
    failures = [r for r in results if not hasattr(r, "scores")]
    if failures:
        raise ValueError(f"validation could not score {len(failures)} items, first: {failures[0].key}: {failures[0].reason}")
    by_index = {r.index: r.scores[metric.name] for r in results}
    pred = np.array([by_index[i] for i in range(len(records))], dtype=np.float64)
    mos = np.array([r.mos for r in records], dtype=np.float64)
    sign = 1.0 if labels.higher_is_better_output == dataset.higher_is_better else -1.0
    pred = sign * pred
    if len(records) < 3 or np.ptp(pred) == 0 or np.ptp(mos) == 0:
        return {"srcc": float("nan"), "plcc": float("nan"), "n": len(records)}
    return {"srcc": _spearman(pred, mos), "plcc": float(np.corrcoef(pred, mos)[0, 1]), "n": len(records)}
