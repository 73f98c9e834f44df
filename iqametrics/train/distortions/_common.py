"""Primitives the distortion families share, each reproducing the MATLAB function the official
KADIS-700k / KADID-10k code calls (``imgaussfilt``, ``mapmm``, ``percentile1``, ``curves``,
``rgb2lab`` / ``lab2rgb``) on float tensors [1, 3, H, W] in [0, 1].
"""
from __future__ import annotations

import io
import math
from functools import lru_cache
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from iqametrics.functional.color import _CIE_EPSILON, _CIE_KAPPA, _SRGB_TO_XYZ, _WHITES, rgb_to_lab
from iqametrics.functional.filters import gaussian_kernel1d, pad, separable_filter2d

__all__ = [
    "min_max",
    "matlab_gaussian_blur",
    "percentile",
    "tone_curve",
    "fft_filter",
    "rgb_to_lab_d65",
    "lab_d65_to_rgb",
    "to_pil",
    "from_pil",
    "pil_roundtrip",
    "uniform",
    "normal",
]


def min_max(x: Tensor) -> Tensor:
    """``mapmm``: the global minimum and maximum (over all channels) mapped to 0 and 1.

    A constant array is returned unchanged, as ``mapmm`` does.
    """
    lo, hi = x.amin(), x.amax()
    if not bool(hi > lo):
        return x
    return (x - lo) / (hi - lo)


def matlab_gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """``imgaussfilt(x, sigma)``: a ``2*ceil(2*sigma)+1``-tap Gaussian, ``'replicate'`` borders."""
    size = 2 * math.ceil(2 * sigma) + 1
    kernel = gaussian_kernel1d(size, sigma, dtype=torch.float64)
    return separable_filter2d(x, kernel, kernel, "replicate")


def percentile(x: Tensor, perc: float) -> Tensor:
    """``percentile1`` of the official code: the sorted value at 1-based index ``round(n*perc/100)``."""
    flat = x.reshape(-1)
    n = flat.numel()
    k = int(min(max(math.floor(n * perc / 100.0 + 0.5), 1), n))
    return flat.kthvalue(k).values


@lru_cache(maxsize=32)
def _spline_pieces(xs: Tuple[float, ...], ys: Tuple[float, ...]) -> Tuple[Tuple[float, ...], np.ndarray]:
    """Coefficients of MATLAB ``spline(xs, ys)``: the not-a-knot cubic spline through the points.

    Returns the breaks and a [pieces, 4] array ``(a, b, c, d)`` of ``a + b t + c t² + d t³`` with
    ``t = x - break``.  Three points give the interpolating parabola (MATLAB's special case).
    """
    x, y = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    n = len(x)
    if n == 3:  # one parabola through the three points, written on both pieces
        quad = np.polyfit(x, y, 2)  # highest power first
        coeffs = []
        for x0 in x[:2]:
            a = np.polyval(quad, x0)
            b = 2 * quad[0] * x0 + quad[1]
            coeffs.append((a, b, quad[0], 0.0))
        return xs, np.asarray(coeffs)
    pieces = n - 1
    m = np.zeros((4 * pieces, 4 * pieces))
    rhs = np.zeros(4 * pieces)
    row = 0
    for i in range(pieces):  # each cubic meets both of its points
        h = x[i + 1] - x[i]
        m[row, 4 * i] = 1.0
        rhs[row] = y[i]
        m[row + 1, 4 * i : 4 * i + 4] = (1.0, h, h * h, h**3)
        rhs[row + 1] = y[i + 1]
        row += 2
    for i in range(pieces - 1):  # first and second derivatives agree at interior breaks
        h = x[i + 1] - x[i]
        m[row, 4 * i : 4 * i + 4] = (0.0, 1.0, 2 * h, 3 * h * h)
        m[row, 4 * (i + 1) + 1] = -1.0
        m[row + 1, 4 * i : 4 * i + 4] = (0.0, 0.0, 2.0, 6 * h)
        m[row + 1, 4 * (i + 1) + 2] = -2.0
        row += 2
    for i in (0, pieces - 2):  # not-a-knot: the third derivative is continuous at x[1] and x[n-2]
        m[row, 4 * i + 3] = 1.0
        m[row, 4 * (i + 1) + 3] = -1.0
        row += 1
    return xs, np.linalg.solve(m, rhs).reshape(pieces, 4)


