"""VTAMIQ's context-aware patch sampling (iqametrics.nn.patch_sampling): the blur, the sampling
distribution, determinism, stratification, the multi-scale pyramid and the patch extraction."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from iqametrics.nn.patch_sampling import (
    CAPSampler,
    box_blur,
    extract_patches,
    patches_per_level,
    pyramid_levels,
)


def _pair(h=48, w=64, seed=0, noise=0.1):
    g = torch.Generator().manual_seed(seed)
    ref = torch.rand(1, 3, h, w, generator=g)
    dist = (ref + noise * torch.randn(1, 3, h, w, generator=g)).clamp(0, 1)
    return ref, dist


def test_box_blur_is_an_exact_convolution_close_to_the_papers_gaussian():
    x = torch.randint(0, 200_000, (2, 30, 41), dtype=torch.int64)
    k = torch.ones(1, 1, 1, dtype=torch.float64)
    for w in (9, 9, 11):
        k = F.conv1d(k, torch.ones(1, 1, w, dtype=torch.float64), padding=w - 1)
    k = k.flatten()
    ref = F.conv2d(x.double()[:, None], torch.outer(k, k)[None, None], padding=13)[:, 0]
    assert torch.equal(box_blur(x).double(), ref)  # integers below 2**53: exact in float64
    assert torch.equal(box_blur(x, (8, 7)).double(), ref[:, 8:-7, 8:-7])
    sigma = math.sqrt(((torch.arange(27.0, dtype=torch.float64) - 13) ** 2 * k).sum() / k.sum())
    assert abs(sigma - (16**2 + 16**2) ** 0.25) < 0.1  # authors' σ = 4.757


def test_probabilities_favour_the_centre():
    s = CAPSampler(16, diff_weight=0)
    p = s.probabilities(64, 96).view(64 - 15, 96 - 15)
    centre = p[(64 - 16) // 2, (96 - 16) // 2]
    assert centre == p.max() and centre > 2 * p[0, 0]
    assert torch.allclose(p, p.flip(0)) and torch.allclose(p, p.flip(1))  # centred on the image
    uniform = CAPSampler(16, center_weight=0, diff_weight=0).probabilities(20, 30)
    assert torch.allclose(uniform, torch.full((5 * 15,), 1 / 75.0, dtype=torch.float64))


def test_probabilities_favour_the_regions_that_differ():
    ref, _ = _pair(64, 64)
    dist = ref.clone()
    dist[..., 40:60, 4:24] = 1 - dist[..., 40:60, 4:24]  # change one block only
    s = CAPSampler(4096, center_weight=0, uniform_weight=0.25, diff_weight=5)
    maps, _ = s.difference_maps(ref, [dist])
    p = s.probabilities(64, 64, maps[0][0]).view(49, 49)
    # corners whose patch centre (corner + 8) lies inside the changed block
    inside = p[32:52, 0:16].mean()
    far = p[0:16, 32:49].mean()
    assert inside > 10 * far
    corners = s.sample(ref, dist)[0].corners
    hits = ((corners[:, 0] + 8 >= 40) & (corners[:, 0] + 8 < 60) & (corners[:, 1] + 8 >= 4) & (corners[:, 1] + 8 < 24))
    area = 20 * 16 / 49**2  # share of the corners whose centre is in the block (16 of its columns are valid)
    assert hits.float().mean() > 3 * area


def test_identical_images_use_a_constant_difference_term():
    ref, _ = _pair(40, 50)
    s = CAPSampler(16)
    maps, _ = s.difference_maps(ref, [ref])
    assert maps[0].max() == 0
    cb = CAPSampler(16, diff_weight=0, uniform_weight=0).probabilities(40, 50)  # ∝ centre bias
    cb = cb / cb.max()
    p = s.probabilities(40, 50, maps[0][0])
    q = s.center_weight * cb + s.diff_weight + s.uniform_weight
    assert torch.allclose(p, q / q.sum())


def test_sampling_is_deterministic_and_seeded_by_content():
    ref, dist = _pair()
    s = CAPSampler(64)
    a = s.sample(ref, dist)[0].corners
    assert torch.equal(a, s.sample(ref, dist)[0].corners)
    # the pair's position in a batch does not matter
    ref2, dist2 = _pair(seed=1)
    batch = s.sample(torch.cat([ref2, ref]), torch.cat([dist2, dist]))
    assert torch.equal(batch[1].corners, a) and not torch.equal(batch[0].corners, a)
    # the seed option and the repeat index give other, equally deterministic samplings
    b = CAPSampler(64, seed=1).sample(ref, dist)[0].corners
    assert not torch.equal(a, b) and torch.equal(b, CAPSampler(64, seed=1).sample(ref, dist)[0].corners)
    assert not torch.equal(a, s.sample(ref, dist, repeat=1)[0].corners)
    # a caller's generator (training) draws fresh patches on every call
    g = torch.Generator().manual_seed(0)
    assert not torch.equal(s.sample(ref, dist, generator=g)[0].corners, s.sample(ref, dist, generator=g)[0].corners)


def test_corners_cover_the_whole_valid_range():
    ref, dist = _pair(17, 18)
    sample = CAPSampler(400, center_weight=0, diff_weight=0).sample(ref, dist)[0]
    seen = {tuple(c) for c in sample.corners.tolist()}
    assert seen == {(i, j) for i in range(2) for j in range(3)}  # 0 ≤ i ≤ H − 16, 0 ≤ j ≤ W − 16


def test_systematic_sampling_is_stratified():
    s = CAPSampler(50, center_weight=0, diff_weight=0, mode="systematic")
    ref, dist = _pair(16, 16 + 99)  # one row of 100 corners
    cols = s.sample(ref, dist)[0].corners[:, 1]
    assert torch.equal(cols // 2, torch.arange(50))  # exactly one corner per stratum of 2


def test_pyramid_levels_and_patch_counts():
    # 2022 code: ratio 1.5, 5 scales, 1024 patches -> 663 at full resolution, then 236, 84, 30, 11
    assert patches_per_level(1024, 5, 1.5) == [663, 236, 84, 30, 11]
    assert sum(patches_per_level(256, 5, 1.5)) == 256
    assert pyramid_levels(384, 512, 5) == 5
    assert pyramid_levels(384, 512, 1) == 1
    assert pyramid_levels(31, 40, 5) == 1  # the 2022 rule allows 2 levels, but 15 px is less than a patch
    assert pyramid_levels(64, 64, 5) == 3  # 64 -> 24 -> 4: levels of 64, 32, 16 px
    for h in range(16, 200, 7):
        levels = pyramid_levels(h, h + 5, 5)
        assert (h >> (levels - 1)) >= 16


def test_multiscale_sample_layout():
    ref, dist = _pair(64, 80)
    s = CAPSampler(100, num_scales=5)
    sample = s.sample(ref, dist)[0]
    counts = s.level_counts(64, 80)
    assert len(counts) == 3 and sum(counts) == 100
    assert sample.level_sizes == ((64, 80), (32, 40), (16, 20))
    assert torch.equal(sample.levels, torch.repeat_interleave(torch.arange(3), torch.tensor(counts)))
    for k, (h, w) in enumerate(sample.level_sizes):
        c = sample.corners[sample.levels == k]
        assert (c >= 0).all() and (c[:, 0] <= h - 16).all() and (c[:, 1] <= w - 16).all()


def test_extracted_patches_are_the_crops_at_the_sampled_corners():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, 40, 48, generator=g)
    pooled = F.avg_pool2d(x, 2)
    corners = torch.tensor([[[0, 0], [24, 32], [3, 5], [4, 8]], [[1, 2], [0, 32], [2, 1], [0, 0]]])
    patches = extract_patches([x, pooled], corners, [3, 1])
    for b in range(2):
        for n in range(4):
            src = x if n < 3 else pooled
            i, j = corners[b, n].tolist()
            assert torch.equal(patches[b, n], src[b, :, i : i + 16, j : j + 16])
