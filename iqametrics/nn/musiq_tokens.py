"""MUSIQ's multi-scale patch tokenisation (Ke et al., ICCV 2021, §3.1), the official preprocessing.

Shared by the metric (:mod:`iqametrics.models.musiq`) and the training code: data-loader workers
tokenise images on the CPU with :func:`tokenize`, the network embeds the tokens.  This module
imports neither the registry, the metric nor timm (``docs/developing.md`` says why it lives in
``nn/``).

Per image: ``x = 2·image − 1``; for each longer side ``L`` (ascending, scale id = rank) an
aspect-preserving resize, then the native image (last scale id), each cut into 32×32 patches in
raster order with their hashed 10×10 spatial positions.  Where this follows the released code
rather than the paper (native scale id 2, TF1 nearest-neighbour position hashing, TF's Gaussian
resize without antialiasing, TF ``SAME`` padding): ``docs/models/musiq.md``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..functional.resize import tf_resize
from .conv import pad_same

__all__ = [
    "RESIZE_MODES",
    "MUSIQTokens",
    "tokenize",
    "count_tokens",
    "aspect_preserving_size",
    "hashed_positions",
    "patchify",
    "autocast_device_type",
]

RESIZE_MODES = ("gaussian", "bicubic")


def autocast_device_type(t: Tensor) -> str:
    """The ``torch.autocast`` device type of a tensor's device (CPU for those autocast does not know)."""
    return t.device.type if t.device.type in ("cuda", "cpu", "xpu", "mps") else "cpu"


def aspect_preserving_size(height: int, width: int, longer_side: int) -> Tuple[int, int]:
    """Size of the aspect-preserving copy whose longer side is ``longer_side``.

    As the official TF code: ``ratio = float32(L) / float32(max(h, w))`` and
    ``round_half_to_even(float32(h) * ratio)``; clamped to at least 1 pixel (TF would fail).
    """
    ratio = np.float32(longer_side) / np.float32(max(height, width))
    rh = int(np.round(np.float32(height) * ratio))
    rw = int(np.round(np.float32(width) * ratio))
    return max(rh, 1), max(rw, 1)


def _hash_axis(count: int, grid: int) -> Tensor:
    # TF1 resize_nearest_neighbor (align_corners=False, no half-pixel centres) of arange(grid)
    # to ``count`` samples: min(floor(float32(i) * float32(grid / count)), grid - 1), in float32
    scale = torch.tensor(float(grid), dtype=torch.float32) / torch.tensor(float(count), dtype=torch.float32)
    return torch.floor(torch.arange(count, dtype=torch.float32) * scale).long().clamp(max=grid - 1)


def hashed_positions(n_rows: int, n_cols: int, grid: int = 10) -> Tensor:
    """Hash-based spatial embedding index ``t_i * grid + t_j`` of every patch, raster order [n_rows*n_cols]."""
    rows = _hash_axis(n_rows, grid)
    cols = _hash_axis(n_cols, grid)
    return (rows[:, None] * grid + cols[None, :]).reshape(-1)


def patchify(image: Tensor, patch: int) -> Tuple[Tensor, int, int]:
    """Cut [C, H, W] into non-overlapping ``patch``×``patch`` tiles in raster order, TF ``SAME`` padding
    with zeros; returns ([n_rows*n_cols, C, patch, patch], n_rows, n_cols)."""
    image = pad_same(image, patch, patch)
    c, h, w = image.shape
    n_rows, n_cols = h // patch, w // patch
    tiles = image.reshape(c, n_rows, patch, n_cols, patch).permute(1, 3, 0, 2, 4)
    return tiles.reshape(n_rows * n_cols, c, patch, patch), n_rows, n_cols


@dataclass
class MUSIQTokens:
    """The multi-scale patch sequences of a batch of images, concatenated.

    ``patches`` [P, 3, p, p] in [-1, 1]; ``spatial`` / ``scale`` [P] embedding indices;
    ``lengths``: tokens per image (the first ``lengths[0]`` rows belong to image 0, and so on).
    """

    patches: Tensor
    spatial: Tensor
    scale: Tensor
    lengths: List[int]

    def to(self, device) -> "MUSIQTokens":
        return MUSIQTokens(
            self.patches.to(device, non_blocking=True),
            self.spatial.to(device, non_blocking=True),
            self.scale.to(device, non_blocking=True),
            list(self.lengths),
        )


def _resize(image: Tensor, size: Tuple[int, int], mode: str) -> Tensor:
    if mode == "gaussian":
        return tf_resize(image, size, "gaussian", antialias=False)
    return F.interpolate(image[None], size=size, mode="bicubic", align_corners=False)[0]


def tokenize(
    images: Sequence[Tensor],
    *,
    longer_side_lengths: Sequence[int] = (224, 384),
    patch_size: int = 32,
    grid_size: int = 10,
    resize: str = "gaussian",
    max_native_patches: Optional[int] = None,
) -> MUSIQTokens:
    """Multi-scale patch sequences of float RGB images [3, H, W] in [0, 1] (official preprocessing).

    Per image: ``x = 2·image − 1``; for each longer side ``L`` (ascending, scale id = rank) an
    aspect-preserving resize, then the native image (last scale id), each cut into patches in
    raster order with their hashed positions.  Needs no network: data-loader workers can run it.
    """
    if resize not in RESIZE_MODES:
        raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
    lengths_sorted = sorted(int(v) for v in longer_side_lengths)
    native_id = len(lengths_sorted)
    patches, spatial, scale, counts = [], [], [], []
    # preprocessing stays in float32 under autocast
    with torch.autocast(device_type=autocast_device_type(images[0]), enabled=False):
        for image in images:
            if image.dim() != 3 or image.shape[0] != 3:
                raise ValueError(f"MUSIQ takes RGB images [3, H, W], got shape {tuple(image.shape)}")
            x = image.float() * 2.0 - 1.0  # [0, 1] -> [-1, 1], as x / 127.5 - 1 on 8-bit data
            h, w = int(x.shape[-2]), int(x.shape[-1])
            views = [(_resize(x, aspect_preserving_size(h, w, L), resize), i) for i, L in enumerate(lengths_sorted)]
            views.append((x, native_id))
            n = 0
            for view, scale_id in views:
                tiles, n_rows, n_cols = patchify(view, patch_size)
                ids = hashed_positions(n_rows, n_cols, grid_size)
                if scale_id == native_id and max_native_patches is not None:
                    tiles, ids = tiles[:max_native_patches], ids[:max_native_patches]
                patches.append(tiles)
                spatial.append(ids)
                scale.append(torch.full((ids.numel(),), scale_id, dtype=torch.long))
                n += ids.numel()
            counts.append(n)
    device = images[0].device
    return MUSIQTokens(
        torch.cat(patches),
        torch.cat(spatial).to(device, non_blocking=True),
        torch.cat(scale).to(device, non_blocking=True),
        counts,
    )


def count_tokens(height: int, width: int, longer_side_lengths: Sequence[int] = (224, 384), patch_size: int = 32,
                 max_native_patches: Optional[int] = None) -> int:
    """Sequence length (without [CLS]) that :func:`tokenize` gives an image of this size."""
    n = 0
    for L in longer_side_lengths:
        rh, rw = aspect_preserving_size(height, width, L)
        n += math.ceil(rh / patch_size) * math.ceil(rw / patch_size)
    native = math.ceil(height / patch_size) * math.ceil(width / patch_size)
    return n + (native if max_native_patches is None else min(native, max_native_patches))
