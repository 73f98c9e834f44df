"""MUSIQ checkpoints: the official and pyiqa converters, the manifest, loading through create."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import iqametrics
from iqametrics.convert import get_converter
from iqametrics.convert.musiq import (
    convert_official_to_ours,
    convert_ours_to_official,
    convert_ours_to_pyiqa,
    convert_pyiqa_to_ours,
)
from iqametrics.models.musiq import MUSIQNet, build_musiq_network
from iqametrics.weights import WeightsUnavailableError, load_manifest


# small inputs: one thread is faster than waiting for descheduled OpenMP threads (conftest.py)
pytestmark = pytest.mark.usefixtures("one_thread")


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
