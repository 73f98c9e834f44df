"""TFIQA (Zeng & Kwong): architecture, properties, DISTS agreement, gradients, checkpoints, real photos.

No TFIQA weights exist anywhere, so every test uses the seeded initialisation (``pretrained=False``),
with the trainable parameters perturbed where an untrained network would make a property trivial
(at initialisation every LayerNorm is (1, 0), so every token has mean 0 and the texture term of the
transformer stages vanishes).
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import iqametrics
from iqametrics.models.tfiqa import ARCHITECTURES as CONFIGS, TFIQAFR, TFIQANet, TFIQANR, build_tfiqa_network
from iqametrics.nn.texture_structure import DISTSStages, texture_structure_distance
from iqametrics.train.losses import fr_label_from_mos, tfiqa_fr_loss, tfiqa_nr_loss, tfiqa_uni_loss
from iqametrics.weights import WeightsUnavailableError

NAMES = ["tfiqa.fr", "tfiqa.nr", "tfiqa.uni", "tfiqa.uni.nr"]
FR_NAMES = ["tfiqa.fr", "tfiqa.uni"]
# small NR protocol for tests: one centred crop of a native-size image
SMALL_NR = dict(num_crops=1, resize=None)


# ----------------------------------------------------------------------------- helpers
def _perturb(net: TFIQANet, seed: int = 0, scale: float = 0.1) -> TFIQANet:
    """Move every trainable parameter off its initial value (seeded), keeping the FR weights >= 0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.trainable_parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
        if net.has_fr_head:
            net.clamp_fr_weights_()
    return net


def _metric(name, seed=0, **options):
    m = iqametrics.create(name, pretrained=False, **({**SMALL_NR, **options} if name.endswith("nr") else options))
    _perturb(m.net, seed)
    return m


def _pairs(n=3, h=48, w=64, sigma=0.1, seed=0):
    g = torch.Generator().manual_seed(seed)
    ref = torch.rand(n, 3, h, w, generator=g)
    return (ref + sigma * torch.randn(ref.shape, generator=g)).clamp(0, 1), ref


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """A (random, seeded) VGG16 in timm's layout under the manifest's file name of backbone.vgg16:
    the stand-in for the ImageNet backbone that create(..., weights=CKPT) loads."""
    from safetensors.torch import save_file

    from iqametrics.weights import get_entry

    torch.manual_seed(7)
    state = {k: v.contiguous() for k, v in DISTSStages().state_dict().items()}
    folder = tmp_path_factory.mktemp("weights")
    save_file(state, str(folder / get_entry("backbone.vgg16").filename))
    return folder, state


@pytest.fixture
def vgg_dir(vgg_file, monkeypatch):
    """IQAMETRICS_WEIGHTS_DIR set to the folder of :func:`vgg_file`; returns the VGG16 state."""
    monkeypatch.setenv("IQAMETRICS_WEIGHTS_DIR", str(vgg_file[0]))
    return vgg_file[1]


# ----------------------------------------------------------------------------- registry and weights
def test_registered_variants():
    fr, nr, uni, uni_nr = (iqametrics.get_info(n) for n in NAMES)
    assert (fr.kind, fr.higher_is_better, fr.score_range) == ("FR", False, (0.0, 1.0))
    assert (uni.kind, uni.higher_is_better) == ("FR", False)
    for info in (nr, uni_nr):
        assert (info.kind, info.higher_is_better, info.score_range) == ("NR", True, (1.0, 5.0))
    # placeholders of checkpoints to train (the UNI NR view reads UNI's); VGG16 is loaded beside them
    assert [i.weights for i in (fr, nr, uni, uni_nr)] == [("tfiqa.fr",), ("tfiqa.nr",), ("tfiqa.uni",), ("tfiqa.uni",)]
    built = {n: iqametrics.create(n, pretrained=False) for n in NAMES}
    assert [type(m) for m in built.values()] == [TFIQAFR, TFIQANR, TFIQAFR, TFIQANR]
    assert [(m.net.dim, m.net.has_fr_head, m.net.has_nr_head) for m in built.values()] == [
        (256, True, False), (32, False, True), (256, True, True), (256, True, True)
    ]


