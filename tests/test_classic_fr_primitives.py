"""Shared primitives added for the classic FR metrics: checked against their MATLAB definitions."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from iqametrics.functional import color, filters, resize, spectral
from iqametrics.functional.similarity import real_power, similarity_map


def test_auto_downsample_factor_rounds_halves_up_like_matlab():
    # min side / 256 = 1.5 and 2.5: MATLAB round gives 2 and 3 (Python's round would give 2 and 2)
    assert filters.auto_downsample_factor(384, 512) == 2
    assert filters.auto_downsample_factor(640, 1000) == 3
    assert filters.auto_downsample_factor(383, 512) == 1
    assert filters.auto_downsample_factor(100, 50) == 1


@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("size", [(9, 12), (10, 11), (16, 16)])
@pytest.mark.parametrize("padding", ["zeros", "symmetric"])
def test_average_downsample_is_box_filter_then_every_fth_sample(factor, size, padding, rng):
    x = torch.rand(2, 1, *size, generator=rng, dtype=torch.float64)
    box = torch.full((factor, factor), 1.0 / factor**2, dtype=torch.float64)
    expected = filters.filter2d(x, box, padding)[..., ::factor, ::factor]  # imfilter/conv2 'same', then 1:f:end
    got = filters.average_downsample(x, factor, padding)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


def _conv2_same(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """MATLAB conv2(x, k, 'same'): correlation with the flipped kernel, zero border."""
    return filters.filter2d(x, kernel.flip(0, 1), "zeros")


@pytest.mark.parametrize(
    "operator, dx",
    [
        ("prewitt", torch.tensor([[1.0, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=torch.float64) / 3),  # GMSD.m
        ("scharr", torch.tensor([[3.0, 0, -3], [10, 0, -10], [3, 0, -3]], dtype=torch.float64) / 16),  # FSIM, VSI
    ],
)
def test_gradient_magnitude_matches_conv2_of_the_official_kernels(operator, dx, rng):
    x = torch.rand(2, 3, 13, 17, generator=rng, dtype=torch.float64) * 255
    expected = torch.sqrt(_conv2_same(x, dx) ** 2 + _conv2_same(x, dx.T) ** 2)
    torch.testing.assert_close(filters.gradient_magnitude(x, operator), expected, rtol=1e-12, atol=1e-9)


def test_gradient_magnitude_has_finite_gradient_on_flat_images():
    x = torch.full((1, 1, 8, 8), 0.5, requires_grad=True)
    filters.gradient_magnitude(x).sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("padding", ["valid", "zeros", "symmetric", "reflect", "replicate"])
@pytest.mark.parametrize("tiled", [False, True])
def test_separable_filter_matmul_equals_convolution(padding, tiled, rng, monkeypatch):
    if tiled:  # force the tiled band products (used beyond 1024 samples) on a small image
        monkeypatch.setattr(filters, "_DENSE_BAND_MAX", 8)
        monkeypatch.setattr(filters, "_BAND_TILE", 4)
    x = torch.rand(2, 3, 20, 27, generator=rng, dtype=torch.float64)
    kv = filters.gaussian_kernel1d(7, 1.2, dtype=torch.float64)
    kh = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    conv = filters.separable_filter2d(x, kv, kh, padding, method="conv")
    mm = filters.separable_filter2d(x, kv, kh, padding, method="matmul")
    torch.testing.assert_close(mm, conv, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(conv, filters.filter2d(x, torch.outer(kv, kh), padding), rtol=1e-12, atol=1e-12)


def test_band_matrix_is_valid_correlation():
    k = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    s = torch.arange(6, dtype=torch.float64)
    expected = torch.tensor([s[i] + 2 * s[i + 1] + 3 * s[i + 2] for i in range(4)])
    torch.testing.assert_close(filters.band_matrix(k, 6) @ s, expected)


@pytest.mark.parametrize("kernel", ["bicubic", "bilinear"])
def test_imresize_dense_path_equals_gather_path(kernel, rng, monkeypatch):
    x = torch.rand(2, 3, 37, 50, generator=rng, dtype=torch.float64)
    for size in [(16, 20), (60, 41)]:
        dense = resize.imresize(x, size=size, kernel=kernel)
        monkeypatch.setattr(resize, "_DENSE_LIMIT", 0)
        gather = resize.imresize(x, size=size, kernel=kernel)
        monkeypatch.undo()
        torch.testing.assert_close(dense, gather, rtol=1e-12, atol=1e-12)


def test_luma_8bit_rounds_like_matlab_rgb2gray_and_rgb2ycbcr_on_uint8(rng):
    u8 = torch.randint(0, 256, (2, 3, 5, 7), generator=rng).double()
    x = u8 / 255
    gray = 0.298936021293775 * u8[:, :1] + 0.587043074451121 * u8[:, 1:2] + 0.114020904255103 * u8[:, 2:]
    torch.testing.assert_close(color.luma_8bit(x, "gray"), torch.round(gray))
    y = 16 + (65.481 * u8[:, :1] + 128.553 * u8[:, 1:2] + 24.966 * u8[:, 2:]) / 255
    torch.testing.assert_close(color.luma_8bit(x, "y"), torch.round(y))
    torch.testing.assert_close(color.luma_8bit(x, "gray", quantize=False), gray)
    torch.testing.assert_close(color.luma_8bit(u8, "rgb", data_range=255.0), u8)


def test_luma_8bit_rounding_is_straight_through_for_gradients():
    x = torch.full((1, 3, 2, 2), 0.3, requires_grad=True)
    color.luma_8bit(x).sum().backward()
    # d(sum of luma)/dx = 255 * (rgb2gray weight of each channel)
    expected = 255 * torch.tensor([0.298936021293775, 0.587043074451121, 0.114020904255103])
    torch.testing.assert_close(x.grad[0, :, 0, 0], expected.float())


def test_rgb_to_lab_agrees_with_scikit_image(rng):
    skcolor = pytest.importorskip("skimage.color")
    x = torch.rand(1, 3, 6, 8, generator=rng, dtype=torch.float64)
    ours = color.rgb_to_lab(x, "d65")[0].permute(1, 2, 0).numpy()
    theirs = skcolor.rgb2lab(x[0].permute(1, 2, 0).numpy(), illuminant="D65")
    # scikit-image rounds the D65 white differently (0.95047, 1.08883 vs 0.950456, 1.088754)
    np.testing.assert_allclose(ours, theirs, atol=0.02)
    ours50 = color.rgb_to_lab(x, "d50")[0].permute(1, 2, 0).numpy()
    theirs50 = skcolor.rgb2lab(x[0].permute(1, 2, 0).numpy(), illuminant="D50")
    # the SDSP code keeps the D65 matrix and rounds the D50 white to 4 digits (0.9642, 0.8251)
    np.testing.assert_allclose(ours50, theirs50, atol=0.05)


def test_similarity_map_and_real_power():
    a = torch.tensor([1.0, 2.0, 0.0])
    torch.testing.assert_close(similarity_map(a, a, 1.0), torch.ones(3))
    x = torch.tensor([-0.5, 0.0, 0.25], dtype=torch.float64)
    expected = [complex(v) ** 0.03 for v in x.tolist()]
    torch.testing.assert_close(real_power(x, 0.03), torch.tensor([e.real for e in expected], dtype=torch.float64))


def test_frequency_grid_matches_kovesi_ranges():
    u, v = spectral.frequency_grid(5, 4)
    # even: [-n/2 .. n/2-1]/n, odd: [-(n-1)/2 .. (n-1)/2]/(n-1), both quadrant-shifted
    torch.testing.assert_close(u[0], torch.fft.ifftshift(torch.tensor([-2.0, -1, 0, 1], dtype=torch.float64) / 4))
    torch.testing.assert_close(v[:, 0], torch.fft.ifftshift(torch.tensor([-2.0, -1, 0, 1, 2], dtype=torch.float64) / 4))
    assert u[0, 0] == 0 and v[0, 0] == 0


def test_log_gabor_is_zero_at_dc_and_one_at_centre_frequency():
    r = torch.tensor([0.0, 1 / 6, 0.3], dtype=torch.float64)
    g = spectral.log_gabor(r, 1 / 6, math.log(0.55))
    assert g[0] == 0 and g[1] == pytest.approx(1.0) and 0 < g[2] < 1


@pytest.mark.parametrize("pads", [(1, 1, 1, 1), (0, 1, 1, 0), (2, 3, 1, 4), (5, 0, 0, 7)])
def test_symmetric_padding_matches_numpy(pads, rng):
    x = torch.rand(2, 1, 4, 5, generator=rng, dtype=torch.float64)
    left, right, top, bottom = pads
    expected = np.pad(x.numpy(), ((0, 0), (0, 0), (top, bottom), (left, right)), mode="symmetric")
    np.testing.assert_array_equal(filters.pad(x, pads, "symmetric").numpy(), expected)
