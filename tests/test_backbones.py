"""The torchvision-layout feature extractors (iqametrics.nn.backbones), the DISTS statistics and
the converters of ImageNet backbones and of the official LPIPS / DISTS layouts."""
from __future__ import annotations

import pytest
import torch

from iqametrics.convert import get_converter
from iqametrics.nn.backbones import (
    ALEXNET_TAPS,
    SQUEEZENET1_1_TAPS,
    VGG16_TAPS,
    L2Pool2d,
    alexnet_features,
    squeezenet1_1_features,
    vgg16_features,
)
from iqametrics.nn.texture_structure import texture_structure_dissimilarity

tvm = pytest.importorskip("torchvision.models")
pytestmark = pytest.mark.filterwarnings("ignore:.*(pretrained|weight enum).*:UserWarning")

ARCHS = [
    ("vgg16", vgg16_features, VGG16_TAPS, "vgg16_features"),
    ("alexnet", alexnet_features, ALEXNET_TAPS, "alexnet_features"),
    ("squeezenet1_1", squeezenet1_1_features, SQUEEZENET1_1_TAPS, "squeezenet1_1_features"),
]


def _torchvision(name):
    """A torchvision model with initialised ``features`` and a classifier left on the meta device
    (its 100M+ parameters would only cost time: the converters drop them)."""
    with torch.device("meta"):
        model = getattr(tvm, name)(weights=None)
    model.features.to_empty(device="cpu")
    for module in model.features.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return model.eval()


