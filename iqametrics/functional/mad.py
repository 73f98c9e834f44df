"""Most apparent distortion (MAD).

Larson & Chandler, "Most apparent distortion: full-reference image quality assessment and the
role of strategy", Journal of Electronic Imaging 19(1):011006, 2010.

Follows the authors' ``MAD_index.m`` (release 2011, with ``ical_std.c`` / ``ical_stat.c``):

* detection-based index ``d_detect`` (``hi_index``): 8-bit grey levels to perceived luminance
  ``0.02874 · v^(2.2/3)``, a contrast sensitivity function applied in the Fourier domain
  (``make_csf(M, N, 32)``: 32 cycles per degree), local statistics on 16×16
  blocks every 4 pixels (error std, reference mean, and as reference std the smallest std of
  the 8×8 blocks at the block origin and 4 px below/right of it: the probes of ``ical_std.c``,
  not the four quadrants of the paper), a log-contrast masking map weighting the local MSE of
  the grey images, then 200 × the RMS of the map with a 16-pixel border removed;
* appearance-based index ``d_appear`` (``lo_index``): a log-Gabor decomposition (5 scales,
  4 orientations, wavelengths 3·3^s, sigmaOnf 0.55) of the grey images, block standard
  deviation, skewness and kurtosis of every band's magnitude, their weighted absolute
  differences summed over bands (scale weights 0.5, 0.75, 1, 5, 6), RMS with the border removed;
* ``MAD = d_appear^(1-α) · d_detect^α`` with ``α = 1 / (1 + β1 · d_detect^β2)``,
  ``β1 = exp(-2.55/3.35)``, ``β2 = 1/(ln 10 · 3.35)``.

Higher is worse; identical images give 0.  Images need at least 34 px per side.
"""
from __future__ import annotations

import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .color import rgb_to_gray_8bit
from ._cache import cached_constants
from .filters import separable_filter2d
from ._pairs import check_pair

__all__ = ["mad", "mad_detection", "mad_appearance", "MAD_MIN_SIZE"]

BLOCK = 16  # side of the blocks of the local statistics (ical_std / ical_stat)
MAD_MIN_SIZE = 2 * BLOCK + 2  # smallest side MAD_index.m can score
STRIDE = 4  # distance between blocks; each block's values fill its top-left STRIDE×STRIDE cell
SCALE_WEIGHTS = (0.5, 0.75, 1.0, 5.0, 6.0)
THRESH1, THRESH2 = 2.55, 3.35


def _matlab_round(v: float) -> int:
    return int(math.floor(v + 0.5))


# ----------------------------------------------------------------------------- block statistics
def _cell_fill(stat: Tensor, h: int, w: int) -> Tensor:
    """Spread block values [..., nh, nw] over their top-left STRIDE×STRIDE cells of an [h, w] map
    (zeros where no block starts), as the MEX files write their outputs."""
    out = stat.repeat_interleave(STRIDE, -2).repeat_interleave(STRIDE, -1)
    ph, pw = h - out.shape[-2], w - out.shape[-1]
    return F.pad(out, (0, pw, 0, ph))


def _cell_means(t: Tensor) -> Tensor:
    """Means of the non-overlapping STRIDE×STRIDE cells of ``t`` [N, C, H, W]."""
    return F.avg_pool2d(t, STRIDE)


def _block_means(cells: Tensor, size: int) -> Tensor:
    """Means of the size×size blocks starting every STRIDE px, from the cell means: a block is
    (size/STRIDE)² whole cells, so two small separable passes replace a size² window."""
    k = size // STRIDE
    return F.avg_pool2d(F.avg_pool2d(cells, (k, 1), stride=1), (1, k), stride=1)


def _centre(t: Tensor) -> Tensor:
    # moments are taken about the image mean (in float64): this keeps the cancellation of the
    # one-pass moment formulas far below the tolerance of the published scores
    return t - t.mean(dim=(-2, -1), keepdim=True)


