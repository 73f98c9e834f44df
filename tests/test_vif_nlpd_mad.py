"""VIF (wavelet), VIFp, NLPD and MAD: calibration, references, properties.

Calibration pairs: the five TID2013 pairs of pyiqa's ResultsCalibra, read from
``$IQAMETRICS_CALIBRATION_DIR`` (``ref_dir/``, ``dist_dir/``); those tests skip without it.
"""
from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import iqametrics
from iqametrics.functional.filters import gaussian_kernel1d, separable_filter2d
from iqametrics.functional.mad import _cell_fill, _ical_stat, _ical_std
from iqametrics.functional.nlpd import nlpd
from iqametrics.functional.pyramids import laplacian_pyramid, steerable_pyramid
from iqametrics.functional.vif import vif, vifp
from iqametrics.metric import ImageTooSmallError

NAMES = ("I03", "I04", "I06", "I08", "I19")

# The official MAD_index.m (2011 release) run in GNU Octave 7.3 on the odd-sized crop
# [10:311, 20:419] (0-based rows, cols) of the 8-bit rgb2gray I19 pair (docs/models/vif_nlpd_mad.md);
# the whole-image calibration of vif, nlpd and mad is in test_calibration.py.
OCTAVE_MAD_I19_CROP = 112.70977143


def _calibration_dir() -> Path:
    env = os.environ.get("IQAMETRICS_CALIBRATION_DIR")
    if not env or not (Path(env) / "ref_dir").is_dir() or not (Path(env) / "dist_dir").is_dir():
        pytest.skip("IQAMETRICS_CALIBRATION_DIR (with ref_dir/ and dist_dir/) is not set")
    return Path(env)


@pytest.fixture(scope="module")
def calibration_pairs():
    root = _calibration_dir()
    ref = torch.stack([iqametrics.load_image(root / "ref_dir" / f"{n}.bmp") for n in NAMES])
    dist = torch.stack([iqametrics.load_image(root / "dist_dir" / f"{n}.bmp") for n in NAMES])
    return dist, ref


# --------------------------------------------------------------------------------- calibration
@pytest.mark.slow
def test_mad_matches_official_code_on_odd_sizes(calibration_pairs):
    dist, ref = (t[4:5, :, 10:311, 20:419] for t in calibration_pairs)  # 301 × 399 px
    score = iqametrics.create("mad")(dist, ref).item()
    assert score == pytest.approx(OCTAVE_MAD_I19_CROP, rel=1e-5)


# --------------------------------------------------------------------------------- references
def _imfilter_corr(x: np.ndarray, k: np.ndarray, mode: str) -> np.ndarray:
    """MATLAB imfilter 'same' correlation for odd kernels (literal loops over taps)."""
    r = k.shape[0] // 2
    xp = np.pad(x, r, mode="symmetric" if mode == "symmetric" else "constant")
    out = np.zeros_like(x)
    for i in range(k.shape[0]):
        for j in range(k.shape[1]):
            out += k[i, j] * xp[i : i + x.shape[0], j : j + x.shape[1]]
    return out


def _laplacian_pyramid_literal(im: np.ndarray, nlev: int):
    """laplacian_pyramid_s of NLP_dist.m, transcribed step by step (zero insertion included)."""
    f = np.array([0.05, 0.25, 0.4, 0.25, 0.05])
    filt = np.outer(f, f)
    pyr, j = [], im
    for _ in range(nlev - 1):
        low = _imfilter_corr(j, filt, "symmetric")[::2, ::2]
        odd = 2 * np.array(low.shape) - np.array(j.shape)
        padded = np.pad(low, 1, mode="edge")
        r, c = 2 * padded.shape[0], 2 * padded.shape[1]
        up = np.zeros((r, c))
        up[::2, ::2] = 4 * padded
        up = _imfilter_corr(up, filt, "zeros")[2 : r - 2 - odd[0], 2 : c - 2 - odd[1]]
        pyr.append(j - up)
        j = low
    pyr.append(j)
    return pyr


@pytest.mark.parametrize("shape", [(37, 50), (32, 32), (45, 33)])
def test_laplacian_pyramid_matches_literal_transcription(shape):
    rng = np.random.default_rng(0)
    im = rng.random(shape)
    ours = laplacian_pyramid(torch.from_numpy(im)[None, None], 6)
    ref = _laplacian_pyramid_literal(im, 6)
    for a, b in zip(ours, ref):
        # the polyphase form only skips the products with inserted zeros
        np.testing.assert_allclose(a[0, 0].numpy(), b, rtol=0, atol=1e-12)


