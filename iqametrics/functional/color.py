"""Colour conversions with the coefficients of the reference implementations.

Inputs are RGB in [0, 1], shape [B, 3, H, W]; outputs keep the batch layout.
"""
from __future__ import annotations

from typing import Sequence, Union

import torch
from torch import Tensor

__all__ = [
    "rgb_to_gray",
    "rgb_to_y",
    "rgb_to_ycbcr",
    "rgb_to_yiq",
    "rgb_to_lmn",
    "rgb_to_lab",
    "quantize_8bit",
    "luma_8bit",
    "rgb_to_gray_8bit",
    "check_grey_color",
]

# MATLAB rgb2gray: the luma row of rgb2ntsc (ITU-R BT.601), applied to the input range as is.
_GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
# MATLAB rgb2ycbcr on [0,1] doubles (ITU-R BT.601, studio swing): Y in [16, 235] / 255.
_YCBCR = (
    (65.481, 128.553, 24.966),
    (-37.797, -74.203, 112.0),
    (112.0, -93.786, -18.214),
)
_YCBCR_OFFSET = (16.0, 128.0, 128.0)


def _weighted(x: Tensor, weights, offset: float = 0.0) -> Tensor:
    # a chain of scaled adds reads each channel once (faster than (x * w).sum(1) on CPU)
    y = torch.add(x[:, 1:2] * weights[1], x[:, 0:1], alpha=weights[0]).add_(x[:, 2:3], alpha=weights[2])
    return y.add_(offset) if offset else y


def _matrix(x: Tensor, rows) -> Tensor:
    m = torch.tensor(rows, dtype=x.dtype, device=x.device)
    return torch.einsum("oc,bchw->bohw", m, x)


def rgb_to_gray(x: Tensor) -> Tensor:
    """MATLAB ``rgb2gray`` (BT.601 luma, same range as the input): [B,3,H,W] -> [B,1,H,W]."""
    return _weighted(x, _GRAY)


def rgb_to_y(x: Tensor, *, scale_255: bool = False) -> Tensor:
    """Y of MATLAB ``rgb2ycbcr`` (BT.601 studio swing): values in [16, 235]/255, or [16, 235]."""
    y = _weighted(x, _YCBCR[0], _YCBCR_OFFSET[0])
    return y if scale_255 else y / 255.0


def rgb_to_ycbcr(x: Tensor, *, scale_255: bool = False) -> Tensor:
    """MATLAB ``rgb2ycbcr`` on [0,1] input: [B,3,H,W] -> Y, Cb, Cr stacked in dim 1."""
    off = torch.tensor(_YCBCR_OFFSET, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    y = _matrix(x, _YCBCR) + off
    return y if scale_255 else y / 255.0


def quantize_8bit(x: Tensor) -> Tensor:
    """Round [0,1] values to 8-bit levels and back (``im2uint8``), as MATLAB code reading uint8 images does.

    Not differentiable (gradient is zero almost everywhere); the metrics that round (the luma of
    SSIM, MS-SSIM, GMSD: :func:`luma_8bit`) use a straight-through rounding instead.
    """
    return torch.round(x.clamp(0, 1) * 255.0) / 255.0


def _round_straight_through(x: Tensor) -> Tensor:
    with torch.no_grad():
        r = torch.round(x)
    return x + (r - x).detach() if x.requires_grad else r


def luma_8bit(x: Tensor, color: str = "gray", *, quantize: bool = True, data_range: float = 1.0) -> Tensor:
    """The luma MATLAB code computes from an 8-bit RGB image, as floats in 0-255.

    ``color="gray"``: ``rgb2gray``; ``"y"``: the Y of ``rgb2ycbcr`` (studio swing, 16-235);
    ``"rgb"``: the three channels, only rescaled.  With ``quantize`` the luma is rounded to
    integers, as MATLAB's ``rgb2gray``/``rgb2ycbcr`` return uint8 for uint8 input (the rounding
    is straight-through for gradients).  The input is taken as it comes (8-bit images give
    exactly MATLAB's values; other values are not rounded first).  One-channel input is taken
    as luma already.  Input in ``[0, data_range]``.
    """
    if color not in ("gray", "y", "rgb"):
        raise ValueError(f"color must be 'gray', 'y' or 'rgb', got {color!r}")
    if x.shape[1] not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels, got {x.shape[1]}")
    if x.shape[1] == 1 or color == "rgb":
        return x * (255.0 / data_range) if data_range != 255.0 else x
    if color == "gray":
        luma = _weighted(x, tuple(c * 255.0 / data_range for c in _GRAY))
    else:
        luma = _weighted(x, tuple(c / data_range for c in _YCBCR[0]), _YCBCR_OFFSET[0])
    return _round_straight_through(luma) if quantize else luma


# FSIMc (Zhang et al. 2011, FeatureSIM.m): NTSC YIQ rows as rounded in the official code.
_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))
# VSI (Zhang et al. 2014, VSI.m): the opponent LMN space of Geusebroek et al. as rounded there.
_LMN = ((0.06, 0.63, 0.27), (0.30, 0.04, -0.35), (0.34, -0.60, 0.17))


