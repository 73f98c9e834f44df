"""MUSIQ: transformer blocks, batching, scoring, pyiqa equivalence, calibration (tokens and
converters: test_musiq_tokens.py, test_musiq_convert.py)."""
from __future__ import annotations

import math
import os

import pytest
import torch
import torch.nn.functional as F

import iqametrics
from iqametrics.io import load_image
from iqametrics.models.musiq import MUSIQNet, _token_budget_groups
from iqametrics.nn.conv import StdConv2d
from iqametrics.nn.musiq_tokens import tokenize
from iqametrics.nn.transformer import TransformerEncoder
from iqametrics.weights import WeightsUnavailableError

from .tolerances import assert_scores_close


# small inputs: one thread is faster than waiting for descheduled OpenMP threads (conftest.py)
pytestmark = pytest.mark.usefixtures("one_thread")


def _net(num_classes=1, **kw):
    return MUSIQNet(num_classes, init="random", seed=0, **kw).eval()


def test_token_budget_groups():
    groups = _token_budget_groups([10, 500, 30, 20], budget=70)
    assert groups == [[0, 3], [2], [1]]  # sorted by length, 2 × 21 <= 70 < 3 × 31
    assert sorted(i for g in groups for i in g) == [0, 1, 2, 3]
    # at most 10 % padding: 449-token images do not wait for a 918-token one
    assert _token_budget_groups([449, 918, 449, 918, 449], 16384, 0.1) == [[0, 2, 4], [1, 3]]
    assert _token_budget_groups([449, 918, 449], 16384, 1.0) == [[0, 2, 1]]


