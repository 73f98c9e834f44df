"""LPIPS and DISTS: agreement with the official packages, properties, weights, calibration.

The ImageNet backbones cannot be downloaded here, so the reference comparisons give the official
``lpips`` / ``DISTS_pytorch`` modules random backbones (built without any download), keep the
real heads, and load the same tensors into ours through ``create(..., weights=FILE)`` (which
exercises our converters).  The calibration against the published scores is in
``test_calibration.py`` (it runs where the backbone weights are available).
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

import iqametrics
from iqametrics.metric import ImageTooSmallError
from iqametrics.weights import WeightsUnavailableError

from .tolerances import assert_scores_close

pytestmark = pytest.mark.filterwarnings("ignore:.*(pretrained|weight enum).*:UserWarning")

NAMES = {"alex": "lpips", "vgg": "lpips.vgg", "squeeze": "lpips.squeeze"}
ALL = ["lpips", "lpips.vgg", "lpips.squeeze", "dists"]
SIZE = (128, 96)  # W, H: small enough for the CPU, large enough for every backbone


# ----------------------------------------------------------------------------- inputs
def _photo(path, size=SIZE):
    from PIL import Image

    img = Image.open(path).convert("RGB")
    w, h = img.size
    side = min(w, h * 4 // 3)
    left, top = (w - side) // 2, (h - side * 3 // 4) // 2
    return img.crop((left, top, left + side, top + side * 3 // 4)).resize(size, Image.BICUBIC)


def _to_tensor(img):
    from iqametrics.io import pil_to_tensor

    return pil_to_tensor(img)


def _jpeg(img, quality):
    from PIL import Image

    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _noisy(x, sigma, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1)


@pytest.fixture(scope="module")
def pairs(pristine_paths):
    """(distorted, reference) batches from real photos: JPEG q=10, blur, Gaussian noise."""
    from PIL import ImageFilter

    refs, dists = [], []
    for i, path in enumerate(pristine_paths[:3]):
        img = _photo(path)
        ref = _to_tensor(img)
        refs += [ref] * 3
        dists += [_to_tensor(_jpeg(img, 10)), _to_tensor(img.filter(ImageFilter.GaussianBlur(2))), _noisy(ref, 0.1, i)]
    return torch.stack(dists), torch.stack(refs)


@pytest.fixture(scope="module")
def small_pair():
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(2, 3, 40, 48, generator=g)
    return _noisy(ref, 0.1), ref


# ----------------------------------------------------------------------------- official modules
def _official_lpips(net):
    lpips = pytest.importorskip("lpips")
    # pnet_rand: the torchvision backbone is built with random weights (no download); the real
    # v0.1 heads are read from the package
    return lpips.LPIPS(net=net, pnet_rand=True, verbose=False).eval()


def _official_dists(monkeypatch):
    dists_pt = pytest.importorskip("DISTS_pytorch.DISTS_pt")
    import torchvision.models as tvm

    build = tvm.vgg16
    monkeypatch.setattr(dists_pt.models, "vgg16", lambda *a, **k: build(weights=None))  # no download
    model = dists_pt.DISTS(load_weights=False).eval()
    weights = torch.load(Path(dists_pt.__file__).parent / "weights.pt", map_location="cpu", weights_only=True)
    model.alpha.data, model.beta.data = weights["alpha"], weights["beta"]
    return model


def _ours_from(module, name, tmp_path):
    path = tmp_path / "upstream.pth"
    torch.save(module.state_dict(), path)
    return iqametrics.create(name, pretrained=False, weights=str(path))


# ----------------------------------------------------------------------------- reference comparisons
@pytest.mark.slow
@pytest.mark.parametrize("net", ["alex", "vgg", "squeeze"])
def test_lpips_matches_official(net, pairs, tmp_path):
    """Same backbone (random) and heads (the real v0.1 ones) as lpips.LPIPS.  In float32 the
    scores agree to 1e-5 relative (observed: about 1e-6; our channel weighting comes after the
    spatial mean, the package's before, so sums are rounded in another order); in float64 to
    1e-12, which shows that the computation is the same one.  Random backbones give small
    distances (about 0.003-0.03), hence the relative tolerance."""
    dist, ref = pairs
    theirs = _official_lpips(net)
    ours = _ours_from(theirs, NAMES[net], tmp_path)
    with torch.no_grad():
        want = theirs(dist, ref, normalize=True).flatten()
    got = ours(dist, ref)
    assert want.min() > 1e-3  # the distortions are visible even to a random backbone
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-9)
    theirs.double()
    ours.double()
    with torch.no_grad():
        want64 = theirs(dist.double(), ref.double(), normalize=True).flatten()
        got64 = ours._score(dist.double(), ref.double())
    torch.testing.assert_close(got64, want64, rtol=0, atol=1e-12)


@pytest.mark.slow
def test_dists_matches_official(pairs, tmp_path, monkeypatch):
    """Same random VGG16 and real alpha/beta as DISTS_pytorch.  In float32 the scores agree to
    1e-5 relative (we sum Σ α(1-t) + β(1-s) with 1-s from var(x-y) instead of 1 - Σ(αt + βs):
    the same quantity rounded differently) or 2e-7 absolute, the official float32 error itself
    (it scores identical images -1.2e-7: cancellation in 1 - Σ(αt + βs)); in float64 to 1e-12."""
    dist, ref = pairs
    theirs = _official_dists(monkeypatch)
    check_against_official_dists(theirs, _ours_from(theirs, "dists", tmp_path), dist, ref)


def check_against_official_dists(theirs, ours, dist, ref) -> None:
    """``ours(dist, ref)`` equals ``DISTS_pytorch`` ``theirs(ref, dist)`` to 1e-5 relative or 2e-7
    absolute in float32 and to 1e-12 in float64 (both modules are left in float64).  Shared with
    TFIQA, whose CNN stages are DISTS's."""
    with torch.no_grad():
        want = theirs(ref, dist)
    got = ours(dist, ref)
    assert want.min() > 1e-3
    torch.testing.assert_close(got, want, rtol=1e-5, atol=2e-7)
    theirs.double()
    ours.double()
    with torch.no_grad():
        want64 = theirs(ref.double(), dist.double())
        got64 = ours._score(dist.double(), ref.double())
    torch.testing.assert_close(got64, want64, rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- properties
@pytest.mark.parametrize("name", ALL)
def test_identical_images_score_zero(name, small_pair):
    """Equal feature maps give exactly 0 (tests/test_backbones.py). Both images run through the
    backbone as one batch, which a kernel may round differently row by row: the distance is then a
    square of float32 rounding (~1e-14), far below any real difference (> 1e-3 here)."""
    _, ref = small_pair
    m = iqametrics.create(name, pretrained=False)
    same = m(ref, ref.clone())
    assert (same >= 0).all() and (same <= 1e-10).all(), same


@pytest.mark.parametrize("name", ALL)
def test_symmetric_nonnegative_and_batch_invariant(name, small_pair):
    """Both distances are symmetric in their arguments; a pair scores the same alone or in a
    batch. Up to float32 rounding: the convolutions may block a batch, or another order of the
    images in it, differently; the features carry ~1e-7 relative rounding, which a distance between
    close features amplifies by |f| / |f1 - f2|, hence 1e-5 of the scores."""
    dist, ref = small_pair
    m = iqametrics.create(name, pretrained=False)
    scores = m(dist, ref)
    assert scores.shape == (2,) and scores.dtype == torch.float32 and (scores > 0).all()
    assert_scores_close(m(ref, dist), scores)
    alone = torch.cat([m(dist[i : i + 1], ref[i : i + 1]) for i in range(len(dist))])
    assert_scores_close(alone, scores)
    lists = m(list(dist), list(ref))  # the list path scores the same
    assert_scores_close(lists, scores)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lpips", "dists"])
def test_grows_with_noise_on_photos(name, pristine_paths):
    """With random backbones only the pipeline, not the calibration, is tested: more Gaussian
    noise must still move the features further."""
    ref = torch.stack([_to_tensor(_photo(p)) for p in pristine_paths[:2]])
    m = iqametrics.create(name, pretrained=False)
    scores = torch.stack([m(_noisy(ref, s), ref) for s in (0.02, 0.06, 0.15)])
    assert (scores[1:] > scores[:-1]).all(), scores


@pytest.mark.parametrize("name", ALL)
def test_as_loss_gradients(name, small_pair):
    dist, ref = small_pair
    m = iqametrics.create(name, pretrained=False, as_loss=True)
    x = dist.clone().requires_grad_(True)
    loss = m(x, ref).mean()
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in m.parameters())  # weights stay frozen


def test_as_loss_drives_towards_reference(small_pair):
    """A few gradient steps on the distorted image lower LPIPS (the use as a loss)."""
    dist, ref = small_pair
    m = iqametrics.create("lpips", pretrained=False, as_loss=True)
    x = dist.clone().requires_grad_(True)
    opt = torch.optim.SGD([x], lr=0.05)
    first = None
    for _ in range(5):
        opt.zero_grad()
        loss = m(x.clamp(0, 1), ref).sum()
        first = float(loss.detach()) if first is None else first
        loss.backward()
        opt.step()
    assert float(m(x.detach().clamp(0, 1), ref).sum()) < first


def test_channels_last_is_only_a_layout(small_pair):
    dist, ref = small_pair
    a = iqametrics.create("dists", pretrained=False)
    b = iqametrics.create("dists", pretrained=False, channels_last=False)
    b.load_state_dict(a.state_dict())
    assert_scores_close(a(dist, ref), b(dist, ref))  # other convolution kernels: float32 rounding only


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("name,smallest", [("lpips", 31), ("lpips.vgg", 16), ("lpips.squeeze", 17)])
def test_smallest_image(name, smallest):
    m = iqametrics.create(name, pretrained=False)
    x = torch.rand(1, 3, smallest, smallest)
    assert m(x, x).shape == (1,)
    y = torch.rand(1, 3, smallest - 1, smallest)
    with pytest.raises(ImageTooSmallError, match="too small"):
        m(y, y)


@pytest.mark.parametrize("name", ["lpips", "dists"])
def test_input_validation(name):
    m = iqametrics.create(name, pretrained=False)
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="same size"):
        m(x, torch.rand(1, 3, 32, 40))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        m(x * 255, x)
    with pytest.raises(TypeError, match="full-reference"):
        m(x)
    with pytest.raises(ValueError, match="2 distorted images but 1"):
        m(torch.rand(2, 3, 32, 32), x)