def rgb_to_yiq(x: Tensor, *, scale: float = 1.0, luma_only: bool = False) -> Tensor:
    """Y, I, Q (or Y alone) with the coefficients of the official FSIMc code, times ``scale``."""
    if luma_only:
        return _weighted(x, tuple(c * scale for c in _YIQ[0]))
    return _matrix(x, [[c * scale for c in row] for row in _YIQ])


def rgb_to_lmn(x: Tensor, *, scale: float = 1.0) -> Tensor:
    """L, M, N opponent channels with the coefficients of the official VSI code, times ``scale``."""
    return _matrix(x, [[c * scale for c in row] for row in _LMN])


# sRGB (D65 primaries) -> XYZ, then Lab against the D50 white: the constants of the official SDSP
# code (Zhang et al. 2013), which mixes a D65 matrix with a D50 white point; kept as published.
_SRGB_TO_XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)
_WHITES = {"d50": (0.9642, 1.0, 0.8251), "d65": (0.950456, 1.0, 1.088754)}
_CIE_EPSILON, _CIE_KAPPA = 0.008856, 903.3


def rgb_to_lab(x: Tensor, white: Union[str, Sequence[float]] = "d50") -> Tensor:
    """CIE L*a*b* of sRGB values in [0, 1].

    ``white="d50"`` uses the constants of the official SDSP code (the sRGB/D65 matrix with the
    D50 white point); ``"d65"`` the usual sRGB white; or any (Xn, Yn, Zn).
    """
    if isinstance(white, str):
        if white not in _WHITES:
            raise ValueError(f"white must be one of {sorted(_WHITES)} or (Xn, Yn, Zn), got {white!r}")
        white = _WHITES[white]
    linear = torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055).clamp_min(0).pow(2.4))
    xyz = _matrix(linear, _SRGB_TO_XYZ)
    xyz = xyz / torch.tensor(tuple(white), dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    f = torch.where(
        xyz > _CIE_EPSILON, xyz.clamp_min(_CIE_EPSILON).pow(1.0 / 3.0), (_CIE_KAPPA * xyz + 16.0) / 116.0
    )
    fx, fy, fz = f.unbind(1)
    return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=1)


def check_grey_color(color: str) -> None:
    """Validate the ``color`` option of :func:`rgb_to_gray_8bit`."""
    if color not in ("gray", "y"):
        raise ValueError(f"color must be 'gray' (MATLAB rgb2gray) or 'y' (Y of rgb2ycbcr), got {color!r}")


def rgb_to_gray_8bit(x: Tensor, *, quantize: bool = True, color: str = "gray") -> Tensor:
    """``rgb2gray(imread(file))`` in [0, 1]: [B,3,H,W] (or [B,1,H,W]) -> [B,1,H,W].

    MATLAB's ``rgb2gray`` of a ``uint8`` image returns ``uint8``, so the official MATLAB codes
    that start from ``rgb2gray(imread(...))`` see 8-bit grey levels: the RGB input is rounded to
    8 bit, converted, and rounded again.  ``color="y"`` takes the Y channel of ``rgb2ycbcr``
    instead (studio swing, [16, 235]/255; also ``uint8`` in MATLAB), the luma pyiqa uses.
    Both roundings are straight-through for gradients (the gradient of the unrounded grey image),
    so a loss sees the scores inference gives.  ``quantize=False`` skips both roundings.
    """
    check_grey_color(color)
    if quantize:
        x = _round_straight_through(x.clamp(0, 1) * 255.0) / 255.0  # quantize_8bit, straight-through
    return luma_8bit(x, color, quantize=quantize) / 255.0
