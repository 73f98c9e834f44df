"""PRFNet (reconstruction): architecture, symmetrised 2AFC inference, crop tiling, checkpoints, losses.

No weights exist, so these tests check the mechanics with seeded random weights: the parameter
count against the one derived from the architecture description, exact antisymmetry of the
probability, the deterministic covering crop grid, batch invariance, gradients reaching every
trainable part, the step-1 → step-2 head conversion, and checkpoint round trips.
"""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image

import iqametrics
from iqametrics import cli
from iqametrics.metric import ImageTooSmallError
from iqametrics.models import prfnet as prfnet_module
from iqametrics.models.prfnet import FUSED_CHANNELS, STAGE_CHANNELS, PRFNetwork, canonical_swap
from iqametrics.train.losses import two_afc_classification_loss, two_afc_regression_loss
from iqametrics.weights import WeightsUnavailableError

SMALL = dict(crop_size=64, n_crops=4)


def _prfnet(seed=0, **options):
    torch.manual_seed(seed)
    return iqametrics.create("prfnet", pretrained=False, **{**SMALL, **options})


@pytest.fixture(scope="module")
def model():
    return _prfnet()


def _triplets(n=3, size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    ref = torch.rand(n, 3, size, size, generator=g)
    a = (ref + 0.05 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
    b = (ref + 0.2 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
    return ref, a, b


# ----------------------------------------------------------------------------- architecture
def _conv(cin, cout, k):
    return cin * cout * k * k


def _bn(c):
    return 2 * c


def _res2net50_26w_4s() -> int:
    """Res2Net-50 26w×4s without classifier (Gao et al. 2021, Table/Fig. 2): 7×7 stem, stages of
    3, 4, 6, 3 bottlenecks; in each, 1×1 to 4 groups of w = ⌊26·planes/64⌋ channels, three 3×3
    convs w→w, 1×1 back to 4·planes; a 1×1 projection on the first block of each stage."""
    total = _conv(3, 64, 7) + _bn(64)
    inplanes = 64
    for planes, blocks in zip((64, 128, 256, 512), (3, 4, 6, 3)):
        w, out = (26 * planes) // 64, 4 * planes
        for i in range(blocks):
            total += _conv(inplanes, 4 * w, 1) + _bn(4 * w) + 3 * (_conv(w, w, 3) + _bn(w)) + _conv(4 * w, out, 1) + _bn(out)
            if i == 0:
                total += _conv(inplanes, out, 1) + _bn(out)
            inplanes = out
    return total


def _se() -> int:
    """SE (reduction 16, biases) on the output of every bottleneck."""
    return sum(n * (2 * c * (c // 16) + c // 16 + c) for c, n in zip(STAGE_CHANNELS, (3, 4, 6, 3)))


def _cross_subtract() -> int:
    return sum(_conv(3 * c_in, c, 1) + _bn(c) for c_in, c in zip(STAGE_CHANNELS, FUSED_CHANNELS))


def _fusion(direction: str) -> int:
    order = list(FUSED_CHANNELS) if direction == "shallow_to_deep" else list(FUSED_CHANNELS)[::-1]
    total = 0
    for previous, c in zip(order[:-1], order[1:]):
        total += _conv(c + previous, c, 3) + _bn(c) + _conv(c, c, 3) + _bn(c)
        if direction == "shallow_to_deep":
            total += _conv(previous, previous, 3) + _bn(previous)  # Down: 3×3 stride 2
    return total


def _head(in_features: int, outputs: int) -> int:
    return in_features * 128 + 128 + 128 * outputs + outputs


def expected_parameters(se=True, fusion="shallow_to_deep", head="regression") -> int:
    out = FUSED_CHANNELS[-1] if fusion == "shallow_to_deep" else FUSED_CHANNELS[0]
    return (_res2net50_26w_4s() + (_se() if se else 0) + _cross_subtract() + _fusion(fusion)
            + _head(out, 2 if head == "classification" else 1))


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_count_matches_the_architecture_description(model):
    parts = [_res2net50_26w_4s(), _se(), _cross_subtract(), _fusion("shallow_to_deep"), _head(512, 1)]
    # the numbers printed in docs/models/prfnet.md
    assert parts == [23_650_120, 2_530_992, 4_179_840, 8_520_064, 65_793]
    assert _count(model.net) == expected_parameters() == 38_946_809
    assert _count(model.net.backbone) == parts[0] + parts[1]


@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [dict(se=False), dict(fusion="deep_to_shallow"), dict(head="classification"), dict(signed_differences=True)],
)
def test_option_variants_build_and_run(options):
    m = _prfnet(**options)
    known = {k: v for k, v in options.items() if k in ("se", "fusion", "head")}
    assert _count(m.net) == expected_parameters(**known)
    ref, a, b = _triplets(n=2, size=64)
    p = m.prefer(ref, a, b)
    assert p.shape == (2,) and torch.isfinite(p).all()
    assert torch.equal(p, 1 - m.prefer(ref, b, a))


def test_invalid_options_are_refused():
    with pytest.raises(ValueError, match="fusion direction"):
        prfnet_module.ProgressiveFusion(direction="sideways")
    with pytest.raises(ValueError, match="square"):
        _prfnet(n_crops=5)
    with pytest.raises(ValueError, match="crop_size"):
        _prfnet(crop_size=8)


def test_feature_and_logit_shapes(model):
    net = model.net
    x = torch.rand(2, 3, 96, 64)
    with torch.no_grad():
        stages = net.features(x)
        assert [tuple(s.shape) for s in stages] == [
            (2, c, -(-96 // stride), -(-64 // stride)) for c, stride in zip(STAGE_CHANNELS, (4, 8, 16, 32))
        ]
        assert net(x[:1], x[1:], x[:1]).shape == (1,)


def test_two_step_head_conversion_keeps_the_probability():
    torch.manual_seed(3)
    net = PRFNetwork(head="classification").eval()
    ref, a, b = _triplets(n=2, size=64)
    with torch.no_grad():
        logits = net(ref, a, b)
        assert logits.shape == (2, 2)
        before = net.probability(logits)
        net.to_regression_head()
        after = net.probability(net(ref, a, b))
    assert net.head[-1].out_features == 1
    torch.testing.assert_close(after, before, rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------- inference
def test_probability_is_exactly_antisymmetric(model):
    ref, a, b = _triplets(n=2, size=80)  # 2×2 crops of 64 px
    assert len(model.crop_positions(80, 80)) == 4
    p, q = model.prefer(ref, a, b), model.prefer(ref, b, a)
    assert p.shape == (2,) and p.dtype == torch.float32 and ((p > 0) & (p < 1)).all()
    assert torch.equal(p, 1 - q)
    same = model.prefer(ref, a, a.clone())
    torch.testing.assert_close(same, torch.full((2,), 0.5), rtol=0, atol=1e-6)


def test_canonical_order_is_shared_by_both_orderings():
    ref, a, b = _triplets(n=4)
    swap = canonical_swap(a, b)
    assert torch.equal(canonical_swap(b, a), ~swap)
    assert not canonical_swap(a, a).any()


def test_single_pair_call_names_prefer(model):
    ref, a, _ = _triplets(n=1)
    with pytest.raises(TypeError, match=r"prefer\(ref, a, b\)"):
        model(a, ref)
    assert model.scores_pairs is False


def test_crop_tiling_is_deterministic_and_covering():
    m = prfnet_module.PRFNet.__new__(prfnet_module.PRFNet)  # no network needed for the positions
    m.crop_size, m.n_crops = 384, 9
    # MODELS.md §6.3: 3×3 crops of 384 px with stride 192 on CLIC's 768×768 images
    assert m.crop_positions(768, 768) == [(y, x) for y in (0, 192, 384) for x in (0, 192, 384)]
    assert m.crop_positions(384, 384) == [(0, 0)]  # repeated positions are used once
    for h, w in [(768, 768), (500, 700), (384, 1000), (385, 386)]:
        positions = m.crop_positions(h, w)
        assert positions == m.crop_positions(h, w)
        covered = torch.zeros(h, w, dtype=torch.bool)
        for y, x in positions:
            assert 0 <= y <= h - 384 and 0 <= x <= w - 384
            covered[y : y + 384, x : x + 384] = True
        assert covered.all(), (h, w)


def test_size_and_shape_errors(model):
    ref, a, b = _triplets(n=2)
    with pytest.raises(ImageTooSmallError):
        model.prefer(ref[..., :32, :32], a[..., :32, :32], b[..., :32, :32])
    with pytest.raises(ValueError, match="triplet 0"):
        model.prefer([ref[0]], [a[0]], [torch.rand(3, 72, 64)])
    with pytest.raises(ValueError, match="2 references, 1 images A"):
        model.prefer(ref, a[:1], b)
    with pytest.raises(ValueError, match="probability"):
        model.prefer(ref, a, b, scale=1.0)


def test_batch_invariance_and_mixed_sizes(model):
    ref, a, b = _triplets(n=3)
    batched = model.prefer(ref, a, b)
    single = torch.cat([model.prefer(ref[i : i + 1], a[i : i + 1], b[i : i + 1]) for i in range(3)])
    # probabilities near 0.5 from a float32 network: a few ulp of the logits, far below 1e-5
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-5)
    r2, a2, b2 = _triplets(n=1, size=72, seed=1)
    mixed = model.prefer([ref[0], r2[0]], [a[0], a2[0]], [b[0], b2[0]])
    torch.testing.assert_close(mixed, torch.stack([batched[0], model.prefer(r2, a2, b2)[0]]), rtol=0, atol=1e-5)


def test_gradients_reach_every_trainable_part():
    torch.manual_seed(1)
    net = PRFNetwork().train()
    ref, a, b = _triplets(n=2, size=64)
    net(ref, a, b).sum().backward()
    silent = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    # the SE squeeze layers see no gradient while the excitation weights are 0 (near-identity start, MODELS.md §6.2)
    assert silent and all(".se.fc1." in n for n in silent)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if ".se.fc2.weight" in name:
                p.normal_(0, 0.01)
    net.zero_grad()
    net(ref, a, b).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


# ----------------------------------------------------------------------------- weights
def test_pretrained_says_no_weights_exist_and_how_to_train(monkeypatch):
    monkeypatch.setenv("IQAMETRICS_OFFLINE", "1")
    monkeypatch.delenv("IQAMETRICS_WEIGHTS_DIR", raising=False)
    with pytest.raises(WeightsUnavailableError, match="no published weights") as excinfo:
        iqametrics.create("prfnet", **SMALL)
    message = str(excinfo.value)
    assert "--weights" in message and "iqa train prfnet-clic-step1" in message and "prfnet.safetensors" in message


def test_checkpoint_round_trip(model, tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "prfnet.safetensors"
    save_file(model.net.state_dict(), str(path))
    torch.manual_seed(123)  # other random weights, replaced by the checkpoint
    loaded = iqametrics.create("prfnet", weights=str(path), **SMALL)
    ref, a, b = _triplets(n=2)
    assert torch.equal(loaded.prefer(ref, a, b), model.prefer(ref, a, b))
    # IQAMETRICS_WEIGHTS_DIR under the manifest's file name is what pretrained=True reads
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IQAMETRICS_WEIGHTS_DIR", str(tmp_path))
        assert torch.equal(iqametrics.create("prfnet", **SMALL).prefer(ref, a, b), model.prefer(ref, a, b))
    no_se = {k: v for k, v in model.net.state_dict().items() if ".se." not in k}
    save_file(no_se, str(tmp_path / "no_se.safetensors"))
    with pytest.raises(ValueError, match="not recognised"):
        iqametrics.create("prfnet", weights=str(tmp_path / "no_se.safetensors"), **SMALL)


def test_backbone_loader_accepts_a_timm_res2net_state(tmp_path):
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(2)
    timm_state = timm.create_model("res2net50_26w_4s", pretrained=False).state_dict()
    save_file(timm_state, str(tmp_path / "res2net.safetensors"))
    net = PRFNetwork()
    se_before = {k: v.clone() for k, v in net.backbone.state_dict().items() if ".se." in k}
    net.load_backbone(str(tmp_path / "res2net.safetensors"))
    own = net.backbone.state_dict()
    assert all(torch.equal(own[k], v) for k, v in timm_state.items() if not k.startswith("fc."))
    assert all(torch.equal(own[k], v) for k, v in se_before.items())
    save_file({"conv1.weight": timm_state["conv1.weight"]}, str(tmp_path / "partial.safetensors"))
    with pytest.raises(ValueError, match="missing"):
        net.load_backbone(str(tmp_path / "partial.safetensors"))


# ----------------------------------------------------------------------------- user-facing labels and CLI
def test_labelled_a_reconstruction_everywhere():
    info = iqametrics.get_info("prfnet")
    assert info.description.startswith("RECONSTRUCTION") and "reconstruction" in info.notes
    assert "RECONSTRUCTED" in prfnet_module.__doc__ and "reconstruction" in prfnet_module.PRFNet.__doc__
    result = CliRunner().invoke(cli.main, ["info", "prfnet"])
    assert result.exit_code == 0 and "RECONSTRUCTION" in result.output and "no weights" in result.output.lower()


@pytest.mark.slow
def test_cli_prefer_with_a_trained_checkpoint(model, tmp_path):
    from safetensors.torch import save_file

    ckpt = tmp_path / "prfnet.safetensors"
    save_file(model.net.state_dict(), str(ckpt))
    ref, a, b = _triplets(n=1)
    paths = []
    for name, t in (("ref", ref), ("a", a), ("b", b)):
        Image.fromarray((t[0].permute(1, 2, 0) * 255).round().byte().numpy()).save(tmp_path / f"{name}.png")
        paths.append(str(tmp_path / f"{name}.png"))
    options = ["--option", "crop_size=64", "--option", "n_crops=4"]
    runner = CliRunner()
    result = runner.invoke(cli.main, ["prefer", "-m", "prfnet", "--weights", str(ckpt), "--format", "jsonl", *options, *paths])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)
    loaded = [iqametrics.load_image(p)[None] for p in paths]
    assert row["p_a"] == pytest.approx(model.prefer(*loaded).item(), abs=1e-6)
    assert row["T"] == (0 if row["p_a"] >= 0.5 else 1)
    compared = runner.invoke(cli.main, ["compare", "-m", "prfnet", "--weights", str(ckpt), *options, *paths[:2]])
    assert compared.exit_code == 2 and "iqa prefer" in compared.output
    untrained = runner.invoke(cli.main, ["prefer", "-m", "prfnet", *options, *paths], env={"IQAMETRICS_OFFLINE": "1"})
    assert untrained.exit_code == 1 and "no published weights" in untrained.output


# ----------------------------------------------------------------------------- real photos
def _box_blur(x, k):
    return F.avg_pool2d(x, k, stride=1, padding=k // 2, count_include_pad=False)


@pytest.mark.slow
def test_real_photos_in_batches(clive_paths):
    """Seeded weights on LIVE Challenge photos: A slightly and B strongly blurred (the last triplet
    swapped); the probabilities are well formed, antisymmetric and independent of the batch."""
    photos = [iqametrics.load_image(p)[None] for p in clive_paths[:3]]
    ref = torch.cat([F.interpolate(x, size=(128, 128), mode="bilinear", antialias=True, align_corners=False)
                     for x in photos]).clamp(0, 1)
    a, b = _box_blur(ref, 3), _box_blur(ref, 9)
    a[-1], b[-1] = b[-1].clone(), a[-1].clone()
    m = _prfnet(seed=7, crop_size=96)
    assert len(m.crop_positions(128, 128)) == 4
    p = m.prefer(ref, a, b)
    assert ((p > 0) & (p < 1)).all()
    assert torch.equal(p, 1 - m.prefer(ref, b, a))
    single = torch.cat([m.prefer(ref[i : i + 1], a[i : i + 1], b[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(p, single, rtol=0, atol=1e-5)


# ----------------------------------------------------------------------------- losses of the two steps
def test_two_step_losses():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5], [-3.0, 1.0]], requires_grad=True)
    p_a = torch.tensor([1.0, 0.0, 0.0])
    # hard labels: the usual cross-entropy with class T = 1 − p_a (class 0: A is closer)
    torch.testing.assert_close(two_afc_classification_loss(logits, p_a), F.cross_entropy(logits, (1 - p_a).long()))
    soft = torch.tensor([0.25, 0.5, 1.0])
    log_p = F.log_softmax(logits, 1)
    expected = -(soft * log_p[:, 0] + (1 - soft) * log_p[:, 1]).mean()
    torch.testing.assert_close(two_afc_classification_loss(logits, soft), expected)
    z = torch.tensor([0.0, 2.0, -1.0], requires_grad=True)
    torch.testing.assert_close(two_afc_regression_loss(z[:, None], soft), F.mse_loss(torch.sigmoid(z), soft))
    two_afc_regression_loss(z, soft).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        two_afc_classification_loss(z, soft)
    with pytest.raises(ValueError, match="probabilities"):
        two_afc_regression_loss(z, torch.tensor([0.0, 1.5, 0.0]))
    with pytest.raises(ValueError, match="targets"):
        two_afc_regression_loss(z, soft[:2])