# ----------------------------------------------------------------------------- batching and blocks
def _naive_encoder(enc: TransformerEncoder, x, mask):
    for blk in enc.blocks:
        h = blk.norm1(x)
        b, n, c = h.shape
        heads = blk.attn.num_heads
        q, k, v = blk.attn.qkv(h).view(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        logits = q @ k.transpose(-1, -2) / math.sqrt(c // heads)
        logits = logits.masked_fill(~mask[:, None, None, :], float("-inf"))
        out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(b, n, c)
        x = x + blk.attn.proj(out)
        x = x + blk.mlp.fc2(F.gelu(blk.mlp.fc1(blk.norm2(x)), approximate="tanh"))
    return enc.norm(x)


def test_transformer_masked_attention_matches_naive():
    torch.manual_seed(0)
    enc = TransformerEncoder(32, 2, 4, 48, act="gelu_tanh").eval()
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(3, 9, 32)
    mask = torch.arange(9)[None] < torch.tensor([[9], [5], [1]])
    out = enc(x, mask)
    ref = _naive_encoder(enc, x, mask)
    for i, n in enumerate([9, 5, 1]):
        torch.testing.assert_close(out[i, :n], ref[i, :n], rtol=1e-5, atol=1e-5)
        # padding never changes the real tokens
        torch.testing.assert_close(enc(x[i : i + 1, :n])[0], out[i, :n], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(enc(x, mask, keep_first=1), out[:, :1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("correction", [0, 1])
def test_std_conv_standardises_per_filter(correction):
    conv = StdConv2d(3, 8, 3, correction=correction)
    w = conv.standardized_weight()
    assert torch.allclose(w.mean(dim=(1, 2, 3)), torch.zeros(8), atol=1e-6)
    # divided by (std + 1e-5): the std of the result is just below 1
    std = w.std(dim=(1, 2, 3), correction=correction)
    assert torch.all((std < 1) & (std > 1 - 1e-3))
    with pytest.raises(ValueError):
        StdConv2d(3, 8, 3, correction=2)


# ----------------------------------------------------------------------------- scoring
@pytest.fixture(scope="module")
def mixed_photos(shared_data):
    """Real photos (lossless CLIVE PNGs) cut to different sizes and aspect ratios."""
    clive = shared_data / "clive" / "images"
    a, b = load_image(clive / "10.png"), load_image(clive / "100.png")
    return [a[:, :96, :160], b[:, 50:250, 100:230], a[:, 300:333, 1:98], b[:, :, :40], a[:, 200:264, 100:164]]


# Batching, heads and autocast do not depend on the depth: two transformer blocks keep these fast.
SHALLOW = dict(depth=2)


def test_batched_scores_equal_one_by_one_on_real_photos(mixed_photos):
    m = iqametrics.create("musiq", pretrained=False, **SHALLOW)
    batched = m(mixed_photos)
    single = torch.cat([m([img]) for img in mixed_photos])
    assert torch.unique(batched).numel() == len(mixed_photos)  # an untrained network still depends on the image
    # padding and the attention mask change the matrix shapes, hence the rounding, not the maths
    # (0.51135665 alone, 0.51135689 in a batch of 3)
    assert_scores_close(batched, single)
    # how images are grouped into forward passes changes nothing either
    m.batch_tokens = 300
    assert_scores_close(m(mixed_photos), batched)
    # a same-size batch tensor goes through the same path
    same = torch.stack([mixed_photos[4], mixed_photos[4].flip(-1)])
    assert_scores_close(m(same)[:1], batched[4:5])


def test_ava_scores_are_distribution_means(mixed_photos):
    m = iqametrics.create("musiq.ava", pretrained=False, **SHALLOW)
    logits = m.net(mixed_photos[2:4])
    assert logits.shape == (2, 10)
    expected = (logits.softmax(-1) * torch.arange(1, 11)).sum(-1)
    torch.testing.assert_close(m(mixed_photos[2:4]), expected, rtol=1e-6, atol=1e-6)
    assert torch.all((expected > 1) & (expected < 10))


def test_official_init_gives_constant_output_and_gradients_flow():
    g = torch.Generator().manual_seed(8)
    x = [torch.rand(3, 40, 50, generator=g), torch.rand(3, 70, 20, generator=g)]
    opts = dict(depth=1, longer_side_lengths=(64,))
    assert torch.equal(MUSIQNet(init="official", **opts)(x), torch.zeros(2, 1))  # zero head, as in Flax
    net = _net(**opts).train()
    net(x).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_bf16_autocast_on_cpu(mixed_photos):
    # create(..., amp="bf16") autocasts on CPU as on CUDA; the GroupNorms run in float32 (nn.norm)
    imgs = mixed_photos[2:4]
    ref = iqametrics.create("musiq", pretrained=False, **SHALLOW)(imgs)
    m = iqametrics.create("musiq", pretrained=False, amp="bf16", **SHALLOW)
    assert m.amp_dtype == torch.bfloat16
    low = m(imgs)
    assert low.dtype == torch.float32 and torch.isfinite(low).all()
    assert not torch.equal(low, ref)  # autocast really ran
    # bf16 keeps ~3 significant digits; the untrained outputs are O(1)
    torch.testing.assert_close(low, ref, rtol=0, atol=0.05)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        tokens = m.net.tokenize(imgs)
        features = m.net.patch_encoder(tokens.patches[:8].contiguous(memory_format=torch.channels_last))
    assert tokens.patches.dtype == torch.float32 and features.dtype == torch.bfloat16


def test_patch_chunk_changes_nothing_but_speed(mixed_photos):
    imgs = mixed_photos[:2]
    small = iqametrics.create("musiq", pretrained=False, patch_chunk=7, **SHALLOW)(imgs)
    default = iqametrics.create("musiq", pretrained=False, **SHALLOW)(imgs)
    assert_scores_close(small, default)  # the patch encoder runs on chunks of 7: another batch shape
    with pytest.raises(ValueError, match="patch_chunk"):
        MUSIQNet(patch_chunk=0)


def test_options_are_validated():
    with pytest.raises(ValueError, match="resize"):
        MUSIQNet(resize="bilinear")
    with pytest.raises(ValueError, match="max_native_patches"):
        MUSIQNet(max_native_patches=0)
    with pytest.raises(ValueError, match="gelu"):
        MUSIQNet(gelu="erf")
    with pytest.raises(ValueError, match="RGB"):
        tokenize([torch.rand(1, 40, 40)])
    with pytest.raises(ValueError, match="resize"):
        tokenize([torch.rand(3, 40, 40)], resize="area")


# Golden values: pyiqa 0.1.16's MUSIQ (pyiqa.archs.musiq_arch.MUSIQ, CPU float32, torch 2.14.1)
# loaded with the weights MUSIQNet(num_classes, init="random", seed=0) produces, converted with
# convert_ours_to_pyiqa; produced by `tools/compare_musiq_pyiqa.py --json` (pyiqa is not a
# dependency).  They depend on MUSIQNet.reset_parameters: regenerate them if it changes.
_PYIQA_GOLDEN = {
    1: [1.0025125741958618, 0.2849718928337097, 1.1125274896621704, 0.9629695415496826, 0.3195255696773529, 1.167271375656128],
    10: [4.456310272216797, 5.727991580963135, 4.390625476837158, 4.4800567626953125, 5.6953020095825195, 4.460699558258057],
}


@pytest.mark.slow
@pytest.mark.parametrize("num_classes", [1, 10])
def test_equivalent_to_pyiqa_port_with_its_options(shared_data, num_classes):
    clive = shared_data / "clive" / "images"
    a, b, c = (load_image(clive / n) for n in ("10.png", "100.png", "101.png"))
    images = [a, b, c[:, :317, :], a[:, :, 40:251], b[:, 123:456, 7:500], c[:, :33, :97]]
    net = _net(num_classes, resize="bicubic", gelu="none", ws_correction=1)
    with torch.inference_mode():
        scores = net.scores(net(images))
    # pyiqa computes in a different order (unfused q/k/v, explicit softmax): float32 rounding only
    # (≤ 1e-6 seen, with PyTorch's AVX-512 and its scalar kernels)
    assert_scores_close(scores, _PYIQA_GOLDEN[num_classes])


# Published outputs of the official TensorFlow models on the five TID2013 calibration images
# (chaofengc/IQA-PyTorch ResultsCalibra/results_official.csv at 065c2b73).  Needs the weights
# (IQAMETRICS_WEIGHTS_DIR or the Hub cache) and IQAMETRICS_CALIBRATION_DIR.
_OFFICIAL_CALIBRATION = {
    "musiq": [12.494, 75.332, 73.429, 75.188, 36.938],
    "musiq.spaq": [17.685, 70.492, 78.740, 79.015, 49.105],
    "musiq.paq2piq": [46.035, 72.660, 73.625, 74.361, 69.006],
    "musiq.ava": [3.398, 5.648, 4.635, 5.186, 4.128],
}


def _pretrained_or_skip(name, monkeypatch):
    # tests never download: weights come from IQAMETRICS_WEIGHTS_DIR or the Hub cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    try:
        return iqametrics.create(name)
    except WeightsUnavailableError:
        pytest.skip(f"weights of {name} are not available offline")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(_OFFICIAL_CALIBRATION))
def test_official_calibration_scores(name, monkeypatch):
    folder = os.environ.get("IQAMETRICS_CALIBRATION_DIR")
    if not folder or not os.path.isdir(os.path.join(folder, "dist_dir")):
        pytest.skip("IQAMETRICS_CALIBRATION_DIR is not set")
    metric = _pretrained_or_skip(name, monkeypatch)
    files = [os.path.join(folder, "dist_dir", f"I{k:02d}.bmp") for k in (3, 4, 6, 8, 19)]
    scores = metric(files)
    # 3 published decimals; our Gaussian resize is TF's bit for bit, the rest is float32 rounding
    tol = 0.05 if name != "musiq.ava" else 0.005
    torch.testing.assert_close(scores, torch.tensor(_OFFICIAL_CALIBRATION[name]), rtol=0, atol=tol)


@pytest.mark.slow
def test_pretrained_koniq_scores_fall_with_blur(shared_data, monkeypatch):
    metric = _pretrained_or_skip("musiq", monkeypatch)
    from iqametrics.functional import gaussian_kernel1d, separable_filter2d

    photo = load_image(shared_data / "clive" / "images" / "10.png")
    blurred = [photo] + [
        separable_filter2d(photo[None], gaussian_kernel1d(2 * math.ceil(3 * s) + 1, s), padding="replicate")[0]
        for s in (1.0, 2.0, 4.0)
    ]
    scores = metric(blurred)
    assert torch.all(scores[1:] < scores[:-1]), scores