def _ical_std_literal(x: np.ndarray, y: np.ndarray):
    """ical_std.c of MAD_index (loops as in the MEX file; x = error, y = reference)."""
    rows, cols = x.shape
    std, mod, mean, tmp = (np.zeros_like(x) for _ in range(4))
    for i in range(0, rows - 15, 4):
        for j in range(0, cols - 15, 4):
            std[i : i + 4, j : j + 4] = x[i : i + 16, j : j + 16].std(ddof=1)
            mean[i : i + 4, j : j + 4] = y[i : i + 16, j : j + 16].mean()
            tmp[i : i + 4, j : j + 4] = y[i : i + 8, j : j + 8].std(ddof=1)
    for i in range(0, rows - 15, 4):
        for j in range(0, cols - 15, 4):
            m = tmp[i, j]
            for ib in (i, i + 5):
                for jb in (j, j + 5):
                    if ib < rows - 15 and jb < cols - 15 and m > tmp[ib, jb]:
                        m = tmp[ib, jb]
            mod[i : i + 4, j : j + 4] = m
    return std, mod, mean


def _ical_stat_literal(x: np.ndarray):
    rows, cols = x.shape
    std, skw, krt = (np.zeros_like(x) for _ in range(3))
    for i in range(0, rows - 15, 4):
        for j in range(0, cols - 15, 4):
            b = x[i : i + 16, j : j + 16]
            d = b - b.mean()
            s = math.sqrt((d**2).mean())
            std[i : i + 4, j : j + 4] = b.std(ddof=1)
            skw[i : i + 4, j : j + 4] = (d**3).mean() / s**3 if s else 0.0
            krt[i : i + 4, j : j + 4] = (d**4).mean() / s**4 if s else 0.0
    return std, skw, krt


@pytest.mark.parametrize("shape", [(40, 45), (48, 52), (50, 37)])
def test_mad_block_statistics_match_mex_loops(shape):
    rng = np.random.default_rng(1)
    ref = rng.random(shape) * 1.5
    err = rng.normal(scale=0.05, size=shape)
    h, w = shape
    ours = _ical_std(torch.from_numpy(err)[None, None], torch.from_numpy(ref)[None, None])
    for a, b in zip(ours, _ical_std_literal(err, ref)):
        np.testing.assert_allclose(_cell_fill(a, h, w)[0, 0].numpy(), b, rtol=1e-9, atol=1e-12)
    mag = np.abs(rng.normal(size=shape)) * 40
    ours = _ical_stat(torch.from_numpy(mag)[None, None])
    for a, b in zip(ours, _ical_stat_literal(mag)):
        np.testing.assert_allclose(_cell_fill(a, h, w)[0, 0].numpy(), b, rtol=1e-9, atol=1e-9)


def test_steerable_pyramid_matches_pyrtools():
    """pyrtools (MIT) wraps matlabPyrTools' C corrDn with the reflect1 edge code."""
    pt = pytest.importorskip("pyrtools")
    rng = np.random.default_rng(2)
    im = rng.random((77, 95)) * 255
    ref = pt.pyramids.SteerablePyramidSpace(im, height=4, order=5, edge_type="reflect1").pyr_coeffs
    ours = steerable_pyramid(torch.from_numpy(im)[None, None], 4)
    np.testing.assert_allclose(ours.highpass[0, 0].numpy(), ref["residual_highpass"], atol=1e-9)
    for level in range(4):
        for band in range(6):
            np.testing.assert_allclose(ours.bands[level][0, band].numpy(), ref[(level, band)], atol=1e-9)
    np.testing.assert_allclose(ours.lowpass[0, 0].numpy(), ref["residual_lowpass"], atol=1e-9)


def test_steerable_pyramid_band_selection_and_validation():
    x = torch.rand(2, 1, 80, 96)
    full = steerable_pyramid(x, 4)
    part = steerable_pyramid(x, 4, orientations=(0, 3), highpass=False)
    assert part.highpass is None
    for f, p in zip(full.bands, part.bands):
        torch.testing.assert_close(p, f[:, [0, 3]])
    assert [b.shape[-2:] for b in full.bands] == [(80, 96), (40, 48), (20, 24), (10, 12)]
    with pytest.raises(ValueError, match="at most"):
        steerable_pyramid(torch.rand(1, 1, 70, 70), 4)
    with pytest.raises(ValueError, match="orientations"):
        steerable_pyramid(x, 2, orientations=(6,))


@pytest.mark.slow  # importing piq takes seconds
def test_vifp_matches_piq(pristine_paths):
    """piq.vif_p (permissive) implements the same vifp_mscale.m; grey input, no 8-bit rounding.
    Tolerance 1e-5: piq's stabiliser is 1e-8 (official 1e-10) and we filter in float32."""
    piq = pytest.importorskip("piq")
    ref = _photo(pristine_paths[0], 128)[None]
    grey = iqametrics.functional.rgb_to_gray(ref)
    dist = _noise(grey[0], 0.05)[None]
    ours = vifp(dist.double(), grey.double(), quantize=False).item()
    theirs = piq.vif_p(dist.double(), grey.double(), data_range=1.0).item()
    assert ours == pytest.approx(theirs, rel=1e-5)


