"""Classic full-reference metrics: PSNR, SSIM, MS-SSIM, GMSD, FSIM/FSIMc, VSI (models/classic_fr.py).

Properties on real photos (identity, monotonicity under blur/noise/JPEG, batch invariance,
dtype, gradients) and comparisons with permissively licensed implementations (scikit-image,
piq, torchmetrics), each with its tolerance and the reason for it.  The agreement with the
official MATLAB scores is in test_calibration.py.
"""
from __future__ import annotations

import io
import math

import pytest
import torch

import iqametrics
from iqametrics.functional import fsim, gmsd, ms_ssim, psnr, ssim, vsi
from iqametrics.functional.filters import gaussian_kernel1d, separable_filter2d
from iqametrics.functional.resize import imresize
from iqametrics.metric import ImageTooSmallError

FR_METRICS = ["psnr", "ssim", "ms_ssim", "gmsd", "fsim", "fsimc", "vsi"]
SIZE = (192, 256)  # small, but large enough for MS-SSIM's five scales (>= 176)


def _photo(path) -> torch.Tensor:
    return imresize(iqametrics.load_image(path)[None], size=SIZE).clamp(0, 1)


@pytest.fixture(scope="module")
def photos(pristine_paths, clive_paths):
    """Two real photos, downscaled to SIZE: [2, 3, H, W]."""
    return torch.cat([_photo(pristine_paths[0]), _photo(clive_paths[0])])


def _blur(x, sigma):
    k = gaussian_kernel1d(2 * math.ceil(3 * sigma) + 1, sigma, dtype=x.dtype)
    return separable_filter2d(x, k, padding="symmetric")


def _noise(x, sigma):
    gen = torch.Generator().manual_seed(1)
    return (x + sigma * torch.randn(x.shape, generator=gen, dtype=x.dtype)).clamp(0, 1)


def _pil_to_tensor(img):
    from iqametrics.io import pil_to_tensor

    return pil_to_tensor(img)


def _jpeg(x, quality):
    from PIL import Image

    out = []
    for img in x:
        buf = io.BytesIO()
        arr = (img.permute(1, 2, 0) * 255).round().clamp(0, 255).byte().numpy()
        Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
        out.append(_pil_to_tensor(Image.open(buf)))
    return torch.stack(out)


DISTORTIONS = {  # increasing severity
    "blur": (_blur, [0.5, 1.0, 2.0, 4.0]),
    "noise": (_noise, [0.02, 0.05, 0.1, 0.2]),
    "jpeg": (_jpeg, [90, 50, 20, 5]),
}


def _metric(name, **kw):
    return iqametrics.create(name, pretrained=False, **kw)


# ------------------------------------------------------------------------ properties on photos


