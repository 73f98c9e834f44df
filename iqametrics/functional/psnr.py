"""Peak signal-to-noise ratio."""
from __future__ import annotations

import torch
from torch import Tensor

from .color import quantize_8bit, rgb_to_y

__all__ = ["psnr"]


def psnr(dist: Tensor, ref: Tensor, *, data_range: float = 1.0, color: str = "y", eps: float = 1e-10) -> Tensor:
    """PSNR in dB per image: ``10 log10(data_range² / MSE)``.

    ``color="y"`` (default) compares the BT.601 luma of MATLAB ``rgb2ycbcr`` computed from
    8-bit-quantised RGB, the convention of the IQA and super-resolution literature and of the
    official scores we calibrate against; ``color="rgb"`` uses all three channels as given
    (MATLAB ``psnr(A, ref)`` on RGB arrays).  Identical images give ``10 log10(data_range² / eps)``
    rather than infinity so that batches stay finite.
    """
    if color == "y":
        dist = rgb_to_y(quantize_8bit(dist)) if dist.shape[1] == 3 else dist
        ref = rgb_to_y(quantize_8bit(ref)) if ref.shape[1] == 3 else ref
    elif color != "rgb":
        raise ValueError(f"color must be 'y' or 'rgb', got {color!r}")
    mse = (dist.double() - ref.double()).pow(2).flatten(1).mean(dim=1)
    return (10 * torch.log10(data_range**2 / (mse + eps))).float()
