"""KADID-10k's synthetic distortions: the table, exact properties of single types on tiny inputs,
determinism of the pair generator, and monotone severity (PSNR, SSIM) on the pristine photos."""
from __future__ import annotations

import csv
import itertools
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from iqametrics.functional import psnr, ssim
from iqametrics.train.distortions import DISTORTIONS, distort, get_distortion, make_pairs, pair_seed, write_pairs
from iqametrics.train.distortions import _common, blur, color, noise, spatial, tone
from iqametrics.train.distortions.__main__ import main as cli_main

RANDOM_TYPES = [d.number for d in DISTORTIONS if d.random]


def _photo_like(h: int = 60, w: int = 80, seed: int = 0) -> torch.Tensor:
    """A smooth colourful image with some texture, spanning [0, 1], on 8-bit levels."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack((x, y, 0.5 + 0.5 * torch.sin(6 * x + 4 * y)))
    noise_ = torch.nn.functional.avg_pool2d(torch.rand(1, 3, h, w, generator=g), 3, 1, 1)[0]
    img = (0.8 * base + 0.2 * noise_).clamp(0, 1)
    img = (img - img.min()) / (img.max() - img.min())
    return torch.round(img * 255) / 255


def _mid_range() -> torch.Tensor:
    """Values in [0.25, 0.75] on 8-bit levels but one black and one white sample, so that the
    image spans [0, 1] (the official min-max stretch leaves it alone) and saturated noise shows."""
    x = torch.round((_photo_like(64, 96) * 0.5 + 0.25) * 255) / 255
    x[0, 0, :2] = torch.tensor([0.0, 1.0])
    return x


def _grey_ramp(h: int = 8, w: int = 256) -> torch.Tensor:
    return (torch.arange(w, dtype=torch.float32) / (w - 1)).expand(3, h, w).clone()


# ----------------------------------------------------------------------------- the table


def test_table_numbers_names_and_levels():
    assert [d.number for d in DISTORTIONS] == list(range(1, 26))
    assert len({d.name for d in DISTORTIONS}) == 25
    assert all(len(d.levels) == 5 for d in DISTORTIONS)
    # golden values: the level tables of imdist_generator.m in the KADIS-700k release
    assert get_distortion("jpeg").levels == (43, 36, 24, 7, 4)
    assert get_distortion(9).levels == (16, 32, 45, 120, 400)
    assert get_distortion("mean_shift").levels == (0.15, 0.08, 0, -0.08, -0.15)
    assert get_distortion(25).levels == (0.3, 0.15, 0, -0.4, -0.6)


@pytest.mark.parametrize("alias", [2, "lens_blur", "Lens blur", "lens-blur", "imblurlens", "2", "LENS_BLUR"])
def test_kinds_by_number_name_or_official_function(alias):
    assert get_distortion(alias).number == 2


def test_british_spelling_is_accepted():
    assert get_distortion("colour quantisation").number == 6
    assert get_distortion("colour_block").number == 23


@pytest.mark.parametrize("kind, error", [(0, ValueError), (26, ValueError), ("blurry", ValueError), (True, TypeError), (2.0, TypeError), (None, TypeError)])
def test_bad_kind_is_refused(kind, error):
    with pytest.raises(error, match="distortion"):
        distort(_photo_like(), kind, 1)


@pytest.mark.parametrize("level, error", [(0, ValueError), (6, ValueError), (2.5, TypeError), (True, TypeError), ("3", TypeError)])
def test_bad_level_is_refused(level, error):
    with pytest.raises(error, match="level"):
        distort(_photo_like(), 1, level)


@pytest.mark.parametrize(
    "image, error, message",
    [
        (torch.zeros(3, 8, 8, dtype=torch.uint8), TypeError, "floating"),
        (torch.zeros(1, 8, 8), ValueError, "RGB"),
        (torch.zeros(1, 3, 8, 8), ValueError, "RGB"),
        (torch.full((3, 8, 8), 1.5), ValueError, r"\[0, 1\]"),
        (torch.full((3, 8, 8), float("nan")), ValueError, r"\[0, 1\]"),
        (np.zeros((3, 8, 8), np.float32), TypeError, "Tensor"),
    ],
)
def test_bad_image_is_refused(image, error, message):
    with pytest.raises(error, match=message):
        distort(image, 1, 1)


def test_too_small_for_patches_is_refused():
    with pytest.raises(ValueError, match="48"):
        distort(_photo_like(40, 80), "non_eccentricity_patch", 1)
    with pytest.raises(ValueError, match="32"):
        distort(_photo_like(20, 80), "color_block", 1)


# ----------------------------------------------------------------------------- every type


@pytest.mark.parametrize("kind", range(1, 26))
def test_output_shape_range_dtype_and_8_bit_levels(kind):
    x = _photo_like(64, 96)
    before = x.clone()
    for level in (1, 5):
        y = distort(x, kind, level, generator=torch.Generator().manual_seed(1))
        assert y.shape == x.shape and y.dtype == torch.float32
        assert float(y.min()) >= 0 and float(y.max()) <= 1
        assert torch.equal(torch.round(y * 255) / 255, y)
    assert torch.equal(x, before)  # the input is not modified


def test_float64_input_gives_float32_output():
    y = distort(_photo_like().double(), "jpeg", 3)
    assert y.dtype == torch.float32


# ----------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("kind", RANDOM_TYPES)
def test_random_types_follow_their_generator(kind):
    x = _photo_like(64, 96)
    a = distort(x, kind, 4, generator=torch.Generator().manual_seed(7))
    b = distort(x, kind, 4, generator=torch.Generator().manual_seed(7))
    c = distort(x, kind, 4, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("kind", RANDOM_TYPES)
def test_default_draws_come_from_the_image_not_the_global_rng(kind):
    x = _photo_like(64, 96)
    torch.manual_seed(0)
    a = distort(x, kind, 4)
    torch.manual_seed(1)
    b = distort(x, kind, 4)
    assert torch.equal(a, b)
    assert not torch.equal(a, distort(_photo_like(64, 96, seed=1), kind, 4))


def test_levels_share_their_draws():
    # with one generator seed, the samples impulse noise hits at a level are also hit at the next
    x = _mid_range()
    hit = [distort(x, "impulse_noise", level, generator=torch.Generator().manual_seed(3)) != x for level in range(1, 6)]
    for smaller, larger in zip(hit, hit[1:]):
        assert bool((smaller <= larger).all()) and int(smaller.sum()) < int(larger.sum())


def _write_refs(folder, n=3):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        img = (_photo_like(56, 72, seed=i) * 255).round().byte().permute(1, 2, 0).numpy()
        path = folder / f"ref{i}.png"
        Image.fromarray(img).save(path)
        paths.append(path)
    return paths


def test_make_pairs_is_independent_of_order_and_of_other_references(tmp_path):
    paths = _write_refs(tmp_path)
    kinds = [3, "white_noise", 23, 10]
    forward = {(p.key, p.kind, p.level): p.dist for p in make_pairs(paths, kinds=kinds, levels=(1, 5), seed=4)}
    backward = {(p.key, p.kind, p.level): p.dist for p in make_pairs(paths[::-1], kinds=kinds[::-1], levels=(5, 1), seed=4)}
    alone = {(p.key, p.kind, p.level): p.dist for p in make_pairs(paths[1:2], kinds=kinds, levels=(1, 5), seed=4)}
    assert forward.keys() == backward.keys() and len(forward) == 3 * 4 * 2
    assert all(torch.equal(forward[k], backward[k]) for k in forward)
    assert all(torch.equal(forward[k], alone[k]) for k in alone)
    other_seed = {(p.key, p.kind, p.level): p.dist for p in make_pairs(paths, kinds=kinds, levels=(1, 5), seed=5)}
    assert not torch.equal(forward[("ref0.png", 11, 5)], other_seed[("ref0.png", 11, 5)])
    assert torch.equal(forward[("ref0.png", 10, 5)], other_seed[("ref0.png", 10, 5)])  # JPEG draws nothing


def test_make_pairs_picks_types_per_reference(tmp_path):
    paths = _write_refs(tmp_path)
    chosen = {}
    for p in make_pairs(paths, per_image=2, levels=(1,), seed=0):
        chosen.setdefault(p.key, []).append(p.kind)
    assert all(len(kinds) == 2 for kinds in chosen.values()) and len(chosen) == 3
    one = [p.kind for p in make_pairs(paths[2:], per_image=1, levels=(1,), seed=0)]
    assert one[0] in chosen["ref2.png"]  # a larger per_image only adds types
    assert pair_seed(0, "ref2.png", one[0]) != pair_seed(1, "ref2.png", one[0])


def test_make_pairs_refuses_clashing_keys_and_bad_options(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = _write_refs(tmp_path / "a", 1)[0], _write_refs(tmp_path / "b", 1)[0]
    with pytest.raises(ValueError, match="root"):
        list(make_pairs([first, second], kinds=[1], levels=(1,)))
    keys = {p.key for p in make_pairs([first, second], kinds=[1], levels=(1,), root=tmp_path)}
    assert keys == {"a/ref0.png", "b/ref0.png"}
    for options in ({"per_image": 0}, {"per_image": 3, "kinds": [1, 2]}, {"levels": ()}, {"max_side": 10}):
        with pytest.raises(ValueError):
            list(make_pairs([first], **options))


def test_make_pairs_shrinks_references(tmp_path):
    path = _write_refs(tmp_path, 1)[0]  # 72x56
    pair = next(make_pairs([path], kinds=[10], levels=(2,), max_side=48))
    assert pair.ref.shape == (3, 37, 48) and pair.dist.shape == pair.ref.shape
    assert torch.equal(torch.round(pair.ref * 255) / 255, pair.ref)


def test_write_pairs_layout_and_labels(tmp_path):
    paths = _write_refs(tmp_path / "refs_in", 2)
    out = tmp_path / "out"
    csv_path = write_pairs(make_pairs(paths, kinds=[1, 11], levels=(1, 3)), out, label="level")
    rows = list(csv.DictReader(open(csv_path)))
    assert list(rows[0]) == ["dist", "ref", "mos", "kind", "level"] and len(rows) == 8
    assert rows[0] == {"dist": "dist/ref0_01_01.png", "ref": "refs/ref0.png", "mos": "5", "kind": "1", "level": "1"}
    assert {r["mos"] for r in rows} == {"5", "3"}
    assert all((out / r["dist"]).is_file() and (out / r["ref"]).is_file() for r in rows)
    saved = torch.from_numpy(np.array(Image.open(out / "dist/ref1_11_03.png"))).permute(2, 0, 1) / 255.0
    expected = next(p.dist for p in make_pairs(paths[1:], kinds=[11], levels=(3,)))
    assert torch.equal(saved, expected)
    vsi_rows = list(csv.DictReader(open(write_pairs(make_pairs(paths[:1], kinds=[1], levels=(2, 5)), out, label="vsi"))))
    scores = [float(r["mos"]) for r in vsi_rows]
    assert 0 < scores[1] < scores[0] <= 1  # VSI: higher is better
    with pytest.raises(ValueError, match="label"):
        write_pairs([], out, label="mos")


def test_module_entry_writes_a_folder(tmp_path):
    _write_refs(tmp_path / "photos", 2)
    result = CliRunner().invoke(
        cli_main, [str(tmp_path / "out"), str(tmp_path / "photos"), "--kinds", "jpeg,13", "--levels", "1,5", "--label", "level"]
    )
    assert result.exit_code == 0, result.output
    assert "8 pairs from 2 references" in result.output
    assert len(list(csv.DictReader(open(tmp_path / "out" / "pairs.csv")))) == 8
    listing = CliRunner().invoke(cli_main, ["--list"])
    assert listing.exit_code == 0 and "contrast_change" in listing.output
    bad = CliRunner().invoke(cli_main, [str(tmp_path / "out"), str(tmp_path / "photos"), "--kinds", "blurry"])
    assert bad.exit_code == 2 and "unknown distortion" in bad.output


# ----------------------------------------------------------------------------- exact properties of single types


def test_brighten_and_darken_are_monotone_per_pixel():
    ramp = _grey_ramp()
    bright = [distort(ramp, "brighten", level) for level in range(1, 6)]
    dark = [distort(ramp, "darken", level) for level in range(1, 6)]
    for lighter, darker in zip([ramp] + bright, bright):
        assert bool((darker >= lighter).all())
    for lighter, darker in zip([ramp] + dark, dark):
        assert bool((darker <= lighter).all())
    assert float((bright[-1] - ramp).max()) > 0.3 and float((ramp - dark[-1]).max()) > 0.3


def test_pixelate_of_a_constant_image_is_the_image():
    flat = torch.full((3, 50, 70), 0.4)
    for level in range(1, 6):
        assert torch.equal(distort(flat, "pixelate", level), torch.round(flat * 255) / 255)


def test_pixelate_repeats_pixels_of_the_image():
    x = _photo_like()
    x[:, :8, :8], x[:, -8:, -8:] = 0.0, 1.0  # extremes that survive, so the range stays [0, 1]
    y = distort(x, "pixelate", 5)  # scale 0.29: blocks of 3-4 pixels
    colours = lambda t: {tuple(v) for v in (t * 255).round().reshape(3, -1).T.tolist()}  # noqa: E731
    assert colours(y) <= colours(x) and len(colours(y)) < len(colours(x)) / 5


def test_identity_levels():
    x = _photo_like()  # spans [0, 1], so the official min-max stretch does nothing
    assert torch.equal(distort(x, "gaussian_blur", 1), x)  # sigma 0.1: neighbours weigh e^-50
    assert torch.equal(distort(x, "motion_blur", 1), x)  # a line one pixel long
    assert torch.equal(distort(x, "mean_shift", 3), x)  # offset 0
    assert float((distort(x, "color_saturation_2", 1) - x).abs().max()) <= 1 / 255  # a*b* x 1: Lab round trip


def test_saturation_factor_zero_is_grey_and_negative_inverts_chroma():
    x = _photo_like()
    grey = distort(x, "color_saturation_1", 4)
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    inverted = color.color_saturation_hsv(x[None], -1.0)[0]
    value = x.amax(0)
    assert torch.allclose(inverted, 2 * value - x)


def test_color_blocks_cover_at_most_their_area():
    flat = torch.full((3, 100, 120), 102 / 255)
    for level, blocks in enumerate(get_distortion("color_block").levels, start=1):
        changed = (distort(flat, "color_block", level, generator=torch.Generator().manual_seed(2)) != flat).any(0)
        assert 32 * 32 <= int(changed.sum()) <= blocks * 32 * 32


def test_quantization_keeps_at_most_thresholds_plus_one_values():
    x = _photo_like(64, 96)
    for level, thresholds in enumerate(get_distortion("quantization").levels, start=1):
        assert len(torch.unique(distort(x, "quantization", level))) <= thresholds + 1


def test_color_quantization_keeps_at_most_its_palette():
    x = _photo_like(64, 96)
    for level, colours in enumerate(get_distortion("color_quantization").levels, start=1):
        y = distort(x, "color_quantization", level)
        assert torch.unique(y.reshape(3, -1), dim=1).shape[1] <= colours


def test_color_quantization_of_few_colours_is_exact():
    palette = torch.tensor([[0, 0, 0], [255, 255, 255], [200, 40, 16], [24, 128, 232]], dtype=torch.float32) / 255
    index = torch.arange(40 * 48).reshape(40, 48) % 4
    img = palette[index].permute(2, 0, 1)
    assert torch.equal(distort(img, "color_quantization", 5), img)  # 8 colours available


def test_impulse_noise_sets_samples_to_black_or_white():
    x = _mid_range()
    y = distort(x, "impulse_noise", 5, generator=torch.Generator().manual_seed(0))
    hit = y != x
    assert set(y[hit].tolist()) <= {0.0, 1.0}
    assert abs(float(hit.float().mean()) - 0.03) < 0.01  # density 0.03 per sample


def test_disk_and_motion_kernels():
    for radius in (1.0, 2.0, 4.0, 8.0):
        k = blur.disk_kernel(radius)
        side = 2 * math.ceil(radius - 0.5) + 1
        assert k.shape == (side, side) and abs(float(k.sum()) - 1) < 1e-6
        assert torch.allclose(k, k.flip(0)) and torch.allclose(k, k.T)
        # an interior pixel lies wholly inside the disk: its weight is 1 / (pi r^2)
        assert abs(float(k[side // 2, side // 2]) * math.pi * radius**2 - 1) < 1e-3
    assert torch.equal(blur.motion_kernel(1.0, 37.0), torch.ones(1, 1))
    assert torch.allclose(blur.motion_kernel(5.0, 0.0), torch.full((1, 5), 0.2))  # fspecial('motion', 5, 0)
    assert torch.allclose(blur.motion_kernel(5.0, 90.0), torch.full((5, 1), 0.2))
    diagonal = blur.motion_kernel(10.0, 45.0)  # counter-clockwise: from bottom left to top right
    assert torch.allclose(diagonal, diagonal.flip(0).flip(1)) and torch.allclose(diagonal, diagonal.T)
    assert float(diagonal[0, -1]) + float(diagonal[1, -1]) > 0 and float(diagonal[0, 0]) == 0


def test_fft_filter_matches_direct_filtering():
    from iqametrics.functional.filters import filter2d

    x = _photo_like()[None]
    k = blur.disk_kernel(4.0)
    assert torch.allclose(_common.fft_filter(x, k), filter2d(x, k, "replicate"), atol=1e-5)
    asym = torch.rand(3, 5, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(_common.fft_filter(x, asym), filter2d(x, asym, "replicate"), atol=1e-5)


def test_tone_curve_goes_through_its_points_and_is_a_spline():
    xs, ys = (0.0, 0.3, 0.5, 0.7, 1.0), (0.0, 0.175, 0.5, 0.825, 1.0)
    assert torch.allclose(_common.tone_curve(torch.tensor(xs), xs, ys), torch.tensor(ys), atol=1e-6)
    scipy_interpolate = pytest.importorskip("scipy.interpolate")
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    reference = scipy_interpolate.CubicSpline(xs, ys, bc_type="not-a-knot")(t.numpy())
    assert np.allclose(_common.tone_curve(t, xs, ys).numpy(), np.clip(reference, 0, 1), atol=1e-12)
    parabola = _common.tone_curve(t, (0, 0.5, 1), (0, 0.8, 1))  # curves(x, 0.8): -1.2x^2 + 2.2x
    assert torch.allclose(parabola, (-1.2 * t**2 + 2.2 * t).clamp(0, 1), atol=1e-12)


def test_multi_otsu_finds_the_best_thresholds():
    rng = np.random.default_rng(0)
    hist = rng.integers(0, 50, size=24).astype(float)
    best = max(
        itertools.combinations(range(23), 2),
        key=lambda cuts: _between_class(hist, cuts),
    )
    found = tuple(tone.multi_otsu(hist, 2))
    assert math.isclose(_between_class(hist, found), _between_class(hist, best), rel_tol=1e-12)
    two_modes = np.zeros(256)
    two_modes[40:60], two_modes[180:200] = 1, 1
    assert 59 <= tone.multi_otsu(two_modes, 1)[0] < 180


def _between_class(hist, cuts):
    edges = [0] + [c + 1 for c in cuts] + [len(hist)]
    levels = np.arange(len(hist))
    total = 0.0
    for a, b in zip(edges, edges[1:]):
        w = hist[a:b].sum()
        total += (hist[a:b] * levels[a:b]).sum() ** 2 / w if w else 0.0
    return total


def test_lab_and_ycbcr_round_trips():
    x = _photo_like()[None].double()
    assert torch.allclose(_common.lab_d65_to_rgb(_common.rgb_to_lab_d65(x)), x, atol=1e-9)
    from iqametrics.functional.color import rgb_to_ycbcr

    assert torch.allclose(noise._ycbcr_to_rgb(rgb_to_ycbcr(x)), x, atol=1e-9)


def test_bicubic_sampling_at_pixel_positions_copies_pixels():
    x = _photo_like()[None]
    h, w = x.shape[-2:]
    rows = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    cols = torch.arange(w, dtype=torch.float32)[None, :].expand(h, w)
    assert torch.equal(spatial.bicubic_sample(x, rows, cols), x)
    shifted = spatial.bicubic_sample(x, rows, cols - 1)
    assert torch.equal(shifted[..., 1:], x[..., :-1]) and torch.equal(shifted[..., 0], x[..., 0])
    half = spatial.bicubic_sample(x, rows, cols + 0.5)[..., 1:-2]
    # Keys (a = -0.5) at the midpoint: (-1, 9, 9, -1) / 16
    expected = (-x[..., :-3] + 9 * x[..., 1:-2] + 9 * x[..., 2:-1] - x[..., 3:]) / 16
    assert torch.allclose(half, expected, atol=1e-6)


def test_dct_denoising_without_threshold_is_the_identity():
    x = _photo_like()[None]
    assert torch.allclose(noise.dct_denoise(x, 0.0), x, atol=1e-5)
    noisy = noise.white_noise(x, 0.01, torch.Generator().manual_seed(0))
    assert float(psnr(noise.dct_denoise(noisy, 0.1).clamp(0, 1), x)) > float(psnr(noisy, x)) + 3


def test_keep_range_maps_back_to_the_input_range():
    x = 0.2 + 0.5 * _photo_like()  # spans [0.2, 0.7]
    x = torch.round(x * 255) / 255
    y = distort(x, "jpeg", 3)
    official = distort(x, "jpeg", 3, keep_range=False)
    assert abs(float(y.min()) - 0.2) <= 1 / 255 and abs(float(y.max()) - 0.7) <= 1 / 255
    assert float(official.min()) == 0.0 and float(official.max()) == 1.0
    assert torch.equal(distort(x, "mean_shift", 3), x)


# ----------------------------------------------------------------------------- monotone severity on photos

PHOTOS = ("BytheWater.jpg", "Garden.jpg", "Kite.jpg", "Path.jpg")
PSNR_SLACK, SSIM_SLACK = 0.25, 0.005  # dB; SSIM units

# Which levels must get worse in order, per type (default: 1 to 5), and why the exceptions are.
CHAINS = {
    # Bidirectional in the official table: offsets +0.15, +0.08, 0, -0.08, -0.15 (level 3 is the
    # image itself); severity grows from level 3 towards both ends.
    18: [(3, 2, 1), (3, 4, 5)],
    # Bidirectional: contrast raised at levels 1-2 (amount 0.3, 0.15), mildly raised at 3 (0),
    # lowered at 4-5 (-0.4, -0.6); levels 3 and 4 are equally mild in opposite directions.
    25: [(3, 2, 1), (4, 5)],
    # Shifts of 6, 8 and 12 pixels (levels 3-5) all exceed the correlation length of most detail:
    # the shifted green channel differs about as much at 6 as at 12 pixels, so the order of levels
    # 3-5 is left to the photo; levels 1-3, and level 5 against 1-2, are ordered.
    5: [(1, 2, 3), (1, 5), (2, 5)],
    # Nearest-neighbour down- and up-scaling by 0.89, 0.78, 0.70 (levels 1-3) moves rows and
    # columns by at most one pixel; the error follows how many move, a beat pattern of the factor
    # rather than its size (0.78 moves more of them than 0.70).  From 0.70 down it is ordered.
    21: [(1, 2), (3, 4, 5), (1, 5)],
}
# The official generator stretches every output to [0, 1] (mapmm).  After jitter (bicubic
# overshoot) and denoise (noise clipped, then smoothed) the extremes it stretches are random
# samples, so a level can get a global gain that makes its PSNR better than the level before.
# SSIM (normalised by local contrast) is ordered on each photo; PSNR on the mean over the photos.
PSNR_ON_MEAN = {15, 19}


@pytest.fixture(scope="module")
def severity(pristine_paths):
    paths = [p for p in pristine_paths if p.name in PHOTOS]
    if len(paths) < len(PHOTOS):
        pytest.skip("the pristine photos of the monotonicity test are missing")
    scores = {}
    for pair in make_pairs(paths, max_side=384, seed=0):
        d, r = pair.dist[None], pair.ref[None]
        scores[(pair.key, pair.kind, pair.level)] = (float(psnr(d, r)), float(ssim(d, r)))
    return scores


@pytest.mark.slow
@pytest.mark.needs_data
@pytest.mark.parametrize("kind", range(1, 26))
def test_severity_is_monotone_in_psnr_and_ssim(severity, kind):
    chains = CHAINS.get(kind, [(1, 2, 3, 4, 5)])
    for photo in PHOTOS:
        p = {level: severity[(photo, kind, level)][0] for level in range(1, 6)}
        s = {level: severity[(photo, kind, level)][1] for level in range(1, 6)}
        for chain in chains:
            for milder, harsher in zip(chain, chain[1:]):
                where = f"{photo}, levels {milder} -> {harsher}"
                assert s[harsher] <= s[milder] + SSIM_SLACK, f"SSIM rises: {where}: {s}"
                if kind not in PSNR_ON_MEAN:
                    assert p[harsher] <= p[milder] + PSNR_SLACK, f"PSNR rises: {where}: {p}"
            first, last = chain[0], chain[-1]
            assert p[last] < p[first] - 1.0 and s[last] < s[first], f"{photo}: {first} vs {last}: {p} {s}"
    if kind in PSNR_ON_MEAN:
        mean = [sum(severity[(photo, kind, level)][0] for photo in PHOTOS) / len(PHOTOS) for level in range(1, 6)]
        assert all(b <= a for a, b in zip(mean, mean[1:])), mean
