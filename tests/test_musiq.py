"""MUSIQ: TF resampler, tokenisation, transformer, converters, batching, pyiqa equivalence."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import iqametrics
from iqametrics.convert import get_converter
from iqametrics.convert.musiq import (
    convert_official_to_ours,
    convert_ours_to_official,
    convert_ours_to_pyiqa,
    convert_pyiqa_to_ours,
)
from iqametrics.functional.resize import tf_resize
from iqametrics.io import load_image
from iqametrics.models.musiq import (
    MUSIQNet,
    _token_budget_groups,
    aspect_preserving_size,
    build_musiq_network,
    count_tokens,
    hashed_positions,
    patchify,
    tokenize,
)
from iqametrics.nn.conv import StdConv2d, same_padding
from iqametrics.nn.transformer import TransformerEncoder
from iqametrics.weights import WeightsUnavailableError, load_manifest

from .tolerances import assert_scores_close


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # on a shared, oversubscribed machine every small parallel op waits for descheduled OpenMP
    # threads (~50 ms an op here); these tests use small inputs, one thread is faster. A run that
    # sets OMP_NUM_THREADS asks for that thread count (docs/developing.md): it is kept
    if os.environ.get("OMP_NUM_THREADS"):
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _net(num_classes=1, **kw):
    return MUSIQNet(num_classes, init="random", seed=0, **kw).eval()


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


def test_token_budget_groups():
    groups = _token_budget_groups([10, 500, 30, 20], budget=70)
    assert groups == [[0, 3], [2], [1]]  # sorted by length, 2 × 21 <= 70 < 3 × 31
    assert sorted(i for g in groups for i in g) == [0, 1, 2, 3]
    # at most 10 % padding: 449-token images do not wait for a 918-token one
    assert _token_budget_groups([449, 918, 449, 918, 449], 16384, 0.1) == [[0, 2, 4], [1, 3]]
    assert _token_budget_groups([449, 918, 449], 16384, 1.0) == [[0, 2, 1]]


# ----------------------------------------------------------------------------- blocks
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
    enc = TransformerEncoder(32, 2, 4, 48, gelu="tanh").eval()
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


# ----------------------------------------------------------------------------- converters
def _official_state(num_classes=1, depth=14, num_scales=3, seed=0):
    """A synthetic checkpoint with the official Flax names and shapes (MODELS.md §4.6)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    s = {}
    s["opt/target/conv_root/kernel"] = r(7, 7, 3, 64)
    s["opt/target/gn_root/scale"], s["opt/target/gn_root/bias"] = r(64), r(64)
    for name, shape in {"conv1": (1, 1, 64, 64), "conv2": (3, 3, 64, 64), "conv3": (1, 1, 64, 256), "conv_proj": (1, 1, 64, 256)}.items():
        s[f"opt/target/block1/unit1/{name}/kernel"] = r(*shape)
    for name, n in {"gn1": 64, "gn2": 64, "gn3": 256, "gn_proj": 256}.items():
        s[f"opt/target/block1/unit1/{name}/scale"], s[f"opt/target/block1/unit1/{name}/bias"] = r(n), r(n)
    s["opt/target/embedding/kernel"], s["opt/target/embedding/bias"] = r(16384, 384), r(384)
    s["opt/target/Transformer/posembed_input/pos_embedding"] = r(1, 100, 384)
    s["opt/target/Transformer/scaleembed_input/scale_embedding"] = r(1, num_scales, 384)
    s["opt/target/Transformer/cls"] = r(1, 1, 384)
    for i in range(depth):
        b = f"opt/target/Transformer/encoderblock_{i}/"
        for ln in ("LayerNorm_0", "LayerNorm_2"):
            s[b + ln + "/scale"], s[b + ln + "/bias"] = r(384), r(384)
        for p in ("query", "key", "value"):
            s[b + f"SelfAttention_1/{p}/kernel"], s[b + f"SelfAttention_1/{p}/bias"] = r(384, 6, 64), r(6, 64)
        s[b + "SelfAttention_1/out/kernel"], s[b + "SelfAttention_1/out/bias"] = r(6, 64, 384), r(384)
        s[b + "MlpBlock_3/Dense_0/kernel"], s[b + "MlpBlock_3/Dense_0/bias"] = r(384, 1152), r(1152)
        s[b + "MlpBlock_3/Dense_1/kernel"], s[b + "MlpBlock_3/Dense_1/bias"] = r(1152, 384), r(384)
    s["opt/target/Transformer/encoder_norm/scale"], s["opt/target/Transformer/encoder_norm/bias"] = r(384), r(384)
    s["opt/target/head/kernel"], s["opt/target/head/bias"] = r(384, num_classes), r(num_classes)
    # optimiser state sits beside the parameters in the released files
    s["opt/state/step"] = torch.tensor(1000)
    s["opt/state/param_states/head/kernel/momentum"] = r(384, num_classes)
    return s


