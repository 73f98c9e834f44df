"""BRISQUE: Blind/Referenceless Image Spatial Quality Evaluator (Mittal, Moorthy & Bovik, TIP 2012).

Follows the official release (``brisquescore.m``, ``brisque_feature.m``, ``estimateggdparam.m``,
``estimateaggdparam.m``; LIVE, UT Austin) with its LIBSVM model ``allmodel`` / ``allrange``:

1. ``rgb2gray`` of the uint8 image, in [0, 255].
2. Two scales (the second ``imresize(im, 0.5)``, MATLAB bicubic with antialiasing): MSCN
   coefficients with the 7×7 Gaussian and ``filter2(..., 'same')`` (zero padding); the GGD fit
   of the whole image's coefficients (shape, variance) and the AGGD fit of their products with
   the 4 neighbours (``circshift`` of the whole image: shape, mean, left and right variance):
   18 features per scale.
3. ``svm-scale -r allrange`` (each feature mapped linearly from its training range to [-1, 1])
   and ``svm-predict`` of the epsilon-SVR with RBF kernel:
   ``sum_i coef_i exp(-gamma |x - sv_i|²) - rho``.

The SVR is evaluated as tensor maths (no LIBSVM).  The release writes the features with
``%f`` and LIBSVM writes the scaled ones with ``%g``; ``libsvm_rounding=True`` reproduces those
text round trips (6 decimals, then 6 significant digits), which the official scores include.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
from torch import Tensor

from ._bundled import bundled_params
from .nss import aggd_fit, ggd_fit, gray_255, mscn, neighbour_products, per_image_on_cpu
from .resize import imresize

__all__ = ["brisque", "brisque_features", "svr_rbf_predict", "BRISQUE_WEIGHTS_KEY"]

BRISQUE_WEIGHTS_KEY = "brisque"

# brisque_feature.m: circshift offsets (right, down, down-right, up-right neighbours)
_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))


def brisque_features(x: Tensor, *, quantize: bool = True) -> Tensor:
    """The 36 BRISQUE features [B, 36] of images [B, C, H, W] in [0, 1] (float64)."""
    im = gray_255(x, quantize=quantize)
    lg = torch.lgamma
    feats = []
    for scale in (1, 2):
        structdis = mscn(im, padding="zeros")
        v = structdis.flatten(1)
        alpha, sigma = ggd_fit(v)
        feats += [alpha, sigma * sigma]
        for pair in neighbour_products(structdis, _SHIFTS):
            alpha, left, right = aggd_fit(pair.flatten(1))
            const = ((lg(1 / alpha) - lg(3 / alpha)) / 2).exp()
            mean = (right - left) * (lg(2 / alpha) - lg(1 / alpha)).exp() * const
            feats += [alpha, mean, left * left, right * right]
        if scale == 1:
            im = imresize(im, 0.5)
    return torch.stack(feats, dim=-1)


def _round_significant(x: Tensor, digits: int) -> Tensor:
    """Round to ``digits`` significant digits, like C's ``%g`` (zeros stay zero)."""
    mag = torch.floor(torch.log10(x.abs().clamp(min=1e-300)))
    factor = torch.pow(10.0, digits - 1 - mag)
    return torch.where(x == 0, x, torch.round(x * factor) / factor)


def svr_rbf_predict(x: Tensor, sv: Tensor, coef: Tensor, gamma, rho) -> Tensor:
    """epsilon-SVR with RBF kernel: ``sum_i coef_i exp(-gamma |x - sv_i|²) - rho`` for x [B, D].

    ``gamma`` and ``rho`` may be numbers or 0-d tensors (kept on the device: no host sync).
    """
    d2 = torch.cdist(x, sv.to(x), compute_mode="donot_use_mm_for_euclid_dist").pow(2)
    gamma = torch.as_tensor(gamma, dtype=x.dtype, device=x.device)
    rho = torch.as_tensor(rho, dtype=x.dtype, device=x.device)
    return torch.exp(-gamma * d2) @ coef.to(x) - rho


@per_image_on_cpu
def brisque(
    x: Tensor,
    model: Optional[Dict[str, Tensor]] = None,
    *,
    quantize: bool = True,
    libsvm_rounding: bool = True,
) -> Tensor:
    """BRISQUE score per image (lower is better; about 0-100) of ``x`` [B, C, H, W] in [0, 1].

    ``model`` holds ``sv`` [N, 36], ``sv_coef`` [N], ``rho``, ``gamma``, ``feature_min`` /
    ``feature_max`` [36] (the scaling ranges); default: the official LIVE model (bundled).
    Returns float64 [B].
    """
    if model is None:
        model = bundled_params(BRISQUE_WEIGHTS_KEY, x.device)
    feats = brisque_features(x, quantize=quantize)
    if libsvm_rounding:
        feats = torch.round(feats * 1e6) / 1e6
    lo, hi = model["feature_min"].to(feats), model["feature_max"].to(feats)
    scaled = -1 + 2 * (feats - lo) / (hi - lo)
    if libsvm_rounding:
        scaled = _round_significant(scaled, 6)
    return svr_rbf_predict(scaled, model["sv"], model["sv_coef"], model["gamma"], model["rho"])
