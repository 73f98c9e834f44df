"""VTAMIQ: architecture, positions, determinism, checkpoint conversion (its patch sampling:
test_patch_sampling.py).

Random weights make VTAMIQ's scores meaningless, so these tests check the mechanics: parameter
counts against the paper, the sampling distribution, the positional lookup at the borders, that
reference and distorted image use the same patches, determinism across calls and batches, and the
converter on a synthetic state dict with the authors' names and shapes.
"""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import iqametrics
from iqametrics.convert import get_converter
from iqametrics.convert.vtamiq import ours_to_upstream, upstream_to_ours
from iqametrics.models.vtamiq import KADIS_CONFIG, PAPER_CONFIG, VTAMIQ
from iqametrics.nn.patch_sampling import CAPSampler, PatchSample

from .test_patch_sampling import _pair

from .tolerances import DEEP_RTOL, assert_scores_close

# ---------------------------------------------------------------------------------------- helpers


SMALL = dict(depth=1, diffnet_groups=1, diffnet_blocks=1)


def _small(**options) -> VTAMIQ:
    """One transformer block, one RCAB, few patches: the mechanics of the full model at a fraction of the cost."""
    torch.manual_seed(0)
    m = VTAMIQ(**{**PAPER_CONFIG, **SMALL, "n_patches": 32, **options})
    return m.eval().requires_grad_(False)


@pytest.fixture(scope="module")
def small_paper():
    return _small()


@pytest.fixture(scope="module")
def small_kadis():
    return _small(**{**KADIS_CONFIG, "n_patches": 40})


def _photo(path, size=(96, 128)):
    x = iqametrics.load_image(path)[None]
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


# ---------------------------------------------------------------------------------------- architecture


@pytest.mark.slow
def test_parameter_counts_match_the_paper():
    # paper §4.4: "57.3M parameters (43.6M from ViT)"; exact split from the authors' code (MODELS.md §5.2)
    paper = iqametrics.create("vtamiq.paper", pretrained=False)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(paper) == 57_306_274
    assert count(paper.vit) == 43_563_264
    assert count(paper.diffnet) == 13_595_168
    assert count(paper.head) == 147_842
    kadis = iqametrics.create("vtamiq", pretrained=False)
    # the 2022 checkpoint adds one scale embedding per pyramid level plus one for [CLS]: 6 × 768
    assert count(kadis) == 57_306_274 + 6 * 768
    assert len(paper.vit.blocks) == 6


def test_info_orientation_and_variants():
    from iqametrics.weights import WeightsUnavailableError

    # the bare name is the best weights a user can get: the authors' published checkpoint (2022 code)
    kadis = iqametrics.get_info("vtamiq")
    assert kadis.kind == "FR" and kadis.higher_is_better is False and kadis.weights == ("vtamiq.kadis",)
    assert iqametrics.get_info("vtamiq.kadis") is kadis
    info = iqametrics.get_info("vtamiq.paper")  # the paper's configuration, named for what it is
    assert info.higher_is_better is False and info.weights == ("vtamiq.paper",) and info.aliases == ()
    with pytest.raises(WeightsUnavailableError, match="no published weights.*iqa train vtamiq-kadis"):
        iqametrics.create("vtamiq.paper")


def test_import_is_cheap_and_pretrained_false_never_downloads(monkeypatch):
    code = "import iqametrics, iqametrics.models.vtamiq, iqametrics.nn.patch_sampling, sys; print('timm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

    import iqametrics.weights as weights

    def refuse(*args, **kwargs):
        raise AssertionError("pretrained=False must not fetch anything")

    monkeypatch.setattr(weights.fetching, "fetch", refuse)  # what load_state calls
    monkeypatch.setattr("huggingface_hub.hf_hub_download", refuse)
    m = iqametrics.create("vtamiq.paper", pretrained=False, n_patches=16, **SMALL)
    ref, dist = _pair()
    assert torch.isfinite(m(dist, ref)).all()


