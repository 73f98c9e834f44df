"""Frequency-domain filters shared by phase congruency (FSIM) and SDSP saliency (VSI).

Both official codes build their filters on the same normalised frequency grid: for an even
size ``n`` the frequencies ``[-n/2 .. n/2-1] / n``, for an odd size ``[-(n-1)/2 .. (n-1)/2] / (n-1)``,
quadrant-shifted (``ifftshift``) so that the zero frequency is at index (0, 0) like ``fft2``.
Filters are built in float64 (the references are MATLAB doubles) and cast by the caller.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor

__all__ = ["frequency_grid", "polar_angle", "log_gabor", "butterworth_lowpass"]


def _axis(n: int) -> Tensor:
    k = torch.arange(n, dtype=torch.float64)
    if n % 2:
        f = (k - (n - 1) / 2) / max(n - 1, 1)
    else:
        f = (k - n / 2) / n
    return torch.fft.ifftshift(f)


def frequency_grid(rows: int, cols: int) -> Tuple[Tensor, Tensor]:
    """``(u, v)``: horizontal and vertical normalised frequencies [rows, cols] (float64, CPU), zero at (0, 0)."""
    v, u = torch.meshgrid(_axis(rows), _axis(cols), indexing="ij")
    return u, v


def log_gabor(radius: Tensor, centre: float, sigma: float) -> Tensor:
    """Radial log-Gabor transfer function ``exp(-log(r/f0)^2 / (2 sigma^2))``, zero at DC.

    ``sigma`` is the standard deviation of ``log(r)``: ``log(sigmaOnf)`` in Kovesi's phase
    congruency, ``sigmaF`` in SDSP.  Radii of exactly 0 (DC and, in SDSP, the masked corners)
    give 0.
    """
    safe = torch.where(radius > 0, radius, torch.ones_like(radius))
    g = torch.exp(-torch.log(safe / centre).square() / (2 * sigma**2))
    return torch.where(radius > 0, g, torch.zeros_like(g))


def butterworth_lowpass(radius: Tensor, cutoff: float, order: int) -> Tensor:
    """Kovesi's ``lowpassfilter``: ``1 / (1 + (r / cutoff)^(2 n))``."""
    return 1.0 / (1.0 + (radius / cutoff).pow(2 * order))


def polar_angle(u: Tensor, v: Tensor) -> Tensor:
    """Angle of each frequency with positive angles anticlockwise (``atan2(-y, x)``)."""
    return torch.atan2(-v, u)

