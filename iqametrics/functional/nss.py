"""Natural-scene-statistics primitives shared by NIQE, BRISQUE and PIQE (Mittal et al.).

* :func:`gray_255` — the grey image the MATLAB references work on (``rgb2gray`` of a uint8 image,
  in [0, 255]).
* :func:`mscn` — mean-subtracted contrast-normalised coefficients ``(I - mu) / (sigma + C)`` with
  the 7×7, sigma 7/6 Gaussian window.
* :func:`ggd_fit` / :func:`aggd_fit` — the moment-matching (asymmetric) generalised Gaussian fits of
  ``estimateggdparam.m`` / ``estimateaggdparam.m``: the shape is the grid value in
  ``0.2:0.001:10`` whose moment ratio is nearest to the sample's.

Everything works on the last dimension of batched tensors, so one call fits every block of
every image; the grid search is a ``searchsorted`` on the (strictly monotone) ratio table
rather than MATLAB's argmin over 9801 entries, which gives the same index.
"""
from __future__ import annotations

from functools import wraps
from typing import Callable, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ._cache import cached_constants
from .color import rgb_to_gray
from .filters import gaussian_kernel1d, pad

__all__ = ["gray_255", "mscn", "ggd_fit", "aggd_fit", "neighbour_products", "per_image_on_cpu", "round_half_up", "SHAPE_GRID_STEP"]

#: the shape grid of the MATLAB references: ``gam = 0.2:0.001:10``
SHAPE_GRID_STEP = 0.001


