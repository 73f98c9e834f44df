"""Context-aware patch sampling (CAPS) of VTAMIQ (Chubarau & Clark 2021, §3.2), deterministic by content.

N aligned 16×16 patches are drawn from a reference and its distorted images, the same corners for
all of them, with probability over the valid top-left corners

    p ∝ center_weight · centre_bias + diff_weight · difference + uniform_weight

* ``difference``: per-pixel squared colour distance ``Σ_c |ref_c − dist_c|²`` between the 8-bit
  images, blurred (σ ≈ (16² + 16²)^¼ ≈ 4.76 px, zero boundary), read at each patch's centre pixel
  (corner + 8), divided by its maximum; a constant 1 when the images are identical.
* ``centre_bias``: an isotropic Gaussian centred on the image, σ = ``center_sigma`` · min(H, W),
  evaluated at the patch centres (a substitute for the DeepGaze II template of the authors' code).

Where this departs from the authors' code, and why (see ``docs/models/vtamiq.md``):

* The blur is three box filters of widths 9, 9 and 11 (σ = 4.83 px instead of a Gaussian of
  σ = 4.76 px) computed in exact integer arithmetic on the 8-bit levels: every device produces
  the same map bit for bit, so the same pair samples the same patches on CPU and GPU.
* Corners are drawn on the CPU from a ``torch.Generator`` seeded by a hash of the pair's 8-bit
  content (or from a generator the caller passes, for training): scores do not depend on the
  batch, the device or global RNG state.
* All corners ``0 ≤ i ≤ H − 16`` are valid (the paper-era code never drew the last row/column).

Multi-scale sampling (the 2022 code of the published checkpoint): the images are reduced by 2×2
average pooling into ``levels`` pyramid levels, patches are split between levels with weights
``2^(ratio·k)`` (most patches at full resolution) and each level is sampled as above from its own
pooled difference map.
"""
from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..functional._cache import cached_constants

__all__ = [
    "PATCH_SIZE",
    "CAPSampler",
    "PatchSample",
    "pyramid_levels",
    "patches_per_level",
    "box_blur",
    "extract_patches",
    "average_pyramid",
]

