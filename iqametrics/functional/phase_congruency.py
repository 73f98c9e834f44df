"""Phase congruency (Kovesi), exactly as the ``phasecong2`` bundled with the official FSIM code.

P. Kovesi, "Image features from phase congruency", Videre 1(3), 1999.  The FSIM code
(Zhang et al., IEEE TIP 2011, ``FeatureSIM.m``) carries a trimmed copy of Kovesi's
``phasecong2``: 4 scales x 4 orientations of log-Gabor filters (shortest wavelength 6 px, scale
factor 2, sigmaOnf 0.55, angular spread ratio 1.2), a Butterworth low-pass (cutoff 0.45,
order 15), noise compensation from the median response of the finest scale (k = 2, threshold
divided by 1.7), and the sum of the thresholded energies over orientations divided by the sum
of amplitudes.  We compute it batched: the image spectrum is multiplied by all filters of one
orientation at once, and the filter-only quantities are cached per image size.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from ._cache import cached_constants
from .filters import safe_sqrt
from .spectral import butterworth_lowpass, frequency_grid, log_gabor, polar_angle

__all__ = ["phase_congruency"]

_NSCALE, _NORIENT = 4, 4
_MIN_WAVELENGTH, _MULT, _SIGMA_ON_F, _D_THETA_ON_SIGMA = 6.0, 2.0, 0.55, 1.2
_K, _EPSILON, _PC2_RESCALE = 2.0, 1e-4, 1.7


@cached_constants(maxsize=16)
def _filters(rows: int, cols: int, device: torch.device, dtype: torch.dtype):
    """Filters [O, S, H, W] and, per orientation, the noise-model constants of phasecong2."""
    u, v = frequency_grid(rows, cols)  # float64 on CPU, cast at the end
    radius = torch.sqrt(u * u + v * v)
    theta = polar_angle(u, v)
    lowpass = butterworth_lowpass(radius, 0.45, 15)
    radial = torch.stack(
        [log_gabor(radius, 1.0 / (_MIN_WAVELENGTH * _MULT**s), math.log(_SIGMA_ON_F)) * lowpass for s in range(_NSCALE)]
    )
    theta_sigma = math.pi / _NORIENT / _D_THETA_ON_SIGMA
    angles = torch.arange(_NORIENT, dtype=torch.float64) * math.pi / _NORIENT
    sin_t, cos_t = torch.sin(theta), torch.cos(theta)
    ds = sin_t * torch.cos(angles)[:, None, None] - cos_t * torch.sin(angles)[:, None, None]
    dc = cos_t * torch.cos(angles)[:, None, None] + sin_t * torch.sin(angles)[:, None, None]
    spread = torch.exp(-torch.atan2(ds, dc).square() / (2 * theta_sigma**2))  # [O, H, W]
    filters = radial[None] * spread[:, None]  # [O, S, H, W]

    # Noise model: energy of the finest filter, and sum(An^2) + 2 sum(Ai Aj) of the spatial filters.
    em_n = filters[:, 0].square().sum(dim=(-2, -1))
    spatial = torch.fft.ifft2(filters).real * math.sqrt(rows * cols)
    total = spatial.sum(dim=1)
    sum_an2 = spatial.square().sum(dim=(1, 2, 3))
    sum_aiaj = (total.square().sum(dim=(-2, -1)) - sum_an2) / 2
    # EstNoiseEnergy2 = noisePower * (2 sum An^2 + 4 sum AiAj) with noisePower = meanE2n / EM_n
    noise_gain = (2 * sum_an2 + 4 * sum_aiaj) / em_n
    return filters.to(device=device, dtype=dtype), noise_gain.to(device=device, dtype=dtype)


def phase_congruency(x: Tensor) -> Tensor:
    """Phase congruency maps [B, 1, H, W] of grey images [B, 1, H, W] (any range; FSIM uses 0-255).

    ``epsilon = 1e-4`` (the guard of the mean phase vector) is in the image's units, as in
    the official code, so the result depends slightly on the input scale.  Computed in the
    input dtype (complex64 spectra for float32).
    """
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"phase_congruency expects [B, 1, H, W], got {tuple(x.shape)}")
    rows, cols = x.shape[-2:]
    filters, noise_gain = _filters(rows, cols, x.device, x.dtype)
    # the real filters scale the real and imaginary parts of the spectrum alike: multiplying a
    # real view avoids promoting each filter to complex
    spectrum = torch.view_as_real(torch.fft.fft2(x))  # [B, 1, H, W, 2]
    energy_all = amplitude_all = 0.0
    threshold_factor = (math.sqrt(math.pi / 2) + _K * math.sqrt(2 - math.pi / 2)) / _PC2_RESCALE
    for o in range(_NORIENT):
        eo = torch.view_as_real(torch.fft.ifft2(torch.view_as_complex(spectrum * filters[o, ..., None])))
        even, odd = eo[..., 0], eo[..., 1]  # [B, S, H, W] each
        power = torch.addcmul(even * even, odd, odd)  # |EO|^2
        sum_e, sum_o = even.sum(dim=1, keepdim=True), odd.sum(dim=1, keepdim=True)
        sum_sq = sum_e.square() + sum_o.square()
        x_energy = safe_sqrt(sum_sq) + _EPSILON
        mean_e, mean_o = sum_e / x_energy, sum_o / x_energy
        # sum over scales of E MeanE + O MeanO is (sumE^2 + sumO^2) / XEnergy
        energy = sum_sq / x_energy - (even * mean_o - odd * mean_e).abs().sum(dim=1, keepdim=True)

        # noise threshold from the median squared response of the finest scale (Rayleigh model)
        median_e2n = torch.quantile(power[:, 0].flatten(1), 0.5, dim=1)
        noise_power = median_e2n / -math.log(0.5)
        tau = safe_sqrt(noise_power * noise_gain[o] / 2)  # 0 for a flat image
        threshold = (tau * threshold_factor).view(-1, 1, 1, 1)
        energy_all = energy_all + torch.clamp(energy - threshold, min=0)
        amplitude_all = amplitude_all + safe_sqrt(power).sum(dim=1, keepdim=True)
    # a flat image has no response at all: 0/0 in the reference, no phase congruency here
    has_signal = amplitude_all > 0
    return torch.where(has_signal, energy_all / torch.where(has_signal, amplitude_all, 1.0), 0.0)