def test_invalid_options_are_refused():
    with pytest.raises(ValueError, match="legacy_pos_index"):
        VTAMIQ(position="center", legacy_pos_index=True, **SMALL)
    with pytest.raises(ValueError, match="mode"):
        CAPSampler(16, mode="halton")
    with pytest.raises(ValueError, match="weights"):
        CAPSampler(16, center_weight=0, diff_weight=0, uniform_weight=0)
    with pytest.raises(ValueError, match="n_patches"):
        CAPSampler(0)


# ---------------------------------------------------------------------------------------- positions


def test_corner_positions_at_the_borders_and_the_paper_era_quirk(small_paper):
    h = 16 + 384  # u = i / 384: every 16th corner is an exact cell boundary
    rows = torch.arange(h - 15)
    sample = PatchSample(torch.stack([rows, torch.zeros_like(rows)], 1), torch.zeros_like(rows), ((h, 16),))
    idx = small_paper.position_index(sample)
    row = (idx - 1) // 24
    assert idx[0] == 1 and row[-1] == 23  # first and last corner: first and last cell, +1 offset
    assert (row.diff() >= 0).all() and set(row.tolist()) == set(range(24))
    exact = rows % 16 == 0
    expected = torch.div(rows * 24, 384, rounding_mode="floor")
    assert torch.equal(row[~exact], expected[~exact])
    # c67f036 divides by 2 + 1e-6: a corner on a cell boundary falls in the cell before
    assert torch.equal(row[exact][1:], expected[exact][1:] - 1)
    # an image one patch wide has a single column: u = 0, no division by zero
    assert ((idx - 1) % 24 == 0).all()


def test_legacy_and_center_positions():
    legacy = _small(legacy_pos_index=True)
    sample = PatchSample(torch.tensor([[0, 0], [64, 64]]), torch.zeros(2, dtype=torch.long), ((80, 80),))
    assert legacy.position_index(sample).tolist() == [0, 23 * 24 + 23]  # rows 0…575, no offset
    center = _small(position="center")
    # 2022 code: u = (i + 8) / (H − 8) clipped below 1; 80 px: (0 + 8) / 72 -> cell 2, (36 + 8) / 72 -> 14,
    # (64 + 8) / 72 = 1 -> clipped -> 23
    sample = PatchSample(torch.tensor([[0, 0], [64, 64], [36, 0]]), torch.zeros(3, dtype=torch.long), ((80, 80),))
    assert center.position_index(sample).tolist() == [2 * 24 + 2 + 1, 23 * 24 + 23 + 1, 14 * 24 + 2 + 1]


def test_scale_embeddings_follow_the_pyramid_level(small_kadis):
    ref, dist = _pair(64, 80)
    ref_p, dist_p, position, scale = small_kadis.sample_patches(ref, dist)
    assert scale.max() == 2 and scale.min() == 0
    # [CLS] gets rows 0 of both tables, patches row level + 1 of the scale table
    m = small_kadis
    with torch.no_grad():
        m.scale_embed.copy_(torch.arange(6.0).view(1, 6, 1).expand_as(m.scale_embed))
        base = m.encode(ref_p, position, torch.zeros_like(scale))
        other = m.encode(ref_p, position, scale)
        m.scale_embed.zero_()
    assert not torch.allclose(base, other)
    with pytest.raises(ValueError, match="scale"):
        m.encode(ref_p, position, None)


# ---------------------------------------------------------------------------------------- metric mechanics


def test_reference_and_distorted_patches_share_their_corners(small_paper):
    ref, dist = _pair()
    ref_p, (dist_p,), _, _ = small_paper.sample_patches(ref, dist)
    corners = small_paper.sampler.sample(ref, dist)[0].corners
    norm = lambda x: (x - small_paper._mean) / small_paper._std  # noqa: E731
    for n, (i, j) in enumerate(corners.tolist()):
        assert torch.equal(ref_p[0, n], norm(ref)[0, :, i : i + 16, j : j + 16])
        assert torch.equal(dist_p[0, n], norm(dist)[0, :, i : i + 16, j : j + 16])