PATCH_SIZE = 16
# Three box filters approximate the Gaussian of σ = (16² + 16²)^(1/4) = 4.757 of the authors' code:
# variance Σ (w² − 1) / 12 = (80 + 80 + 120) / 12 = 23.33 -> σ = 4.83.
_BOX_WIDTHS = (9, 9, 11)
_BOX_RADIUS = sum(w // 2 for w in _BOX_WIDTHS)
_MODES = ("random", "systematic")


@dataclass(frozen=True)
class PatchSample:
    """Corners drawn for one image pair (the same for reference and distorted images).

    ``corners`` [N, 2] (row, column) of the top-left pixel in the pixel grid of the patch's
    pyramid level; ``levels`` [N] the level (0 = full resolution); ``level_sizes`` the (H, W) of
    each level.  Patches are ordered by level.
    """

    corners: Tensor
    levels: Tensor
    level_sizes: Tuple[Tuple[int, int], ...]


def pyramid_levels(height: int, width: int, num_scales: int) -> int:
    """How many pyramid levels an image supports (authors' 2022 rule, plus a ≥ 16 px guard).

    The 2022 code counts how often ``d ← (d − 16) / 2`` stays above 1 starting from
    ``d = min(H, W)``; we also stop before a level smaller than one patch.
    """
    if num_scales <= 1:
        return 1
    d, n = float(min(height, width)), 1
    while True:
        d = (d - PATCH_SIZE) / 2
        if d <= 1:
            break
        n += 1
    while n > 1 and (min(height, width) >> (n - 1)) < PATCH_SIZE:
        n -= 1
    return min(n, num_scales)


def patches_per_level(n_patches: int, levels: int, ratio: float) -> List[int]:
    """Patch counts per level (level 0 first), the 2022 code's ``compute_num_samples``.

    Weights ``2^(ratio·k)``, k = 0..levels−1, scaled to ``n_patches`` and rounded up; the largest
    weight goes to full resolution; the excess of the rounding is removed from the last levels.
    """
    weights = [2.0 ** (ratio * k) for k in range(levels)]
    total = sum(weights)
    counts = [math.ceil(w * n_patches / total) for w in weights]
    running = 0
    for k in range(levels):
        running += counts[k]
        if running >= n_patches:
            counts[k] -= running - n_patches
            counts[k + 1:] = [0] * (levels - k - 1)
            break
    return counts[::-1]


def _valid_box_sum(x: Tensor, width: int, dim: int) -> Tensor:
    """Moving sum of ``width`` samples along ``dim`` where the window fits ("valid"); exact for integers."""
    c = x.cumsum(dim)
    n = x.shape[dim] - width + 1
    out = c.narrow(dim, width - 1, n).clone()
    out.narrow(dim, 1, n - 1).sub_(c.narrow(dim, 0, n - 1))
    return out


def box_blur(x: Tensor, crop: Tuple[int, int] = (0, 0)) -> Tensor:
    """Blur ``[..., H, W]`` integers with the three-box kernel (unnormalised, zero boundary).

    Equals one convolution of the zero-extended image with the composite kernel (the image is
    padded once, then each box keeps only its valid part).  ``crop = (a, b)`` returns only the
    output rows/columns ``a … size − 1 − b`` (cheaper than cropping afterwards).
    """
    before, after = _BOX_RADIUS - crop[0], _BOX_RADIUS - crop[1]
    if before < 0 or after < 0:
        raise ValueError(f"crop {crop} exceeds the kernel radius {_BOX_RADIUS}")
    y = x.new_zeros(*x.shape[:-2], x.shape[-2] + before + after, x.shape[-1] + before + after)
    y[..., before : before + x.shape[-2], before : before + x.shape[-1]] = x
    for dim in (-1, -2):
        for w in _BOX_WIDTHS:
            y = _valid_box_sum(y, w, dim)
    return y


def _sum_pool2(x: Tensor) -> Tensor:
    """2×2 sum pooling of the last two dims, odd edges dropped (as ``AvgPool2d(2)`` does)."""
    h, w = x.shape[-2] // 2, x.shape[-1] // 2
    return x[..., : 2 * h, : 2 * w].reshape(*x.shape[:-2], h, 2, w, 2).sum(dim=(-3, -1))


def _levels_8bit(x: Tensor) -> Tensor:
    # round(255·x) is computed identically by every IEEE device: the sampling inputs are exact
    return (x.detach() * 255.0).clamp_(0.0, 255.0).round_().to(torch.int32)


@cached_constants(maxsize=64)
def _center_bias(height: int, width: int, sigma_fraction: float) -> Tensor:
    """Gaussian centre bias (max 1 at the image centre) at the centre of every valid patch."""
    sigma = sigma_fraction * min(height, width)
    half = (PATCH_SIZE - 1) / 2.0
    y = torch.arange(height - PATCH_SIZE + 1, dtype=torch.float64) + half - (height - 1) / 2.0
    x = torch.arange(width - PATCH_SIZE + 1, dtype=torch.float64) + half - (width - 1) / 2.0
    return torch.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / (2.0 * sigma**2))


def average_pyramid(x: Tensor, levels: int) -> List[Tensor]:
    """``[x, pool(x), pool(pool(x)), ...]`` with 2×2 average pooling (odd edges dropped)."""
    out = [x]
    for _ in range(levels - 1):
        out.append(F.avg_pool2d(out[-1], 2))
    return out


def extract_patches(images: Sequence[Tensor], sample_corners: Tensor, counts: Sequence[int]) -> Tensor:
    """Gather patches from a same-size group.

    ``images``: pyramid levels, level k of shape [B, C, H_k, W_k]; ``sample_corners`` [R·B, N, 2]
    (long, on the images' device): R ≥ 1 sets of corners for the B images, set-major (row
    ``r·B + b`` belongs to image ``b``), each ordered by level with ``counts[k]`` patches at level k.
    Returns [R·B, N, C, 16, 16].
    """
    out, start = [], 0
    for level, n in zip(images, counts):
        if n == 0:
            continue
        corners = sample_corners[:, start : start + n]
        windows = level.unfold(2, PATCH_SIZE, 1).unfold(3, PATCH_SIZE, 1)  # [B, C, H', W', P, P] view
        batch = (torch.arange(sample_corners.shape[0], device=level.device) % level.shape[0])[:, None].expand(-1, n)
        out.append(windows[batch, :, corners[..., 0], corners[..., 1]])  # [B, n, C, P, P]
        start += n
    return torch.cat(out, dim=1)