def per_image_on_cpu(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Run ``fn(x, ...)`` one image at a time on CPU, on the whole batch elsewhere.

    The float64 maps of one image stay in the CPU caches; whole batches stream through memory
    and are 1.1-1.7x slower per image there.  GPUs want the whole batch.  Scores are identical.
    """

    @wraps(fn)
    def wrapper(x: Tensor, *args, **kwargs) -> Tensor:
        if x.device.type == "cpu" and x.shape[0] > 1:
            return torch.cat([fn(x[i : i + 1], *args, **kwargs) for i in range(x.shape[0])])
        return fn(x, *args, **kwargs)

    return wrapper


def round_half_up(x: Tensor) -> Tensor:
    """MATLAB's rounding of non-negative values (halves away from zero; torch.round goes to even)."""
    return torch.floor(x + 0.5)


def gray_255(x: Tensor, *, quantize: bool = True) -> Tensor:
    """The grey image [B, 1, H, W] in [0, 255] that MATLAB's ``rgb2gray(imread(...))`` gives.

    ``x`` is [B, 3, H, W] (or [B, 1, H, W]) in [0, 1].  With ``quantize`` the input is read as
    an 8-bit image: RGB rounded to uint8, ``rgb2gray`` applied and rounded to uint8 again, as
    the references do on the uint8 images they read.  Without it the float values are used
    as they are (``255 * rgb2gray(x)``).
    """
    if quantize:
        # 8-bit levels are exact in any float dtype: round before widening (less float64 traffic)
        x = round_half_up(x.to(torch.promote_types(x.dtype, torch.float32)).clamp(0, 1) * 255.0).double()
    else:
        x = x.double().clamp(0, 1) * 255.0
    if x.shape[1] == 3:
        x = rgb_to_gray(x)
        if quantize:
            x = round_half_up(x)
    elif x.shape[1] != 1:
        raise ValueError(f"expected 1 or 3 channels, got {x.shape[1]}")
    return x


@cached_constants(maxsize=None)
def _window(dtype: torch.dtype, device: torch.device) -> Tensor:
    # fspecial('gaussian', 7, 7/6) is separable: outer(g, g) with g the normalised 1-D Gaussian.
    return gaussian_kernel1d(7, 7.0 / 6.0, dtype=torch.float64).to(device=device, dtype=dtype)


def _blur7(x: Tensor, padding: str) -> Tensor:
    """The separable 7×7 Gaussian of :func:`mscn` as 2 × 7 in-place fused multiply-adds.

    On CPU this gives bit for bit what float64 ``conv2d`` (``separable_filter2d``) gives, the
    summation that reproduces the official scores (see ``docs/models/classic_nr.md``), at a
    third of its cost: float64 ``conv2d`` takes a slow generic path.
    """
    g = _window(x.dtype, x.device)
    h, w = x.shape[-2:]
    xp = pad(x, 3, padding)
    y = xp[..., 0:h, :] * g[0]
    for k in range(1, 7):
        y.addcmul_(xp[..., k : k + h, :], g[k])
    z = y[..., 0:w] * g[0]
    for k in range(1, 7):
        z.addcmul_(y[..., k : k + w], g[k])
    return z


def mscn(x: Tensor, *, padding: str, c: float = 1.0) -> Tensor:
    """``(x - mu) / (sigma + c)`` with the 7×7 Gaussian (sigma 7/6) local moments.

    ``x`` is [B, 1, H, W].  ``padding`` is the boundary rule of the reference: ``"replicate"``
    (NIQE's and PIQE's ``imfilter``/``imgaussfilt``) or ``"zeros"`` (BRISQUE's
    ``filter2(..., 'same')``).  ``sigma = sqrt(|E[x²] - mu²|)`` as in the references.
    """
    mu = _blur7(x, padding)
    sigma = _blur7(x * x, padding).sub_(mu * mu).abs_().sqrt_().add_(c)
    return mu.neg_().add_(x).div_(sigma)  # (x - mu) / (sigma + c), in place


@cached_constants(maxsize=None)
def _shape_tables(dtype: torch.dtype, device: torch.device) -> Tuple[Tensor, Tensor, Tensor]:
    """Shape grid and its two moment-ratio tables, both made increasing for ``searchsorted``.

    ``r_aggd(g) = Γ(2/g)² / (Γ(1/g) Γ(3/g))`` increases with ``g``; the GGD ratio
    ``Γ(1/g) Γ(3/g) / Γ(2/g)²`` (its reciprocal) decreases, so it is stored negated.
    """
    gam = torch.arange(200, 10001, dtype=torch.float64) * SHAPE_GRID_STEP
    lg = torch.lgamma
    log_r = 2 * lg(2 / gam) - lg(1 / gam) - lg(3 / gam)
    return (
        gam.to(device=device, dtype=dtype),
        log_r.exp().to(device=device, dtype=dtype),
        (-(-log_r).exp()).to(device=device, dtype=dtype),
    )


def _nearest_index(table: Tensor, values: Tensor) -> Tensor:
    """Index of the entry of increasing ``table`` nearest to each value (first one on ties).

    NaN values give index 0, as MATLAB's ``min`` over an all-NaN vector returns index 1.
    """
    n = table.numel()
    flat = values.reshape(-1).contiguous()
    hi = torch.searchsorted(table, flat).clamp(1, n - 1)
    lo = hi - 1
    pick_lo = (flat - table[lo]).abs() <= (table[hi] - flat).abs()
    idx = torch.where(pick_lo, lo, hi)
    idx = torch.where(torch.isnan(flat), torch.zeros_like(idx), idx)
    return idx.reshape(values.shape)


def ggd_fit(v: Tensor) -> Tuple[Tensor, Tensor]:
    """Generalised Gaussian fit over the last dimension (BRISQUE ``estimateggdparam``).

    Returns ``(shape, sigma)`` with ``sigma = sqrt(mean(v²))`` and the shape whose ratio
    ``Γ(1/g)Γ(3/g)/Γ(2/g)²`` is nearest to ``mean(v²) / mean(|v|)²``.
    """
    gam, _, neg_r_ggd = _shape_tables(v.dtype, v.device)
    sigma_sq = (v * v).mean(dim=-1)
    e = v.abs().mean(dim=-1)
    rho = sigma_sq / (e * e)
    return gam[_nearest_index(neg_r_ggd, -rho)], sigma_sq.sqrt()


def aggd_fit(v: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Asymmetric generalised Gaussian fit over the last dimension (``estimateaggdparam``).

    Returns ``(shape, left_std, right_std)``: the standard deviations of the negative and of the
    positive samples (zeros count in neither, NaN when a side is empty, as MATLAB's mean of an
    empty vector) and the grid shape matching the normalised ratio ``r̂`` of the references.
    """
    gam, r_aggd, _ = _shape_tables(v.dtype, v.device)
    # reductions that read the data without writing temporaries (this is the hot loop)
    neg = v.clamp(max=0)
    norm = torch.linalg.vector_norm
    left_sq = norm(neg, dim=-1) ** 2
    total_sq = norm(v, dim=-1) ** 2
    n_neg = torch.count_nonzero(neg, dim=-1)
    n_pos = torch.count_nonzero(v, dim=-1) - n_neg
    left_std = (left_sq / n_neg).sqrt()
    right_std = ((total_sq - left_sq) / n_pos).sqrt()
    n = v.shape[-1]
    mean_abs = norm(v, ord=1, dim=-1) / n
    gamma_hat = left_std / right_std
    r_hat = mean_abs * mean_abs / (total_sq / n)
    r_hat_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
    return gam[_nearest_index(r_aggd, r_hat_norm)], left_std, right_std


def neighbour_products(x: Tensor, shifts: Sequence[Tuple[int, int]]) -> List[Tensor]:
    """``x * circshift(x, shift)`` over the last two dimensions, for each ``(dy, dx)`` in ``shifts``.

    MATLAB's ``circshift(A, [dy dx])`` moves element ``(i, j)`` to ``(i + dy, j + dx)`` (wrapping),
    as ``torch.roll``; one circular padding serves all shifts (|dy|, |dx| <= 1).
    """
    *lead, h, w = x.shape
    xp = F.pad(x.reshape(-1, 1, h, w), (1, 1, 1, 1), mode="circular").reshape(*lead, h + 2, w + 2)
    return [x * xp[..., 1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w] for dy, dx in shifts]