@pytest.mark.parametrize("name,build,taps,converter", ARCHS)
def test_features_match_torchvision(name, build, taps, converter):
    """Same parameter names and shapes as torchvision's ``features`` (up to the deepest tap), and,
    with torchvision's weights, the same activations at every tap, bit for bit (same operations)."""
    reference = _torchvision(name)
    ours = build().eval()
    state = get_converter(converter).convert(reference.state_dict())
    expected = {k[len("backbone."):]: v for k, v in state.items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in expected.items()
    }
    ours.load_state_dict(expected, strict=True)
    x = torch.rand(2, 3, 67, 75, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got = ours(x)
        h, want = x, []
        for i, layer in enumerate(reference.features):
            h = layer(h)
            if i in taps.values():
                want.append(h.clone())
    assert len(got) == len(taps) == len(want)
    for g, w in zip(got, want):
        assert torch.equal(g, w)
    assert ours.channels == tuple(w.shape[1] for w in want)


def test_l2pool_matches_official():
    dists_pt = pytest.importorskip("DISTS_pytorch.DISTS_pt")
    x = torch.rand(2, 64, 17, 20, generator=torch.Generator().manual_seed(1))
    ours, theirs = L2Pool2d(64), dists_pt.L2pooling(channels=64)
    assert torch.equal(ours.kernel, theirs.filter)  # Hann(5)[1:-1] outer product, sum 1, exact in binary
    assert torch.equal(ours(x), theirs(x))
    assert list(ours.state_dict()) == []  # a constant, not state


def _meta(*shape):
    return torch.empty(shape, device="meta")


@pytest.mark.parametrize("name,build,taps,converter", ARCHS)
def test_backbone_converters_exact(name, build, taps, converter):
    """Every feature tensor kept unchanged under the new name, the classifier dropped, and the
    inverse mapping round-trips."""
    upstream = _torchvision(name).state_dict()
    conv = get_converter(converter)
    assert conv.detect(upstream)
    ours = conv.convert(upstream)
    last = max(taps.values())
    expected = {
        "backbone." + k: v for k, v in upstream.items() if k.startswith("features.") and int(k.split(".")[1]) <= last
    }
    assert set(ours) == set(expected) == {"backbone." + k for k in build().state_dict()}
    for k, v in expected.items():
        assert ours[k] is v
    back = conv.inverse(ours)
    assert set(back) == {k[len("backbone."):] for k in expected}
    again = conv.convert(back)
    assert set(again) == set(ours) and all(again[k] is ours[k] for k in ours)


def test_vgg16_converter_accepts_timm_layout():
    """timm's vgg16.tv_in1k file: torchvision's features plus a classifier renamed pre_logits/head."""
    upstream = _torchvision("vgg16").features.state_dict(prefix="features.")
    upstream.update({
        "pre_logits.fc1.weight": _meta(4096, 512, 7, 7), "pre_logits.fc1.bias": _meta(4096),
        "pre_logits.fc2.weight": _meta(4096, 4096, 1, 1), "pre_logits.fc2.bias": _meta(4096),
        "head.fc.weight": _meta(1000, 4096), "head.fc.bias": _meta(1000),
    })
    conv = get_converter("vgg16_features")
    assert conv.detect(upstream)
    ours = conv.convert(upstream)
    assert set(ours) == {"backbone." + k for k in vgg16_features().state_dict()}
    assert all(ours[k] is upstream[k[len("backbone."):]] for k in ours)


@pytest.mark.parametrize("converter,other", [
    ("vgg16_features", "alexnet"), ("vgg16_features", "squeezenet1_1"), ("vgg16_features", "vgg16_bn"),
    ("alexnet_features", "vgg16"), ("alexnet_features", "squeezenet1_1"),
    ("squeezenet1_1_features", "vgg16"), ("squeezenet1_1_features", "alexnet"),
])
def test_backbone_converters_reject_other_architectures(converter, other):
    with torch.device("meta"):
        state = getattr(tvm, other)(weights=None).state_dict()
    assert not get_converter(converter).detect(state)


# ----------------------------------------------------------------------------- official layouts
def _assert_inverse_loads_back(conv, ours, upstream, module):
    """The inverse gives exactly the upstream names and tensors, loads strictly into the official
    module, and converts back to ours."""
    back = conv.inverse(ours)
    assert set(back) == set(upstream)
    module.load_state_dict(back, strict=True)
    for key, value in upstream.items():
        assert torch.equal(back[key], value), key
    again = conv.convert(back)
    assert set(again) == set(ours) and all(torch.equal(again[k], ours[k]) for k in ours)


def _lpips_module(net):
    lpips = pytest.importorskip("lpips")
    return lpips.LPIPS(net=net, pnet_rand=True, verbose=False).eval()


@pytest.mark.parametrize("net", ["alex", "vgg", "squeeze"])
def test_lpips_converter_exact(net):
    """A whole lpips.LPIPS state dict (backbone slices, scaling constants, heads stored twice) maps
    onto ours tensor by tensor; the inverse loads strictly back into lpips.LPIPS."""
    import iqametrics

    theirs = _lpips_module(net)
    upstream = theirs.state_dict()
    conv = get_converter("lpips_official")
    assert conv.detect(upstream)
    ours = conv.convert(upstream)
    name = "lpips" if net == "alex" else f"lpips.{net}"
    model = iqametrics.create(name, pretrained=False)
    assert set(ours) == set(model.state_dict())
    for key, value in upstream.items():
        if key.startswith("net.slice"):
            index_rest = key.split(".", 3)[2:]
            assert ours["backbone.features." + ".".join(index_rest)] is value
        elif key.startswith("lin") and not key.startswith("lins"):
            assert torch.equal(ours[f"lins.{key[3:].split('.')[0]}.weight"], value)
    _assert_inverse_loads_back(conv, ours, upstream, theirs)


def test_lpips_converter_head_file_layout():
    """The v0.1 head files hold only lin{k}.model.1.weight; converting gives only our heads."""
    head = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate((64, 192, 384, 256, 256))}
    conv = get_converter("lpips_official")
    ours = conv.convert(head)
    assert set(ours) == {f"lins.{k}.weight" for k in range(5)}
    assert all(ours[f"lins.{k}.weight"] is head[f"lin{k}.model.1.weight"] for k in range(5))
    assert conv.inverse(ours) == head


def test_lpips_converter_rejects_unknown_tensors():
    with pytest.raises(ValueError, match="unexpected tensor"):
        get_converter("lpips_official").convert({"lin0.model.1.weight": torch.rand(1, 64, 1, 1), "foo": torch.rand(1)})


def _official_dists(monkeypatch):
    dists_pt = pytest.importorskip("DISTS_pytorch.DISTS_pt")
    build = tvm.vgg16
    # DISTS() asks torchvision for pretrained VGG16; give it a random one (no download)
    monkeypatch.setattr(dists_pt.models, "vgg16", lambda *a, **k: build(weights=None))
    return dists_pt.DISTS(load_weights=False).eval()