def test_unknown_lpips_net():
    from iqametrics.models.lpips import LPIPS

    with pytest.raises(ValueError, match="net must be one of"):
        LPIPS(net="resnet")


def test_registry_entries():
    for name in ALL:
        info = iqametrics.get_info(name)
        assert info.kind == "FR" and not info.higher_is_better and info.differentiable
        assert any(w.startswith("backbone.") for w in info.weights)
    assert iqametrics.get_info("lpips.alex").name == "lpips"


# ----------------------------------------------------------------------------- weights
def test_bundled_heads_are_the_official_ones():
    """The shipped heads (checksummed by the manifest) equal the files of the pip packages."""
    from iqametrics.weights import fetch, get_entry

    lpips = pytest.importorskip("lpips")
    for net in ("alex", "vgg", "squeeze"):
        m = iqametrics.create(NAMES[net], pretrained=False)
        upstream = torch.load(
            Path(lpips.__file__).parent / "weights" / "v0.1" / f"{net}.pth", map_location="cpu", weights_only=True
        )
        for k, lin in enumerate(m.lins):
            assert torch.equal(lin.weight, upstream[f"lin{k}.model.1.weight"])
        assert fetch(get_entry(f"lpips.{net}")).is_file()
    dists_pt = pytest.importorskip("DISTS_pytorch")
    upstream = torch.load(Path(dists_pt.__file__).parent / "weights.pt", map_location="cpu", weights_only=True)
    m = iqametrics.create("dists", pretrained=False)
    assert torch.equal(m.alpha, upstream["alpha"].flatten()) and torch.equal(m.beta, upstream["beta"].flatten())


