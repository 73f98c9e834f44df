"""Tone distortions: KADID-10k types 16 (brighten), 17 (darken), 18 (mean shift), 22
(quantisation) and 25 (contrast change), after ``imbrighten.m``, ``imdarken.m``,
``immeanshift.m``, ``imnoisequantize.m`` and ``imcontrastc.m`` of the official code, whose tone
curves go through ``curves.m`` (MATLAB ``spline`` through control points, clipped to [0, 1]).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ._common import lab_d65_to_rgb, rgb_to_lab_d65, tone_curve

__all__ = ["brighten", "darken", "mean_shift", "contrast_change", "quantization", "multi_otsu"]


def _midtone_curve(x: Tensor, middle: float) -> Tensor:
    """``curves(x, middle)``: the parabola through (0, 0), (0.5, middle), (1, 1), clipped."""
    return tone_curve(x, (0.0, 0.5, 1.0), (0.0, middle, 1.0))


def brighten(x: Tensor, amount: float, rng=None) -> Tensor:
    """``imbrighten``: two thirds of the curve on RGB plus one third of the curve on L*."""
    lab = rgb_to_lab_d65(x)
    lightness = _midtone_curve(lab[:, :1] / 100.0, 0.5 + amount / 2) * 100.0
    via_lab = lab_d65_to_rgb(torch.cat((lightness, lab[:, 1:]), dim=1)).clamp(0, 1)
    return (2 * _midtone_curve(x, 0.5 + amount / 2) + via_lab) / 3


def darken(x: Tensor, amount: float, rng=None) -> Tensor:
    """``imdarken`` (its L* branch is off by default): the curve through (0.5, 0.5 - amount/2) on RGB."""
    return _midtone_curve(x, 0.5 - amount / 2)


def mean_shift(x: Tensor, amount: float, rng=None) -> Tensor:
    """``immeanshift``: ``amount`` added to every sample, clipped."""
    return (x + amount).clamp(0, 1)


def contrast_change(x: Tensor, amount: float, rng=None) -> Tensor:
    """``imcontrastc``: the spline through (0.3, 0.25 - amount/4), (0.5, 0.5), (0.7, 0.75 + amount/4)
    and the end points; positive amounts raise contrast, negative lower it."""
    return tone_curve(x, (0.0, 0.3, 0.5, 0.7, 1.0), (0.0, 0.25 - amount / 4, 0.5, 0.75 + amount / 4, 1.0))


def multi_otsu(hist: np.ndarray, thresholds: int) -> np.ndarray:
    """The ``thresholds`` bin indices that maximise Otsu's between-class variance of ``hist``.

    Class ``k`` holds the bins ``(t[k-1], t[k]]``.  Exact maximum by dynamic programming over
    the cumulative sums (MATLAB's ``multithresh`` searches for it numerically).
    """
    p = np.asarray(hist, np.float64)
    bins = len(p)
    classes = thresholds + 1
    if classes > bins:
        raise ValueError(f"{thresholds} thresholds need at least {classes} histogram bins, got {bins}")
    w = np.concatenate(([0.0], np.cumsum(p)))
    s = np.concatenate(([0.0], np.cumsum(p * np.arange(bins))))
    # gain[a, b]: w·μ² of the class holding bins a..b-1 (cumulative indices a < b)
    dw = w[None, :] - w[:, None]
    ds = s[None, :] - s[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(dw > 0, ds * ds / dw, 0.0)
    gain[np.tril_indices(bins + 1)] = -np.inf  # a class needs at least one bin
    best = gain[0].copy()  # best[b]: first k classes cover bins 0..b-1
    choice = []
    for _ in range(classes - 1):
        total = best[:, None] + gain  # previous classes end at a, the new one covers a..b-1
        choice.append(total.argmax(axis=0))
        best = total.max(axis=0)
    cuts = [bins]
    for arg in reversed(choice):
        cuts.append(int(arg[cuts[-1]]))
    return np.asarray(cuts[::-1][:-1]) - 1  # last bin of each class but the last


def quantization(x: Tensor, thresholds: float, rng=None) -> Tensor:
    """``imnoisequantize``: Otsu thresholds of all samples (``multithresh``, 256 bins), and
    ``imquantize`` to the values ``[0, t(2), ..., t(N), 1]``: the lowest class goes to black, the
    highest to white, each other class to its upper threshold."""
    n = int(thresholds)
    levels = torch.round(x.clamp(0, 1) * 255).long()
    hist = torch.bincount(levels.reshape(-1).cpu(), minlength=256).numpy()
    cut = torch.as_tensor(multi_otsu(hist, n), device=x.device)
    values = torch.cat((torch.zeros(1), cut[1:].double().cpu() / 255.0, torch.ones(1))).to(device=x.device, dtype=x.dtype)
    return values[torch.bucketize(levels, cut)]  # class k: t[k-1] < level <= t[k]