def test_identical_pairs_cancel(small_paper, small_kadis):
    # f_ref − f_dist = 0 whatever the image: every identical pair gets the head's score of a zero
    # difference. Not bit for bit: a matrix kernel may round two equal rows of one batch differently
    # (3.7e-9 apart on an AMD EPYC)
    for m in (small_paper, small_kadis):
        a, dist_a = _pair(48, 64, seed=0)
        b, _ = _pair(48, 64, seed=1)
        scores = m(torch.cat([a, b]), torch.cat([a, b]))
        with torch.inference_mode():
            of_zero = m.head(m.diffnet(torch.zeros(1, m.vit.embed_dim))).squeeze(1)
        assert_scores_close(scores, of_zero.expand(2))
        # a distorted pair is scored by its difference, far beyond that rounding
        assert (m(dist_a, a) - scores[0]).abs() > 100 * DEEP_RTOL * scores.abs().max()


def test_scores_do_not_depend_on_the_batch_or_repeated_calls(small_paper, small_kadis):
    pairs = [_pair(48, 64, seed=s) for s in range(3)]
    for m in (small_paper, small_kadis):
        single = torch.cat([m(d, r) for r, d in pairs])
        batch = m(torch.cat([d for _, d in pairs]), torch.cat([r for r, _ in pairs]))
        again = m(torch.cat([d for _, d in pairs]), torch.cat([r for r, _ in pairs]))
        reordered = m(torch.cat([d for _, d in pairs[::-1]]), torch.cat([r for r, _ in pairs[::-1]])).flip(0)
        # the same patches by construction; matrix kernels round a batch of 1 and of 3, or another
        # row order, differently
        assert_scores_close(batch, single)
        assert torch.equal(batch, again)  # the same call on the same input
        assert_scores_close(reordered, batch)


def test_mixed_sizes_in_one_batch(small_paper):
    pairs = [_pair(48, 64, seed=0), _pair(40, 72, seed=1), _pair(48, 64, seed=2)]
    scores = small_paper([d[0] for _, d in pairs], [r[0] for r, _ in pairs])
    single = torch.cat([small_paper(d, r) for r, d in pairs])
    assert_scores_close(scores, single)  # grouped by size, then rounded as another batch shape
    with pytest.raises(ValueError, match="same size"):
        small_paper(pairs[0][1], pairs[1][0])


def test_repeats_and_seed_options():
    ref, dist = _pair()
    one = _small(n_patches=16)
    two = _small(n_patches=16, n_repeats=2)
    other = _small(n_patches=16, seed=5)
    s1, s2, s3 = one(dist, ref), two(dist, ref), other(dist, ref)
    assert not torch.equal(s1, s2) and not torch.equal(s1, s3)
    assert torch.equal(s2, two(dist, ref))
    # n_repeats = 2 is the mean of the scores of repeats 0 and 1, each sampled on its own (batch of 2)
    (ref_b, dist_b) = _pair(seed=1)
    ref, dist = torch.cat([ref, ref_b]), torch.cat([dist, dist_b])
    s2 = two(dist, ref)
    with torch.inference_mode():
        per_repeat = []
        for k in range(2):
            r, (d,), position, scale = two.sample_patches(ref, dist, repeat=k)
            per_repeat.append(two.forward_patches(r, d, position, scale if two.scale_embed is not None else None))
    assert_scores_close(s2, torch.stack(per_repeat).mean(0))  # one pass of R·B rows against R passes of B
    with pytest.raises(ValueError, match="n_repeats"):
        _small(n_repeats=0)


def test_difference_and_head_stay_fp32_under_autocast(small_paper):
    ref, dist = _pair()
    ref_p, (dist_p,), pos, _ = small_paper.sample_patches(ref, dist)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        q = small_paper.forward_patches(ref_p, dist_p, pos)
    assert q.dtype == torch.float32
    assert small_paper.supports_amp