@pytest.mark.parametrize("name", ALL)
def test_pretrained_offline_fails_cleanly(name, monkeypatch, tmp_path):
    monkeypatch.setenv("IQAMETRICS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("IQAMETRICS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("IQAMETRICS_WEIGHTS_DIR", raising=False)
    with pytest.raises(WeightsUnavailableError, match=r"backbone\..*offline mode is on.*IQAMETRICS_WEIGHTS_DIR"):
        iqametrics.create(name)


def test_weights_file_in_our_layout_round_trips(small_pair, tmp_path):
    from safetensors.torch import save_file

    dist, ref = small_pair
    a = iqametrics.create("lpips.squeeze", pretrained=False)
    path = tmp_path / "ours.safetensors"
    save_file(a.state_dict(), str(path))  # channels-last weights are saved in the ordinary layout
    b = iqametrics.create("lpips.squeeze", pretrained=False, weights=str(path))
    assert torch.equal(a(dist, ref), b(dist, ref))


def test_torchvision_backbone_file_keeps_the_shipped_head(tmp_path):
    """A torchvision ImageNet checkpoint (here random) replaces the backbone only."""
    import torchvision.models as tvm

    upstream = tvm.squeezenet1_1(weights=None).state_dict()
    path = tmp_path / "squeezenet1_1-b8a52dc0.pth"
    torch.save(upstream, path)
    shipped = iqametrics.create("lpips.squeeze", pretrained=False)
    m = iqametrics.create("lpips.squeeze", pretrained=False, weights=str(path))
    for key, value in m.state_dict().items():
        want = upstream[key[len("backbone."):]] if key.startswith("backbone.") else shipped.state_dict()[key]
        assert torch.equal(value, want), key


def test_incomplete_checkpoint_is_refused(tmp_path):
    from safetensors.torch import save_file

    m = iqametrics.create("lpips", pretrained=False)
    state = {k: v for k, v in m.state_dict().items() if k != "backbone.features.10.bias"}
    path = tmp_path / "partial.safetensors"
    save_file(state, str(path))
    with pytest.raises(ValueError):
        iqametrics.create("lpips", pretrained=False, weights=str(path))


@pytest.mark.slow
def test_pretrained_from_weights_dir(monkeypatch, tmp_path, small_pair):
    """pretrained=True with the backbone in IQAMETRICS_WEIGHTS_DIR under its manifest name, in
    timm's layout (features only here: the classifier is dropped anyway)."""
    from safetensors.torch import save_file

    reference = iqametrics.create("dists", pretrained=False)
    features = {
        k[len("backbone."):]: v for k, v in reference.state_dict().items() if k.startswith("backbone.")
    }
    save_file(features, str(tmp_path / "vgg16.tv_in1k.safetensors"))
    monkeypatch.setenv("IQAMETRICS_WEIGHTS_DIR", str(tmp_path))
    m = iqametrics.create("dists")
    dist, ref = small_pair
    assert torch.equal(m(dist, ref), reference(dist, ref))