@pytest.mark.slow  # importing torchmetrics takes seconds
def test_vifp_matches_torchmetrics(pristine_paths):
    """torchmetrics' VisualInformationFidelity is the same pixel-domain VIF (per channel, on the
    values as given: here grey on the 0-255 scale).  Same 1e-5 tolerance and reasons as piq."""
    tm = pytest.importorskip("torchmetrics.functional.image")
    grey = iqametrics.functional.rgb_to_gray(_photo(pristine_paths[1], 128)[None])
    dist = _blur(grey[0], 1.0)[None]
    ours = vifp(dist.double(), grey.double(), quantize=False).item()
    theirs = tm.visual_information_fidelity(dist.double() * 255, grey.double() * 255).item()
    assert ours == pytest.approx(theirs, rel=1e-5)


# --------------------------------------------------------------------------------- properties
METRICS = ("vif", "vifp", "nlpd", "mad")


def _photo(path, side: int) -> torch.Tensor:
    """A centred side×side crop of the photo downscaled to that short side (fast tests)."""
    from PIL import Image

    im = Image.open(path).convert("RGB")
    w, h = im.size
    s = side / min(w, h)
    im = im.resize((max(side, round(w * s)), max(side, round(h * s))), Image.BICUBIC)
    w, h = im.size
    left, top = (w - side) // 2, (h - side) // 2
    arr = np.array(im.crop((left, top, left + side, top + side)))
    return torch.from_numpy(arr).permute(2, 0, 1).float() / 255


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    k = gaussian_kernel1d(2 * int(3 * sigma) + 1, sigma)
    return separable_filter2d(x[None], k, padding="replicate")[0]


def _noise(x: torch.Tensor, sigma: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1)


def _jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((x.permute(1, 2, 0) * 255).round().byte().numpy()).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return torch.from_numpy(np.array(Image.open(buf).convert("RGB"))).permute(2, 0, 1).float() / 255


@pytest.fixture(scope="module")
def photos(pristine_paths):
    return [_photo(p, 128) for p in pristine_paths[:2]]


@pytest.mark.parametrize("name", METRICS)
def test_identical_images_score_best(name, photos):
    m = iqametrics.create(name)
    x = torch.stack(photos)
    best = 1.0 if m.info.higher_is_better else 0.0
    torch.testing.assert_close(m(x, x), torch.full((2,), best), atol=1e-6, rtol=0)


DISTORTIONS = {"blur": (_blur, (0.5, 1.5, 4.0)), "noise": (_noise, (0.02, 0.08, 0.2)), "jpeg": (_jpeg, (80, 30, 5))}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(DISTORTIONS))
@pytest.mark.parametrize("name", METRICS)
def test_scores_move_monotonically_with_distortion(name, kind, photos):
    m = iqametrics.create(name)
    fn, levels = DISTORTIONS[kind]
    sign = 1.0 if m.info.higher_is_better else -1.0
    for ref in photos:
        dist = torch.stack([fn(ref, lv) for lv in levels])
        scores = (sign * m(dist, ref[None].expand_as(dist))).tolist()
        # strictly worse at every step; MAD's detection stage may find the mildest level
        # invisible (score 0, the identity score), hence >= for it
        if name == "mad":
            assert scores[0] >= scores[1] > scores[2], (kind, scores)
        else:
            assert scores[0] > scores[1] > scores[2], (kind, scores)