@pytest.mark.parametrize("name,recipe", [("tfiqa.fr", "tfiqa-fr-kadid"), ("tfiqa.nr", "tfiqa-nr-koniq"),
                                         ("tfiqa.uni", "tfiqa-uni-koniq-kadid"), ("tfiqa.uni.nr", "tfiqa-uni-koniq-kadid")])
def test_pretrained_says_there_are_no_published_weights(name, recipe):
    with pytest.raises(WeightsUnavailableError, match="no published weights") as exc:
        iqametrics.create(name)
    assert f"iqa train {recipe}" in str(exc.value) and "--weights PATH" in str(exc.value)


def test_parameter_counts():
    """MODELS.md §3.7.8 with the paper's configurations (Sec. 4.2).  By hand, D = 256:
    a post-LN layer has q, k, v and the output projection 4·(256² + 256) = 263,168, the MLP
    256·1024 + 1024 + 1024·256 + 256 = 525,568 and two LayerNorms 1,024: 789,760, two layers
    1,579,520 ("~1.58 M"); projection 512·256 + 256 = 131,328; NR head 256·1024 + 1024 + 1024·5 + 5
    = 268,293; positional table 257·256 = 65,792; quality token 256; FR weights
    2 × (1,475 + 2·192) = 3,718.  D = 32 (8 heads, MLP 64): 2 × (4·(32² + 32) + 32·64 + 64 + 64·32 + 32
    + 128) = 17,088; projection 16,416; head 32·64 + 64 + 64·5 + 5 = 2,437; table 8,224; token 32.
    VGG16's 13 convolutions: 14,714,688 (torchvision's vgg16().features)."""

    def count(module):
        return sum(p.numel() for p in module.parameters())

    uni = TFIQANet("d256", fr_head=True, nr_head=True)
    assert count(uni.backbone) == 14_714_688
    assert count(uni.encoder) == 1_579_520
    assert count(uni.projection) == 131_328
    assert count(uni.head) == 268_293
    assert uni.pos_embed.numel() == 65_792 and uni.quality_token.numel() == 256
    assert uni.alpha.numel() + uni.beta.numel() == 3_718
    assert sum(p.numel() for p in uni.trainable_parameters()) == 1_579_520 + 131_328 + 268_293 + 65_792 + 256 + 3_718
    fr = TFIQANet("d256", fr_head=True, nr_head=False)
    assert sum(p.numel() for p in fr.trainable_parameters()) == 1_780_614
    nr = TFIQANet("d32", fr_head=False, nr_head=True)
    assert (count(nr.encoder), count(nr.projection), count(nr.head)) == (17_088, 16_416, 2_437)
    assert sum(p.numel() for p in nr.trainable_parameters()) == 17_088 + 16_416 + 2_437 + 8_224 + 32
    # the frozen part never requires gradients
    assert not any(p.requires_grad for p in uni.backbone.parameters())
    assert all(p.requires_grad for p in uni.trainable_parameters())


def test_configs_and_options():
    assert CONFIGS["d256"] == dict(dim=256, depth=2, num_heads=4, mlp_dim=1024, head_dim=1024)
    assert CONFIGS["d32"] == dict(dim=32, depth=2, num_heads=8, mlp_dim=64, head_dim=64)
    m = iqametrics.create("tfiqa.fr", pretrained=False, config="d32", fr_grid=[6, 8])
    assert m.net.dim == 32 and m.net.alpha.numel() == 1475 + 2 * 48
    dist, ref = _pairs(2, 40, 48)
    assert m(dist, ref).shape == (2,)
    with pytest.raises(ValueError, match="config must be one of"):
        iqametrics.create("tfiqa.nr", pretrained=False, config="d64")
    with pytest.raises(ValueError, match="fr_grid"):
        iqametrics.create("tfiqa.fr", pretrained=False, fr_grid=(16, 17))
    with pytest.raises(ValueError, match="crop_batch"):
        iqametrics.create("tfiqa.nr", pretrained=False, crop_batch=0)
    with pytest.raises(ValueError, match="no NR head"):
        iqametrics.create("tfiqa.fr", pretrained=False).score_nr(ref)
    with pytest.raises(ValueError, match="at least one head"):
        TFIQANet(fr_head=False, nr_head=False)