def _block_central_moments(t: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Biased central moments 2-4 of every 16×16 block (stride 4) of ``t`` [N, C, H, W]."""
    d = _centre(t)
    p = d * d
    cells = [_cell_means(d), _cell_means(p)]
    for _ in range(2):  # d³, d⁴ in place: the full-size temporaries dominate the run time
        p.mul_(d)
        cells.append(_cell_means(p))
    c = t.shape[1]
    m1, e2, e3, e4 = _block_means(torch.cat(cells, dim=1), BLOCK).split(c, dim=1)
    m1_sq = m1 * m1
    mu2 = (e2 - m1_sq).clamp_min(0)
    mu3 = e3 - 3 * m1 * e2 + 2 * m1_sq * m1
    mu4 = e4 - 4 * m1 * e3 + 6 * m1_sq * e2 - 3 * m1_sq * m1_sq
    return mu2, mu3, mu4


# ----------------------------------------------------------------------------- detection index
@cached_constants(maxsize=8)
def _csf(h: int, w: int, device, dtype, nfreq: float = 32.0) -> Tensor:
    """``ifftshift(make_csf(h, w, 32)')``: the CSF of MAD_index.m laid out like ``fft2``."""
    return _make_csf(h, w, nfreq).to(device=device, dtype=dtype)


def _make_csf(h: int, w: int, nfreq: float) -> Tensor:
    """``ifftshift(make_csf(h, w, nfreq)')`` in float64."""
    # make_csf(x=h, y=w): meshgrid over (-x/2+0.5 : x/2-0.5) and (-y/2+0.5 : y/2-0.5),
    # normalised by y = w, then transposed to h × w
    u = torch.arange(h, dtype=torch.float64) - h / 2 + 0.5
    v = torch.arange(w, dtype=torch.float64) - w / 2 + 0.5
    re = u.view(h, 1).expand(h, w) / w * 2 * nfreq
    im = v.view(1, w).expand(h, w) / w * 2 * nfreq
    radfreq = torch.sqrt(re * re + im * im)
    omega = 0.7  # symmetry parameter: about 3 dB down along the diagonals
    s = (1 - omega) / 2 * torch.cos(4 * torch.atan2(im, re)) + (1 + omega) / 2
    radfreq = radfreq / s
    csf = 2.6 * (0.0192 + 0.114 * radfreq) * torch.exp(-((0.114 * radfreq) ** 1.1))
    csf = torch.where(radfreq < 7.8909, torch.full_like(csf, 0.9809), csf)
    return torch.fft.ifftshift(csf)


def _ical_std(err: Tensor, ref: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """``[std_2, std_1, m1_1] = ical_std(err, ref)`` of the official MEX file, as block maps.

    Per 16×16 block (every 4 px): the std of ``err`` (n-1 normaliser), the reference mean, and
    the smallest std (n-1) of the 8×8 reference blocks starting at the block's origin and 4 px
    below / right of it.  (The MEX file probes its 8×8 grid at offsets 0 and 5 px, i.e. these
    overlapping blocks, not the four quadrants of the paper; a probe counts only while its
    position is below ``size - 15``.)
    """
    h, w = ref.shape[-2:]
    n, half = BLOCK * BLOCK, BLOCK // 2
    shift = ref.mean(dim=(-2, -1), keepdim=True)
    d_err, d_ref = _centre(err), ref - shift
    cells = _cell_means(torch.cat([d_err, d_err * d_err, d_ref, d_ref * d_ref], dim=1))
    m_err, e2_err, m_ref, e2_ref = _block_means(cells, BLOCK).split(1, dim=1)
    std_err = ((e2_err - m_err * m_err).clamp_min(0) * n / (n - 1)).sqrt()
    mean_ref = m_ref + shift
    nh, nw = mean_ref.shape[-2:]
    sub_m, sub_e2 = _block_means(cells[:, 2:], half)[..., :nh, :nw].split(1, dim=1)
    sub_std = ((sub_e2 - sub_m * sub_m).clamp_min(0) * (half * half) / (half * half - 1)).sqrt()
    inf = torch.full_like(sub_std, math.inf)
    # neighbour cell c + 1 is probed only where STRIDE·(c + 1) + 1 < size - 15
    ok_h = (torch.arange(nh, device=ref.device) + 1) * STRIDE + 1 < h - (BLOCK - 1)
    ok_w = (torch.arange(nw, device=ref.device) + 1) * STRIDE + 1 < w - (BLOCK - 1)
    down = torch.where(ok_h.view(-1, 1), torch.cat([sub_std[..., 1:, :], inf[..., :1, :]], -2), inf)
    right = torch.where(ok_w.view(1, -1), torch.cat([sub_std[..., :, 1:], inf[..., :, :1]], -1), inf)
    diag = torch.where(ok_w.view(1, -1), torch.cat([down[..., :, 1:], inf[..., :, :1]], -1), inf)
    std_min = torch.minimum(torch.minimum(sub_std, down), torch.minimum(right, diag))
    return std_err, std_min, mean_ref


def mad_detection(dist: Tensor, ref: Tensor) -> Tensor:
    """Detection-based index ``d_detect`` (``hi_index``) of grey images [B, 1, H, W] on the
    0-255 scale (float64 advised)."""
    h, w = ref.shape[-2:]
    lum_k, gamma = 0.02874, 2.2 / 3
    csf = _csf(h, w, ref.device, ref.dtype)
    both = torch.cat([ref, dist]).clamp_min(0)
    lum = torch.fft.ifft2(torch.fft.fft2(lum_k * both.pow(gamma)) * csf).real
    b = ref.shape[0]
    ref_l, dst_l = lum[:b], lum[b:]
    std_err, std_ref, mean_ref = _ical_std(dst_l - ref_l, ref_l)
    ci_ref = torch.log(std_ref / mean_ref)
    ci_dst = torch.log(std_err / mean_ref)
    ci_dst = torch.where(mean_ref < 0.5, torch.full_like(ci_dst, -math.inf), ci_dst)
    c_slope, ci_thresh, cd_thresh = 1.0, -5.0, -5.0
    line = c_slope * (ci_ref - ci_thresh) + cd_thresh
    zero = torch.zeros_like(ci_dst)
    msk = torch.where((ci_ref > ci_thresh) & (ci_dst > line), ci_dst - line, zero)
    msk = torch.where((ci_ref <= ci_thresh) & (ci_dst > cd_thresh), ci_dst - cd_thresh, msk)
    msk = _cell_fill(msk, h, w)

    sq = (ref - dist) ** 2
    box = torch.full((BLOCK,), 1.0 / BLOCK, dtype=ref.dtype, device=ref.device)
    # imfilter(..., 'symmetric', 'same', 'conv'): window rows i-7 .. i+8 (filter2 'same' in the
    # copies without the toolbox takes the same window; the borders are cut off below anyway)
    lmse = separable_filter2d(sq, box, padding="symmetric")
    mp = (msk * lmse)[..., BLOCK : h - BLOCK - 1, BLOCK : w - BLOCK - 1]
    return mp.pow(2).flatten(1).mean(1).sqrt() * 200.0


# ----------------------------------------------------------------------------- appearance index
@cached_constants(maxsize=4)  # a bank is 20 × H × W: the shared byte budget bounds it too
def _log_gabor_bank(h: int, w: int, device, dtype) -> Tensor:
    """The 5×4 log-Gabor transfer functions of ``gaborconvolve`` (MAD_index.m), fft2 layout."""
    return _make_log_gabor_bank(h, w).to(device=device, dtype=dtype)


def _make_log_gabor_bank(h: int, w: int) -> Tensor:
    """The 20 transfer functions (scale-major) in float64, fft2 layout."""
    nscale, norient, min_wavelength, mult, sigma_on_f, d_theta_on_sigma = 5, 4, 3.0, 3.0, 0.55, 1.5
    xs = (torch.arange(w, dtype=torch.float64) - w / 2) / (w / 2)
    ys = (torch.arange(h, dtype=torch.float64) - h / 2) / (h / 2)
    x = xs.view(1, w).expand(h, w)
    y = ys.view(h, 1).expand(h, w)
    radius = torch.sqrt(x * x + y * y)
    cy, cx = _matlab_round(h / 2 + 1) - 1, _matlab_round(w / 2 + 1) - 1
    radius[cy, cx] = 1.0  # avoid log(0) at the centre (the original's fudge)
    log_radius = torch.log(radius)
    theta = torch.atan2(-y, x)
    sin_t, cos_t = torch.sin(theta), torch.cos(theta)
    theta_sigma = math.pi / norient / d_theta_on_sigma
    radial = []
    for s in range(nscale):
        rfo = (1.0 / (min_wavelength * mult**s)) / 0.5
        g = torch.exp((log_radius - math.log(rfo)) ** 2 / -(2 * math.log(sigma_on_f) ** 2))
        g[cy, cx] = 0.0
        radial.append(g)
    bank = []
    for s in range(nscale):  # order (scale, orientation) as EO{s, o}
        for o in range(norient):
            angle = o * math.pi / norient
            ds = sin_t * math.cos(angle) - cos_t * math.sin(angle)
            dc = cos_t * math.cos(angle) + sin_t * math.sin(angle)
            dtheta = torch.atan2(ds, dc).abs()
            spread = torch.exp(-(dtheta**2) / (2 * theta_sigma**2))
            bank.append(torch.fft.fftshift(radial[s] * spread))
    return torch.stack(bank)


def _ical_stat(mag: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """``[std, skw, krt] = ical_stat(mag)`` as block maps: std with n-1, skewness and kurtosis
    (not excess) with biased moments, both 0 for a constant block."""
    mu2, mu3, mu4 = _block_central_moments(mag)
    n = BLOCK * BLOCK
    std = (mu2 * n / (n - 1)).sqrt()
    flat = mu2 <= 0
    safe = torch.where(flat, torch.ones_like(mu2), mu2)
    skw = torch.where(flat, torch.zeros_like(mu3), mu3 / safe.pow(1.5))
    krt = torch.where(flat, torch.zeros_like(mu4), mu4 / (safe * safe))
    return std, skw, krt


def mad_appearance(dist: Tensor, ref: Tensor) -> Tensor:
    """Appearance-based index ``d_appear`` (``lo_index``) of grey images on the 0-255 scale."""
    h, w = ref.shape[-2:]
    b = ref.shape[0]
    bank = _log_gabor_bank(h, w, ref.device, ref.dtype)  # [20, H, W]
    spectra = torch.fft.fft2(torch.cat([ref, dist]))  # [2B, 1, H, W]
    weights = torch.tensor(SCALE_WEIGHTS, dtype=ref.dtype, device=ref.device)
    weights = (weights / weights.sum()).repeat_interleave(bank.shape[0] // len(SCALE_WEIGHTS))
    # bands in groups of at most ~2^25 complex samples: all 20 at once for one 512×384 pair,
    # one at a time for 16 pairs of 1024×768 (bounds the memory at about 1 GB)
    group = max(1, min(bank.shape[0], (1 << 25) // (2 * b * h * w)))
    total = None
    for start in range(0, bank.shape[0], group):
        mag = torch.fft.ifft2(spectra * bank[start : start + group]).abs()  # [2B, group, H, W]
        std, skw, krt = _ical_stat(mag)
        diff = (std[:b] - std[b:]).abs() + 2 * (skw[:b] - skw[b:]).abs() + (krt[:b] - krt[b:]).abs()
        term = (weights[start : start + group].view(1, -1, 1, 1) * diff).sum(dim=1, keepdim=True)
        total = term if total is None else total + term
    mp = _cell_fill(total, h, w)[..., BLOCK : h - BLOCK - 1, BLOCK : w - BLOCK - 1]
    return mp.pow(2).flatten(1).mean(1).sqrt()


def mad(
    dist: Tensor,
    ref: Tensor,
    *,
    quantize: bool = True,
    color: str = "gray",
    thresholds: Tuple[float, float] = (THRESH1, THRESH2),
) -> Tensor:
    """MAD per image: [B, C, H, W] pairs in [0, 1] -> [B] (0 = identical, higher is worse).

    ``quantize`` rounds to 8-bit RGB and 8-bit grey (``rgb2gray`` of a ``uint8`` image, the
    input of the official code); ``color="y"`` uses the Y of ``rgb2ycbcr`` instead of
    ``rgb2gray``.  ``thresholds`` are the blending constants (2.55, 3.35) of
    ``MAD_index.m``.
    """
    check_pair(dist, ref, batched=True)
    h, w = ref.shape[-2:]
    if min(h, w) < MAD_MIN_SIZE:
        raise ValueError(f"MAD needs images of at least {MAD_MIN_SIZE} px per side, got {w}×{h}")
    x = rgb_to_gray_8bit(ref, quantize=quantize, color=color).double() * 255.0
    y = rgb_to_gray_8bit(dist, quantize=quantize, color=color).double() * 255.0
    d_detect = mad_detection(y, x)
    d_appear = mad_appearance(y, x)
    t1, t2 = thresholds
    beta1 = math.exp(-t1 / t2)
    beta2 = 1.0 / (math.log(10.0) * t2)
    alpha = 1.0 / (1.0 + beta1 * d_detect.pow(beta2))
    return (d_appear.pow(1 - alpha) * d_detect.pow(alpha)).to(dist.dtype)
