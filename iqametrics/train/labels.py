"""Training targets from a data set's opinion scores, as the papers define them.

* ``raw``: the score as the data set states it (PyramidIQA and MUSIQ train on KonIQ's 0–100 MOS).
* ``unit``: min-max normalised by the data set's nominal score range to [0, 1] (pyiqa's HyperIQA).
* ``distortion``: ``unit``, reversed for MOS data sets, so that 0 means no visible distortion
  (VTAMIQ, MODELS.md §5.4: "target = normalised distortion, 0 = perfect").
* ``equalised_distortion``: ``distortion`` then "linearised" as VTAMIQ's code does: a
  5-parameter logistic fitted from the sorted training targets to uniform ranks, applied and
  re-normalised to [0, 1] (a smooth histogram equalisation).

A transform is fitted on the training split only and saved with checkpoints and exports, so a
model card can say what the exported scores mean.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Dict, Tuple

import numpy as np

from .stats import fit_logistic, logistic5

__all__ = ["LabelTransform", "LABEL_MODES"]

LABEL_MODES = ("raw", "unit", "distortion", "equalised_distortion")


@dataclass(frozen=True)
class LabelTransform:
    mode: str = "raw"
    score_range: Tuple[float, float] = (0.0, 1.0)
    higher_is_better: bool = True
    #: equalisation: the fitted logistic's parameters and the output's min and max (for re-normalising)
    params: Tuple[float, ...] = field(default_factory=tuple)

    @classmethod
    def fit(cls, mode: str, dataset) -> "LabelTransform":
        """The transform ``mode`` for ``dataset`` (a LabelledSet: its range, direction and, for
        equalisation, its training labels)."""
        if mode not in LABEL_MODES:
            raise ValueError(f"labels must be one of {LABEL_MODES}, got {mode!r}")
        lo, hi = (float(v) for v in dataset.score_range)
        if mode != "raw" and not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise ValueError(f"labels={mode!r} needs a finite score range; {dataset.name} has {dataset.score_range}")
        base = cls(mode, (lo, hi), bool(dataset.higher_is_better))
        if mode != "equalised_distortion":
            return base
        values = np.sort(np.array([base._distortion(r.mos) for r in dataset.records], dtype=np.float64))
        if values.size < 5 or values[-1] <= values[0]:
            raise ValueError("equalising labels needs at least 5 training labels that are not all equal")
        fit = fit_logistic(values, np.linspace(0.0, 1.0, values.size), parameters=5)
        if not fit.ok:
            raise ValueError(f"equalising the training labels failed: {fit.message}")
        low, high = (float(v) for v in fit(np.array([0.0, 1.0])))
        return cls(mode, (lo, hi), base.higher_is_better, tuple(fit.params) + (low, high))

    def _distortion(self, score: float) -> float:
        lo, hi = self.score_range
        u = (float(score) - lo) / (hi - lo)
        return 1.0 - u if self.higher_is_better else u

    def __call__(self, score: float) -> float:
        if self.mode == "raw":
            return float(score)
        if self.mode == "unit":
            lo, hi = self.score_range
            return (float(score) - lo) / (hi - lo)
        d = self._distortion(score)
        if self.mode == "distortion":
            return d
        *p, low, high = self.params
        return float((logistic5(d, *p) - low) / (high - low))

    @property
    def higher_is_better_output(self) -> bool:
        """Whether a model trained on these targets scores better images higher."""
        return self.higher_is_better if self.mode in ("raw", "unit") else False

    def to_dict(self) -> Dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Dict) -> "LabelTransform":
        return cls(raw["mode"], tuple(raw["score_range"]), bool(raw["higher_is_better"]), tuple(raw.get("params", ())))
