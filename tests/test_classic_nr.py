"""NIQE, BRISQUE and PIQE: official scores, primitives against naive references, properties."""
from __future__ import annotations

import importlib.util
import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import iqametrics
from iqametrics.functional.brisque import brisque_features, svr_rbf_predict
from iqametrics.functional.niqe import niqe, niqe_features
from iqametrics.functional.nss import aggd_fit, ggd_fit, gray_255, neighbour_products
from iqametrics.functional.piqe import centre_surround_ratio, edge_impaired, piqe
from iqametrics.metric import ImageTooSmallError

NAMES = ("niqe", "brisque", "piqe")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def metrics():
    return {name: iqametrics.create(name, pretrained=False) for name in NAMES}


def _read(path, max_side=None) -> torch.Tensor:
    from PIL import Image

    img = Image.open(path).convert("RGB")
    if max_side:
        img.thumbnail((max_side, max_side), Image.BICUBIC)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255.0


def _smooth_image(seed: int, h: int = 128, w: int = 160) -> torch.Tensor:
    """A seeded, 8-bit valued, natural-looking (smooth + fine texture) RGB image [3, h, w]."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, h // 8, w // 8, generator=g)
    x = torch.nn.functional.interpolate(low, size=(h, w), mode="bicubic", align_corners=False)[0]
    x = x + 0.02 * torch.randn(3, h, w, generator=g)
    return (x.clamp(0, 1) * 255).round() / 255




# --------------------------------------------------------------------------- primitives
_GRID = np.round(np.arange(200, 10001) * 0.001, 3)


def _gamma(x):
    return np.vectorize(math.gamma)(x)


def _naive_aggd(vec: np.ndarray):
    """estimateaggdparam.m written out with numpy: argmin over the whole grid."""
    r_gam = _gamma(2 / _GRID) ** 2 / (_gamma(1 / _GRID) * _gamma(3 / _GRID))
    left = math.sqrt(np.mean(vec[vec < 0] ** 2))
    right = math.sqrt(np.mean(vec[vec > 0] ** 2))
    gh = left / right
    rhat = np.mean(np.abs(vec)) ** 2 / np.mean(vec**2)
    rhatnorm = rhat * (gh**3 + 1) * (gh + 1) / (gh**2 + 1) ** 2
    return _GRID[np.argmin((r_gam - rhatnorm) ** 2)], left, right


def _naive_ggd(vec: np.ndarray):
    r_gam = _gamma(1 / _GRID) * _gamma(3 / _GRID) / _gamma(2 / _GRID) ** 2
    sigma_sq = np.mean(vec**2)
    rho = sigma_sq / np.mean(np.abs(vec)) ** 2
    return _GRID[np.argmin(np.abs(rho - r_gam))], math.sqrt(sigma_sq)


def test_distribution_fits_match_the_grid_argmin():
    # searchsorted on the monotone tables must pick the index of MATLAB's argmin over the grid
    g = torch.Generator().manual_seed(0)
    shapes = (0.4, 0.8, 1.3, 2.0, 3.5)
    samples = []
    for i, s in enumerate(shapes):
        u = torch.randn(4000, generator=g, dtype=torch.float64)
        v = u.sign() * u.abs() ** (2 / s) * (1.0 if i % 2 else 0.6)  # varied shapes and asymmetry
        v[v > 0] *= 1.0 + 0.3 * i
        samples.append(v)
    batch = torch.stack(samples)
    alpha, left, right = aggd_fit(batch)
    ggd_alpha, sigma = ggd_fit(batch)
    for k, v in enumerate(samples):
        want = _naive_aggd(v.numpy())
        assert alpha[k].item() == pytest.approx(want[0], abs=1e-9)
        assert left[k].item() == pytest.approx(want[1], rel=1e-12)
        assert right[k].item() == pytest.approx(want[2], rel=1e-12)
        want_ggd = _naive_ggd(v.numpy())
        assert ggd_alpha[k].item() == pytest.approx(want_ggd[0], abs=1e-9)
        assert sigma[k].item() == pytest.approx(want_ggd[1], rel=1e-12)


def test_aggd_of_constant_input_follows_matlab_nan_rules():
    # all-zero samples: MATLAB's mean of an empty vector is NaN and min over NaNs returns index 1
    alpha, left, right = aggd_fit(torch.zeros(1, 50, dtype=torch.float64))
    assert alpha.item() == pytest.approx(0.2)
    assert torch.isnan(left).all() and torch.isnan(right).all()


def test_neighbour_products_are_circshift_products():
    x = torch.arange(20, dtype=torch.float64).reshape(1, 4, 5) - 7
    shifts = ((0, 1), (1, 0), (1, 1), (-1, 1), (1, -1))
    for (dy, dx), p in zip(shifts, neighbour_products(x, shifts)):
        assert torch.equal(p, x * torch.roll(x, shifts=(dy, dx), dims=(-2, -1)))


def test_gray_is_matlab_rgb2gray_of_uint8():
    rgb = torch.tensor([[[[200]], [[100]], [[50]]]], dtype=torch.float64) / 255
    # rgb2gray(uint8([200 100 50])) = round(0.298936*200 + 0.587043*100 + 0.114021*50) = 124
    assert gray_255(rgb).item() == 124.0
    assert gray_255(rgb, quantize=False).item() == pytest.approx(
        0.298936021293775 * 200 + 0.587043074451121 * 100 + 0.114020904255103 * 50
    )


def test_svr_matches_the_kernel_sum():
    g = torch.Generator().manual_seed(1)
    x, sv, coef = (torch.randn(*s, generator=g, dtype=torch.float64) for s in ((3, 36), (10, 36), (10,)))
    got = svr_rbf_predict(x, sv, coef, 0.05, -153.591)
    want = torch.tensor(
        [sum(coef[i] * math.exp(-0.05 * float(((x[b] - sv[i]) ** 2).sum())) for i in range(10)) + 153.591 for b in range(3)],
        dtype=torch.float64,
    )
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)


def test_brisque_converter_reads_sparse_libsvm_rows():
    spec = importlib.util.spec_from_file_location("convert", REPO / "tools" / "convert_brisque_allmodel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (
        "svm_type epsilon_svr\nkernel_type rbf\ngamma 0.05\nnr_class 2\ntotal_sv 2\nrho -1.5\nprobA 5.7\nSV\n"
        "-1024 1:-0.5 3:0.25 36:1\n"
        "12.5 2:0.75\n"
    )
    model = module.parse_libsvm_model(text)
    want_sv = np.zeros((2, 36))
    want_sv[0, [0, 2, 35]] = (-0.5, 0.25, 1.0)
    want_sv[1, 1] = 0.75
    np.testing.assert_array_equal(model["sv"], want_sv)
    np.testing.assert_array_equal(model["sv_coef"], [-1024.0, 12.5])
    assert float(model["rho"]) == -1.5 and float(model["gamma"]) == 0.05
    assert len(module.ALLRANGE) == 36


def test_bundled_models_have_the_official_shapes(metrics):
    assert metrics["niqe"].mu_pris_param.numel() == 36 and metrics["niqe"].cov_pris_param.shape == (36, 36)
    m = metrics["brisque"]
    assert m.sv.shape == (774, 36) and m.sv_coef.shape == (774,)
    assert float(m.rho) == -153.591 and float(m.gamma) == 0.05
    assert bool((m.feature_max > m.feature_min).all())


# --------------------------------------------------------------------------- behaviour
def test_batch_equals_one_by_one(metrics):
    x = torch.stack([_smooth_image(s) for s in range(2)])
    for name, m in metrics.items():
        together = m(x)
        alone = torch.cat([m(x[i : i + 1]) for i in range(len(x))])
        assert torch.allclose(together, alone, rtol=1e-6, atol=1e-6), name


def test_mixed_sizes_are_scored_per_image(metrics):
    a, b = _smooth_image(0, 128, 160), _smooth_image(1, 112, 144)
    for name, m in metrics.items():
        both = m([a, b])
        assert torch.allclose(both, torch.cat([m(a), m(b)]), rtol=1e-6, atol=1e-6), name


@pytest.mark.parametrize("name,size", [("niqe", (96, 96)), ("brisque", (14, 14)), ("piqe", (16, 16))])
def test_min_size(name, size, metrics):
    m = metrics[name]
    assert tuple(m.min_size) == size
    h, w = size
    assert torch.isfinite(m(_smooth_image(2, 128, 128)[:, :h, :w])).all()
    with pytest.raises(ImageTooSmallError, match=name):
        m(torch.rand(3, h - 1, w))
    with pytest.raises(ImageTooSmallError):
        m(torch.rand(3, h, w - 1))


def test_grey_input_equals_replicated_rgb(metrics):
    grey = _smooth_image(3)[:1]
    for name, m in metrics.items():
        assert torch.equal(m(grey[None]), m(grey.expand(3, -1, -1)[None])), name


def test_piqe_of_a_uniform_image_is_100():
    # MATLAB's documentation: a uniform image has no active block and scores 100
    assert piqe(torch.full((1, 3, 64, 64), 0.5)).item() == 100.0


def test_piqe_block_criteria_match_a_transcription_of_matlab():
    g = torch.Generator().manual_seed(7)
    blocks = torch.randn(6, 16, 16, generator=g, dtype=torch.float64)
    blocks[1, :, 8] = 0.0  # centre column only partly textured
    blocks[2] = 0.0  # flat: 0/0 ratio -> 0
    blocks[3, 0, :8] = 0.01  # a near-constant segment on the top edge
    ratio = centre_surround_ratio(blocks.sum(dim=-2), (blocks * blocks).sum(dim=-2))
    impaired = edge_impaired(blocks)
    for k, b in enumerate(blocks.numpy()):
        centre = np.concatenate([b[:, 7], b[:, 8]])
        surround = np.delete(np.delete(b, 7, axis=1), 8, axis=1)  # MATLAB deletes column 8, then 9
        with np.errstate(invalid="ignore"):
            want = np.std(centre, ddof=1) / np.std(surround, ddof=1)
        assert ratio[k].item() == pytest.approx(0.0 if np.isnan(want) else want, rel=1e-9)
        edges = [b[0, :], b[:, 15], b[15, :], b[:, 0]]
        want_impaired = any(np.std(e[i : i + 6], ddof=1) < 0.1 for e in edges for i in range(11))
        assert bool(impaired[k]) == want_impaired
    assert bool(impaired[3]) and not bool(impaired[0])


def _matlab_piqe_loops(rgb_uint8: np.ndarray) -> float:
    """MATLAB's piqe.m transcribed with loops (numpy/scipy), for uint8 H×W×3 input."""
    from scipy.ndimage import correlate

    n = 16
    h, w = rgb_uint8.shape[:2]
    img = np.pad(rgb_uint8, ((0, (-h) % n), (0, (-w) % n), (0, 0)), mode="edge")
    coef = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])
    gray = np.floor(img.astype(np.float64) @ coef + 0.5)
    ax = np.arange(-3, 4)
    g2 = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2 * (7 / 6) ** 2))
    g2 /= g2.sum()
    mu = correlate(gray, g2, mode="nearest")
    sigma = np.sqrt(np.abs(correlate(gray * gray, g2, mode="nearest") - mu * mu))
    imnorm = (gray - mu) / (sigma + 1)
    dist, active = 0.0, 0
    for i in range(0, imnorm.shape[0], n):
        for j in range(0, imnorm.shape[1], n):
            block = imnorm[i : i + n, j : j + n]
            var = np.var(block, ddof=1)
            if var <= 0.1:
                continue
            active += 1
            edges = [block[0, :], block[:, n - 1], block[n - 1, :], block[:, 0]]
            impaired = any(np.std(e[k : k + 6], ddof=1) < 0.1 for e in edges for k in range(11))
            centre = np.concatenate([block[:, 7], block[:, 8]])
            surround = np.delete(np.delete(block, 7, axis=1), 8, axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.std(centre, ddof=1) / np.std(surround, ddof=1)
                ratio = 0.0 if np.isnan(ratio) else ratio
                beta = abs(np.sqrt(var) - ratio) / max(np.sqrt(var), ratio)
            dist += impaired * (1 - var) + (np.sqrt(var) > 2 * beta) * var
    return 100 * (dist + 1) / (active + 1)


@pytest.mark.parametrize("seed,size", [(8, (64, 80)), (9, (70, 90))])
def test_piqe_matches_a_loop_transcription_of_matlab(seed, size):
    # independent path: scipy 2-D correlation, per-block loops, MATLAB's padding and deletions
    x = _smooth_image(seed, *size)
    g = torch.Generator().manual_seed(seed)
    x[:, : size[0] // 2] = (x[:, : size[0] // 2] + 0.1 * torch.randn(3, size[0] // 2, size[1], generator=g)).clamp(0, 1)
    x = (x * 255).round() / 255
    want = _matlab_piqe_loops((x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    assert piqe(x[None]).item() == pytest.approx(want, rel=1e-9)


def test_niqe_single_block_uses_matlab_row_vector_covariance():
    x = _smooth_image(5, 96, 96)[None]
    feats = niqe_features(x)
    assert feats.shape == (1, 1, 36)
    assert torch.isfinite(niqe(x)).all()


def test_niqe_and_brisque_handle_flat_regions():
    x = _smooth_image(6, 192, 192)
    x[:, :, :96] = 0.5  # constant half: NaN block features in the official code (nanmean/nancov)
    assert torch.isfinite(niqe(x[None])).all()
    assert torch.isfinite(brisque_features(x[None])).all()


@pytest.mark.parametrize("size", [(96, 96), (192, 256)])  # one block (pinv of a NaN scalar), several
def test_a_flat_image_scores_nan_alone_in_its_batch(size):
    """No measurable block (NIQE) or MSCN side (BRISQUE): NaN for that image, as the official code
    has no value; the textured image beside it keeps its own score (NIQE used to fail the batch)."""
    textured = _smooth_image(7, *size)[None]
    batch = torch.cat([textured, torch.zeros_like(textured), torch.full_like(textured, 0.5)])
    for name in ("niqe", "brisque"):
        m = iqametrics.create(name)
        scores = m(batch)
        assert torch.isnan(scores[1:]).all(), name
        torch.testing.assert_close(scores[:1], m(textured), rtol=1e-6, atol=0), name


# --------------------------------------------------------------------------- real photos
@pytest.mark.slow
def test_finite_on_real_photos(metrics, clive_paths):
    x = [_read(p) for p in clive_paths[:3]]
    for name, m in metrics.items():
        scores = m(x)
        assert torch.isfinite(scores).all(), name


def _distorted(img: torch.Tensor, kind: str, level):
    from PIL import Image, ImageFilter

    pil = Image.fromarray((img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    if kind == "blur":
        out = pil.filter(ImageFilter.GaussianBlur(level)) if level else pil
    elif kind == "jpeg":
        buf = io.BytesIO()
        pil.save(buf, "JPEG", quality=level)
        out = Image.open(buf).convert("RGB")
    else:  # white noise of standard deviation `level` (in [0, 1] units), seeded
        rng = np.random.default_rng(0)
        arr = np.asarray(pil).astype(np.float64) + rng.normal(0.0, level * 255.0, (pil.height, pil.width, 3))
        out = Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8))
    return torch.from_numpy(np.asarray(out).copy()).permute(2, 0, 1).float() / 255.0


# What each metric does under growing distortion, measured on the 39 photos of
# ../shared/data/pristine at 384 px (blur sigma 0/1/2/4 px, noise sigma 0/0.02/0.05/0.1,
# JPEG quality 90/50/20/5; table in docs/models/classic_nr.md).  Asserted here: the behaviours
# that hold on at least 38 of the 39 photos, on two of them.
#   "monotone": non-decreasing over the levels (and strictly worse at the end);
#   "ends": the strongest level scores worse than the weakest;
#   "worst_last": the strongest level scores worst of all.
#   NIQE    - blur, noise, JPEG: ends (38/39 each); intermediate levels are not monotone on
#             about a quarter of the photos (few 96-px blocks at this size);
#   BRISQUE - blur monotone (39/39); noise monotone from sigma 0.02 (38/39) but NOT from the
#             clean photo: slight noise lowers the score of most photos; JPEG worst_last (39/39);
#   PIQE    - blur monotone (38/39; saturates at 100); noise monotone from sigma 0.02 (38/39),
#             not from the clean photo; JPEG ends (39/39).
EXPECTED = {
    "niqe": {"blur": ("ends", (0, 1, 2, 4)), "noise": ("ends", (0, 0.02, 0.05, 0.1)), "jpeg": ("ends", (90, 50, 20, 5))},
    "brisque": {"blur": ("monotone", (0, 1, 2, 4)), "noise": ("monotone", (0.02, 0.05, 0.1)), "jpeg": ("worst_last", (90, 50, 20, 5))},
    "piqe": {"blur": ("monotone", (0, 1, 2, 4)), "noise": ("monotone", (0.02, 0.05, 0.1)), "jpeg": ("ends", (90, 50, 20, 5))},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_scores_worsen_with_distortion(name, metrics, pristine_paths):
    m = metrics[name]
    for path in pristine_paths[:2]:
        img = _read(path, max_side=384)
        for kind, (rule, levels) in EXPECTED[name].items():
            scores = m([_distorted(img, kind, lv) for lv in levels]).tolist()
            where = (path.name, kind, scores)
            assert scores[-1] > scores[0], where
            if rule == "monotone":
                assert all(a <= b for a, b in zip(scores, scores[1:])), where
            elif rule == "worst_last":
                assert scores[-1] == max(scores), where


# --------------------------------------------------------------------------- reference library
@pytest.mark.slow
def test_brisque_close_to_piq_with_the_same_model(metrics, clive_paths, tmp_path, monkeypatch):
    """piq's BRISQUE (Apache-2.0) with the same official SVR, fed through its download cache.

    Tolerance 1.0 (typical differences 0.01): piq uses the float YIQ luma (no uint8 rounding of
    the grey image), its own imresize and float rounding, and flat areas make the AGGD sample
    counts sensitive to rounding (see the model card).
    """
    piq = pytest.importorskip("piq")
    m = metrics["brisque"]
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    torch.save((m.sv_coef.float(), m.sv.float()), checkpoints / "brisque_svm_weights.pt")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    x = torch.stack([_read(p) for p in clive_paths[:4]])
    ours = m(x).double()
    theirs = piq.brisque(x.double(), data_range=1.0, reduction="none").double()
    diff = (ours - theirs).abs()
    assert diff.max() <= 1.0, diff
    assert diff.median() <= 0.1, diff


# --------------------------------------------------------------------------- core: imresize
def _matlab_imresize_rows(a: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB imresize (bicubic, antialiasing) along axis 0, written out with loops (float64)."""

    def cubic(t):
        at = np.abs(t)
        return (1.5 * at**3 - 2.5 * at**2 + 1) * (at <= 1) + (-0.5 * at**3 + 2.5 * at**2 - 4 * at + 2) * ((at > 1) & (at <= 2))

    n_in = a.shape[0]
    n_out = int(math.ceil(n_in * scale))
    width = 4.0 / scale if scale < 1 else 4.0
    out = np.zeros((n_out,) + a.shape[1:])
    for u in range(1, n_out + 1):
        centre = u / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(centre - width / 2)
        taps = np.arange(left, left + int(math.ceil(width)) + 2)
        t = centre - taps
        wts = scale * cubic(scale * t) if scale < 1 else cubic(t)
        wts = wts / wts.sum()
        src = (taps - 1) % (2 * n_in)
        src = np.where(src >= n_in, 2 * n_in - 1 - src, src)  # symmetric boundary
        out[u - 1] = np.tensordot(wts, a[src], axes=1)
    return out


@pytest.mark.parametrize("shape,scale", [((37, 29), 0.5), ((40, 33), 0.3), ((21, 18), 1.7), ((16, 16), 2.0)])
def test_imresize_matches_a_loop_transcription_of_matlab(shape, scale):
    from iqametrics.functional.resize import imresize

    a = np.random.default_rng(0).random(shape)
    want = _matlab_imresize_rows(_matlab_imresize_rows(a, scale).T, scale).T
    got = imresize(torch.from_numpy(a)[None, None], scale)[0, 0].numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
