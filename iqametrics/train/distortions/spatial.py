"""Spatial distortions: KADID-10k types 19 (jitter), 20 (non-eccentricity patch), 21 (pixelate)
and 23 (colour block), after ``imjitter.m`` (``imscatter.m``, ``imwarpmap.m``),
``imnoneccentricity.m``, ``impixelate.m`` and ``imcolorblock.m`` of the official code.
"""
from __future__ import annotations

import torch
from torch import Tensor

from iqametrics.functional.nss import round_half_up
from iqametrics.functional.resize import _cubic, imresize

from ._common import normal, uniform

__all__ = ["jitter", "non_eccentricity_patch", "pixelate", "color_block", "bicubic_sample"]


def _keys_weights(t: Tensor):
    """Weights of the taps at offsets -1, 0, 1, 2 for fractional positions ``t``: the cubic
    convolution kernel of MATLAB's ``imresize``/``interp2`` (Keys, a = -0.5)."""
    return _cubic(t + 1), _cubic(t), _cubic(1 - t), _cubic(2 - t)


def bicubic_sample(x: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """Sample [B, C, H, W] at real positions ``rows``, ``cols`` [H', W'] (0-based) by cubic convolution
    (MATLAB ``interp2(..., 'cubic')``: Keys' kernel, a = -0.5) with replicated borders."""
    h, w = x.shape[-2:]
    r0, c0 = torch.floor(rows), torch.floor(cols)
    wr, wc = _keys_weights(rows - r0), _keys_weights(cols - c0)
    r0, c0 = r0.long(), c0.long()
    flat = x.reshape(-1, h * w)
    col_index = [(c0 + (j - 1)).clamp_(0, w - 1) for j in range(4)]
    out = None
    for i in range(4):  # 16 gathers, each weighted in place: no [..., 16] intermediate
        row_start = (r0 + (i - 1)).clamp_(0, h - 1).mul_(w)
        row = None
        for j in range(4):
            taps = flat.index_select(1, (row_start + col_index[j]).view(-1)).view(-1, *rows.shape)
            row = taps.mul_(wc[j]) if row is None else row.addcmul_(taps, wc[j])
        out = row.mul_(wr[i]) if out is None else out.addcmul_(row, wr[i])
    return out.view(*x.shape[:-2], *rows.shape)


def jitter(x: Tensor, amount: float, rng: torch.Generator) -> Tensor:
    """``imscatter(x, [], amount, 5)``: five times, every pixel is resampled (bicubic) from a position
    displaced by Gaussian noise of ``amount`` pixels along each axis."""
    h, w = x.shape[-2:]
    grid_r = torch.arange(h, dtype=x.dtype, device=x.device)[:, None].expand(h, w)
    grid_c = torch.arange(w, dtype=x.dtype, device=x.device)[None, :].expand(h, w)
    for _ in range(5):
        shifts = normal((2, h, w), rng, x) * amount
        x = bicubic_sample(x, grid_r - shifts[0], grid_c - shifts[1])  # interp2(im, xx - sx, yy - sy)
    return x


def non_eccentricity_patch(x: Tensor, patches: float, rng: torch.Generator) -> Tensor:
    """``imnoneccentricity``: ``patches`` times, a 16×16 patch at a random place (at least 16 pixels
    from the border) is copied over its surroundings, displaced by up to ±8 pixels each way.
    The copies are sequential: a later one may copy an area an earlier one changed."""
    size, radius = 16, 16
    h, w = x.shape[-2:]
    if h < size + 2 * radius or w < size + 2 * radius:
        raise ValueError(f"non-eccentricity patches need an image of at least 48×48 pixels, got {w}×{h}")
    draws = uniform((int(patches), 4), rng)
    # MATLAB (1-based): start = round(rand*(max - min)) + min with min = 16, max = side - 32; every
    # value rounded here is positive, where MATLAB's round (halves away from zero) is floor(x + 0.5)
    cols = round_half_up(draws[:, 0] * (w - size - 2 * radius)) + radius - 1
    rows = round_half_up(draws[:, 1] * (h - size - 2 * radius)) + radius - 1
    to_cols = round_half_up((draws[:, 2] - 0.5) * radius + cols)
    to_rows = round_half_up((draws[:, 3] - 0.5) * radius + rows)
    out = x.clone()
    for r, c, tr, tc in zip(rows.long().tolist(), cols.long().tolist(), to_rows.long().tolist(), to_cols.long().tolist()):
        out[..., tr : tr + size, tc : tc + size] = out[..., r : r + size, c : c + size].clone()
    return out


def pixelate(x: Tensor, strength: float, rng=None) -> Tensor:
    """``impixelate``: nearest-neighbour down to ``z = 0.95 - strength^0.6`` of the size and back up
    (MATLAB ``imresize(..., 'nearest')``)."""
    h, w = x.shape[-2:]
    z = 0.95 - strength**0.6
    small = imresize(x, scale=z, kernel="box", antialias=False)
    return imresize(small, size=(h, w), kernel="box", antialias=False)


def color_block(x: Tensor, blocks: float, rng: torch.Generator) -> Tensor:
    """``imcolorblock``: ``blocks`` opaque 32×32 squares of uniformly random colours at uniformly
    random places (later ones drawn over earlier ones).

    MATLAB draws a real-valued corner ``rand*(side - 32)`` and ``insertShape`` rounds it; here the
    corner is uniform over the whole-pixel positions ``0 .. side - 32``.
    """
    size = 32
    h, w = x.shape[-2:]
    if h < size or w < size:
        raise ValueError(f"colour blocks need an image of at least 32×32 pixels, got {w}×{h}")
    draws = uniform((int(blocks), 5), rng)
    out = x.clone()
    for red, green, blue, u, v in draws.tolist():
        c = min(int(u * (w - size + 1)), w - size)
        r = min(int(v * (h - size + 1)), h - size)
        colour = torch.tensor((red, green, blue), dtype=x.dtype, device=x.device).view(-1, 3, 1, 1)
        out[..., r : r + size, c : c + size] = colour
    return out