class CAPSampler:
    """Context-aware patch sampler; see the module docstring for the probability map.

    Args:
        n_patches: patches per image (the paper: 256 in training, 1024 at test).
        center_weight, diff_weight, uniform_weight: weights of the three terms (≥ 0, not all 0).
            ``center_weight = diff_weight = 0`` is plain uniform sampling.
        center_sigma: σ of the Gaussian centre bias as a fraction of min(H, W).
        mode: ``"random"`` (i.i.d. inverse-CDF draws, as the paper's code) or ``"systematic"``
            (one uniform offset, N evenly spaced points of the CDF: stratified, lower variance).
        num_scales: pyramid levels to sample from (1 = single scale, as in the paper).
        scale_ratio: patch-count ratio between levels (``2^(ratio·k)``).
        seed: mixed into the content hash; change it to draw another deterministic sampling.
    """

    def __init__(
        self,
        n_patches: int = 1024,
        *,
        center_weight: float = 2.0,
        diff_weight: float = 5.0,
        uniform_weight: float = 0.25,
        center_sigma: float = 0.25,
        mode: str = "random",
        num_scales: int = 1,
        scale_ratio: float = 1.5,
        seed: int = 0,
    ):
        if not isinstance(n_patches, int) or n_patches < 1:
            raise ValueError(f"n_patches must be a positive integer, got {n_patches!r}")
        weights = (center_weight, diff_weight, uniform_weight)
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"sampling weights must be ≥ 0 and not all zero, got {weights}")
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        if center_sigma <= 0:
            raise ValueError(f"center_sigma must be positive, got {center_sigma}")
        if num_scales < 1 or n_patches < num_scales:
            raise ValueError(f"need 1 ≤ num_scales ≤ n_patches, got num_scales={num_scales}, n_patches={n_patches}")
        self.n_patches = n_patches
        self.center_weight = float(center_weight)
        self.diff_weight = float(diff_weight)
        self.uniform_weight = float(uniform_weight)
        self.center_sigma = float(center_sigma)
        self.mode = mode
        self.num_scales = int(num_scales)
        self.scale_ratio = float(scale_ratio)
        self.seed = int(seed)

    def __repr__(self) -> str:
        return (
            f"CAPSampler(n_patches={self.n_patches}, center_weight={self.center_weight}, "
            f"diff_weight={self.diff_weight}, uniform_weight={self.uniform_weight}, "
            f"center_sigma={self.center_sigma}, mode={self.mode!r}, num_scales={self.num_scales}, "
            f"scale_ratio={self.scale_ratio}, seed={self.seed})"
        )

    # ------------------------------------------------------------------ device side (exact integers)
    def level_counts(self, height: int, width: int) -> List[int]:
        levels = pyramid_levels(height, width, self.num_scales)
        return patches_per_level(self.n_patches, levels, self.scale_ratio)

    def difference_maps(self, ref: Tensor, dists: Sequence[Tensor]) -> Tuple[List[Tensor], Tensor]:
        """Blurred difference energy per level, cropped to the patch centres, and seed material.

        ``ref`` and each of ``dists``: [B, 3, H, W] in [0, 1] on any device.  Returns the maps
        (level k: int64 [B, H_k − 15, W_k − 15] on the CPU) and a subsample of the
        8-bit images (uint8 [B, K], hashed into the per-pair seed).
        """
        height, width = ref.shape[-2:]
        levels = pyramid_levels(height, width, self.num_scales)
        # seed material: the 8-bit levels on a 4-pixel grid (pairs that share it share a seed, which
        # is harmless: their corners still follow their own difference maps)
        summary = torch.cat([_levels_8bit(t[..., ::4, ::4]).flatten(1) for t in (ref, *dists)], 1).to(torch.uint8)
        maps: List[Tensor] = []
        if self.diff_weight > 0:
            r8 = _levels_8bit(ref)
            # several distorted images (PieAPP triplets): their differences are summed (scale-free)
            err = sum((r8 - _levels_8bit(d)).abs() for d in dists).to(torch.int64)
            # the map is read at pixel i + 8 for corner i: keep output rows/cols 8 … size − 8
            crop = (PATCH_SIZE // 2, PATCH_SIZE // 2 - 1)
            for k in range(levels):
                if k:
                    err = _sum_pool2(err)
                energy = (err * err).sum(dim=1)  # squared L2 over colour channels
                maps.append(box_blur(energy, crop).cpu())
        return maps, summary.cpu()

    # ------------------------------------------------------------------ CPU side
    def pair_seed(self, summary: Tensor, height: int, width: int, repeat: int = 0) -> int:
        """63-bit seed from a pair's 8-bit content, its size, the sampler's seed and the repeat index."""
        h = hashlib.blake2b(digest_size=8, person=b"iqm-caps-v1")
        h.update(struct.pack("<qqqq", height, width, self.seed, repeat))
        h.update(summary.contiguous().numpy().tobytes())
        return int.from_bytes(h.digest(), "little") & ((1 << 63) - 1)

    def probabilities(self, height: int, width: int, diff_map: Tensor = None) -> Tensor:
        """Sampling probability of every valid corner, float64 [(H − 15) · (W − 15)], sum 1."""
        shape = (height - PATCH_SIZE + 1, width - PATCH_SIZE + 1)
        p = torch.full(shape, self.uniform_weight, dtype=torch.float64)
        if self.center_weight > 0:
            p = p + self.center_weight * _center_bias(height, width, self.center_sigma)
        if self.diff_weight > 0:
            if diff_map is None:
                raise ValueError("diff_weight > 0 needs the difference map")
            d = diff_map.to(torch.float64)
            peak = d.max()
            p = p + self.diff_weight * (d / peak if peak > 0 else torch.ones_like(d))
        p = p.flatten()
        total = p.sum()
        if not total > 0:  # only a difference term and nothing differs within reach of a corner
            p = torch.ones_like(p)
            total = p.sum()
        return p / total

    def draw(self, probabilities: Tensor, n: int, width: int, generator: torch.Generator) -> Tensor:
        """``n`` corners [n, 2] (row, col) drawn from ``probabilities`` over a grid ``width`` wide."""
        cdf = probabilities.cumsum(0)
        if self.mode == "random":
            u = torch.rand(n, generator=generator, dtype=torch.float64)
        else:
            u = (torch.arange(n, dtype=torch.float64) + torch.rand(1, generator=generator, dtype=torch.float64)) / n
        u = u * cdf[-1]  # cumsum rounding: the last value may differ from 1 in the last bits
        idx = torch.searchsorted(cdf, u, right=True).clamp_(max=cdf.numel() - 1)
        cols = width - PATCH_SIZE + 1
        return torch.stack([idx // cols, idx % cols], dim=1)

    def sample_pair(
        self, maps: Sequence[Tensor], height: int, width: int, generator: torch.Generator
    ) -> PatchSample:
        """Draw the corners of one pair from its per-level difference maps (CPU tensors)."""
        return self._sample_pair(maps, height, width, [generator])[0]

    def _sample_pair(
        self, maps: Sequence[Tensor], height: int, width: int, generators: Sequence[torch.Generator]
    ) -> List[PatchSample]:
        # one sampling per generator; the probability maps are built once for all of them
        counts = self.level_counts(height, width)
        corners, levels, sizes = [[] for _ in generators], [], []
        for k, n in enumerate(counts):
            h, w = height >> k, width >> k
            sizes.append((h, w))
            if n == 0:
                continue
            p = self.probabilities(h, w, maps[k] if self.diff_weight > 0 else None)
            for drawn, g in zip(corners, generators):
                drawn.append(self.draw(p, n, w, g))
            levels.append(torch.full((n,), k, dtype=torch.long))
        levels = torch.cat(levels)
        return [PatchSample(torch.cat(c), levels, tuple(sizes)) for c in corners]

    def sample(
        self, ref: Tensor, *dists: Tensor, generator: torch.Generator = None, repeat: int = 0
    ) -> List[PatchSample]:
        """Corners for every pair of a same-size batch ``ref``, ``dists`` [B, 3, H, W] in [0, 1].

        Without ``generator`` each pair gets its own generator seeded from its content and
        ``repeat`` (deterministic); with one (training), all pairs draw from it in batch order.
        """
        return self.sample_repeats(ref, *dists, generator=generator, repeats=(repeat,))[0]

    def sample_repeats(
        self, ref: Tensor, *dists: Tensor, generator: torch.Generator = None, repeats: Sequence[int] = (0,)
    ) -> List[List[PatchSample]]:
        """:meth:`sample` for each repeat index in ``repeats`` ([repeat][pair]); the difference maps
        are computed once for all of them."""
        if not dists:
            raise ValueError("CAPS needs the reference and at least one distorted batch")
        for d in dists:
            if d.shape != ref.shape:
                raise ValueError(f"reference {tuple(ref.shape)} and distorted {tuple(d.shape)} batches differ in shape")
        height, width = ref.shape[-2:]
        if height < PATCH_SIZE or width < PATCH_SIZE:
            raise ValueError(f"images must be at least {PATCH_SIZE}×{PATCH_SIZE}, got {width}×{height}")
        maps, summary = self.difference_maps(ref, dists)
        pair_maps = [[m[b] for m in maps] for b in range(ref.shape[0])]
        if generator is not None:  # one stream: repeat by repeat, pair by pair
            return [[self.sample_pair(pm, height, width, generator) for pm in pair_maps] for _ in repeats]
        per_pair = [
            self._sample_pair(
                pm, height, width,
                [torch.Generator().manual_seed(self.pair_seed(summary[b], height, width, r)) for r in repeats],
            )
            for b, pm in enumerate(pair_maps)
        ]
        return [list(row) for row in zip(*per_pair)]
