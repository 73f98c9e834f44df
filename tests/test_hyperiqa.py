"""HyperIQA and PyramidIQA: architecture, cross-implementation golden values, test-time protocol,
determinism, weights loading.

No trained weights can be downloaded here, so the networks run with seeded random weights
(``seeded_state`` of ``tools/compare_hyperiqa_pyiqa.py``: a function of parameter names and shapes
only).  Quality properties of trained models (monotone under distortion) cannot be tested without
weights; they are listed as pending in ``docs/models/hyperiqa.md``.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import iqametrics
from iqametrics.models.hyperiqa import CropProtocol, HyperIQA, PyramidIQA
from iqametrics.weights import WeightsUnavailableError

from .tolerances import assert_scores_close

REPO = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("compare_hyperiqa_pyiqa", REPO / "tools" / "compare_hyperiqa_pyiqa.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _tool()

#: pyiqa 0.1.16 ``HyperNet.forward_patch`` on ``golden_patches()`` with ``seeded_state(seed=2020)`` weights
#: (converted to pyiqa's layout), printed by ``tools/compare_hyperiqa_pyiqa.py --golden``
#: (torch 2.14.1 CPU, timm 1.0.31).
PYIQA_GOLDEN = [1.760206, 1.832113, 1.751892]


@pytest.fixture(scope="module")
def hyper():
    m = HyperIQA(num_crops=1).eval()  # one (centre) crop per image keeps the CPU tests short
    m.load_state_dict(tool.seeded_state(m))
    return m.requires_grad_(False)


@pytest.fixture(scope="module")
def pyramid():
    m = PyramidIQA(num_crops=1).eval()
    m.load_state_dict(tool.seeded_state(m))
    return m.requires_grad_(False)


def _images(rng, *sizes):
    return [torch.rand(3, h, w, generator=rng) for h, w in sizes]


# ----------------------------------------------------------------------------- architecture
def test_parameter_counts_match_the_papers():
    with torch.device("meta"):
        hyperiqa, pyramidiqa = HyperIQA(), PyramidIQA()

    def count(module):
        return sum(p.numel() for p in module.parameters())

    # MODELS.md §1.5 / §2.2, verified by instantiating the official codes; papers: 27.38 M and 27.63 M
    assert count(hyperiqa) == 27_375_369
    assert count(pyramidiqa) == 27_633_967
    assert count(pyramidiqa.backbone) + count(pyramidiqa.lda) == 23_983_392
    assert count(pyramidiqa.neck.fpn) == 2_688_512
    assert count(pyramidiqa.neck.attention) == 24_870
    assert count(pyramidiqa.neck.fusion) == 225_648
    assert count(pyramidiqa.generator) == 711_545


def test_matches_pyiqa_port_on_golden_patches(hyper):
    with torch.inference_mode():
        patches = tool.golden_patches()
        ours = hyper.forward_patches((patches - hyper.mean) / hyper.std)
    # same weights, same patches: identical on the machine that made the goldens (max difference 0);
    # 1e-5 leaves room for other BLAS builds and the 7 printed digits
    torch.testing.assert_close(ours, torch.tensor(PYIQA_GOLDEN), rtol=0, atol=1e-5)


@pytest.mark.slow
def test_pyramidiqa_patch_shapes_and_train_mode_dropout(pyramid):
    patches = (tool.golden_patches(2) - pyramid.mean) / pyramid.std
    with torch.no_grad():
        eval_scores = pyramid.forward_patches(patches)
        assert eval_scores.shape == (2,) and torch.isfinite(eval_scores).all()
        pyramid.train()
        try:
            torch.manual_seed(0)
            train_scores = pyramid.forward_patches(patches)
        finally:
            pyramid.eval()
    # BatchNorm in train mode and the target net's dropout 0.5 both change the output
    assert not torch.allclose(train_scores, eval_scores)


def test_forward_patches_rejects_other_sizes(hyper):
    with pytest.raises(ValueError, match="224×224"):
        hyper.forward_patches(torch.zeros(1, 3, 200, 200))


# ----------------------------------------------------------------------------- test-time protocol
def test_crops_follow_the_official_resize_and_grid(rng):
    x = torch.rand(2, 3, 300, 400, generator=rng)
    crops = CropProtocol(4)(x)
    assert crops.shape == (2 * 4, 3, 224, 224)
    resized = iqametrics.functional.pil_resize(x, (512, 384))  # Resize((512, 384)): height 512, width 384
    assert torch.equal(crops[0], resized[0, :, :224, :224])
    assert torch.equal(crops[3], resized[0, :, 288:, 160:])  # 2×2 grid: corners
    assert torch.equal(crops[5], resized[1, :, :224, 160:])


def test_small_images(rng):
    # official protocol: every image is resized to 512×384 first, so tiny images are upscaled
    assert CropProtocol(4)(torch.rand(1, 3, 20, 16, generator=rng)).shape == (4, 3, 224, 224)
    # resize=None (pyiqa's protocol): the short side is brought to 224, aspect kept
    native = CropProtocol(4, resize=None)
    x = torch.rand(1, 3, 100, 300, generator=rng)
    crops = native(x)
    assert crops.shape == (4, 3, 224, 224)
    assert torch.equal(crops[0], iqametrics.functional.pil_resize(x, (224, 672))[0, :, :, :224])
    big = torch.rand(1, 3, 230, 260, generator=rng)
    assert torch.equal(native(big)[3], big[0, :, 6:, 36:])  # native size kept


def test_random_crops_are_seeded_by_the_image(rng):
    protocol = CropProtocol(6, "random")
    a, b = _images(rng, (300, 400), (300, 400))
    alone = protocol(a[None])
    together = protocol(torch.stack([b, a]))
    assert torch.equal(together[6:], alone)  # same crops whatever the batch
    assert not torch.equal(together[:6], alone)
    assert not torch.equal(CropProtocol(6, "random", seed=1)(a[None]), alone)
    assert CropProtocol(10, "random")(a[None]).shape == (10, 3, 224, 224)  # any count


@pytest.mark.slow
@pytest.mark.parametrize("model", ["hyper", "pyramid"])
def test_scores_do_not_depend_on_batch_composition(model, request, rng):
    net = request.getfixturevalue(model)
    x = torch.rand(3, 3, 240, 260, generator=rng)
    full = net(x)
    assert torch.equal(net(x), full)  # the same call on the same input: the same arithmetic
    singles = torch.cat([net(x[i : i + 1]) for i in range(3)])
    # identical crops by construction; the kernels block a batch of 1 and of 3 differently, so only
    # float32 rounding may differ (1.9e-6 on scores near 2.6 seen on an AMD EPYC)
    assert_scores_close(singles, full)
    assert_scores_close(net(x.flip(0)).flip(0), full)


@pytest.mark.slow
def test_mixed_sizes_in_one_forward_pass(hyper, rng, monkeypatch):
    images = _images(rng, (240, 260), (300, 200), (230, 230))
    expected = torch.cat([hyper(img[None]) for img in images])
    calls = []
    original = hyper.forward_patches

    def spy(x):
        calls.append(x.shape[0])
        return original(x)

    monkeypatch.setattr(hyper, "forward_patches", spy)
    scores = hyper(images)
    assert calls == [3]  # all crops of all images in one pass
    assert_scores_close(scores, expected)  # one pass of 3 against three of 1: float32 rounding only


@pytest.mark.slow
def test_channels_last_gives_the_same_scores(hyper, rng):
    m = HyperIQA(num_crops=1, channels_last=True).eval()
    m.load_state_dict(hyper.state_dict())
    x = torch.rand(1, 3, 240, 260, generator=rng)
    with torch.inference_mode():
        assert_scores_close(m(x), hyper(x))  # other convolution kernels: float32 rounding only


@pytest.mark.slow
@pytest.mark.needs_data
def test_real_photos_of_any_size(hyper, clive_paths, pristine_paths):
    paths = clive_paths[:2] + pristine_paths[:2]
    scores = hyper(paths)
    assert scores.shape == (4,) and torch.isfinite(scores).all()
    assert torch.equal(hyper(paths), scores)  # the same call on the same input
    assert_scores_close(torch.cat([hyper(p) for p in paths]), scores)  # batches of 1 against 4: rounding only


# ----------------------------------------------------------------------------- options, registry, weights
def test_option_validation():
    with pytest.raises(ValueError, match="square"):
        HyperIQA(num_crops=10)
    with pytest.raises(ValueError, match="num_crops"):
        HyperIQA(num_crops=0)
    with pytest.raises(ValueError, match="crop_mode"):
        HyperIQA(crop_mode="center")
    with pytest.raises(ValueError, match="resize"):
        HyperIQA(resize=(200, 384))
    with pytest.raises(ValueError, match="resize"):
        HyperIQA(resize=512)


def test_registry_entries():
    assert {"hyperiqa", "pyramidiqa"} <= set(iqametrics.list_metrics("NR"))
    info = iqametrics.get_info("hyperiqa")
    assert info.higher_is_better and info.score_range == (0.0, 1.0) and "0-100" in info.notes
    assert iqametrics.get_info("pyramidiqa").weights == ("pyramidiqa",)


def test_preprocessing_follows_the_weights():
    """Each weight file is scored with the protocol it was trained and evaluated with."""
    pyiqa_retrain = iqametrics.create("hyperiqa", pretrained=False, num_crops=1)
    official = iqametrics.create("hyperiqa.official", pretrained=False, num_crops=1)
    assert pyiqa_retrain.protocol.resize is None  # pyiqa: native size
    assert official.protocol.resize == (512, 384)  # SSL92/hyperIQA: Resize((512, 384))
    assert iqametrics.get_info("hyperiqa.official").score_range == (0.0, 100.0)
    assert iqametrics.get_info("hyperiqa.official").weights == ("hyperiqa@official",)
    assert iqametrics.create("hyperiqa", pretrained=False, resize=(512, 384), num_crops=1).protocol.resize == (512, 384)


def test_pyramidiqa_explains_missing_weights(monkeypatch, tmp_path):
    monkeypatch.delenv("IQAMETRICS_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("IQAMETRICS_CACHE", str(tmp_path))
    with pytest.raises(WeightsUnavailableError, match="no published weights"):
        iqametrics.create("pyramidiqa")


def test_hyperiqa_offline_without_weights_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("IQAMETRICS_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(WeightsUnavailableError, match="HyperIQA-resnet50-koniq10k"):
        iqametrics.create("hyperiqa")


@pytest.mark.parametrize("model, converter", [("hyperiqa", "hyperiqa.official"), ("hyperiqa", "hyperiqa.pyiqa"), ("pyramidiqa", "pyramidiqa.official")])
def test_create_loads_upstream_checkpoint_files(model, converter, hyper, pyramid, tmp_path):
    from iqametrics.convert import get_converter

    source = {"hyperiqa": hyper, "pyramidiqa": pyramid}[model]
    path = tmp_path / "checkpoint.pkl"
    torch.save(get_converter(converter).inverse(source.state_dict()), path)
    metric = iqametrics.create(model, weights=str(path), num_crops=1)
    loaded = metric.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in source.state_dict().items())
    assert metric.info.name == model and not metric.training


@pytest.mark.slow
def test_imagenet_backbone_comes_through_the_manifest(monkeypatch, tmp_path):
    """imagenet_backbone=True reads the manifest entry backbone.resnet50 like every other file
    (override folder, Hub cache, offline settings), never a timm download."""
    import timm
    from safetensors.torch import save_file

    from iqametrics.weights import get_entry

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("IQAMETRICS_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsUnavailableError, match="backbone.resnet50"):
        HyperIQA(imagenet_backbone=True)
    torch.manual_seed(3)
    imagenet = timm.create_model("resnet50", pretrained=False).state_dict()  # with its classifier fc.*
    save_file(imagenet, str(tmp_path / get_entry("backbone.resnet50").filename))
    backbone = HyperIQA(imagenet_backbone=True).backbone.state_dict()
    assert set(backbone) == set(imagenet) - {"fc.weight", "fc.bias"}
    assert all(torch.equal(v, imagenet[k]) for k, v in backbone.items())