@pytest.mark.parametrize("name", FR_METRICS)
def test_identical_images_get_the_best_score(name, photos):
    m = _metric(name)
    s = m(photos, photos)
    best = {"psnr": 100.0, "gmsd": 0.0}.get(name, 1.0)
    torch.testing.assert_close(s, torch.full_like(s, best), rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", list(DISTORTIONS))
@pytest.mark.parametrize("name", FR_METRICS)
def test_scores_worsen_monotonically_with_distortion(name, kind, photos):
    m = _metric(name)
    fn, levels = DISTORTIONS[kind]
    dists = torch.cat([fn(photos, level) for level in levels])  # [levels * photos]
    refs = photos.repeat(len(levels), 1, 1, 1)
    scores = m(dists, refs).view(len(levels), len(photos))
    if not m.info.higher_is_better:
        scores = -scores
    best = m(photos, photos) * (1 if m.info.higher_is_better else -1)
    steps = torch.cat([best[None], scores]).diff(dim=0)
    assert (steps < 0).all(), f"{name} not monotone under {kind}: {scores.T.tolist()}"


@pytest.mark.parametrize("name", FR_METRICS)
def test_batch_scores_equal_one_by_one_scores(name, photos):
    m = _metric(name)
    dists = torch.cat([_noise(photos, 0.05), _blur(photos, 1.0)])
    refs = photos.repeat(2, 1, 1, 1)
    batch = m(dists, refs)
    single = torch.cat([m(d[None], r[None]) for d, r in zip(dists, refs)])
    torch.testing.assert_close(batch, single, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "fn",
    [psnr, ssim, ms_ssim, gmsd, fsim, lambda d, r: fsim(d, r, chromatic=True), vsi],
    ids=["psnr", "ssim", "ms_ssim", "gmsd", "fsim", "fsimc", "vsi"],
)
def test_functions_follow_the_input_dtype(fn, photos):
    dist = _noise(photos, 0.05)
    s32 = fn(dist, photos)
    s64 = fn(dist.double(), photos.double())
    assert s32.dtype == torch.float32 and s64.dtype == torch.float64
    # float32 arithmetic (and its moments about the mean, FFTs) against float64
    torch.testing.assert_close(s32.double(), s64, rtol=2e-5, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name", FR_METRICS)
def test_cuda_scores_equal_cpu_scores(name, photos):  # pragma: no cover - needs a GPU
    dist = _noise(photos, 0.05)
    cpu = _metric(name)(dist, photos)
    gpu = _metric(name, device="cuda")(dist.cuda(), photos.cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", FR_METRICS)
def test_differentiable_gives_the_same_scores_and_finite_gradients(name, photos):
    assert iqametrics.get_info(name).differentiable
    dist = _blur(photos, 1.0)
    plain = _metric(name)(dist, photos)
    loss_metric = _metric(name, differentiable=True)
    x = dist.clone().requires_grad_(True)
    scores = loss_metric(x, photos)
    torch.testing.assert_close(scores.detach(), plain, rtol=1e-6, atol=1e-6)
    scores.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", FR_METRICS)
def test_a_gradient_step_improves_the_score(name, photos):
    m = _metric(name, differentiable=True)
    x = _noise(photos, 0.1).requires_grad_(True)
    before = m(x, photos)
    sign = 1.0 if m.info.higher_is_better else -1.0
    (sign * before).sum().backward()
    with torch.no_grad():
        step = x.grad / x.grad.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        after = m((x + 0.5 * step).clamp(0, 1), photos)
    assert (sign * (after - before.detach()) > 0).all()


# ------------------------------------------------------------------------ options and validation


def test_registered_metrics_need_no_download():
    for name in FR_METRICS:
        info = iqametrics.get_info(name)
        assert info.kind == "FR" and not info.needs_download
    assert iqametrics.get_info("msssim").name == "ms_ssim"


def test_unknown_option_fails_when_the_metric_is_built():
    with pytest.raises(TypeError, match="downsampel"):
        iqametrics.create("ssim", downsampel=False)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: ssim(x, x, color="hsv"),
        lambda x: ms_ssim(x, x, method="mean"),
        lambda x: vsi(x, x, convention="pyiqa"),
        lambda x: psnr(x, x, color="gray"),
        lambda x: ssim(x, x[:, :, :-1]),
    ],
)
def test_bad_arguments_raise_value_errors(call):
    with pytest.raises(ValueError):
        call(torch.rand(1, 3, 32, 32))


def test_ms_ssim_refuses_images_smaller_than_its_five_scales():
    with pytest.raises(ImageTooSmallError):
        _metric("ms_ssim")(torch.rand(1, 3, 100, 300), torch.rand(1, 3, 100, 300))
    with pytest.raises(ValueError, match="176"):
        ms_ssim(torch.rand(1, 3, 100, 300), torch.rand(1, 3, 100, 300))


def test_ssim_downsampling_follows_ssim_m(photos):
    from iqametrics.functional.color import luma_8bit

    big = imresize(photos, size=(384, 512)).clamp(0, 1)
    dist = _noise(big, 0.05)
    # ssim.m: f = round(384 / 256) = 2, so a 2x2 box average of the 8-bit luma, then SSIM
    pooled = [torch.nn.functional.avg_pool2d(luma_8bit(t), 2) / 255 for t in (dist, big)]
    torch.testing.assert_close(ssim(dist, big), ssim(*pooled, downsample=False, quantize=False))
    assert (ssim(dist, big) - ssim(dist, big, downsample=False)).abs().min() > 1e-3


def test_fsimc_equals_fsim_for_grey_images(photos):
    grey = photos.mean(dim=1, keepdim=True)
    dist = _noise(grey, 0.05)
    torch.testing.assert_close(fsim(dist, grey, chromatic=True), fsim(dist, grey))


def test_vsi_conventions_differ_only_slightly(photos):
    dist = _noise(photos, 0.05)
    official, port = vsi(dist, photos), vsi(dist, photos, convention="iqa-optimization")
    assert not torch.allclose(official, port)
    torch.testing.assert_close(official, port, rtol=0.02, atol=0)


# ------------------------------------------------------------------------ reference implementations


def _grey64(x):
    w = torch.tensor([0.298936021293775, 0.587043074451121, 0.114020904255103], dtype=torch.float64)
    return (x.double() * w.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)


def test_ssim_matches_scikit_image(photos):
    metrics = pytest.importorskip("skimage.metrics")
    ref, dist = _grey64(photos), _grey64(_noise(photos, 0.05))
    ours = ssim(dist, ref, downsample=False, quantize=False)
    theirs = [
        metrics.structural_similarity(
            d[0].numpy(), r[0].numpy(), gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
        )
        for d, r in zip(dist, ref)
    ]
    # same maths in float64 (scikit-image filters with 'reflect' padding and crops the border:
    # exactly the 'valid' window of ssim.m); only summation order differs
    torch.testing.assert_close(ours, torch.tensor(theirs, dtype=torch.float64), rtol=1e-10, atol=1e-12)


def test_ssim_and_ms_ssim_match_piq(photos):
    piq = pytest.importorskip("piq")
    ref, dist = photos.double(), _noise(photos, 0.05).double()
    # piq: colour SSIM = mean over R, G, B, its own downsampling (avg_pool, equal to ssim.m's for
    # even sizes); same Gaussian window and constants
    torch.testing.assert_close(
        ssim(dist, ref, color="rgb"), piq.ssim(dist, ref, data_range=1.0, reduction="none"), rtol=1e-10, atol=0
    )
    # MS-SSIM on one channel (piq multiplies the scales per channel before averaging channels)
    g_ref, g_dist = _grey64(ref), _grey64(dist)
    torch.testing.assert_close(
        ms_ssim(g_dist, g_ref, quantize=False),
        piq.multi_scale_ssim(g_dist, g_ref, data_range=1.0, reduction="none"),
        rtol=1e-10,
        atol=0,
    )


def test_ssim_matches_torchmetrics_with_its_padding(photos):
    tmf = pytest.importorskip("torchmetrics.functional.image")
    ref, dist = photos.double(), _noise(photos, 0.05).double()
    # torchmetrics pads by reflection and averages the full-size map: our padding="reflect"
    theirs = tmf.structural_similarity_index_measure(dist, ref, data_range=1.0, reduction="none")
    ours = ssim(dist, ref, color="rgb", downsample=False, padding="reflect")
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=0)


