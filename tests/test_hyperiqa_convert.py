"""Converters of HyperIQA / PyramidIQA checkpoints, tested exactly on synthetic state dicts.

The upstream layouts are rebuilt here from their own sources, not from the converter: the
ResNet-50 names and shapes come from torchvision (which the official code and timm share), the
other names and shapes from the official code (``SSL92/hyperIQA/models.py``,
``ukeSJTU/CS3324-IQA/ms_hyperIQA/models.py``) and pyiqa's ``hypernet_arch.py`` (MODELS.md §1.5).
Every tensor is checked, and the inverse mapping round-trips.
"""
from __future__ import annotations

import pytest
import torch

from iqametrics.convert import convert_for_model, get_converter

GENERATORS = {  # official name: (our name, shape); biases follow their weights
    "fc1w_conv": ("generator.weight_convs.0", (512, 112, 3, 3)),
    "fc2w_conv": ("generator.weight_convs.1", (128, 112, 3, 3)),
    "fc3w_conv": ("generator.weight_convs.2", (32, 112, 3, 3)),
    "fc4w_conv": ("generator.weight_convs.3", (8, 112, 3, 3)),
    "fc5w_fc": ("generator.weight_fc", (14, 112)),
    "fc1b_fc": ("generator.bias_fcs.0", (112, 112)),
    "fc2b_fc": ("generator.bias_fcs.1", (56, 112)),
    "fc3b_fc": ("generator.bias_fcs.2", (28, 112)),
    "fc4b_fc": ("generator.bias_fcs.3", (14, 112)),
    "fc5b_fc": ("generator.bias_fcs.4", (1, 112)),
}
LDA = {  # official name: (our name, pyiqa name, shape, has bias)
    "res.lda1_pool.0": ("lda.convs.0", "lda_modules.0.0", (16, 256, 1, 1), False),
    "res.lda2_pool.0": ("lda.convs.1", "lda_modules.1.0", (32, 512, 1, 1), False),
    "res.lda3_pool.0": ("lda.convs.2", "lda_modules.2.0", (64, 1024, 1, 1), False),
    "res.lda1_fc": ("lda.fcs.0", "lda_modules.0.3", (16, 1024), True),
    "res.lda2_fc": ("lda.fcs.1", "lda_modules.1.3", (16, 512), True),
    "res.lda3_fc": ("lda.fcs.2", "lda_modules.2.3", (16, 256), True),
    "res.lda4_fc": ("lda.fcs.3", "lda_modules.3.2", (176, 2048), True),
}
PYIQA_GENERATORS = {
    "generator.weight_convs.0": "fc_w_modules.0",
    "generator.weight_convs.1": "fc_w_modules.1",
    "generator.weight_convs.2": "fc_w_modules.2",
    "generator.weight_convs.3": "fc_w_modules.3",
    "generator.weight_fc": "fc_w_modules.4.2",
    **{f"generator.bias_fcs.{i}": f"fc_b_modules.{i}.2" for i in range(5)},
}
HYPERIQA_NECK = {"conv1.0": ("neck.0", (1024, 2048, 1, 1)), "conv1.2": ("neck.2", (512, 1024, 1, 1)), "conv1.4": ("neck.4", (112, 512, 1, 1))}


def _rand(shape, g):
    return torch.randn(shape, generator=g) if shape else torch.randint(0, 1000, (), generator=g)


@pytest.fixture(scope="module")
def resnet_shapes():
    import torchvision

    with torch.device("meta"):
        net = torchvision.models.resnet50()
    return {k: tuple(v.shape) for k, v in net.state_dict().items() if not k.startswith("fc.")}


@pytest.fixture(scope="module")
def our_shapes():
    from iqametrics.models.hyperiqa import HyperIQA, PyramidIQA

    with torch.device("meta"):  # names and shapes only: no memory, no initialisation
        return {
            name: {k: tuple(v.shape) for k, v in cls().state_dict().items()}
            for name, cls in (("hyperiqa", HyperIQA), ("pyramidiqa", PyramidIQA))
        }


def _with_bias(table: dict, g) -> tuple:
    """upstream state and its expected (our key -> upstream key) map from {up: (ours, shape[, bias])}."""
    up, expect = {}, {}
    for src, (dst, shape, *bias) in table.items():
        up[src + ".weight"] = _rand(shape, g)
        expect[dst + ".weight"] = src + ".weight"
        if not bias or bias[0]:
            up[src + ".bias"] = _rand(shape[:1], g)
            expect[dst + ".bias"] = src + ".bias"
    return up, expect


def _backbone(prefix: str, resnet_shapes, g) -> tuple:
    up = {prefix + k: _rand(s, g) for k, s in resnet_shapes.items()}
    return up, {"backbone." + k: prefix + k for k in resnet_shapes}


def _merge(parts) -> tuple:
    return {k: v for p in parts for k, v in p[0].items()}, {k: v for p in parts for k, v in p[1].items()}


