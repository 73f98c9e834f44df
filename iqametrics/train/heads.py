"""Closed-form linear heads on frozen features: extraction, ridge regression, k-fold cross-validation.

Used to fit LiteIQA's head (``iqametrics.models.liteiqa``) before and after fine-tuning, and to rank
configurations cheaply: features are computed once, and every fold and every ridge strength is then
a small linear-algebra problem.

Ridge regression here is on standardised features and z-scored targets (so one ``alpha`` means the
same for any feature scale or score scale), in float64, in closed form.  With n training rows and
p features it is solved in the dual when n < p: ``w = Zᵀ (Z Zᵀ + α I)⁻¹ y``, the same solution as
the primal ``(ZᵀZ + α I)⁻¹ Zᵀ y``.  Cross-validation diagonalises ``Z Zᵀ`` once per fold, so a
whole path of alphas costs one eigendecomposition.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

__all__ = [
    "RidgeHead",
    "labelled_items",
    "extract_features",
    "fit_ridge",
    "cross_validate",
    "summarise",
    "srcc",
    "plcc",
]

Folds = Sequence[Tuple[Sequence[int], Sequence[int]]]


@dataclass(frozen=True)
class RidgeHead:
    """``prediction = bias + weight · (features - feature_mean) / feature_std`` (float64 tensors)."""

    feature_mean: Tensor
    feature_std: Tensor
    weight: Tensor
    bias: float
    alpha: float

    def predict(self, features: Tensor) -> Tensor:
        z = (features.double() - self.feature_mean) / self.feature_std
        return z @ self.weight + self.bias

    def install(self, net) -> None:
        """Write this head into a network with ``set_head`` (e.g. :class:`~iqametrics.models.liteiqa.LiteIQANet`)."""
        net.set_head(self.feature_mean.float(), self.feature_std.float(), self.weight.float(), self.bias)


def labelled_items(items: Iterable) -> Tuple[List[Path], Tensor]:
    """Paths and float64 scores from records with ``.path`` and ``.mos`` (``ImageRecord``) or (path, mos) pairs."""
    paths, scores = [], []
    for item in items:
        if hasattr(item, "path") and hasattr(item, "mos"):
            path, mos = item.path, item.mos
        else:
            path, mos = item
        paths.append(Path(path))
        scores.append(float(mos))
    return paths, torch.tensor(scores, dtype=torch.float64)


@torch.inference_mode()
def extract_features(
    features: Callable[[Tensor], Tensor],
    paths: Sequence[Union[str, Path]],
    *,
    batch_size: int = 8,
    workers: Optional[int] = 0,
    device=None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> Tensor:
    """[N, F] float64 (CPU) of ``features(batch)`` for each image file, in the order of ``paths``.

    ``features`` maps a [B, 3, H, W] batch in [0, 1] to [B, F] (e.g. ``LiteIQANet.features``); images
    are decoded by :mod:`iqametrics.batching` and grouped by size.  An unreadable file is an error
    naming it (training features must be complete).  ``progress(done, total)`` is called per batch.
    """
    from ..batching import Failure, iter_image_batches

    out: Optional[Tensor] = None
    done = 0
    for batch in iter_image_batches(paths, batch_size=batch_size, workers=workers):
        if isinstance(batch, Failure):
            raise ValueError(f"cannot read {batch.key}: {batch.reason}")
        images = batch.images
        groups = [images] if isinstance(images, Tensor) else [img[None] for img in images]
        rows = torch.cat([features(g.to(device) if device is not None else g).double().cpu() for g in groups])
        if out is None:
            out = torch.empty(len(paths), rows.shape[1], dtype=torch.float64)
        out[batch.indices] = rows
        done += len(batch)
        if progress is not None:
            progress(done, len(paths))
    if out is None:
        raise ValueError("no images given")
    return out


def _standardise(features: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    x = features.double()
    mean = x.mean(0)
    std = x.std(0, correction=0)
    std = torch.where(std > 0, std, torch.ones_like(std))  # constant features: left at zero
    return (x - mean) / std, mean, std


def fit_ridge(features: Tensor, targets: Tensor, alpha: float) -> RidgeHead:
    """Ridge regression of ``targets`` [N] on ``features`` [N, F] (standardised; targets z-scored)."""
    if features.ndim != 2 or targets.ndim != 1 or features.shape[0] != targets.shape[0]:
        raise ValueError(f"features must be [N, F] and targets [N]; got {tuple(features.shape)} and {tuple(targets.shape)}")
    if features.shape[0] < 2:
        raise ValueError("ridge regression needs at least 2 rows")
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    z, mean, std = _standardise(features)
    y = targets.double()
    y_mean, y_std = y.mean(), y.std(correction=0)
    if not y_std > 0:
        raise ValueError("targets are constant: nothing to regress")
    t = (y - y_mean) / y_std
    n, p = z.shape
    eye = torch.eye(min(n, p), dtype=torch.float64)
    if n < p:
        w = z.T @ torch.linalg.solve(z @ z.T + alpha * eye, t)
    else:
        w = torch.linalg.solve(z.T @ z + alpha * eye, z.T @ t)
    return RidgeHead(mean, std, w * y_std, float(y_mean), float(alpha))


def srcc(a: Tensor, b: Tensor) -> float:
    """Spearman rank correlation (average ranks for ties): :func:`iqametrics.train.stats.srcc` on tensors."""
    from .stats import srcc as _srcc

    return _srcc(a.double().numpy(), b.double().numpy())


def plcc(a: Tensor, b: Tensor) -> float:
    """Pearson correlation of the raw values (no logistic fit): :func:`iqametrics.train.stats.plcc` on tensors."""
    from .stats import plcc as _plcc

    return _plcc(a.double().numpy(), b.double().numpy())


def cross_validate(features: Tensor, targets: Tensor, folds: Folds, alphas: Sequence[float]) -> Dict[float, dict]:
    """For each alpha: the out-of-fold predictions and, per fold, SRCC and PLCC on the validation rows.

    Each fold standardises with its own training rows only.  Returns
    ``{alpha: {"srcc": [per fold], "plcc": [per fold], "pred": [N] (NaN where a row is never validated)}}``.
    """
    features, targets = features.double(), targets.double()
    results = {float(a): {"srcc": [], "plcc": [], "pred": torch.full_like(targets, float("nan"))} for a in alphas}
    for train_idx, val_idx in folds:
        train_idx, val_idx = torch.as_tensor(train_idx), torch.as_tensor(val_idx)
        z, mean, std = _standardise(features[train_idx])
        zv = (features[val_idx] - mean) / std
        y = targets[train_idx]
        y_mean, y_std = y.mean(), y.std(correction=0)
        t = (y - y_mean) / y_std
        # dual form: predictions = zv zᵀ (z zᵀ + α I)⁻¹ t = (zv zᵀ U) diag(1 / (λ + α)) Uᵀ t
        eigvals, vectors = torch.linalg.eigh(z @ z.T)
        left, right = zv @ z.T @ vectors, vectors.T @ t
        for alpha, res in results.items():
            pred = left @ (right / (eigvals + alpha)) * y_std + y_mean
            res["pred"][val_idx] = pred
            res["srcc"].append(srcc(pred, targets[val_idx]))
            res["plcc"].append(plcc(pred, targets[val_idx]))
    return results


def summarise(result: dict) -> dict:
    """Mean and standard deviation (across folds, ddof 1) of a :func:`cross_validate` entry."""
    out = {}
    for key in ("srcc", "plcc"):
        values = torch.tensor(result[key], dtype=torch.float64)
        out[f"{key}_mean"] = float(values.mean())
        out[f"{key}_std"] = float(values.std()) if len(values) > 1 else 0.0
    return out