def test_initialisation_is_seeded_and_starts_from_dists():
    from iqametrics.weights import load_state

    a, b = TFIQANet(seed=3), TFIQANet(seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(TFIQANet(seed=4).encoder.blocks[0].attn.qkv.weight, a.encoder.blocks[0].attn.qkv.weight)
    released, _ = load_state("dists")
    alpha, beta = a.alpha.detach(), a.beta.detach()
    # the CNN stages start as DISTS (the same normalised weights), at DISTS's training scale (mean 0.1)
    total = alpha[:1475].sum() + beta[:1475].sum()
    torch.testing.assert_close(alpha[:1475] / total, released["alpha"].flatten(), rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(beta[:1475] / total, released["beta"].flatten(), rtol=1e-5, atol=1e-9)
    assert math.isclose(float(total), 0.1 * 2950, rel_tol=1e-5)
    tokens = torch.cat([alpha[1475:], beta[1475:]])
    assert abs(float(tokens.mean()) - 0.1) < 0.002 and abs(float(tokens.std()) - 0.01) < 0.002


# ----------------------------------------------------------------------------- FR properties
@pytest.mark.parametrize("name", FR_NAMES)
@pytest.mark.parametrize("size", [(48, 64), (37, 90), (120, 80)])
def test_identical_images_give_exactly_zero(name, size):
    """Two same-shape encoder passes give bit-identical features, and the statistics are functions
    of x - y and μx - μy: an identical pair scores 0.0 exactly, also inside a batch of other pairs."""
    m = _metric(name)
    dist, ref = _pairs(3, *size)
    dist[1] = ref[1]
    scores = m(dist, ref)
    assert scores[1].item() == 0.0 and (scores[[0, 2]] > 0).all()
    assert torch.equal(m(ref, ref.clone()), torch.zeros(3))


def test_fr_weights_stay_nonnegative_and_normalised():
    m = _metric("tfiqa.fr")
    net = m.net
    with torch.no_grad():
        net.alpha[:10] = -1.0  # as a checkpoint or an optimiser step could leave them
    alpha, beta = net.fr_weights()
    assert (alpha >= 0).all() and (beta >= 0).all()
    assert math.isclose(float(alpha.sum() + beta.sum()), 1.0, rel_tol=1e-6)
    assert (alpha[:10] == 0).all()
    # the forward pass uses exactly these (clamped) weights
    dist, ref = _pairs(2)
    before = m(dist, ref)
    net.clamp_fr_weights_()
    assert (net.alpha >= 0).all() and torch.equal(m(dist, ref), before)
    # training: gradient steps that push the weights down, each followed by the projection
    net.requires_grad_(True)
    net.backbone.requires_grad_(False)
    opt = torch.optim.SGD([net.alpha, net.beta], lr=50.0)
    for _ in range(2):
        opt.zero_grad()
        (-net.fr_distance(dist, ref).sum()).backward()  # grows some weights, shrinks the others
        opt.step()
        assert (net.alpha < 0).any() or (net.beta < 0).any()  # the step alone leaves the constraint
        net.clamp_fr_weights_()
        assert (net.alpha >= 0).all() and (net.beta >= 0).all()
        alpha, beta = net.fr_weights()
        assert math.isclose(float(alpha.detach().sum() + beta.detach().sum()), 1.0, rel_tol=1e-6)


@pytest.mark.parametrize("name", FR_NAMES)
def test_fr_is_invariant_to_batch_composition(name):
    """A pair scores the same alone, in a batch, and through the list path (rtol 1e-5: convolution
    and matrix-product kernels may block batches of other sizes differently)."""
    m = _metric(name)
    dist, ref = _pairs(3)
    batch = m(dist, ref)
    alone = torch.cat([m(dist[i : i + 1], ref[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(alone, batch, rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(m(list(dist), list(ref)), batch, rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(m(dist.flip(0), ref.flip(0)), batch.flip(0), rtol=1e-5, atol=1e-9)


def test_fr_any_image_size_gives_192_tokens():
    """§3.7.2: the FR path pools the projected relu5_3 map to 12×16 tokens whatever the size
    (exactly TRIQ's 2×2 max-pool at KADID's 384×512), so every image size uses the same 192 token
    weights and positional rows; sizes that differ in one batch go through the list path."""
    net = _perturb(TFIQANet())
    for h, w in [(384, 512), (40, 48), (512, 384), (200, 150)]:
        stage5 = torch.rand(1, 512, math.ceil(h / 16), math.ceil(w / 16))
        assert net.tokens(stage5, net.fr_grid).shape == (1, 193, 256)
    # at 384×512 the adaptive pool is exactly TRIQ's 2×2 max-pool
    stage5 = torch.rand(2, 512, 24, 32)
    proj = net.projection(stage5)
    torch.testing.assert_close(F.adaptive_max_pool2d(proj, (12, 16)), F.max_pool2d(proj, 2), rtol=0, atol=0)
    m = TFIQAFR(net).eval()
    m.requires_grad_(False)
    sizes = [(40, 48), (90, 37), (64, 64)]
    dists, refs = zip(*[_pairs(1, h, w, seed=i) for i, (h, w) in enumerate(sizes)])
    mixed = m([d[0] for d in dists], [r[0] for r in refs])
    assert mixed.shape == (3,) and torch.isfinite(mixed).all() and (mixed > 0).all()
    alone = torch.cat([m(d, r) for d, r in zip(dists, refs)])
    torch.testing.assert_close(mixed, alone, rtol=1e-5, atol=1e-9)


def test_texture_structure_distance_checks_the_stage_count():
    x = torch.rand(2, 3, 8, 8)
    w = torch.ones(6)
    with pytest.raises(ValueError, match="2 stages are weighted but 1"):
        texture_structure_distance([(x, x)], w, w, (3, 3))
    with pytest.raises(ValueError, match="1 stages are weighted but more"):
        texture_structure_distance([(x, x), (x, x)], w[:3], w[:3], (3,))


@pytest.mark.slow
def test_dists_part_equals_dists_pytorch(monkeypatch):
    """TFIQA's CNN stages are DISTS: with the same (random) VGG16 and DISTS's released alpha/beta on
    them and zero weights on the transformer tokens, TFIQA's FR score is DISTS_pytorch's score
    (float32: 1e-5 relative or 2e-7 absolute, the official code's own float32 error; float64: 1e-12)."""
    from iqametrics.convert import get_converter

    from .test_lpips_dists import _official_dists, check_against_official_dists

    theirs = _official_dists(monkeypatch)
    state = get_converter("dists_official").convert(theirs.state_dict())
    net = _perturb(TFIQANet())  # the transformer is not zero: its weight is
    net.backbone.load_state_dict({k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")})
    with torch.no_grad():
        net.alpha.zero_()
        net.beta.zero_()
        net.alpha[:1475] = state["alpha"]
        net.beta[:1475] = state["beta"]
    ours = TFIQAFR(net).eval()
    ours.requires_grad_(False)
    dist, ref = _pairs(3, 64, 80, sigma=0.1)
    check_against_official_dists(theirs, ours, dist, ref)
    # and the transformer stages do count once they are weighted (both modules are now float64)
    with torch.no_grad():
        dists_only = ours._score(dist.double(), ref.double())
        net.alpha[1475:] = 0.1
        assert not torch.allclose(ours._score(dist.double(), ref.double()), dists_only, rtol=1e-6, atol=0)


# ----------------------------------------------------------------------------- NR properties
@pytest.mark.slow
def test_nr_scores_lie_in_1_to_5_and_are_batch_invariant():
    """Two random crops per image (seeded by the image content): the same scores alone, in a batch,
    in another order, and through the list path that mixes sizes in one forward pass (rtol 1e-5:
    kernels may block batches of other sizes differently)."""
    m = _metric("tfiqa.nr", num_crops=2, crop_mode="random", resize=None, crop_batch=3)
    g = torch.Generator().manual_seed(1)
    images = torch.rand(2, 3, 230, 250, generator=g)
    small = torch.rand(3, 224, 224, generator=g)
    batch = m(images)
    assert batch.shape == (2,) and ((batch > 1) & (batch < 5)).all()
    alone = torch.cat([m(images[i : i + 1]) for i in range(2)])
    torch.testing.assert_close(alone, batch, rtol=1e-5, atol=1e-6)
    mixed = m([images[1], small])
    torch.testing.assert_close(mixed[0], batch[1], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(mixed[1:], m(small[None]), rtol=1e-5, atol=1e-6)


def test_nr_any_image_size():
    """Native-size protocol (resize=None): larger images are cropped, smaller ones upscaled to 224;
    the default protocol resizes to 384×512 first."""
    m = _metric("tfiqa.nr", num_crops=1, resize=None)
    for h, w in [(224, 300), (100, 120), (260, 224)]:
        score = m(torch.rand(1, 3, h, w))
        assert score.shape == (1,) and 1 < float(score) < 5
    assert m.net.tokens(torch.rand(1, 512, 14, 14)).shape == (1, 197, 32)  # a 224 crop: TRIQ's rule keeps 14×14
    assert m.net.tokens(torch.rand(1, 512, 32, 32)).shape == (1, 257, 32)  # 2×2-pooled to 16×16: the whole table
    with pytest.raises(ValueError, match="do not fit"):
        m.net.tokens(torch.rand(1, 512, 34, 34))
    default = iqametrics.create("tfiqa.nr", pretrained=False, num_crops=1)
    assert default.protocol.resize == (384, 512) and default.protocol.num_crops == 1
    assert iqametrics.create("tfiqa.nr", pretrained=False).protocol.num_crops == 25


def test_nr_is_the_mean_level_of_the_crops():
    """Score = mean over crops of Σ k softmax(logits)_k (NIMA), crops from the protocol."""
    m = _metric("tfiqa.nr", num_crops=2, crop_mode="random", resize=(224, 256))
    x = torch.rand(1, 3, 300, 300)
    crops = m.protocol(x)
    assert crops.shape == (2, 3, 224, 224)
    with torch.no_grad():
        p = m.net.nr_logits(crops).softmax(-1)
    torch.testing.assert_close(m(x), (p @ torch.arange(1.0, 6.0)).mean().reshape(1), rtol=1e-5, atol=1e-6)


def test_uni_scores_pairs_and_images_with_one_network():
    uni = _metric("tfiqa.uni")
    view = uni.as_nr(**SMALL_NR)
    assert view.net is uni.net and view.info.name == "tfiqa.uni.nr" and not view.training
    images = torch.rand(1, 3, 224, 224)
    nr = iqametrics.create("tfiqa.uni.nr", pretrained=False, **SMALL_NR)
    nr.net.load_state_dict(uni.net.state_dict())
    torch.testing.assert_close(uni.score_nr(images, **SMALL_NR), nr(images), rtol=0, atol=0)
    dist, ref = _pairs(2)
    assert uni(dist, ref).shape == (2,)


# ----------------------------------------------------------------------------- training
@pytest.mark.parametrize("variant", ["fr", "nr", "uni"])
def test_gradients_reach_exactly_the_trainable_parts(variant):
    """The paper's losses in training mode: no VGG16 parameter gets a gradient (they do not require
    one); every other parameter gets a finite, non-zero gradient."""
    net = _perturb(build_tfiqa_network(variant, imagenet_backbone=False)).train()
    g = torch.Generator().manual_seed(0)
    loss = 0.0
    if net.has_fr_head:
        dist, ref = _pairs(2, 48, 64)
        loss = loss + tfiqa_fr_loss(net.fr_distance(dist, ref), fr_label_from_mos(torch.tensor([2.0, 4.5])))
    if net.has_nr_head:
        patches = torch.rand(2, 3, 64, 64, generator=g)
        target = torch.tensor([[0.1, 0.2, 0.4, 0.2, 0.1], [0.0, 0.1, 0.2, 0.3, 0.4]])
        loss = loss + tfiqa_nr_loss(net.nr_logits(patches), target)
    loss.backward()
    for name, p in net.backbone.named_parameters():
        assert p.grad is None and not p.requires_grad, name
    for name, p in net.named_parameters():
        if name.startswith("backbone."):
            continue
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_losses():
    mos = torch.tensor([1.0, 3.0, 5.0])
    assert torch.equal(fr_label_from_mos(mos), torch.tensor([1.0, 0.5, 0.0]))
    with pytest.raises(ValueError, match="best > worst"):
        fr_label_from_mos(mos, (5, 1))
    distance = torch.tensor([0.9, 0.5, 0.2], requires_grad=True)
    loss = tfiqa_fr_loss(distance, fr_label_from_mos(mos))
    assert math.isclose(float(loss.detach()), (0.01 + 0 + 0.04) / 3, rel_tol=1e-6)
    with pytest.raises(ValueError, match="same number"):
        tfiqa_fr_loss(distance, mos[:2])
    # EMD of NIMA (r = 2): a point mass one level away gives sqrt(mean over 5 CDF steps of 1) = sqrt(1/5)
    logits = torch.tensor([[0.0, 0.0, 30.0, 0.0, 0.0]])
    target = torch.tensor([[0.0, 0.0, 0.0, 1.0, 0.0]])
    assert math.isclose(float(tfiqa_nr_loss(logits, target)), math.sqrt(1 / 5), rel_tol=1e-5)
    assert float(tfiqa_nr_loss(logits, torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0]]))) < 1e-6
    with pytest.raises(ValueError, match="normalised"):
        tfiqa_nr_loss(logits, torch.tensor([[0.0, 0.0, 3.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="same shape"):
        tfiqa_nr_loss(logits, target[:, :4])
    total = tfiqa_uni_loss(distance, fr_label_from_mos(mos), logits, target)
    torch.testing.assert_close(total, tfiqa_fr_loss(distance, fr_label_from_mos(mos)) + tfiqa_nr_loss(logits, target))
    total.backward()
    assert distance.grad is not None


# ----------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_round_trip(name, tmp_path, vgg_dir):
    """The trainable state dict in safetensors loads through create(weights=...) (and the CLI's
    --weights); ImageNet VGG16 comes from backbone.vgg16 (here a stand-in in IQAMETRICS_WEIGHTS_DIR)."""
    from safetensors.torch import save_file

    vgg = vgg_dir
    trained = _metric(name, seed=5)
    trained.net.load_backbone()
    state = trained.net.trainable_state_dict()
    assert not any(k.startswith("backbone.") for k in state)
    path = tmp_path / "tfiqa.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))

    loaded = iqametrics.create(name, pretrained=False, weights=str(path), **(SMALL_NR if name.endswith("nr") else {}))
    assert loaded.net.backbone_source == "backbone.vgg16"
    own = loaded.net.state_dict()
    assert all(torch.equal(own[k], v) for k, v in state.items())
    assert all(torch.equal(own["backbone." + k], v) for k, v in vgg.items())
    if loaded.kind == "FR":
        dist, ref = _pairs(2)
        torch.testing.assert_close(loaded(dist, ref), trained(dist, ref), rtol=0, atol=0)
    else:
        x = torch.rand(1, 3, 224, 224)
        torch.testing.assert_close(loaded(x), trained(x), rtol=0, atol=0)


def test_checkpoint_errors_and_full_state(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    import huggingface_hub.constants as hf_constants

    # no ImageNet VGG16 anywhere: not in a weights folder, not in an (empty) Hub cache, no download
    monkeypatch.delenv("IQAMETRICS_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("IQAMETRICS_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    uni = _metric("tfiqa.uni", seed=2)
    trainable = tmp_path / "uni.safetensors"
    save_file({k: v.contiguous() for k, v in uni.net.trainable_state_dict().items()}, str(trainable))
    # a UNI checkpoint is not an FR-only one
    with pytest.raises(ValueError, match="unexpected"):
        iqametrics.create("tfiqa.fr", pretrained=False, weights=str(trainable))
    # without the backbone's tensors, ImageNet VGG16 must be had: offline it says how
    with pytest.raises(WeightsUnavailableError, match="vgg16"):
        iqametrics.create("tfiqa.uni", pretrained=False, weights=str(trainable))
    # a full state dict (backbone included) needs nothing else
    full = tmp_path / "full.safetensors"
    save_file({k: v.contiguous() for k, v in uni.net.state_dict().items()}, str(full))
    m = iqametrics.create("tfiqa.uni.nr", pretrained=False, weights=str(full), **SMALL_NR)
    assert m.net.backbone_source == str(full)
    assert all(torch.equal(m.net.state_dict()[k], v) for k, v in uni.net.state_dict().items())
    # a VGG16 file alone is refused with a pointer to load_backbone
    vgg_only = tmp_path / "vgg.safetensors"
    save_file({f"backbone.{k}": v.contiguous() for k, v in DISTSStages().state_dict().items()}, str(vgg_only))
    with pytest.raises(ValueError, match="load_backbone"):
        iqametrics.create("tfiqa.fr", pretrained=False, weights=str(vgg_only))


def test_cli_scores_with_weights(tmp_path, vgg_dir):
    """`iqa compare` / `iqa score` with --weights, as a user would after training."""
    from click.testing import CliRunner
    from PIL import Image
    from safetensors.torch import save_file

    from iqametrics import cli

    g = torch.Generator().manual_seed(0)
    arr = (torch.rand(64, 80, 3, generator=g) * 255).to(torch.uint8).numpy()
    Image.fromarray(arr).save(tmp_path / "ref.png")
    Image.fromarray(arr[:, ::-1].copy()).save(tmp_path / "dist.png")
    runner = CliRunner()
    for name, args in [("tfiqa.fr", ["compare", str(tmp_path / "ref.png"), str(tmp_path / "dist.png")]),
                       ("tfiqa.nr", ["score", str(tmp_path / "ref.png"), "--option", "num_crops=1",
                                     "--option", "resize=null"])]:
        path = tmp_path / f"{name}.safetensors"
        save_file({k: v.contiguous() for k, v in _metric(name).net.trainable_state_dict().items()}, str(path))
        result = runner.invoke(cli.main, args + ["--metric", name, "--weights", str(path), "--format", "csv", "-q"])
        assert result.exit_code == 0, result.output
        value = float(result.stdout.strip().splitlines()[-1].split(",")[-1])
        assert math.isfinite(value)
        no_weights = runner.invoke(cli.main, args + ["--metric", name, "-q"])
        assert no_weights.exit_code != 0 and "no published weights" in no_weights.output


# ----------------------------------------------------------------------------- reduced precision
def test_bf16_autocast_runs_and_keeps_identity_exact():
    m = iqametrics.create("tfiqa.uni", pretrained=False, amp="bf16")
    _perturb(m.net)
    ref32 = iqametrics.create("tfiqa.uni", pretrained=False)
    ref32.net.load_state_dict(m.net.state_dict())
    dist, ref = _pairs(2)
    scores = m(dist, ref)
    assert scores.dtype == torch.float32 and torch.isfinite(scores).all()
    assert torch.equal(m(ref, ref.clone()), torch.zeros(2))
    # bfloat16 features (8-bit mantissa): the same distances to a few per cent
    torch.testing.assert_close(scores, ref32(dist, ref), rtol=0.1, atol=1e-4)


# ----------------------------------------------------------------------------- real photos
def _photos(paths, size=(128, 96)):
    from PIL import Image

    from iqametrics.io import pil_to_tensor

    return torch.stack([pil_to_tensor(Image.open(p).convert("RGB").resize(size, Image.BICUBIC)) for p in paths])


def _blur(x, sigma):
    """Gaussian blur with plain torch ops (separable, reflect padding)."""
    radius = max(1, int(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


@pytest.mark.slow
def test_real_photos_in_batches(clive_paths, pristine_paths):
    """Seeded weights on real photos: FR distances of blurred copies grow with the blur and vanish
    for the photo itself; NR scores lie in (1, 5) and do not depend on the batch."""
    refs = _photos(pristine_paths[:4])
    fr = _metric("tfiqa.uni")
    scores = torch.stack([fr(_blur(refs, s), refs) for s in (0.8, 1.6, 3.2)])
    assert torch.isfinite(scores).all() and (scores[1:] > scores[:-1]).all(), scores
    assert torch.equal(fr(refs, refs.clone()), torch.zeros(4))
    photos = _photos(clive_paths[:3], size=(256, 224))
    nr = _metric("tfiqa.nr", num_crops=1, resize=None)
    batch = nr(photos)
    assert ((batch > 1) & (batch < 5)).all()
    torch.testing.assert_close(torch.cat([nr(p[None]) for p in photos]), batch, rtol=1e-5, atol=1e-6)
    # the UNI model's NR side on the same photos
    uni_nr = fr.score_nr(photos, num_crops=1, resize=None)
    assert uni_nr.shape == (3,) and ((uni_nr > 1) & (uni_nr < 5)).all()