def test_dists_converter_exact(monkeypatch):
    import iqametrics

    theirs = _official_dists(monkeypatch)
    upstream = theirs.state_dict()
    conv = get_converter("dists_official")
    assert conv.detect(upstream)
    ours = conv.convert(upstream)
    assert set(ours) == set(iqametrics.create("dists", pretrained=False).state_dict())
    for key, value in upstream.items():
        if key in ("alpha", "beta"):
            assert torch.equal(ours[key], value.flatten()) and ours[key].shape == (1475,)
        elif key.startswith("stage") and not key.endswith(".filter"):
            assert ours["backbone.features." + key.split(".", 1)[1]] is value
    _assert_inverse_loads_back(conv, ours, upstream, theirs)


def test_dists_converter_head_file_layout():
    head = {"alpha": torch.rand(1, 1475, 1, 1), "beta": torch.rand(1, 1475, 1, 1)}
    conv = get_converter("dists_official")
    assert conv.detect(head) and not conv.detect({"alpha": torch.rand(10)})
    ours = conv.convert(head)
    assert set(ours) == {"alpha", "beta"} and all(torch.equal(ours[k], head[k].flatten()) for k in head)
    assert all(torch.equal(conv.inverse(ours)[k], head[k]) for k in head)


# ----------------------------------------------------------------------------- DISTS statistics
def _official_terms(x, y, dim, c1=1e-6, c2=1e-6):
    """1 - t and 1 - s as DISTS_pytorch writes t and s, in float64."""
    x, y = x.double(), y.double()
    mx, my = x.mean(dim, keepdim=True), y.mean(dim, keepdim=True)
    t = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
    vx, vy = ((x - mx) ** 2).mean(dim, keepdim=True), ((y - my) ** 2).mean(dim, keepdim=True)
    cov = (x * y).mean(dim, keepdim=True) - mx * my
    s = (2 * cov + c2) / (vx + vy + c2)
    return (1 - t).squeeze(dim), (1 - s).squeeze(dim)


@pytest.mark.parametrize("shape,dim", [((2, 5, 9, 11), (2, 3)), ((2, 7, 16), -1)])
def test_texture_structure_matches_official_formulas(shape, dim):
    """Feature maps (per channel over space) and TFIQA's tokens (per token over the embedding):
    equal to the official expressions in float64 to rounding (1e-12: float64 evaluation of two
    algebraically equal forms)."""
    g = torch.Generator().manual_seed(3)
    x = torch.rand(shape, generator=g, dtype=torch.float64) * 3
    y = (x + 0.5 * torch.randn(shape, generator=g, dtype=torch.float64)).clamp_min(0)
    texture, structure = texture_structure_dissimilarity(x, y, dim=dim)
    want_t, want_s = _official_terms(x, y, dim if isinstance(dim, int) else tuple(dim))
    torch.testing.assert_close(texture, want_t, rtol=0, atol=1e-12)
    torch.testing.assert_close(structure, want_s, rtol=0, atol=1e-12)
    assert texture.min() >= 0 and structure.min() >= 0


def test_texture_structure_identity_and_validation():
    x = torch.rand(3, 4, 8, 8, generator=torch.Generator().manual_seed(4))
    texture, structure = texture_structure_dissimilarity(x, x.clone())
    assert torch.equal(texture, torch.zeros(3, 4)) and torch.equal(structure, torch.zeros(3, 4))
    with pytest.raises(ValueError, match="same shape"):
        texture_structure_dissimilarity(x, x[:, :, :4])


def test_texture_structure_gradients():
    g = torch.Generator().manual_seed(5)
    x = torch.rand(2, 3, 6, 6, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 3, 6, 6, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: sum(texture_structure_dissimilarity(a, y)), (x,))


def test_l2pool_float16_does_not_overflow():
    """Squares of large activations exceed float16's range; the pool computes in float32."""
    x = torch.rand(1, 4, 8, 8, generator=torch.Generator().manual_seed(6)) * 1000
    pool = L2Pool2d(4)
    half = pool(x.half())
    assert half.dtype == torch.float16 and torch.isfinite(half).all()
    torch.testing.assert_close(half.float(), pool(x), rtol=1e-3, atol=0)