@pytest.fixture(scope="module")
def reference_shapes():
    """Names and shapes of MUSIQNet's state for 1 and 10 outputs (built on the meta device: no init cost)."""
    shapes = {}
    for k in (1, 10):
        with torch.device("meta"):
            net = MUSIQNet(k, seed=None)
        shapes[k] = {name: tuple(v.shape) for name, v in net.state_dict().items()}
    return shapes


def test_official_converter_places_every_tensor(reference_shapes):
    src = _official_state()
    T = {k[len("opt/target/"):]: v for k, v in src.items() if k.startswith("opt/target/")}
    ours = convert_official_to_ours(src)
    assert {k: tuple(v.shape) for k, v in ours.items()} == reference_shapes[1]
    # convolutions: ours[o, i, y, x] = kernel[y, x, i, o]
    for name, path in [("conv_root", "conv_root"), ("conv2", "block1/unit1/conv2"), ("conv_proj", "block1/unit1/conv_proj")]:
        torch.testing.assert_close(ours[f"patch_encoder.{name}.weight"], torch.einsum("yxio->oiyx", T[path + "/kernel"]), rtol=0, atol=0)
    assert ours["patch_encoder.conv2.weight"][5, 7, 0, 2] == T["block1/unit1/conv2/kernel"][0, 2, 7, 5]
    for name, path in [("gn_root", "gn_root"), ("gn3", "block1/unit1/gn3")]:
        assert torch.equal(ours[f"patch_encoder.{name}.weight"], T[path + "/scale"])
        assert torch.equal(ours[f"patch_encoder.{name}.bias"], T[path + "/bias"])
    # embedding: both read the patch features flattened in (h, w, c) order
    assert torch.equal(ours["embedding.weight"], T["embedding/kernel"].t())
    assert torch.equal(ours["pos_embed"], T["Transformer/posembed_input/pos_embedding"][0])
    assert torch.equal(ours["scale_embed"], T["Transformer/scaleembed_input/scale_embedding"][0])
    assert torch.equal(ours["cls_token"], T["Transformer/cls"].view(-1))
    for i in (0, 13):
        b = f"Transformer/encoderblock_{i}/"
        qkv, qkv_b = ours[f"encoder.blocks.{i}.attn.qkv.weight"], ours[f"encoder.blocks.{i}.attn.qkv.bias"]
        for j, p in enumerate(("query", "key", "value")):
            kern = T[b + f"SelfAttention_1/{p}/kernel"]  # [in, head, d]
            # output feature h*64 + d of q/k/v reads input i with weight kernel[i, h, d]
            torch.testing.assert_close(qkv[j * 384 : (j + 1) * 384].view(6, 64, 384), kern.permute(1, 2, 0), rtol=0, atol=0)
            assert qkv[j * 384 + 2 * 64 + 5, 11] == kern[11, 2, 5]
            torch.testing.assert_close(qkv_b[j * 384 : (j + 1) * 384], T[b + f"SelfAttention_1/{p}/bias"].reshape(-1), rtol=0, atol=0)
        out_k = T[b + "SelfAttention_1/out/kernel"]  # [head, d, out]
        proj = ours[f"encoder.blocks.{i}.attn.proj.weight"]
        assert proj[9, 3 * 64 + 10] == out_k[3, 10, 9]
        torch.testing.assert_close(proj, out_k.reshape(384, 384).t(), rtol=0, atol=0)
        assert torch.equal(ours[f"encoder.blocks.{i}.norm1.weight"], T[b + "LayerNorm_0/scale"])
        assert torch.equal(ours[f"encoder.blocks.{i}.norm2.bias"], T[b + "LayerNorm_2/bias"])
        assert torch.equal(ours[f"encoder.blocks.{i}.mlp.fc1.weight"], T[b + "MlpBlock_3/Dense_0/kernel"].t())
        assert torch.equal(ours[f"encoder.blocks.{i}.mlp.fc2.bias"], T[b + "MlpBlock_3/Dense_1/bias"])
    assert torch.equal(ours["encoder.norm.weight"], T["Transformer/encoder_norm/scale"])
    assert torch.equal(ours["head.weight"], T["head/kernel"].t()) and torch.equal(ours["head.bias"], T["head/bias"])
    # inverse: back to exactly the parameters (optimiser state is not part of the model)
    back = convert_ours_to_official(ours)
    assert set(back) == {k for k in src if k.startswith("opt/target/")}
    for k, v in back.items():
        assert torch.equal(v, src[k]), k