def test_training_path_has_gradients():
    m = _small().train().requires_grad_(True)
    ref, dist = _pair()
    g = torch.Generator().manual_seed(0)
    ref_p, (dist_p,), pos, _ = m.sample_patches(ref, dist, generator=g)
    q = m.forward_patches(ref_p, dist_p, pos)
    q.sum().backward()
    grads = [p.grad for p in m.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(gr).all() for gr in grads)
    assert m.vit.pos_embed.grad.abs().sum() > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_and_gpu_sample_the_same_patches_and_agree(small_kadis):
    ref, dist = _pair(64, 80)
    maps_cpu, seed_cpu = small_kadis.sampler.difference_maps(ref, [dist])
    maps_gpu, seed_gpu = small_kadis.sampler.difference_maps(ref.cuda(), [dist.cuda()])
    assert torch.equal(seed_cpu, seed_gpu) and all(torch.equal(a, b) for a, b in zip(maps_cpu, maps_gpu))
    gpu = _small(**{**KADIS_CONFIG, "n_patches": 40}).cuda()
    assert_scores_close(gpu(dist.cuda(), ref.cuda()).cpu(), small_kadis(dist, ref))  # other kernels: rounding only


@pytest.mark.needs_data
def test_real_photos_sampling_follows_the_distortion(pristine_paths, small_paper):
    ref = _photo(pristine_paths[0])
    dist = ref.clone()
    left = ref[..., :, :64]
    dist[..., :, :64] = F.avg_pool2d(F.pad(left, (2, 2, 2, 2), mode="replicate"), 5, stride=1)  # blur the left half
    s = CAPSampler(2048, center_weight=0, uniform_weight=0.25, diff_weight=5)
    corners = s.sample(ref, dist)[0].corners
    share_left = ((corners[:, 1] + 8) < 64).float().mean()
    uniform = CAPSampler(2048, center_weight=0, diff_weight=0).sample(ref, dist)[0].corners
    assert share_left > 0.75 and abs(((uniform[:, 1] + 8) < 64).float().mean() - 64 / 128) < 0.1
    # the metric runs on real photos, deterministically
    scores = small_paper(torch.cat([dist, ref]), torch.cat([ref, ref]))
    assert torch.isfinite(scores).all()
    assert torch.equal(scores, small_paper(torch.cat([dist, ref]), torch.cat([ref, ref])))


# ---------------------------------------------------------------------------------------- checkpoints