def test_psnr_matches_piq_and_torchmetrics(photos):
    piq = pytest.importorskip("piq")
    tmf = pytest.importorskip("torchmetrics.functional.image")
    ref, dist = photos.double(), _noise(photos, 0.05).double()
    # piq adds 1e-8 to the MSE (we add 1e-10)
    torch.testing.assert_close(psnr(dist, ref, eps=1e-8), piq.psnr(dist, ref, data_range=1.0, reduction="none"))
    theirs = torch.stack([tmf.peak_signal_noise_ratio(d, r, data_range=1.0) for d, r in zip(dist, ref)])
    # torchmetrics adds nothing to the MSE, and holds data_range as a float32 tensor
    torch.testing.assert_close(psnr(dist, ref, eps=0.0), theirs, rtol=2e-7, atol=0)


def test_gmsd_matches_piq_up_to_the_std_normalisation(photos):
    piq = pytest.importorskip("piq")
    ref, dist = _grey64(photos), _grey64(_noise(photos, 0.05))
    n = (SIZE[0] // 2) * (SIZE[1] // 2)
    # GMSD.m's std2 divides by N - 1, piq's deviation by N; the rest (2x2 average, Prewitt,
    # T = 170) is the same for images of even size
    ours = gmsd(dist, ref, quantize=False) * math.sqrt((n - 1) / n)
    torch.testing.assert_close(ours, piq.gmsd(dist, ref, data_range=1.0, reduction="none"), rtol=1e-9, atol=0)


def test_fsim_matches_piq(photos):
    piq = pytest.importorskip("piq")
    crop = photos[..., :96, :128]  # piq's FSIM is slow; a crop keeps the test short
    ref, dist = crop.double(), _noise(crop, 0.05).double()
    # piq takes the lower median in the noise estimate (MATLAB averages the two middle values)
    # and its YIQ rows have 4 digits (FeatureSIM.m: 3) and |S_I S_Q|^0.03 instead of the real part
    torch.testing.assert_close(fsim(dist, ref), piq.fsim(dist, ref, chromatic=False, reduction="none"), rtol=1e-4, atol=0)
    torch.testing.assert_close(
        fsim(dist, ref, chromatic=True), piq.fsim(dist, ref, chromatic=True, reduction="none"), rtol=1e-4, atol=0
    )


def test_vsi_is_close_to_piq(photos):
    piq = pytest.importorskip("piq")
    ref, dist = photos.double(), _noise(photos, 0.05).double()
    # piq resizes to 256x256 with torch bilinear interpolation (no antialiasing, VSI.m's imresize
    # antialiases), resizes back with align_corners=True, and uses its own L*a*b* constants:
    # the saliency maps differ a little, the scores by a few 1e-4
    torch.testing.assert_close(vsi(dist, ref), piq.vsi(dist, ref, data_range=1.0, reduction="none"), rtol=1e-3, atol=0)


@pytest.mark.parametrize("name", ["fsim", "fsimc", "vsi"])
def test_flat_images_give_finite_scores_and_gradients(name):
    """Two flat images are 0/0 in FSIM.m and VSI.m: 1 for identical ones here (docs/models/
    classic_fr.md), and a flat image's gradient stays finite (a grey start of an optimisation)."""
    flat = torch.full((1, 3, 64, 64), 0.5)
    m = iqametrics.create(name)
    assert m(flat, flat).item() == pytest.approx(1.0)
    assert torch.isfinite(m(torch.full_like(flat, 0.2), torch.full_like(flat, 0.8))).all()
    loss = iqametrics.create(name, as_loss=True)
    textured = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    for ref in (flat, textured):
        x = flat.clone().requires_grad_()
        loss(x, ref).sum().backward()
        assert torch.isfinite(x.grad).all()