@pytest.mark.parametrize("name", METRICS)
def test_batch_invariance(name, photos):
    m = iqametrics.create(name)
    refs = torch.stack([photos[0], photos[1], photos[0]])
    dists = torch.stack([_blur(photos[0], 1.0), _noise(photos[1], 0.05), _jpeg(photos[0], 20)])
    together = m(dists, refs)
    alone = torch.cat([m(d[None], r[None]) for d, r in zip(dists, refs)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["vif", "vifp", "nlpd"])
def test_gradients_finite_as_loss(name, photos):
    m = iqametrics.create(name, as_loss=True)  # 1 - VIF, 1 - VIFp, NLPD
    ref = photos[0][None]
    dist = _noise(photos[0], 0.05)[None].requires_grad_(True)
    m(dist, ref).sum().backward()
    assert torch.isfinite(dist.grad).all() and dist.grad.abs().sum() > 0
    same = ref.clone().requires_grad_(True)
    m(same, ref).sum().backward()
    assert torch.isfinite(same.grad).all()


@pytest.mark.parametrize("name", ["vif", "vifp", "nlpd"])
def test_differentiable_gives_the_inference_scores(name, photos):
    """The 8-bit rounding is straight-through: with gradients a metric scores what inference scores."""
    refs = torch.stack([photos[0], photos[1]])
    dists = torch.stack([_noise(photos[0], 0.05), _blur(photos[1], 1.0)])
    loss = iqametrics.create(name, differentiable=True)(dists.clone().requires_grad_(True), refs)
    torch.testing.assert_close(loss.detach(), iqametrics.create(name)(dists, refs), rtol=1e-6, atol=1e-7)


def test_mad_is_not_a_loss():
    assert not iqametrics.get_info("mad").differentiable
    with pytest.raises(ValueError, match="not differentiable"):
        iqametrics.create("mad", as_loss=True)


def test_quantize_matters_like_the_official_scripts(photos):
    """The official scripts see 8-bit grey levels: unrounded input moves near-identical pairs."""
    ref = photos[0][None]
    dist = (ref + 0.6 / 255).clamp(0, 1)
    assert nlpd(dist, ref).item() != pytest.approx(nlpd(dist, ref, quantize=False).item(), rel=1e-3)


@pytest.mark.parametrize("name,side", [("vif", 71), ("vifp", 40), ("mad", 33), ("nlpd", 31)])
def test_too_small_images_are_refused(name, side):
    m = iqametrics.create(name)
    x = torch.rand(1, 3, side, side + 10)
    with pytest.raises(ImageTooSmallError):
        m(x, x)


def test_option_validation():
    with pytest.raises(ValueError, match="sigma_nsq"):
        iqametrics.create("vif", sigma_nsq=0)
    with pytest.raises(ValueError, match="orientations"):
        iqametrics.create("vif", orientations=(0, 7))
    with pytest.raises(ValueError, match="sigma_nsq"):
        iqametrics.create("vifp", sigma_nsq=-1)
    with pytest.raises(ValueError, match="same shape"):
        vif(torch.rand(1, 1, 80, 80), torch.rand(1, 1, 80, 81))


def test_all_six_orientations_option(photos):
    x = photos[0][None]
    d = _blur(photos[0], 1.0)[None]
    six = iqametrics.create("vif", orientations=range(6))(d, x).item()
    two = iqametrics.create("vif")(d, x).item()
    assert 0 < six < 1 and 0 < two < 1 and six != two


def test_vif_flat_reference_is_nan_for_that_image_only(photos):
    """No texture, no information: MATLAB's inv(Cu) gives Inf and VIF NaN; the rest of the
    batch must not be affected (and nothing may raise)."""
    flat = torch.full_like(photos[0], 0.5)
    dist = torch.stack([flat, _blur(photos[0], 1.0)])
    ref = torch.stack([flat, photos[0]])
    scores = iqametrics.create("vif")(dist, ref)
    assert torch.isnan(scores[0])
    assert scores[1] == pytest.approx(iqametrics.create("vif")(dist[1:], ref[1:]).item(), rel=1e-6)


@pytest.mark.parametrize("name", ["vif", "nlpd"])
def test_y_channel_variant(name, photos):
    """color="y": the Y of rgb2ycbcr on 8-bit RGB, rounded to 8 bit (MATLAB uint8 output)."""
    from iqametrics.functional.color import quantize_8bit, rgb_to_y

    ref = photos[0][None]
    dist = _noise(photos[0], 0.05)[None]
    y8 = lambda t: quantize_8bit(rgb_to_y(quantize_8bit(t)))  # noqa: E731
    via_option = iqametrics.create(name, color="y")(dist, ref)
    via_grey = iqametrics.create(name)(y8(dist), y8(ref))
    torch.testing.assert_close(via_option, via_grey)
    assert via_option.item() != pytest.approx(iqametrics.create(name)(dist, ref).item(), rel=1e-4)
    with pytest.raises(ValueError, match="color"):
        iqametrics.create(name, color="lab")


@pytest.mark.parametrize("pads", [(2, 3, 1, 0), (6, 9, 7, 5)])
def test_reflect_pad_any_size_matches_numpy(pads):
    """filters.pad 'reflect' (matlabPyrTools reflect1) also for pads past the image size."""
    from iqametrics.functional.filters import pad

    x = torch.arange(20.0).reshape(1, 1, 4, 5)
    left, right, top, bottom = pads
    expected = np.pad(x[0, 0].numpy(), ((top, bottom), (left, right)), mode="reflect")
    np.testing.assert_array_equal(pad(x, pads, "reflect")[0, 0].numpy(), expected)