def _upstream_state(layers=1, groups=4, rcabs=4, scales=True, width=768, seed=0):
    """Names and shapes of the authors' 2022 model (modules/vtamiq/vtamiq.py, ViT/transformer.py, RCAN)."""
    g = torch.Generator().manual_seed(seed)
    shapes = {
        "transformer.embeddings.patch_embeddings.weight": (width, 3, 16, 16),
        "transformer.embeddings.patch_embeddings.bias": (width,),
        "transformer.embeddings.cls_token": (1, 1, width),
        "transformer.embeddings.positional_embeddings.positional_embeddings": (1, 577, width),
        "transformer.encoder.encoder_norm.weight": (width,),
        "transformer.encoder.encoder_norm.bias": (width,),
    }
    if scales:
        shapes["transformer.embeddings.scale_embeddings.scale_embeddings"] = (1, 6, width)
    for k in range(layers):
        p = f"transformer.encoder.layer.{k}."
        for norm in ("attention_norm", "ffn_norm"):
            shapes[p + norm + ".weight"] = shapes[p + norm + ".bias"] = (width,)
        for lin in ("query", "key", "value", "out"):
            shapes[p + f"attn.{lin}.weight"] = (width, width)
            shapes[p + f"attn.{lin}.bias"] = (width,)
        shapes[p + "ffn.fc1.weight"], shapes[p + "ffn.fc1.bias"] = (4 * width, width), (4 * width,)
        shapes[p + "ffn.fc2.weight"], shapes[p + "ffn.fc2.bias"] = (width, 4 * width), (width,)
    r = width // 16
    for gi in range(groups):
        for ri in range(rcabs):
            p = f"diff_net.{gi}.body.{ri}.body."
            shapes[p + "1.weight"] = (1,)  # PReLU
            shapes[p + "2.weight"], shapes[p + "2.bias"] = (width, width, 1, 1), (width,)
            shapes[p + "4.conv_du.0.weight"], shapes[p + "4.conv_du.0.bias"] = (r, width, 1, 1), (r,)
            shapes[p + "4.conv_du.1.weight"] = (1,)
            shapes[p + "4.conv_du.2.weight"], shapes[p + "4.conv_du.2.bias"] = (width, r, 1, 1), (width,)
        shapes[f"diff_net.{gi}.body.{rcabs}.weight"] = (width, width, 1, 1)
        shapes[f"diff_net.{gi}.body.{rcabs}.bias"] = (width,)
    shapes[f"diff_net.{groups}.weight"], shapes[f"diff_net.{groups}.bias"] = (width, width, 1, 1), (width,)
    shapes["q_predictor.1.weight"], shapes["q_predictor.1.bias"] = (width // 4, width), (width // 4,)
    shapes["q_predictor.2.weight"] = (1,)
    shapes["q_predictor.4.weight"], shapes["q_predictor.4.bias"] = (1, width // 4), (1,)
    return {k: torch.randn(s, generator=g) for k, s in shapes.items()}


def test_converter_maps_every_upstream_tensor():
    torch.manual_seed(0)
    model = VTAMIQ(**KADIS_CONFIG, depth=1, diffnet_groups=2, diffnet_blocks=3)
    up = _upstream_state(groups=2, rcabs=3)
    ours = upstream_to_ours(up)
    own = model.state_dict()
    assert set(ours) == set(own)
    for k, v in ours.items():
        assert v.shape == own[k].shape, k
    assert sum(v.numel() for v in ours.values()) == sum(v.numel() for v in up.values())
    layer = "transformer.encoder.layer.0."
    for kind in ("weight", "bias"):
        qkv = torch.cat([up[layer + f"attn.{n}.{kind}"] for n in ("query", "key", "value")])
        assert torch.equal(ours[f"vit.blocks.0.attn.qkv.{kind}"], qkv)
    assert torch.equal(ours["vit.blocks.0.attn.proj.weight"], up[layer + "attn.out.weight"])
    assert torch.equal(ours["vit.blocks.0.norm1.weight"], up[layer + "attention_norm.weight"])
    assert torch.equal(ours["vit.blocks.0.mlp.fc2.bias"], up[layer + "ffn.fc2.bias"])
    assert torch.equal(ours["vit.pos_embed"], up["transformer.embeddings.positional_embeddings.positional_embeddings"])
    assert torch.equal(ours["scale_embed"], up["transformer.embeddings.scale_embeddings.scale_embeddings"])
    assert torch.equal(ours["vit.norm.bias"], up["transformer.encoder.encoder_norm.bias"])
    assert torch.equal(ours["diffnet.1.blocks.2.body.1.weight"], up["diff_net.1.body.2.body.2.weight"][:, :, 0, 0])
    assert torch.equal(ours["diffnet.1.blocks.2.body.0.weight"], up["diff_net.1.body.2.body.1.weight"])
    down = up["diff_net.1.body.0.body.4.conv_du.0.weight"]
    assert down.shape == (48, 768, 1, 1) and torch.equal(ours["diffnet.1.blocks.0.attention.down.weight"], down[:, :, 0, 0])
    assert torch.equal(ours["diffnet.1.blocks.0.attention.act.weight"], up["diff_net.1.body.0.body.4.conv_du.1.weight"])
    assert torch.equal(ours["diffnet.1.blocks.0.attention.up.bias"], up["diff_net.1.body.0.body.4.conv_du.2.bias"])
    assert torch.equal(ours["diffnet.1.tail.weight"], up["diff_net.1.body.3.weight"][:, :, 0, 0])
    assert torch.equal(ours["diffnet.2.bias"], up["diff_net.2.bias"])
    assert torch.equal(ours["head.2.weight"], up["q_predictor.2.weight"])
    assert torch.equal(ours["head.4.weight"], up["q_predictor.4.weight"])
    # every upstream tensor reappears, and the inverse gives the upstream state back exactly
    back = ours_to_upstream(ours)
    assert set(back) == set(up) and all(torch.equal(back[k], up[k]) for k in up)
    # wrapped as the authors' training code saves it, or with a DataParallel prefix
    wrapped = {"epoch": 3, "test_accuracy": 0.9, "model_state_dict": {"module." + k: v for k, v in up.items()}}
    conv = get_converter("vtamiq_2022")
    assert conv.detect(wrapped) and not conv.detect(ours)
    assert all(torch.equal(conv.convert(wrapped)[k], ours[k]) for k in ours)
    assert conv.convert(ours).keys() == ours.keys()  # our layout passes through
    model.load_state_dict(ours)  # strict


def test_converter_refuses_unknown_tensors():
    up = _upstream_state(scales=False, groups=1, rcabs=1)
    assert "scale_embed" not in upstream_to_ours(up)  # paper-era checkpoints have no scale embeddings
    up["diff_embedding.body.0.body.1.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match="difference-embedding"):
        upstream_to_ours(up)
    up = _upstream_state(groups=1, rcabs=1)
    del up["transformer.encoder.layer.0.attn.key.bias"]
    with pytest.raises(ValueError, match="incomplete"):
        upstream_to_ours(up)


def _check_weights_dir(monkeypatch, tmp_path, state, **options):
    from iqametrics.weights import get_entry

    torch.save(state, tmp_path / get_entry("vtamiq.kadis").filename)
    monkeypatch.setenv("IQAMETRICS_WEIGHTS_DIR", str(tmp_path))
    return iqametrics.create("vtamiq.kadis", **options)


def test_create_loads_the_weights_dir_in_both_layouts(monkeypatch, tmp_path):
    torch.manual_seed(1)
    source = VTAMIQ(**KADIS_CONFIG, **SMALL).state_dict()
    wrapped = {"epoch": 5, "test_accuracy": 0.95, "model_state_dict": ours_to_upstream(source)}
    for state in (source, wrapped):
        m = _check_weights_dir(monkeypatch, tmp_path, state, n_patches=16, **SMALL)
        loaded = m.state_dict()
        assert all(torch.equal(loaded[k], source[k]) for k in source)
        ref, dist = _pair()
        assert torch.isfinite(m(dist, ref)).all()
    # a local file in the authors' layout, any name and format
    from safetensors.torch import save_file

    path = tmp_path / "my_vtamiq.safetensors"
    save_file({k: v.contiguous() for k, v in ours_to_upstream(source).items()}, str(path))
    m = iqametrics.create("vtamiq.kadis", weights=str(path), n_patches=16, **SMALL)
    assert all(torch.equal(m.state_dict()[k], source[k]) for k in source)


@pytest.mark.slow
def test_create_loads_a_full_upstream_checkpoint(monkeypatch, tmp_path):
    up = _upstream_state(layers=6, seed=2)
    saved = {"epoch": 1, "test_accuracy": 0.9, "model_state_dict": up}
    m = _check_weights_dir(monkeypatch, tmp_path, saved, n_patches=64)
    ours = upstream_to_ours(up)
    loaded = m.state_dict()
    assert all(torch.equal(loaded[k], ours[k]) for k in ours)
    ref, dist = _pair()
    assert torch.isfinite(m(dist, ref)).all()


def test_missing_checkpoint_says_how_to_supply_it(monkeypatch, tmp_path):
    from iqametrics.weights import WeightsUnavailableError

    monkeypatch.setenv("IQAMETRICS_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("IQAMETRICS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(WeightsUnavailableError, match="IQAMETRICS_WEIGHTS_DIR"):
        iqametrics.create("vtamiq.kadis", **SMALL)
    with pytest.raises(WeightsUnavailableError, match="vtamiq_paper.pth"):
        iqametrics.create("vtamiq.paper", **SMALL)


def test_backbone_loading_keeps_the_first_blocks(tmp_path):
    import timm
    from safetensors.torch import save_file

    full = timm.create_model("vit_base_patch16_384", pretrained=False, depth=2, num_classes=10)
    path = tmp_path / "vit.safetensors"
    save_file({k: v.contiguous() for k, v in full.state_dict().items()}, str(path))
    m = _small().load_backbone(str(path))
    assert torch.equal(m.vit.blocks[0].attn.qkv.weight, full.blocks[0].attn.qkv.weight)
    assert torch.equal(m.vit.pos_embed, full.pos_embed) and torch.equal(m.vit.norm.weight, full.norm.weight)
    bad = dict(full.state_dict(), extra=torch.zeros(1))
    save_file({k: v.contiguous() for k, v in bad.items()}, str(path))
    with pytest.raises(ValueError, match="unexpected"):
        _small().load_backbone(str(path))
