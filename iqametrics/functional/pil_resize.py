"""PIL-compatible resizing in torch: what ``torchvision.transforms.Resize`` does to a PIL image.

Many official IQA pipelines resize decoded 8-bit PIL images (``Resize((h, w))`` with PIL's
bilinear or bicubic filter).  PIL resamples in two separable passes, **horizontal first, then
vertical**, each rounded back to 8 bits; its filters are antialiased (the kernel support is
stretched by the shrink factor) and bicubic uses ``a = -0.5``.  ``torch.nn.functional.interpolate``
with ``antialias=True`` implements the same kernels on float tensors (on any device), so doing
the two passes separately and rounding after each reproduces PIL almost exactly: on 30 real photos
resized to 512×384, 99.9 % of the 8-bit values equal PIL's and the others differ by one level (a
single float pass without rounding differs from PIL by 0.27 levels on average).  The remaining
differences are ties decided by PIL's fixed-point (22-bit) filter coefficients; resize factors
that create many exact ties (e.g. 5/3) match less often (about 97 %), within one level except,
rarely, where ties of both passes line up (two levels; how float32 sums round a tie depends on
the CPU's kernels).

Pillow 13 (PR #9549) runs the vertical pass first when the height shrinks much more than the
width; the order here is that of Pillow 12 and earlier, which the published models used.  In the
cases Pillow 13 reorders, it and this function differ on about a quarter of the values (by one
level with bilinear; with bicubic, whose clipped intermediate differs, by up to about 13 levels).
"""
from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor

from .color import quantize_8bit

__all__ = ["pil_resize"]

_MODES = ("bilinear", "bicubic")


def pil_resize(x: Tensor, size: Sequence[int], *, mode: str = "bilinear", quantize: bool = True) -> Tensor:
    """Resize ``x`` ([B, C, H, W] or [C, H, W], values in [0, 1]) to ``size = (height, width)`` like PIL.

    Args:
        mode: ``"bilinear"`` (PIL ``BILINEAR``) or ``"bicubic"`` (PIL ``BICUBIC``).
        quantize: round to 8-bit levels after each pass, as PIL does on 8-bit images; turn off to
            keep the result differentiable (it then differs from PIL by up to one level).

    A pass whose output length equals the input length is skipped, as in PIL.
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if len(size) != 2 or int(size[0]) < 1 or int(size[1]) < 1:
        raise ValueError(f"size must be (height, width) with positive entries, got {size!r}")
    if x.dim() not in (3, 4):
        raise ValueError(f"pil_resize expects [B, C, H, W] or [C, H, W], got shape {tuple(x.shape)}")
    squeeze = x.dim() == 3
    if squeeze:
        x = x.unsqueeze(0)
    out_h, out_w = int(size[0]), int(size[1])
    if x.shape[-1] != out_w:
        x = F.interpolate(x, size=(x.shape[-2], out_w), mode=mode, align_corners=False, antialias=True)
        x = quantize_8bit(x) if quantize else x
    if x.shape[-2] != out_h:
        x = F.interpolate(x, size=(out_h, out_w), mode=mode, align_corners=False, antialias=True)
        x = quantize_8bit(x) if quantize else x
    return x.squeeze(0) if squeeze else x