def tone_curve(x: Tensor, xs: Sequence[float], ys: Sequence[float]) -> Tensor:
    """``curves``: MATLAB ``spline`` through the control points, evaluated on ``x``, clipped to [0, 1]."""
    breaks, coeffs = _spline_pieces(tuple(float(v) for v in xs), tuple(float(v) for v in ys))
    if len(breaks) == 3:  # one parabola: no need to find the pieces
        a, b, c, _ = coeffs[0].tolist()
        t = x - breaks[0]
        return (a + t * (b + t * c)).clamp(0.0, 1.0)
    knots = torch.tensor(breaks[1:-1], dtype=x.dtype, device=x.device)
    piece = torch.bucketize(x, knots, right=True)  # MATLAB ppval: a break belongs to the piece it starts
    table = torch.tensor(coeffs, dtype=x.dtype, device=x.device)
    t = x - torch.tensor(breaks[:-1], dtype=x.dtype, device=x.device)[piece]
    a, b, c, d = (table[:, k][piece] for k in range(4))
    return (a + t * (b + t * (c + t * d))).clamp(0.0, 1.0)


def fft_filter(x: Tensor, kernel: Tensor) -> Tensor:
    """``imfilter(x, kernel, 'replicate', 'same')`` (correlation) of [..., H, W] through the FFT:
    the cost does not grow with the kernel, 5-10x faster than a direct convolution for the
    disk and line kernels here (same result to float rounding)."""
    kh, kw = kernel.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = pad(x, (left, kw - 1 - left, top, kh - 1 - top), "replicate")
    size = padded.shape[-2:]
    spectrum = torch.fft.rfft2(kernel.flip(0, 1).to(device=x.device, dtype=x.dtype), s=size)
    full = torch.fft.irfft2(torch.fft.rfft2(padded) * spectrum, s=size)
    return full[..., kh - 1 :, kw - 1 :]  # the circular wrap-around only reaches the discarded edge


def rgb_to_lab_d65(x: Tensor) -> Tensor:
    """MATLAB ``rgb2lab`` (sRGB, D65 white)."""
    return rgb_to_lab(x, "d65")


def lab_d65_to_rgb(lab: Tensor) -> Tensor:
    """MATLAB ``lab2rgb`` (sRGB, D65 white), not clipped: the inverse of :func:`rgb_to_lab_d65`."""
    fy = (lab[:, 0:1] + 16.0) / 116.0
    f = torch.cat((fy + lab[:, 1:2] / 500.0, fy, fy - lab[:, 2:3] / 200.0), dim=1)
    cube = f**3
    xyz = torch.where(cube > _CIE_EPSILON, cube, (116.0 * f - 16.0) / _CIE_KAPPA)
    xyz = xyz * torch.tensor(_WHITES["d65"], dtype=lab.dtype, device=lab.device).view(1, 3, 1, 1)
    inverse = torch.linalg.inv(torch.tensor(_SRGB_TO_XYZ, dtype=torch.float64)).to(lab.dtype).to(lab.device)
    linear = torch.einsum("oc,bchw->bohw", inverse, xyz)
    return torch.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear.clamp_min(0.0031308).pow(1 / 2.4) - 0.055)


def to_pil(x: Tensor):
    """[1, 3, H, W] in [0, 1] -> an 8-bit RGB PIL image (``imwrite`` of a double image: rounded)."""
    from PIL import Image

    arr = torch.round(x[0].clamp(0, 1) * 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(np.ascontiguousarray(arr), "RGB")


def from_pil(img, like: Tensor) -> Tensor:
    """An RGB PIL image -> [1, 3, H, W] in [0, 1] with the dtype and device of ``like``."""
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].to(device=like.device, dtype=like.dtype) / 255.0


def pil_roundtrip(x: Tensor, fmt: str, **options) -> Tensor:
    """Encode ``x`` to ``fmt`` in memory with Pillow and decode it (``imwrite`` then ``imread``)."""
    from PIL import Image

    buffer = io.BytesIO()
    to_pil(x).save(buffer, fmt, **options)
    buffer.seek(0)
    with Image.open(buffer) as img:
        return from_pil(img, x)


# Random numbers are drawn in float64 on the CPU from the caller's generator, then moved to the
# image's device and dtype (``like``), so that a seed gives the same image on every device.
def uniform(shape, rng: torch.Generator, like: Optional[Tensor] = None) -> Tensor:
    u = torch.rand(shape, generator=rng, dtype=torch.float64)
    return u if like is None else u.to(device=like.device, dtype=like.dtype)


def normal(shape, rng: torch.Generator, like: Optional[Tensor] = None) -> Tensor:
    n = torch.randn(shape, generator=rng, dtype=torch.float64)
    return n if like is None else n.to(device=like.device, dtype=like.dtype)
