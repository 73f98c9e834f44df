"""Deterministic test-time crops: a regular grid, or random positions seeded from the image itself.

Models evaluated on averaged random crops (HyperIQA, PyramidIQA) draw crop positions uniformly
over the image in their papers, unseeded.  iqametrics makes the draw a fixed function of the image:

* ``"grid"``: ``k × k`` crops whose top-left corners are evenly spaced over every valid position,
  first and last included (``offset_i = i * (L - s) // (k - 1)``; one crop is centred).  A
  stratified version of the uniform draw: same expectation, lower variance, no randomness.
* ``"random"``: independent uniform positions (as ``torchvision.transforms.RandomCrop``) from a
  ``torch.Generator`` seeded by :func:`image_seed`, i.e. by the image's 8-bit content, its shape
  and a user seed.  The same image gets the same crops in any batch and on any device.
"""
from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .pil_resize import pil_resize

__all__ = ["image_seed", "image_seeds", "crop_offsets", "extract_crops", "CropProtocol", "CROP_MODES"]

CROP_MODES = ("grid", "random")

#: about this many samples per side of the image feed the content hash
_HASH_SAMPLES = 64


def _thumbnail_u8(x: Tensor) -> Tensor:
    """Strided 8-bit samples of [B, C, H, W]: only exact operations, so every device agrees."""
    h, w = x.shape[-2:]
    sy, sx = max(1, h // _HASH_SAMPLES), max(1, w // _HASH_SAMPLES)
    return torch.round(x[..., ::sy, ::sx].clamp(0, 1) * 255).to(torch.uint8)


def _digest(thumb, shape: Sequence[int], seed: int) -> int:
    h = hashlib.sha256(struct.pack("<3q", *shape) + struct.pack("<q", int(seed)))
    h.update(thumb.numpy().tobytes())
    return int.from_bytes(h.digest()[:8], "little") & ((1 << 63) - 1)


def image_seed(img: Tensor, seed: int = 0) -> int:
    """A 63-bit seed from an image [C, H, W] in [0, 1]: its 8-bit content, its shape and ``seed``."""
    if img.dim() != 3:
        raise ValueError(f"image_seed expects one image [C, H, W], got shape {tuple(img.shape)}")
    return image_seeds(img.unsqueeze(0), seed)[0]


def image_seeds(batch: Tensor, seed: int = 0) -> List[int]:
    """:func:`image_seed` of every image of a batch [B, C, H, W], with one device-to-host copy."""
    if batch.dim() != 4:
        raise ValueError(f"image_seeds expects a batch [B, C, H, W], got shape {tuple(batch.shape)}")
    thumbs = _thumbnail_u8(batch.detach()).cpu()
    return [_digest(t.contiguous(), batch.shape[1:], seed) for t in thumbs]


def _spread(length: int, k: int) -> List[int]:
    if k == 1:
        return [length // 2]
    return [i * length // (k - 1) for i in range(k)]


def crop_offsets(
    height: int, width: int, size: int, num: int, *, mode: str = "grid", seed: Optional[int] = None
) -> List[Tuple[int, int]]:
    """Top-left corners ``(y, x)`` of ``num`` square crops of side ``size`` in a ``height × width`` image.

    ``mode="grid"`` needs a square ``num`` (1, 4, 9, 16, 25, ...), rows first;
    ``mode="random"`` needs ``seed`` (e.g. from :func:`image_seed`).
    """
    if num < 1:
        raise ValueError(f"the number of crops must be at least 1, got {num}")
    if height < size or width < size:
        raise ValueError(f"cannot take {size}×{size} crops from a {width}×{height} image")
    if mode == "grid":
        k = math.isqrt(num)
        if k * k != num:
            raise ValueError(
                f"crop_mode='grid' lays crops on a k×k grid, so the number of crops must be a square "
                f"(1, 4, 9, 16, 25, ...); got {num}. Use crop_mode='random' for other counts."
            )
        return [(y, x) for y in _spread(height - size, k) for x in _spread(width - size, k)]
    if mode == "random":
        if seed is None:
            raise ValueError("crop_mode='random' needs a seed (see image_seed)")
        g = torch.Generator().manual_seed(int(seed))
        ys = torch.randint(0, height - size + 1, (num,), generator=g).tolist()
        xs = torch.randint(0, width - size + 1, (num,), generator=g).tolist()
        return list(zip(ys, xs))
    raise ValueError(f"crop mode must be one of {CROP_MODES}, got {mode!r}")


def extract_crops(img: Tensor, offsets: Sequence[Tuple[int, int]], size: int) -> Tensor:
    """Stack the crops of ``img`` ([..., H, W]) at ``offsets`` along a new first dimension."""
    return torch.stack([img[..., y : y + size, x : x + size] for y, x in offsets])


@dataclass(frozen=True)
class CropProtocol:
    """Test-time crops: resize (PIL-style bilinear), then ``num_crops`` square crops per image.

    The protocol of the models scored on averaged crops (HyperIQA, PyramidIQA, TFIQA's NR head).
    ``resize=(height, width)`` resizes every image first (HyperIQA's official: ``(512, 384)``); ``None`` keeps
    the native size and upscales images whose short side is below the crop size to exactly that
    size, aspect kept.  ``crop_mode`` and ``seed`` as in :mod:`iqametrics.functional.crops`.
    """

    num_crops: int = 25
    crop_mode: str = "grid"
    seed: int = 0
    resize: Optional[Tuple[int, int]] = (512, 384)  # HyperIQA's official test-time resize
    size: int = 224

    def __post_init__(self):
        n = self.num_crops
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"num_crops must be a positive integer, got {n!r}")
        if self.crop_mode not in CROP_MODES:
            raise ValueError(f"crop_mode must be one of {CROP_MODES}, got {self.crop_mode!r}")
        if self.crop_mode == "grid":
            crop_offsets(self.size, self.size, self.size, n, mode="grid")  # raises unless n is a square
        r = self.resize
        if r is not None:
            if not isinstance(r, (tuple, list)) or len(r) != 2 or min(int(r[0]), int(r[1])) < self.size:
                raise ValueError(f"resize must be None or (height, width), both at least {self.size}; got {r!r}")
            object.__setattr__(self, "resize", (int(r[0]), int(r[1])))

    def resized(self, x: Tensor) -> Tensor:
        if self.resize is not None:
            return pil_resize(x, self.resize, mode="bilinear")
        h, w = x.shape[-2:]
        short = min(h, w)
        if short >= self.size:
            return x
        s = self.size  # ceil so that the short side is exactly s and the long side not below it
        return pil_resize(x, (max(s, -(-h * s // short)), max(s, -(-w * s // short))), mode="bilinear")

    def __call__(self, x: Tensor) -> Tensor:
        """Crops of a batch ``[B, 3, H, W]`` in [0, 1]: ``[B * num_crops, 3, size, size]``, image-major."""
        s = self.size
        seeds = image_seeds(x, self.seed) if self.crop_mode == "random" else None
        x = self.resized(x)
        h, w = x.shape[-2:]
        if seeds is None:  # grid: the same positions for every image, slice the whole batch
            offsets = crop_offsets(h, w, s, self.num_crops, mode="grid")
            return extract_crops(x, offsets, s).transpose(0, 1).reshape(-1, x.shape[1], s, s)
        return torch.cat(
            [extract_crops(img, crop_offsets(h, w, s, self.num_crops, mode="random", seed=seed), s) for img, seed in zip(x, seeds)]
        )