def official_hyperiqa(resnet_shapes, g):
    return _merge([
        _backbone("res.", resnet_shapes, g),
        _with_bias({k: (v[0], v[2], v[3]) for k, v in LDA.items()}, g),
        _with_bias(HYPERIQA_NECK, g),
        _with_bias(GENERATORS, g),
    ])


def official_pyramidiqa(resnet_shapes, g):
    neck = {}
    for i, (k, c) in enumerate(((2, 512), (3, 1024), (4, 2048))):
        neck[f"fpn.lateral_conv{k}"] = (f"neck.fpn.laterals.{i}", (256, c, 1, 1))
        neck[f"fpn.smooth_conv{k}"] = (f"neck.fpn.smooth.{i}", (256, 256, 3, 3))
        neck[f"attention_p{k}.channel_attention.fc.0"] = (f"neck.attention.{i}.channel.mlp.0", (16, 256), False)
        neck[f"attention_p{k}.channel_attention.fc.2"] = (f"neck.attention.{i}.channel.mlp.2", (256, 16), False)
        neck[f"attention_p{k}.spatial_attention.conv"] = (f"neck.attention.{i}.spatial.conv", (1, 2, 7, 7), False)
    neck["fusion_conv.0"] = ("neck.fusion.0", (256, 768, 1, 1))
    neck["fusion_conv.2"] = ("neck.fusion.2", (112, 256, 1, 1))
    return _merge([
        _backbone("res.", resnet_shapes, g),
        _with_bias({k: (v[0], v[2], v[3]) for k, v in LDA.items()}, g),
        _with_bias(neck, g),
        _with_bias(GENERATORS, g),
    ])


def pyiqa_hyperiqa(resnet_shapes, g):
    generators = {PYIQA_GENERATORS[ours]: (ours, shape) for ours, shape in GENERATORS.values()}
    return _merge([
        _backbone("base_model.", resnet_shapes, g),
        _with_bias({v[1]: (v[0], v[2], v[3]) for v in LDA.values()}, g),
        _with_bias(HYPERIQA_NECK, g),
        _with_bias(generators, g),
    ])


CASES = {
    "hyperiqa.official": (official_hyperiqa, "hyperiqa", False),
    "pyramidiqa.official": (official_pyramidiqa, "pyramidiqa", False),
    "hyperiqa.pyiqa": (pyiqa_hyperiqa, "hyperiqa", True),  # pyiqa stores tensors under "params"
}


@pytest.mark.parametrize("name", list(CASES))
def test_converter_maps_every_tensor_and_round_trips(name, resnet_shapes, our_shapes):
    build, model, wrapped = CASES[name]
    upstream, expect = build(resnet_shapes, torch.Generator().manual_seed(5))
    raw = {"params": upstream} if wrapped else upstream
    conv = get_converter(name)
    assert conv.detect(raw)
    ours = conv.convert(raw)
    assert {k: tuple(v.shape) for k, v in ours.items()} == our_shapes[model]
    assert set(expect) == set(ours)
    for key, src in expect.items():
        assert ours[key] is upstream[src], key  # the very tensor, unchanged
    back = conv.inverse(ours)
    assert set(back) == set(raw)
    back = back["params"] if wrapped else back
    assert set(back) == set(upstream)
    assert all(torch.equal(back[k], upstream[k]) for k in upstream)


def test_detect_picks_only_the_matching_layout(resnet_shapes):
    g = torch.Generator().manual_seed(1)
    states = {name: build(resnet_shapes, g)[0] for name, (build, _, _) in CASES.items()}
    states["hyperiqa.pyiqa"] = {"params": states["hyperiqa.pyiqa"]}
    for name in CASES:
        for other, state in states.items():
            assert get_converter(name).detect(state) == (name == other), (name, other)


def test_old_checkpoint_without_num_batches_tracked_and_dataparallel_prefix(resnet_shapes, our_shapes):
    upstream, _ = official_hyperiqa(resnet_shapes, torch.Generator().manual_seed(2))
    old = {"module." + k: v for k, v in upstream.items() if not k.endswith("num_batches_tracked")}
    ours = convert_for_model(old, our_shapes["hyperiqa"], candidates=("hyperiqa.official", "hyperiqa.pyiqa"))
    assert {k: tuple(v.shape) for k, v in ours.items()} == our_shapes["hyperiqa"]
    assert torch.equal(ours["backbone.layer3.2.bn1.num_batches_tracked"], torch.tensor(0))
    assert torch.equal(ours["backbone.layer3.2.bn1.running_var"], upstream["res.layer3.2.bn1.running_var"])


def test_unexpected_upstream_keys_are_an_error(resnet_shapes):
    upstream, _ = official_hyperiqa(resnet_shapes, torch.Generator().manual_seed(3))
    upstream["extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match="extra.weight"):
        get_converter("hyperiqa.official").convert(upstream)
