"""What a metric accepts as images, and the checks every input passes: tensors ([B, C, H, W],
[C, H, W], [H, W]; float in [0, 1] or uint8; 1 or 3 channels), numpy arrays, PIL images, paths and
lists of them become float [3, H, W] images; sizes below a metric's minimum, values outside [0, 1]
and channels-last tensors are refused with a message saying what was passed and what is expected.

:class:`iqametrics.metric.Metric` runs these on every call; the file pipeline
(:mod:`iqametrics.scoring`) runs :func:`check_min_size` in its decoding workers.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import List, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ["RANGE_TOLERANCE", "ImageTooSmallError", "to_image_list", "normalise_tensor", "check_min_size",
           "check_range", "group_by_size", "describe_images"]

#: how far outside [0, 1] an input may stray (rounding of resamplers) before it is refused
RANGE_TOLERANCE = 1e-3

class ImageTooSmallError(ValueError):
    """An image is smaller than the metric can score."""


def _channels_last_hint(x: Tensor) -> str:
    """How to fix a tensor in the [H, W, C] / [B, H, W, C] layout of numpy and PIL, or ''."""
    channels_first = x.shape[-3] in (1, 3) if x.dim() >= 3 else True
    if x.dim() in (3, 4) and x.shape[-1] in (1, 3, 4) and not channels_first:
        fix = "x.permute(2, 0, 1)" if x.dim() == 3 else "x.permute(0, 3, 1, 2)"
        layout = "[H, W, C]" if x.dim() == 3 else "[B, H, W, C]"
        return (
            f" It looks like the channels-last layout {layout} of numpy/PIL arrays; tensors must be "
            f"channels-first: pass {fix}"
        )
    return ""


def normalise_tensor(x: Tensor) -> Tensor:
    """[B,C,H,W] / [C,H,W] / [H,W] float or uint8 -> float [B,3,H,W] (grey replicated)."""
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    elif not torch.is_floating_point(x):
        raise TypeError(f"image tensors must be float in [0, 1] (or uint8), got dtype {x.dtype}")
    hint = _channels_last_hint(x)
    if hint:
        raise ValueError(
            f"got an image tensor of shape {tuple(x.shape)}; expected [B, 3, H, W], [3, H, W] or [H, W] "
            f"(1 or 3 channels).{hint}"
        )
    if x.dim() == 2:
        x = x.unsqueeze(0)
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise ValueError(f"image tensors must be [B,3,H,W], [3,H,W] or [H,W]; got shape {tuple(x.shape)}")
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] != 3:
        raise ValueError(
            f"images must have 1 (grey) or 3 (RGB) channels in dimension 1; got shape {tuple(x.shape)}"
        )
    if x.shape[0] == 0:
        raise ValueError("no images given (empty batch)")
    return x


def _tensor_to_list(x: Tensor) -> List[Tensor]:
    return list(normalise_tensor(x).unbind(0))


def to_image_list(images) -> List[Tensor]:
    """Normalise any accepted input into a list of float [3, H, W] tensors (not yet range-checked).

    Accepts a tensor [B,C,H,W] / [C,H,W] / [H,W] (float in [0,1] or uint8, C = 1 or 3), a
    PIL image, a path, a numpy array (H×W or H×W×C, as PIL and OpenCV lay them out), or a
    list/tuple mixing these.
    """
    if isinstance(images, Tensor):
        return _tensor_to_list(images)
    if isinstance(images, (list, tuple)):
        out: List[Tensor] = []
        for item in images:
            out.extend(to_image_list(item))
        if not out:
            raise ValueError("no images given (empty list)")
        return out
    if isinstance(images, (str, Path)):
        from .io import load_image

        return [load_image(images)]
    try:
        import numpy as np

        if isinstance(images, np.ndarray):
            arr = images
            if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
                if arr.shape[2] == 4:
                    raise ValueError("RGBA arrays are ambiguous; convert to RGB first (iqametrics.load_image composites on white)")
                arr = arr.transpose(2, 0, 1)
            elif arr.ndim != 2:
                raise ValueError(f"numpy images must be H×W or H×W×3, got shape {arr.shape}")
            return _tensor_to_list(torch.from_numpy(np.ascontiguousarray(arr)))
    except ImportError:  # pragma: no cover
        pass
    from PIL import Image

    if isinstance(images, Image.Image):
        from .io import pil_to_tensor

        return [pil_to_tensor(images)]
    raise TypeError(
        f"cannot interpret {type(images).__name__} as images; pass tensors in [0,1], PIL images, paths or lists of them"
    )


def check_min_size(name: str, min_size: Tuple[int, int], height: int, width: int) -> None:
    """Raise :class:`ImageTooSmallError` if ``height`` × ``width`` is below ``min_size`` (h, w) of metric ``name``."""
    mh, mw = min_size
    if height < mh or width < mw:
        raise ImageTooSmallError(f"image of {width}×{height} px is too small for {name} (needs at least {mw}×{mh})")


def check_range(x: Tensor, what: str = "images") -> None:
    lo, hi = torch.aminmax(x.detach()) if x.numel() else (torch.tensor(0.0), torch.tensor(0.0))
    lo, hi = float(lo), float(hi)
    if lo != lo or hi != hi:  # NaN
        raise ValueError(f"{what} contain NaN values")
    if math.isinf(lo) or math.isinf(hi):
        raise ValueError(f"{what} contain infinite values (got values in [{lo:.4g}, {hi:.4g}])")
    if lo < -RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        hint = " (looks like 0-255 data: divide by 255)" if hi > 1.5 else ""
        raise ValueError(f"{what} must be in [0, 1]; got values in [{lo:.4g}, {hi:.4g}]{hint}")


def group_by_size(images: Sequence[Tensor]):
    groups: dict = {}
    for i, img in enumerate(images):
        groups.setdefault(tuple(img.shape[-2:]), []).append(i)
    return groups


def describe_images(x) -> str:
    """A short description of what was passed as images (for error messages)."""
    if isinstance(x, Tensor):
        return f"a tensor of shape {tuple(x.shape)}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)}"
    if isinstance(x, (str, Path)):
        return f"the path {str(x)!r}"
    return f"a {type(x).__name__}"
