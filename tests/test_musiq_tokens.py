"""MUSIQ's preprocessing (iqametrics.nn.musiq_tokens): TF's Gaussian resize and the multi-scale tokens."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from iqametrics.functional.resize import tf_resize
from iqametrics.nn.conv import same_padding
from iqametrics.nn.musiq_tokens import aspect_preserving_size, count_tokens, hashed_positions, patchify, tokenize


# small inputs: one thread is faster than waiting for descheduled OpenMP threads (conftest.py)
pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------------------- TF Gaussian resize
# Golden values: tf.image.resize(x[None, :, :, None], size, method="gaussian", antialias=...)
# with TensorFlow 2.21.0 (CPU), x = ((arange(42).reshape(6, 7) * 37) % 11) / 10 in float32.
_TF_X = torch.from_numpy(((np.arange(42).reshape(6, 7) * 37) % 11 / 10.0).astype(np.float32))
_TF_GOLDEN = {
    ((3, 4), False): [[0.4510163, 0.5337906, 0.3007989, 0.5566311], [0.3433689, 0.5992011, 0.4007989, 0.6566312],
                      [0.4433689, 0.6992011, 0.4662094, 0.5489836]],
    ((3, 4), True): [[0.4653553, 0.5279682, 0.4197939, 0.5521563], [0.4208687, 0.537127, 0.462873, 0.5786629],
                     [0.4468053, 0.580206, 0.4720318, 0.5351629]],
    ((11, 5), False): [[0.1236137, 0.6283125, 0.2360657, 0.6265657, 0.3798908], [0.2880662, 0.6151681, 0.3362953, 0.4943745, 0.4745543],
                       [0.5559053, 0.6002167, 0.5018712, 0.289863, 0.6312674], [0.4815053, 0.6433148, 0.469961, 0.4117223, 0.6030396],
                       [0.2867991, 0.6692806, 0.3833366, 0.6347028, 0.5238297], [0.3652787, 0.4896444, 0.5, 0.5103556, 0.6347213],
                       [0.4761703, 0.3652972, 0.6166632, 0.3307194, 0.7132006], [0.3969603, 0.5882777, 0.5300389, 0.3566852, 0.5184946],
                       [0.3687326, 0.710137, 0.4981287, 0.3997832, 0.4440946], [0.5254458, 0.5056253, 0.6637048, 0.3848318, 0.7119338],
                       [0.6201093, 0.3734343, 0.7639343, 0.3716875, 0.8763862]],
}


@pytest.mark.parametrize("key", list(_TF_GOLDEN))
def test_tf_gaussian_resize_matches_tensorflow(key):
    size, antialias = key
    out = tf_resize(_TF_X, size, "gaussian", antialias=antialias)
    # the golden values are printed with 7 decimals; the full check (bit-exact on real photos)
    # is tools/compare_musiq_tf.py
    torch.testing.assert_close(out, torch.tensor(_TF_GOLDEN[key]), rtol=0, atol=6e-8)


def test_tf_gaussian_same_size_is_a_three_tap_blur():
    # TF2 never skips the resampler: at scale 1 the Gaussian (sigma 0.5, radius 1.5) blurs with
    # taps exp(-2), 1, exp(-2), renormalised over the taps inside the image, rows then columns
    x = torch.rand(5, 9, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    e = math.exp(-2.0)

    def blur_columns(t):  # along the last dimension
        ref = F.conv1d(t[:, None], torch.tensor([[[e, 1.0, e]]], dtype=t.dtype), padding=1)[:, 0] / (1 + 2 * e)
        ref[:, 0] = (t[:, 0] + e * t[:, 1]) / (1 + e)
        ref[:, -1] = (t[:, -1] + e * t[:, -2]) / (1 + e)
        return ref

    ref = blur_columns(blur_columns(x.t()).t())
    # the weights are float32, as TF computes them (relative error ~1e-7), the data float64
    torch.testing.assert_close(tf_resize(x, (5, 9), "gaussian"), ref, rtol=0, atol=5e-7)


@pytest.mark.parametrize("kernel,mode", [("triangle", "bilinear"), ("keyscubic", "bicubic")])
def test_tf_antialiased_kernels_match_pytorch(kernel, mode):
    # an independent implementation of the same maths: PyTorch's antialiased interpolation
    # (PIL's algorithm; Keys cubic with a = -0.5) equals TF's ScaleAndTranslate with antialias
    x = torch.rand(2, 3, 61, 47, generator=torch.Generator().manual_seed(2))
    for size in [(17, 30), (61, 47), (100, 80)]:
        ours = tf_resize(x, size, kernel, antialias=True)
        ref = F.interpolate(x, size=size, mode=mode, antialias=True, align_corners=False)
        torch.testing.assert_close(ours, ref, rtol=0, atol=2e-6)


def test_tf_resize_validates():
    with pytest.raises(ValueError, match="kernel"):
        tf_resize(_TF_X, (2, 2), "nearest")
    with pytest.raises(TypeError):
        tf_resize(torch.ones(4, 4, dtype=torch.int64), (2, 2))
    with pytest.raises(ValueError, match="positive"):
        tf_resize(_TF_X, (0, 2))


# ----------------------------------------------------------------------------- tokens
def test_aspect_preserving_size():
    assert aspect_preserving_size(500, 500, 224) == (224, 224)
    assert aspect_preserving_size(768, 1024, 384) == (288, 384)
    assert aspect_preserving_size(1024, 768, 224) == (224, 168)
    # tf.round rounds half to even: 5 * 224 / 448 = 2.5 -> 2 (round-half-up would give 3)
    assert aspect_preserving_size(5, 448, 224) == (2, 224)
    assert aspect_preserving_size(7, 448, 224) == (4, 224)  # 3.5 -> 4
    assert aspect_preserving_size(1, 10_000, 224) == (1, 224)  # clamped (TF would fail on 0)


def test_hashed_positions():
    for n in range(1, 60):
        expected = torch.tensor([min(i * 10 // n, 9) for i in range(n)])
        assert torch.equal(hashed_positions(1, n), expected), n
    grid = hashed_positions(3, 4).view(3, 4)
    assert torch.equal(grid[:, 0], torch.tensor([0, 30, 60])) and torch.equal(grid[0], torch.tensor([0, 2, 5, 7]))
    # float32 arithmetic as in TF's legacy nearest-neighbour resize: for 205 patches, patch 41
    # hashes to 1 (exact arithmetic would give 41 * 10 / 205 = 2); TF 2.21 gives 1 as well
    assert hashed_positions(1, 205)[41] == 1


def test_patchify_uses_tf_same_padding():
    img = torch.rand(3, 33, 70, generator=torch.Generator().manual_seed(3))
    tiles, rows, cols = patchify(img, 32)
    assert (rows, cols) == (2, 3) and tiles.shape == (6, 3, 32, 32)
    assert same_padding(33, 32, 32) == (15, 16) and same_padding(70, 32, 32) == (13, 13)
    padded = F.pad(img, (13, 13, 15, 16))
    for r in range(rows):
        for c in range(cols):
            assert torch.equal(tiles[r * cols + c], padded[:, 32 * r : 32 * r + 32, 32 * c : 32 * c + 32])


def test_token_layout_and_native_cap():
    img = torch.rand(3, 500, 333, generator=torch.Generator().manual_seed(4))
    tok = tokenize([img])
    # 224: 224×149 -> 7×5; 384: 384×256 -> 12×8; native 500×333 -> 16×11
    assert tok.lengths == [35 + 96 + 176] == [count_tokens(500, 333)]
    assert torch.equal(tok.scale, torch.tensor([0] * 35 + [1] * 96 + [2] * 176))
    assert torch.equal(tok.spatial[:35], hashed_positions(7, 5))
    assert torch.equal(tok.spatial[131:], hashed_positions(16, 11))
    # patch pixels are in [-1, 1]; the native patches are the image itself, SAME-padded with 0
    assert tok.patches.min() >= -1 and tok.patches.max() <= 1
    torch.testing.assert_close(tok.patches[131:], patchify(img * 2 - 1, 32)[0], rtol=0, atol=0)
    # scale ids follow the sorted lengths, whatever order they are given in
    assert torch.equal(tokenize([img], longer_side_lengths=(384, 224)).patches, tok.patches)
    capped = tokenize([img], max_native_patches=20)
    assert capped.lengths == [35 + 96 + 20] == [count_tokens(500, 333, max_native_patches=20)]
    assert torch.equal(capped.patches[-20:], tok.patches[131:151])  # the first 20 in raster order
    assert tokenize([img], longer_side_lengths=()).lengths == [176]
