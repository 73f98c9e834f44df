"""Colour conversions with the coefficients of the reference implementations.

Inputs are RGB in [0, 1], shape [B, 3, H, W]; outputs keep the batch layout.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["rgb_to_gray", "rgb_to_y", "rgb_to_ycbcr", "quantize_8bit", "to_gray_if_rgb", "rgb_to_gray_8bit", "check_grey_color"]

# MATLAB rgb2gray: the luma row of rgb2ntsc (ITU-R BT.601), applied to the input range as is.
_GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
# MATLAB rgb2ycbcr on [0,1] doubles (ITU-R BT.601, studio swing): Y in [16, 235] / 255.
_YCBCR = (
    (65.481, 128.553, 24.966),
    (-37.797, -74.203, 112.0),
    (112.0, -93.786, -18.214),
)
_YCBCR_OFFSET = (16.0, 128.0, 128.0)


def _weighted(x: Tensor, weights) -> Tensor:
    w = torch.tensor(weights, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def rgb_to_gray(x: Tensor) -> Tensor:
    """MATLAB ``rgb2gray`` (BT.601 luma, same range as the input): [B,3,H,W] -> [B,1,H,W]."""
    return _weighted(x, _GRAY)


def rgb_to_y(x: Tensor, *, scale_255: bool = False) -> Tensor:
    """Y of MATLAB ``rgb2ycbcr`` (BT.601 studio swing): values in [16, 235]/255, or [16, 235]."""
    y = _weighted(x, _YCBCR[0]) + _YCBCR_OFFSET[0]
    return y if scale_255 else y / 255.0


def rgb_to_ycbcr(x: Tensor, *, scale_255: bool = False) -> Tensor:
    """MATLAB ``rgb2ycbcr`` on [0,1] input: [B,3,H,W] -> Y, Cb, Cr stacked in dim 1."""
    m = torch.tensor(_YCBCR, dtype=x.dtype, device=x.device)
    off = torch.tensor(_YCBCR_OFFSET, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    y = torch.einsum("oc,bchw->bohw", m, x) + off
    return y if scale_255 else y / 255.0


def quantize_8bit(x: Tensor) -> Tensor:
    """Round [0,1] values to 8-bit levels and back (``im2uint8``), as MATLAB code reading uint8 images does.

    Not differentiable (gradient is zero almost everywhere); metrics that offer ``as_loss`` skip it.
    """
    return torch.round(x.clamp(0, 1) * 255.0) / 255.0


def to_gray_if_rgb(x: Tensor) -> Tensor:
    return rgb_to_gray(x) if x.shape[1] == 3 else x


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
    ``quantize=False`` skips both roundings (for losses: rounding has no useful gradient).
    """
    check_grey_color(color)
    if quantize:
        x = quantize_8bit(x)
    if x.shape[1] == 3:
        x = rgb_to_gray(x) if color == "gray" else rgb_to_y(x)
    return quantize_8bit(x) if quantize else x
