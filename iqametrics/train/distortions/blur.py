"""Blur and sharpening: KADID-10k types 1 (Gaussian blur), 2 (lens blur), 3 (motion blur) and
24 (high sharpen), after ``imblurgauss.m``, ``imblurlens.m``, ``imblurmotion.m`` and
``imsharpenHi.m`` of the official code.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

from ._common import fft_filter, lab_d65_to_rgb, matlab_gaussian_blur, rgb_to_lab_d65

__all__ = ["gaussian_blur", "lens_blur", "motion_blur", "high_sharpen", "disk_kernel", "motion_kernel"]


def gaussian_blur(x: Tensor, sigma: float, rng=None) -> Tensor:
    """``imgaussfilt(x, sigma)``."""
    return matlab_gaussian_blur(x, sigma)


@lru_cache(maxsize=16)
def disk_kernel(radius: float) -> Tensor:
    """The uniform disk of ``fspecial('disk', radius)``: each tap is the area of its pixel inside the disk.

    Size ``2*ceil(radius-0.5)+1``; sums to 1.  The areas are integrated numerically (chord length
    of the disk across each pixel, 4096 midpoints per pixel column), so they are exact to ~1e-7
    where MATLAB uses a closed-form approximation near the rim; the two agree to ~1e-3 per tap.
    """
    half = math.ceil(radius - 0.5)
    steps = 4096
    # midpoints of a fine partition of each pixel column [j-0.5, j+0.5]
    offsets = (torch.arange(steps, dtype=torch.float64) + 0.5) / steps - 0.5
    centres = torch.arange(-half, half + 1, dtype=torch.float64)
    u = centres[:, None] + offsets[None, :]  # [columns, steps]
    chord = torch.sqrt((radius**2 - u**2).clamp_min(0.0))  # the disk spans [-chord, chord] at u
    lo = centres - 0.5  # pixel rows
    hi = centres + 0.5
    overlap = (torch.minimum(chord[None], hi[:, None, None]) - torch.maximum(-chord[None], lo[:, None, None])).clamp_min(0)
    area = overlap.mean(dim=-1)  # [rows, columns]: integral over the unit-wide column
    return (area / area.sum()).to(torch.float32)


@lru_cache(maxsize=64)
def motion_kernel(length: float, angle: float) -> Tensor:
    """A line of ``length`` pixels through the centre at ``angle`` degrees (counter-clockwise), as
    ``fspecial('motion', length, angle)``: each tap weighs ``max(0, 1 - d)``, ``d`` its distance to
    the segment, so the line is one pixel wide with linear anti-aliasing; sums to 1.
    """
    half = (max(1.0, length) - 1.0) / 2.0
    phi = math.radians(angle % 180.0)
    dx, dy = math.cos(phi), -math.sin(phi)  # image rows grow downwards
    r = math.ceil(half) + 1
    coords = torch.arange(-r, r + 1, dtype=torch.float64)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    along = (x * dx + y * dy).clamp(-half, half)
    dist = torch.sqrt((x - along * dx) ** 2 + (y - along * dy) ** 2)
    k = (1.0 - dist).clamp_min(0.0)
    k[k < 1e-9] = 0.0  # cos(90°) is 6e-17, not 0: no stray taps
    keep_rows = k.sum(1) > 0
    keep_cols = k.sum(0) > 0
    k = k[keep_rows][:, keep_cols]
    return (k / k.sum()).to(torch.float32)


def lens_blur(x: Tensor, radius: float, rng=None) -> Tensor:
    """``imfilter(x, fspecial('disk', radius), 'replicate')``."""
    return fft_filter(x, disk_kernel(float(radius)))


def motion_blur(x: Tensor, length: float, rng: torch.Generator) -> Tensor:
    """Motion blur of ``length`` pixels in a random direction (``randi([0, 180])`` degrees)."""
    angle = int(torch.randint(0, 181, (1,), generator=rng))
    kernel = motion_kernel(float(length), float(angle))
    # the kernel is point-symmetric, so correlation (imfilter) equals convolution
    return fft_filter(x, kernel)


def high_sharpen(x: Tensor, amount: float, rng=None) -> Tensor:
    """``imsharpen(x, 'Radius', 3, 'Amount', amount)``: unsharp masking of L* only, then clipped."""
    lab = rgb_to_lab_d65(x)
    lightness = lab[:, :1]
    sharpened = lightness + amount * (lightness - matlab_gaussian_blur(lightness, 3.0))
    return lab_d65_to_rgb(torch.cat((sharpened, lab[:, 1:]), dim=1)).clamp(0, 1)
