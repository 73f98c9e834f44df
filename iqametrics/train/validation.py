"""Per-epoch validation: the metric scores the validation split through its inference path."""
from __future__ import annotations

from typing import Dict

__all__ = ["validation_scores"]

_KEEP = ("srcc", "krcc", "plcc", "plcc_raw", "accuracy", "agreement", "agreement_soft")


def validation_scores(metric, dataset, labels, *, batch_size: int = 16) -> Dict[str, float]:
    """SRCC, KRCC and PLCC after the 4-parameter fit (NR, FR), or 2AFC accuracy and agreement, of
    ``metric`` on ``dataset``, without bootstrap intervals.  The trained scores' direction follows
    the label transform (a model trained on distortion targets scores lower for better images)."""
    from .evaluate import evaluate_metric

    result = evaluate_metric(metric, dataset, batch_size=batch_size, workers=0, bootstrap=0,
                             higher_is_better=labels.higher_is_better_output)
    if result.failures:
        key, reason = result.failures[0]
        raise ValueError(f"validation could not score {len(result.failures)} items, first: {key}: {reason}")
    scores = {k: float(v) for k, v in result.stats.items() if k in _KEEP and isinstance(v, (int, float))}
    scores["n"] = result.n_scored
    return scores