def test_official_converter_is_strict():
    src = _official_state()
    src["opt/target/unknown/kernel"] = torch.zeros(1)
    with pytest.raises(ValueError, match="unexpected"):
        convert_official_to_ours(src)
    src = _official_state()
    del src["opt/target/Transformer/encoderblock_3/MlpBlock_3/Dense_1/bias"]
    with pytest.raises(ValueError, match="lacks"):
        convert_official_to_ours(src)
    src = _official_state()
    src["opt/target/pre_logits/kernel"] = torch.zeros(384, 384)
    with pytest.raises(ValueError, match="pre_logits"):
        convert_official_to_ours(src)


def _pyiqa_state(num_classes=1, depth=14, seed=1):
    """A synthetic checkpoint with pyiqa's names and shapes (MODELS.md §4.6)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    s = {"conv_root.weight": r(64, 3, 7, 7), "gn_root.weight": r(64), "gn_root.bias": r(64)}
    for name, shape in {"conv1": (64, 64, 1, 1), "conv2": (64, 64, 3, 3), "conv3": (256, 64, 1, 1), "conv_proj": (256, 64, 1, 1)}.items():
        s[f"block1.{name}.weight"] = r(*shape)
    for name, n in {"gn1": 64, "gn2": 64, "gn3": 256, "gn_proj": 256}.items():
        s[f"block1.{name}.weight"], s[f"block1.{name}.bias"] = r(n), r(n)
    s["embedding.weight"], s["embedding.bias"] = r(384, 16384), r(384)
    t = "transformer_encoder."
    s[t + "posembed_input.position_emb"], s[t + "scaleembed_input.scale_emb"], s[t + "cls"] = r(1, 100, 384), r(3, 384), r(1, 1, 384)
    s[t + "encoder_norm.weight"], s[t + "encoder_norm.bias"] = r(384), r(384)
    for i in range(depth):
        b = f"{t}transformer.encoderblock_{i}."
        for n in ("norm1", "norm2"):
            s[b + n + ".weight"], s[b + n + ".bias"] = r(384), r(384)
        for p in ("query", "key", "value", "out"):
            s[b + f"attention.{p}.weight"], s[b + f"attention.{p}.bias"] = r(384, 384), r(384)
        s[b + "mlp.fc1.weight"], s[b + "mlp.fc1.bias"] = r(1152, 384), r(1152)
        s[b + "mlp.fc2.weight"], s[b + "mlp.fc2.bias"] = r(384, 1152), r(384)
    head = "head.0" if num_classes > 1 else "head"
    s[head + ".weight"], s[head + ".bias"] = r(num_classes, 384), r(num_classes)
    return s


@pytest.mark.parametrize("num_classes", [1, 10])
def test_pyiqa_converter_places_every_tensor(num_classes, reference_shapes):
    src = _pyiqa_state(num_classes)
    ours = convert_pyiqa_to_ours(src)
    assert {k: tuple(v.shape) for k, v in ours.items()} == reference_shapes[num_classes]
    for name in ("conv_root", "gn_root"):
        assert torch.equal(ours[f"patch_encoder.{name}.weight"], src[f"{name}.weight"])
    assert torch.equal(ours["patch_encoder.conv3.weight"], src["block1.conv3.weight"])
    assert torch.equal(ours["patch_encoder.gn_proj.bias"], src["block1.gn_proj.bias"])
    assert torch.equal(ours["embedding.weight"], src["embedding.weight"])
    t = "transformer_encoder."
    assert torch.equal(ours["pos_embed"], src[t + "posembed_input.position_emb"][0])
    assert torch.equal(ours["scale_embed"], src[t + "scaleembed_input.scale_emb"])
    assert torch.equal(ours["cls_token"], src[t + "cls"].view(-1))
    for i in (0, 7, 13):
        b = f"{t}transformer.encoderblock_{i}."
        qkv = ours[f"encoder.blocks.{i}.attn.qkv.weight"]
        for j, p in enumerate(("query", "key", "value")):
            assert torch.equal(qkv[j * 384 : (j + 1) * 384], src[b + f"attention.{p}.weight"])
            assert torch.equal(ours[f"encoder.blocks.{i}.attn.qkv.bias"][j * 384 : (j + 1) * 384], src[b + f"attention.{p}.bias"])
        assert torch.equal(ours[f"encoder.blocks.{i}.attn.proj.weight"], src[b + "attention.out.weight"])
        assert torch.equal(ours[f"encoder.blocks.{i}.mlp.fc2.weight"], src[b + "mlp.fc2.weight"])
        assert torch.equal(ours[f"encoder.blocks.{i}.norm2.weight"], src[b + "norm2.weight"])
    head = "head.0" if num_classes > 1 else "head"
    assert torch.equal(ours["head.weight"], src[head + ".weight"])
    back = convert_ours_to_pyiqa(ours)
    assert set(back) == set(src)
    for k, v in back.items():
        assert torch.equal(v, src[k]), k


def test_pyiqa_imagenet_file_and_wrappers():
    src = _pyiqa_state(1)
    src["imagenet_head.weight"], src["imagenet_head.bias"] = torch.randn(1000, 384), torch.randn(1000)
    ours = convert_pyiqa_to_ours({"params": src})
    assert torch.equal(ours["head.weight"], src["imagenet_head.weight"])
    assert get_converter("musiq_pyiqa").detect({"params": src})
    assert not get_converter("musiq_official").detect(src)


def test_converters_are_inverse_on_our_layout():
    state = convert_official_to_ours(_official_state(num_classes=10, seed=4))
    for forward, backward in [(convert_ours_to_official, convert_official_to_ours), (convert_ours_to_pyiqa, convert_pyiqa_to_ours)]:
        back = backward(forward(state))
        assert set(back) == set(state)
        for k in state:
            assert torch.equal(back[k], state[k]), k


# ----------------------------------------------------------------------------- create / weights
def _assert_state_equal(metric, state):
    own = metric.net.state_dict()
    for k in own:
        assert torch.equal(own[k], state[k]), k


@pytest.mark.slow
def test_create_loads_official_npz(tmp_path):
    src = _official_state(num_classes=10, seed=5)
    path = tmp_path / "ava_ckpt.npz"
    np.savez(path, **{k: v.numpy() for k, v in src.items()})
    m = iqametrics.create("musiq.ava", weights=path)
    _assert_state_equal(m, convert_official_to_ours(src))
    assert m.info.name == "musiq.ava"


@pytest.mark.slow
def test_create_loads_pyiqa_pth_and_our_safetensors(tmp_path):
    from safetensors.torch import save_file

    src = _pyiqa_state(1, seed=6)
    torch.save(src, tmp_path / "musiq_koniq_ckpt.pth")
    m = iqametrics.create("musiq", weights=tmp_path / "musiq_koniq_ckpt.pth")
    ours = convert_pyiqa_to_ours(src)
    _assert_state_equal(m, ours)
    save_file(ours, str(tmp_path / "ours.safetensors"))
    _assert_state_equal(iqametrics.create("musiq.koniq", weights=str(tmp_path / "ours.safetensors")), ours)
    with pytest.raises(ValueError):  # a 1-output checkpoint does not fit the 10-bin AVA head
        iqametrics.create("musiq.ava", weights=tmp_path / "musiq_koniq_ckpt.pth")


def test_pretrained_without_network_fails_cleanly(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("IQAMETRICS_WEIGHTS_DIR", raising=False)
    with pytest.raises(WeightsUnavailableError, match="musiq_koniq_ckpt-e95806b9.pth"):
        iqametrics.create("musiq")


def test_manifest_entries():
    entries = load_manifest()
    for tag in ("koniq", "spaq", "paq2piq", "ava", "imagenet"):
        hub, official = entries[f"musiq.{tag}"], entries[f"musiq.{tag}@official"]
        assert hub.repo_id == "chaofengc/IQA-PyTorch-Weights" and hub.converter == "musiq_pyiqa"
        assert hub.hf_filename.rsplit("-", 1)[1].startswith(hub.sha256_prefix)
        assert official.url.startswith("https://storage.googleapis.com/gresearch/musiq/") and official.converter == "musiq_official"
        assert official.format == "npz" and official.sha256 is None  # none published: never invented
        get_converter(hub.converter), get_converter(official.converter)
    for name in ("musiq", "musiq.spaq", "musiq.paq2piq", "musiq.ava"):
        for key in iqametrics.get_info(name).weights:
            assert key in entries


@pytest.mark.slow
def test_imagenet_backbone_for_fine_tuning(tmp_path):
    src = _official_state(num_classes=1000, seed=7)
    path = tmp_path / "imagenet_pretrain.npz"
    np.savez(path, **{k: v.numpy() for k, v in src.items()})
    net = build_musiq_network("imagenet", weights=str(path), num_classes=10)
    ref = convert_official_to_ours(src)
    for k, v in net.state_dict().items():
        if k.startswith("head."):
            assert not v.any() and v.shape[0] == 10  # a new zero head, as fine-tuning starts
        else:
            assert torch.equal(v, ref[k]), k
    with pytest.raises(ValueError, match="scale embeddings"):
        build_musiq_network("imagenet", weights=str(path), longer_side_lengths=())


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


# ----------------------------------------------------------------------------- EMD loss (AVA training)
def test_emd_loss():
    from iqametrics.losses import emd_loss

    p = torch.tensor([[1.0, 0.0], [0.25, 0.75]])
    q = torch.tensor([[0.0, 1.0], [0.25, 0.75]])
    # CDF gaps (1, 0): sqrt((1 + 0) / 2); identical distributions: 0
    torch.testing.assert_close(emd_loss(p, q, reduction="none"), torch.tensor([math.sqrt(0.5), 0.0]))
    torch.testing.assert_close(emd_loss(p, q, r=1, reduction="sum"), torch.tensor(0.5))
    logits = torch.randn(4, 10, requires_grad=True)
    target = torch.softmax(torch.randn(4, 10), -1)
    emd_loss(logits.softmax(-1), target).backward()
    same = logits.detach().softmax(-1).requires_grad_()
    emd_loss(same, same.detach()).backward()  # zero gap: the root's slope must not give NaN
    assert torch.isfinite(logits.grad).all() and torch.isfinite(same.grad).all()
    with pytest.raises(ValueError):
        emd_loss(p, q[:, :1])
