"""Colour distortions: KADID-10k types 4 (colour diffusion), 5 (colour shift), 6 (colour
quantisation), 7 (colour saturation 1) and 8 (colour saturation 2), after ``imcolordiffuse.m``
(``imcolorblur.m``), ``imcolorshift.m``, ``imcolorquantize.m``, ``imcolorsaturate.m`` and
``imsaturate.m`` of the official code.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from iqametrics.functional.color import rgb_to_gray
from iqametrics.functional.nss import round_half_up

from ._common import (
    from_pil,
    lab_d65_to_rgb,
    matlab_gaussian_blur,
    min_max,
    percentile,
    rgb_to_lab_d65,
    to_pil,
)

__all__ = ["color_diffusion", "color_shift", "color_quantization", "wu_palette", "color_saturation_hsv", "color_saturation_lab"]


def color_diffusion(x: Tensor, amount: float, rng=None) -> Tensor:
    """``imcolorblur(x, 1.5*amount + 2, amount)``: a*, b* blurred (σ = 1.5·amount + 2) and scaled by ``amount``."""
    lab = rgb_to_lab_d65(x)
    chroma = matlab_gaussian_blur(lab[:, 1:], 1.5 * amount + 2.0) * amount
    return lab_d65_to_rgb(torch.cat((lab[:, :1], chroma), dim=1)).clamp(0, 1)


def _edge_weight(x: Tensor) -> Tensor:
    """Where ``imcolorshift`` shows the shifted channel: smoothed gradient magnitude of the grey
    image, mapped to [0, 1], floored at 0.1 and stretched between its 1st and 99th percentiles (``ps2``)."""
    grey = rgb_to_gray(x)
    gy, gx = torch.gradient(grey, dim=(-2, -1))  # MATLAB gradient: central inside, one-sided at the edges
    e = min_max(matlab_gaussian_blur(torch.sqrt(gx * gx + gy * gy), 4.0))
    e = min_max(e.clamp(0.1, 1.0))
    hi = percentile(e, 99.0)
    lo = 1.0 - percentile(1.0 - e, 99.0)
    return min_max(torch.maximum(torch.minimum(e, hi), lo))


def color_shift(x: Tensor, amount: float, rng: torch.Generator) -> Tensor:
    """The green channel shifted by ``amount`` pixels in a random down-right direction, blended in at edges."""
    direction = torch.rand(2, generator=rng, dtype=torch.float64)
    shift = round_half_up(direction / direction.norm() * amount).long().tolist()  # normr(rand(1,2))
    h, w = x.shape[-2:]
    # imshift: replicate-padded circular shift, i.e. out[i, j] = in[clamp(i - dy), clamp(j - dx)]
    rows = (torch.arange(h, device=x.device) - shift[0]).clamp(0, h - 1)
    cols = (torch.arange(w, device=x.device) - shift[1]).clamp(0, w - 1)
    green = x[:, 1:2]
    shifted = green.index_select(-2, rows).index_select(-1, cols)
    e = _edge_weight(x)
    out = x.clone()
    out[:, 1:2] = shifted * e + green * (1.0 - e)
    return out


_WU_SIDE = 33  # 32 levels per channel (5 bits) plus the zero row of the cumulative tables


def _box_sum(cum: np.ndarray, box) -> np.ndarray:
    """Sum of a cumulative 3-D table (..., 33, 33, 33) over the box (r0, r1] x (g0, g1] x (b0, b1]."""
    r0, r1, g0, g1, b0, b1 = box
    return (
        cum[..., r1, g1, b1] - cum[..., r1, g1, b0] - cum[..., r1, g0, b1] + cum[..., r1, g0, b0]
        - cum[..., r0, g1, b1] + cum[..., r0, g1, b0] + cum[..., r0, g0, b1] - cum[..., r0, g0, b0]
    )


def wu_palette(pixels: np.ndarray, colors: int) -> np.ndarray:
    """A palette of at most ``colors`` colours for 8-bit RGB ``pixels`` [N, 3] by Wu's minimum-variance
    quantiser (Graphics Gems II, 1991; the method of MATLAB's ``rgb2ind(rgb, n)``).

    The RGB cube (5 bits per channel) is cut into boxes: the box with the largest colour variance
    is split, along the axis and at the plane that leave the least variance, until there are
    ``colors`` boxes; each box contributes its mean colour.
    """
    values = pixels.astype(np.float64)
    cell = ((pixels.astype(np.int64) >> 3) + 1) @ np.array([_WU_SIDE * _WU_SIDE, _WU_SIDE, 1])
    n = _WU_SIDE**3
    weights = (None, values[:, 0], values[:, 1], values[:, 2], (values * values).sum(1))
    moments = np.stack([np.bincount(cell, weights=w_, minlength=n) for w_ in weights]).reshape(5, *(_WU_SIDE,) * 3)
    cum = moments.cumsum(1).cumsum(2).cumsum(3)  # count, sum r, sum g, sum b, sum of squares

    def variance(box) -> float:
        count, r, g, b, squares = _box_sum(cum, box)
        return squares - (r * r + g * g + b * b) / count if count > 0 else 0.0

    def split(box):
        whole = _box_sum(cum[:4], box)
        best, best_cut = 0.0, None
        for axis in range(3):
            lo, hi = box[2 * axis], box[2 * axis + 1]
            if hi - lo < 2:
                continue
            # the sums over the box cut at every plane of this axis, from one face of the table
            (p0, p1), (q0, q1) = (box[2 * k : 2 * k + 2] for k in range(3) if k != axis)
            c = np.moveaxis(cum[:4], axis + 1, 1)
            face = c[:, :, p1, q1] - c[:, :, p1, q0] - c[:, :, p0, q1] + c[:, :, p0, q0]  # [4, 33]
            cuts = np.arange(lo + 1, hi)
            half = face[:, cuts] - face[:, lo : lo + 1]
            rest = whole[:, None] - half
            with np.errstate(divide="ignore", invalid="ignore"):
                score = (half[1:] ** 2).sum(0) / half[0] + (rest[1:] ** 2).sum(0) / rest[0]
            score[(half[0] == 0) | (rest[0] == 0)] = -np.inf
            k = int(np.argmax(score))
            if score[k] > best:
                best, best_cut = score[k], (axis, int(cuts[k]))
        if best_cut is None:
            return None
        axis, cut = best_cut
        first, second = list(box), list(box)
        first[2 * axis + 1] = cut
        second[2 * axis] = cut
        return tuple(first), tuple(second)

    boxes = [(0, 32, 0, 32, 0, 32)]
    spread = [variance(boxes[0])]
    while len(boxes) < colors:
        k = int(np.argmax(spread))
        if spread[k] <= 0:
            break
        halves = split(boxes[k])
        if halves is None:
            spread[k] = 0.0
            continue
        boxes[k], spread[k] = halves[0], variance(halves[0])
        boxes.append(halves[1])
        spread.append(variance(halves[1]))
    sums = np.array([_box_sum(cum[:4], box) for box in boxes])
    sums = sums[sums[:, 0] > 0]
    return np.clip(np.round(sums[:, 1:] / sums[:, :1]), 0, 255).astype(np.uint8)


def color_quantization(x: Tensor, colors: float, rng=None) -> Tensor:
    """``rgb2ind(x, colors)`` then ``ind2rgb``: a minimum-variance palette of ``colors`` colours
    (:func:`wu_palette`), the image mapped to it with Floyd-Steinberg error diffusion (``rgb2ind``'s
    default dithering; Pillow's implementation)."""
    from PIL import Image

    img = to_pil(x)
    palette = wu_palette(np.asarray(img).reshape(-1, 3), int(colors))
    # fill the unused entries with the first colour: Pillow would otherwise offer black
    entries = np.concatenate((palette, np.repeat(palette[:1], 256 - len(palette), axis=0)))
    holder = Image.new("P", (1, 1))
    holder.putpalette(entries.reshape(-1).tolist())
    return from_pil(img.quantize(palette=holder, dither=Image.Dither.FLOYDSTEINBERG), x)


def color_saturation_hsv(x: Tensor, factor: float, rng=None) -> Tensor:
    """HSV saturation times ``factor`` (``rgb2hsv``, ``S*factor``, ``hsv2rgb``).

    Hue and value fixed, every channel of ``hsv2rgb`` is linear in S, so the round trip is exactly
    ``V - factor * (V - channel)`` with ``V`` the largest channel (negative factors included).
    """
    value = x.amax(dim=1, keepdim=True)
    return value - factor * (value - x)


def color_saturation_lab(x: Tensor, factor: float, rng=None) -> Tensor:
    """``imsaturate``: a*, b* times ``factor``, back to RGB, clipped."""
    lab = rgb_to_lab_d65(x)
    return lab_d65_to_rgb(torch.cat((lab[:, :1], lab[:, 1:] * factor), dim=1)).clamp(0, 1)
