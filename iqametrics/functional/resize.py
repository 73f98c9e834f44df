"""Resamplers: MATLAB-compatible ``imresize`` and TensorFlow's ``tf.image.resize`` (``tf_resize``).

``imresize`` (bicubic / bilinear / box, antialiasing when shrinking) follows MATLAB's algorithm:
output size ``ceil(scale * input)``; output sample ``u`` (1-based)
maps to input coordinate ``u / scale + 0.5 * (1 - 1 / scale)``; when shrinking with
antialiasing the kernel is stretched by ``1 / scale`` (``h(x) = scale * k(scale * x)``); weights
are normalised to sum 1 per output sample; out-of-range taps are mirrored (``symmetric``
boundary); the dimension with the smaller scale is resized first.  Works on float tensors and
does not round: callers that mimic MATLAB on ``uint8`` images round afterwards.

``tf_resize`` reproduces TensorFlow's ScaleAndTranslate resampler (Gaussian, Lanczos, Mitchell,
and the antialiased bilinear/bicubic kernels); its conventions are listed above its code.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from ._cache import cached_constants
from .filters import mirror_index

__all__ = ["imresize", "tf_resize", "TF_KERNELS"]


def _cubic(x: Tensor) -> Tensor:
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1) & (ax <= 2)
    )


def _linear(x: Tensor) -> Tensor:
    return ((x + 1) * ((x >= -1) & (x < 0))) + ((1 - x) * ((x >= 0) & (x <= 1)))


def _box(x: Tensor) -> Tensor:
    return ((x >= -0.5) & (x < 0.5)).to(x.dtype)


_KERNELS = {"bicubic": (_cubic, 4.0), "cubic": (_cubic, 4.0), "bilinear": (_linear, 2.0), "linear": (_linear, 2.0), "box": (_box, 1.0)}


def _contributions(in_len: int, out_len: int, scale: float, kernel: str, antialias: bool, device):
    fn, width = _KERNELS[kernel]
    shrink_aa = antialias and scale < 1
    if shrink_aa:
        kernel_width = width / scale
        h = lambda t: scale * fn(scale * t)  # noqa: E731
    else:
        kernel_width = width
        h = fn
    u = torch.arange(1, out_len + 1, dtype=torch.float64, device=device)
    x = u / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(x - kernel_width / 2)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + torch.arange(taps, dtype=torch.float64, device=device)[None, :]
    weights = h(x[:, None] - indices)
    weights = weights / weights.sum(dim=1, keepdim=True)
    # mirror out-of-range indices (MATLAB: aux = [1:in, in:-1:1])
    idx0 = mirror_index(indices.long() - 1, in_len)
    keep = (weights != 0).any(dim=0)
    return idx0[:, keep], weights[:, keep]


def _resize_dim(x: Tensor, dim: int, out_len: int, scale: float, kernel: str, antialias: bool) -> Tensor:
    in_len = x.shape[dim]
    if in_len * out_len <= _DENSE_LIMIT:
        # the same weights as a dense [out, in] matrix: one matrix product instead of a gather
        # and a weighted sum, several times faster for the sizes metrics resize to
        weights = _dense_weights(in_len, out_len, scale, kernel, antialias, x.dtype, x.device)
        return (x.movedim(dim, -1) @ weights.T).movedim(-1, dim)
    idx, w = _contributions(in_len, out_len, scale, kernel, antialias, x.device)
    w = w.to(x.dtype)
    # one gathered slice per tap, accumulated in place: no [..., out_len, taps] intermediate
    view = [1] * x.dim()
    view[dim] = out_len
    y = x.index_select(dim, idx[:, 0]) * w[:, 0].reshape(view)
    for k in range(1, idx.shape[1]):
        y.addcmul_(x.index_select(dim, idx[:, k]), w[:, k].reshape(view))
    return y


_DENSE_LIMIT = 1 << 20


@cached_constants(maxsize=32)
def _dense_weights(in_len: int, out_len: int, scale: float, kernel: str, antialias: bool, dtype, device) -> Tensor:
    idx, w = _contributions(in_len, out_len, scale, kernel, antialias, None)
    dense = torch.zeros(out_len, in_len, dtype=torch.float64).scatter_add_(1, idx, w)
    return dense.to(device=device, dtype=dtype)


def imresize(
    x: Tensor,
    scale: Optional[Union[float, Tuple[float, float]]] = None,
    size: Optional[Sequence[int]] = None,
    *,
    kernel: str = "bicubic",
    antialias: bool = True,
) -> Tensor:
    """Resize the last two dimensions of ``x`` like MATLAB ``imresize(x, scale | [h w])``.

    Give ``scale`` (one factor or (sh, sw)) or ``size`` (h, w).  Computation in the input dtype;
    use float64 for bit-level agreement with MATLAB before rounding to 8 bit.
    """
    if kernel not in _KERNELS:
        raise ValueError(f"kernel must be one of {sorted(_KERNELS)}, got {kernel!r}")
    if not torch.is_floating_point(x):
        raise TypeError("imresize needs a floating-point tensor")
    in_h, in_w = x.shape[-2:]
    if (scale is None) == (size is None):
        raise ValueError("give exactly one of scale and size")
    if size is not None:
        out_h, out_w = int(size[0]), int(size[1])
        sh, sw = out_h / in_h, out_w / in_w
    else:
        sh, sw = (scale, scale) if isinstance(scale, (int, float)) else scale
        out_h, out_w = int(math.ceil(in_h * sh)), int(math.ceil(in_w * sw))
    if out_h < 1 or out_w < 1:
        raise ValueError(f"output size {out_h}×{out_w} is empty")
    order = [(-2, out_h, sh), (-1, out_w, sw)]
    if sw < sh:  # MATLAB resizes the dimension with the smaller scale first (rows on ties)
        order.reverse()
    for dim, n, s in order:
        if n == x.shape[dim] and s == 1:
            continue
        x = _resize_dim(x, dim, n, s, kernel, antialias)
    return x


# ----------------------------------------------------------------------------- TensorFlow resampling
# ``tf.image.resize`` (TF2) with the methods gaussian / lanczos3 / lanczos5 / mitchellcubic, and
# with bilinear / bicubic when ``antialias=True``, runs the ``ScaleAndTranslate`` op.  Its
# conventions, read in tensorflow/core/kernels/image/{scale_and_translate_op.cc,sampling_kernels.h}:
#
# * output sample ``x`` looks at input coordinate ``s = (x + 0.5) / scale`` with
#   ``scale = float32(out) / float32(in)``; input pixel ``i`` sits at ``i + 0.5``;
# * the kernel is widened by ``1 / scale`` only when ``antialias`` and shrinking;
# * taps outside the image are dropped and the remaining weights renormalised to sum 1 (no
#   padding); a sample whose weights sum to ~0 gives 0;
# * heights are resampled first (into a float32 buffer), then widths, each output value
#   accumulated tap by tap in float32.
# Everything below reproduces those float32 steps so that results match TF to rounding.


def _tf_gaussian(x: Tensor) -> Tensor:
    # radius 1.5, sigma = radius / 3 = 0.5 (Turkowski's support-3 Gaussian); TF evaluates the
    # exponent in double and returns float
    value = torch.exp((-(x * x)).double() / 0.5).float()
    return torch.where(x >= 1.5, torch.zeros_like(value), value)


def _tf_triangle(x: Tensor) -> Tensor:
    return torch.where(x < 1.0, 1.0 - x, torch.zeros_like(x))


def _tf_box(x: Tensor) -> Tensor:
    return torch.where(x < 0.5, torch.ones_like(x), torch.where(x == 0.5, torch.full_like(x, 0.5), torch.zeros_like(x)))


def _tf_keys_cubic(x: Tensor) -> Tensor:
    far = ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    near = ((1.5 * x - 2.5) * x) * x + 1.0
    return torch.where(x >= 2.0, torch.zeros_like(x), torch.where(x >= 1.0, far, near))


def _tf_mitchell_cubic(x: Tensor) -> Tensor:
    far = (((-7.0 / 18.0) * x + 2.0) * x - 10.0 / 3.0) * x + 16.0 / 9.0
    near = (((7.0 / 6.0) * x - 2.0) * x) * x + 8.0 / 9.0
    return torch.where(x >= 2.0, torch.zeros_like(x), torch.where(x >= 1.0, far, near))


def _tf_lanczos(radius: float):
    def kernel(x: Tensor) -> Tensor:
        pi = torch.tensor(3.14159265359, dtype=x.dtype)  # a float constant in TF: pi * pi rounds in float
        # sinf is correctly rounded in glibc; torch.sin in float32 is not always
        sin1 = torch.sin((pi * x).double()).to(x.dtype)
        sin2 = torch.sin((pi * x / radius).double()).to(x.dtype)
        value = radius * sin1 * sin2 / (pi * pi * x * x)
        value = torch.where(x <= 1e-3, torch.ones_like(x), value)
        return torch.where(x > radius, torch.zeros_like(x), value)

    return kernel


#: name -> (kernel, radius), TF's ``kernel_type`` names
TF_KERNELS = {
    "gaussian": (_tf_gaussian, 1.5),
    "triangle": (_tf_triangle, 1.0),
    "box": (_tf_box, 1.0),
    "keyscubic": (_tf_keys_cubic, 2.0),
    "mitchellcubic": (_tf_mitchell_cubic, 2.0),
    "lanczos3": (_tf_lanczos(3.0), 3.0),
    "lanczos5": (_tf_lanczos(5.0), 5.0),
}


def _tf_spans(in_len: int, out_len: int, kernel: str, antialias: bool) -> Tuple[Tensor, Tensor]:
    """Source indices and weights [out_len, taps] of ScaleAndTranslate along one axis (CPU)."""
    fn, radius = TF_KERNELS[kernel]
    f32 = torch.float32
    scale = torch.tensor(float(out_len), dtype=f32) / torch.tensor(float(in_len), dtype=f32)
    inv_scale = (1.0 / scale.double()).float()
    kernel_scale = torch.clamp(inv_scale, min=1.0) if antialias else torch.tensor(1.0, dtype=f32)
    reach = torch.tensor(radius, dtype=f32) * kernel_scale
    taps = min(2 * int(math.ceil(float(reach))) + 1, in_len)
    sample = (torch.arange(out_len, dtype=f32) + 0.5) * inv_scale
    start = torch.ceil(sample - reach - 0.5).long().clamp(0, in_len - 1)
    end = torch.floor(sample + reach - 0.5).long().clamp(0, in_len - 1) + 1
    src = start[:, None] + torch.arange(taps)[None, :]
    pos = (src.to(f32) + 0.5) - sample[:, None]
    weights = fn((pos * (1.0 / kernel_scale)).abs()) * (src < end[:, None])
    total = torch.zeros(out_len, dtype=f32)
    for j in range(taps):  # TF sums tap by tap in float32
        total = total + weights[:, j]
    usable = (total.abs() >= 1000.0 * torch.finfo(f32).tiny) & (sample >= 0) & (sample <= in_len)
    weights = torch.where(usable[:, None], weights * (1.0 / total)[:, None], torch.zeros_like(weights))
    return src.clamp(max=in_len - 1), weights


@cached_constants(maxsize=256)
def _tf_spans_on(in_len: int, out_len: int, kernel: str, antialias: bool, device, dtype) -> Tuple[Tensor, Tensor]:
    idx, weights = _tf_spans(in_len, out_len, kernel, antialias)
    return idx.to(device), weights.to(device, dtype)


def _tf_resample_dim(x: Tensor, dim: int, out_len: int, kernel: str, antialias: bool) -> Tensor:
    idx, weights = _tf_spans_on(int(x.shape[dim]), int(out_len), kernel, bool(antialias), x.device, x.dtype)
    shape = [1] * x.dim()
    shape[dim] = out_len
    out = None
    for j in range(idx.shape[1]):
        term = x.index_select(dim, idx[:, j]) * weights[:, j].reshape(shape)
        out = term if out is None else out + term
    return out


def tf_resize(x: Tensor, size: Sequence[int], kernel: str = "gaussian", *, antialias: bool = False) -> Tensor:
    """Resize the last two dimensions like TF2 ``tf.image.resize`` with a ScaleAndTranslate method.

    ``kernel``: ``"gaussian"`` (``ResizeMethod.GAUSSIAN``), ``"lanczos3"``, ``"lanczos5"``,
    ``"mitchellcubic"``, or ``"triangle"`` / ``"keyscubic"`` / ``"box"`` (what TF uses for
    bilinear / bicubic / area-like resampling when ``antialias=True``).  ``antialias=False`` is
    TF's default: the kernel keeps its width when shrinking (so a shrink aliases) and the
    resampler filters even when the size does not change (TF2 never skips the op).
    Works on float tensors [..., H, W]; output in the input dtype.
    """
    if kernel not in TF_KERNELS:
        raise ValueError(f"kernel must be one of {sorted(TF_KERNELS)}, got {kernel!r}")
    if not torch.is_floating_point(x):
        raise TypeError("tf_resize needs a floating-point tensor")
    if x.dim() < 2:
        raise ValueError(f"tf_resize needs a tensor [..., H, W], got shape {tuple(x.shape)}")
    out_h, out_w = int(size[0]), int(size[1])
    if out_h < 1 or out_w < 1:
        raise ValueError(f"output size must be positive, got {out_h}×{out_w}")
    x = _tf_resample_dim(x, x.dim() - 2, out_h, kernel, antialias)
    return _tf_resample_dim(x, x.dim() - 1, out_w, kernel, antialias)
