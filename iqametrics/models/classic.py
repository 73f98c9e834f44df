"""Registered wrappers of the classic metrics in :mod:`iqametrics.functional`.

Each class is a thin :class:`~iqametrics.metric.FRMetric`/:class:`~iqametrics.metric.NRMetric`
holding the options of one functional metric; the maths lives in ``functional/``.
"""
from __future__ import annotations

import inspect
from typing import Callable

from ..functional.fsim import fsim
from ..functional.gmsd import gmsd
from ..functional.ms_ssim import MS_SSIM_MIN_SIZE, ms_ssim
from ..functional.psnr import psnr
from ..functional.ssim import ssim
from ..functional.vsi import vsi
from ..metric import FRMetric
from ..registry import MetricInfo, register_metric

_OURS = "Apache-2.0 (iqametrics implementation)"


class FunctionalFRMetric(FRMetric):
    """A full-reference metric that calls one function of :mod:`iqametrics.functional` with fixed options.

    Subclasses set ``function``; the options are checked against its signature when the metric
    is built, so a misspelt option fails at ``create`` rather than at the first image.
    """

    function: Callable = None

    def __init__(self, amp=None, **options):
        super().__init__(amp=amp)
        try:
            inspect.signature(type(self).function).bind(None, None, **options)
        except TypeError as err:
            raise TypeError(f"{type(self).__name__}: {err}") from None
        self.options = options

    def _score(self, dist, ref):
        return type(self).function(dist, ref, **self.options)

    def extra_repr(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return ", ".join(s for s in (super().extra_repr(), opts) if s)


class PSNR(FunctionalFRMetric):
    """Peak signal-to-noise ratio (dB) over RGB by default; see :func:`iqametrics.functional.psnr`."""

    function = staticmethod(psnr)


def _register_fr(cls, name: str, paper: str, description: str, defaults: dict = None, **info) -> None:
    """Register ``cls`` (built with ``defaults`` updated by the user's options) under ``name``."""
    info.setdefault("score_range", (0.0, 1.0))
    info.setdefault("higher_is_better", True)
    info.setdefault("differentiable", True)
    metric_info = MetricInfo(name=name, kind="FR", paper=paper, licence=_OURS, description=description, **info)
    register_metric(metric_info, **(defaults or {}))(lambda *, pretrained=True, **options: cls(**options))


_register_fr(
    PSNR,
    "psnr",
    "Peak signal-to-noise ratio (classic)",
    "PSNR in dB over the RGB channels of the 8-bit images (color='y' for BT.601 luma).",
    score_range=(0.0, 100.0),
)


# --- classic FR metrics, part B: VIF, VIFp, NLPD, MAD ------------------------------------------
# Each scores the 8-bit grey image of MATLAB rgb2gray as the official scripts do; as a loss
# (create(..., as_loss=True)) the 8-bit rounding is straight-through, so scores do not change.
from ..functional.color import check_grey_color  # noqa: E402
from ..functional.mad import MAD_MIN_SIZE  # noqa: E402
from ..functional.mad import mad as _mad_fn  # noqa: E402
from ..functional.nlpd import nlpd as _nlpd_fn  # noqa: E402
from ..functional.vif import VIF_MIN_SIZE, VIFP_MIN_SIZE  # noqa: E402
from ..functional.vif import vif as _vif_fn  # noqa: E402
from ..functional.vif import vifp as _vifp_fn  # noqa: E402


class _GreyFR(FunctionalFRMetric):
    """FR metric on MATLAB ``rgb2gray`` grey levels (``color="y"``: the Y of ``rgb2ycbcr``);
    ``quantize`` rounds to 8 bit like the official scripts reading ``uint8`` files (straight-through
    for gradients)."""

    def __init__(self, quantize: bool = True, color: str = "gray", **options):
        check_grey_color(color)
        super().__init__(quantize=bool(quantize), color=color, **options)


def _positive(name: str, value: float) -> float:
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return float(value)


class VIF(_GreyFR):
    """Wavelet-domain visual information fidelity (Sheikh & Bovik, IEEE TIP 2006), as the
    official ``vifvec.m``; see :func:`iqametrics.functional.vif` and ``docs/models/classic_fr_b.md``."""

    function = staticmethod(_vif_fn)
    min_size = (VIF_MIN_SIZE, VIF_MIN_SIZE)

    def __init__(self, sigma_nsq: float = 0.4, orientations=(0, 3), **options):
        orientations = tuple(int(o) for o in orientations)
        if not orientations or any(o < 0 or o > 5 for o in orientations):
            raise ValueError(f"orientations must be a non-empty subset of 0..5, got {orientations}")
        super().__init__(sigma_nsq=_positive("sigma_nsq", sigma_nsq), orientations=orientations, **options)


class VIFp(_GreyFR):
    """Pixel-domain VIF (``vifp_mscale.m``), the simplified VIF of piq/torchmetrics; a different
    metric from ``vif``.  See :func:`iqametrics.functional.vifp`."""

    function = staticmethod(_vifp_fn)
    min_size = (VIFP_MIN_SIZE, VIFP_MIN_SIZE)

    def __init__(self, sigma_nsq: float = 2.0, **options):
        super().__init__(sigma_nsq=_positive("sigma_nsq", sigma_nsq), **options)


class NLPD(_GreyFR):
    """Normalized Laplacian pyramid distance (Laparra et al. 2016), as the official ``NLP_dist.m``;
    see :func:`iqametrics.functional.nlpd`."""

    function = staticmethod(_nlpd_fn)
    min_size = (32, 32)


class MAD(_GreyFR):
    """Most apparent distortion (Larson & Chandler 2010), as the official ``MAD_index.m``;
    see :func:`iqametrics.functional.mad`."""

    function = staticmethod(_mad_fn)
    min_size = (MAD_MIN_SIZE, MAD_MIN_SIZE)


_register_fr(
    VIF,
    "vif",
    "Sheikh & Bovik, Image information and visual quality, IEEE TIP 2006",
    "Visual information fidelity in the steerable-pyramid domain (official vifvec.m).",
    notes="1 for identical images; can exceed 1 for contrast enhancement. Not the pixel-domain vifp.",
)
_register_fr(
    VIFp,
    "vifp",
    "Sheikh & Bovik, Image information and visual quality, IEEE TIP 2006 (vifp_mscale.m)",
    "Pixel-domain VIF (four Gaussian scales), the VIF of piq and torchmetrics.",
    notes="A simplification of vif, not the same metric; 1 for identical images.",
)
_register_fr(
    NLPD,
    "nlpd",
    "Laparra, Ballé, Berardino & Simoncelli, Perceptual image quality assessment using a "
    "normalized Laplacian pyramid, HVEI 2016",
    "Normalized Laplacian pyramid distance (official NLP_dist.m, 2016 parameters).",
    higher_is_better=False,
)
_register_fr(
    MAD,
    "mad",
    "Larson & Chandler, Most apparent distortion: full-reference image quality assessment "
    "and the role of strategy, J. Electronic Imaging 2010",
    "Most apparent distortion: detection (CSF, masking) and appearance (log-Gabor statistics) blended.",
    higher_is_better=False,
    score_range=(0.0, 250.0),
    differentiable=False,
    notes="0 for identical images, also for distortions the detection stage finds invisible (official MAD_index.m).",
)


# --------------------------------------------------------------------------------------------
# No-reference classics: NIQE, BRISQUE, PIQE (docs/models/classic_nr.md)
# --------------------------------------------------------------------------------------------
from ..functional._bundled import bundled_params  # noqa: E402
from ..functional.brisque import BRISQUE_WEIGHTS_KEY, brisque  # noqa: E402
from ..functional.niqe import NIQE_BLOCK, NIQE_WEIGHTS_KEY, niqe  # noqa: E402
from ..functional.piqe import PIQE_BLOCK, piqe  # noqa: E402
from ..metric import NRMetric  # noqa: E402

_NR_NOTES = (
    "Faithful to the official MATLAB code (uint8 rgb2gray, MATLAB imresize, the reference's padding); "
    "computed in float64. Model parameters ship inside the package: no download."
)


class _BundledNR(NRMetric):
    """An NR metric whose fixed model (a manifest entry bundled in the package) lives in buffers."""

    weights_key = ""

    def __init__(self, quantize: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.quantize = bool(quantize)
        for name, value in bundled_params(self.weights_key).items():
            # not persistent: the model is part of the metric's definition, not a checkpoint
            self.register_buffer(name, value.clone(), persistent=False)


class NIQE(_BundledNR):
    """NIQE (Mittal, Soundararajan & Bovik, "Making a 'completely blind' image quality analyzer",
    IEEE SPL 2013) with the official pristine model; see :func:`iqametrics.functional.niqe`.

    Departure: none in the computation; with exactly one 96×96 block the official ``nancov``
    sees a row vector, a quirk reproduced (and documented in the model card).
    """

    min_size = (NIQE_BLOCK, NIQE_BLOCK)  # the official code needs one whole 96×96 block
    weights_key = NIQE_WEIGHTS_KEY

    def _score(self, x):
        return niqe(x, self.mu_pris_param, self.cov_pris_param, quantize=self.quantize)


class BRISQUE(_BundledNR):
    """BRISQUE (Mittal, Moorthy & Bovik, "No-reference image quality assessment in the spatial
    domain", IEEE TIP 2012) with the official LIVE SVR; see :func:`iqametrics.functional.brisque`.

    Departure: the SVR is evaluated in float64 tensor maths instead of LIBSVM (same formula).
    """

    # The 7×7 local window must fit in the half-scale image (the official code runs on smaller
    # images, but their statistics are then dominated by the zero padding).
    min_size = (14, 14)
    weights_key = BRISQUE_WEIGHTS_KEY

    def __init__(self, quantize: bool = True, libsvm_rounding: bool = True, **kwargs):
        super().__init__(quantize=quantize, **kwargs)
        self.libsvm_rounding = bool(libsvm_rounding)

    def _score(self, x):
        model = {k: getattr(self, k) for k in ("sv", "sv_coef", "rho", "gamma", "feature_min", "feature_max")}
        return brisque(x, model, quantize=self.quantize, libsvm_rounding=self.libsvm_rounding)


class PIQE(NRMetric):
    """PIQE (Venkatanath et al., "Blind image quality evaluation using perception based
    features", NCC 2015), as MATLAB's ``piqe``; see :func:`iqametrics.functional.piqe`.

    Departure: MATLAB pads any image to whole 16×16 blocks; we refuse images smaller than one
    block (a block would then be mostly padding).
    """

    min_size = (PIQE_BLOCK, PIQE_BLOCK)

    def __init__(self, quantize: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.quantize = bool(quantize)

    def _score(self, x):
        return piqe(x, quantize=self.quantize)


@register_metric(
    MetricInfo(
        name="niqe",
        kind="NR",
        higher_is_better=False,
        score_range=(0.0, float("inf")),
        paper="Mittal, Soundararajan & Bovik, Making a 'Completely Blind' Image Quality Analyzer, IEEE SPL 2013",
        licence="Apache-2.0 (implementation); pristine model: UT Austin NIQE release notice, via BasicSR (Apache-2.0)",
        description="Natural Image Quality Evaluator: distance of 96×96-block NSS features to a pristine MVG model.",
        notes=_NR_NOTES + " Unbounded above; typical photos score 2-10.",
    )
)
def _niqe(*, pretrained: bool = True, **options):
    return NIQE(**options)


@register_metric(
    MetricInfo(
        name="brisque",
        kind="NR",
        higher_is_better=False,
        score_range=(0.0, 100.0),
        paper="Mittal, Moorthy & Bovik, No-Reference Image Quality Assessment in the Spatial Domain, IEEE TIP 2012",
        licence="Apache-2.0 (implementation); SVR model: UT Austin BRISQUE release notice",
        description="Blind/Referenceless Image Spatial Quality Evaluator: NSS features + the official LIVE SVR.",
        notes=_NR_NOTES + " Nominal range 0-100; the SVR can return values slightly outside it.",
    )
)
def _brisque(*, pretrained: bool = True, **options):
    return BRISQUE(**options)


@register_metric(
    MetricInfo(
        name="piqe",
        kind="NR",
        higher_is_better=False,
        score_range=(0.0, 100.0),
        paper="Venkatanath et al., Blind Image Quality Evaluation Using Perception Based Features, NCC 2015",
        licence="Apache-2.0 (implementation; no learned parameters)",
        description="Perception-based Image Quality Evaluator: blockiness and noise of spatially active 16×16 blocks.",
        notes="Matches MATLAB's piqe (uint8 rgb2gray, replicate padding); computed in float64; needs no model.",
    )
)
def _piqe(*, pretrained: bool = True, **options):
    return PIQE(**options)
# ---- SSIM family, GMSD, FSIM/FSIMc, VSI (classic full-reference, part A) ----------------------


class SSIM(FunctionalFRMetric):
    """SSIM (Wang et al., IEEE TIP 2004) as Wang's ``ssim.m``; see :func:`iqametrics.functional.ssim`.

    Departs from the paper only by following ``ssim.m``'s automatic downsampling
    (``downsample=False`` gives the paper's ``ssim_index.m``); docs/models/classic_fr.md.
    """

    function = staticmethod(ssim)
    min_size = (11, 11)


class MSSSIM(FunctionalFRMetric):
    """MS-SSIM (Wang et al., Asilomar 2003) as Wang's ``msssim.m``; see :func:`iqametrics.functional.ms_ssim`."""

    function = staticmethod(ms_ssim)
    min_size = (MS_SSIM_MIN_SIZE, MS_SSIM_MIN_SIZE)


class GMSD(FunctionalFRMetric):
    """GMSD (Xue et al., IEEE TIP 2014) as the authors' ``GMSD.m``; see :func:`iqametrics.functional.gmsd`."""

    function = staticmethod(gmsd)
    min_size = (3, 3)


class FSIM(FunctionalFRMetric):
    """FSIM / FSIMc (Zhang et al., IEEE TIP 2011) as ``FeatureSIM.m``; see :func:`iqametrics.functional.fsim`."""

    function = staticmethod(fsim)
    min_size = (8, 8)


class VSI(FunctionalFRMetric):
    """VSI (Zhang et al., IEEE TIP 2014) with SDSP saliency as ``VSI.m``; see :func:`iqametrics.functional.vsi`."""

    function = staticmethod(vsi)
    min_size = (8, 8)


_RESEARCH_ONLY = (
    "The authors' MATLAB code is licensed for research and education only; this is an independent "
    "implementation of the published algorithm."
)


_FSIM_PAPER = "Zhang, Zhang, Mou, Zhang. FSIM: a feature similarity index for image quality assessment. IEEE TIP 2011"

_register_fr(
    SSIM,
    "ssim",
    "Wang, Bovik, Sheikh, Simoncelli. Image quality assessment: from error visibility to structural similarity. IEEE TIP 2004",
    "SSIM on the 8-bit luma with Wang's automatic downsampling (ssim.m); downsample=False, color='rgb' for variants.",
    score_range=(-1.0, 1.0),
)
_register_fr(
    MSSSIM,
    "ms_ssim",
    "Wang, Simoncelli, Bovik. Multi-scale structural similarity for image quality assessment. Asilomar 2003",
    "MS-SSIM, 5 scales, official weights, on the 8-bit luma (msssim.m); method='wtd_sum' for the weighted sum.",
    aliases=("msssim",),
)
_register_fr(
    GMSD,
    "gmsd",
    "Xue, Zhang, Mou, Bovik. Gradient magnitude similarity deviation: a highly efficient perceptual image quality index. IEEE TIP 2014",
    "Gradient magnitude similarity deviation on the 8-bit luma (GMSD.m); lower is better.",
    higher_is_better=False,
)
_register_fr(
    FSIM,
    "fsim",
    _FSIM_PAPER,
    "FSIM: phase congruency and gradient similarity of the luma (FeatureSIM.m); fsimc adds chrominance.",
    defaults={"chromatic": False},
    notes=_RESEARCH_ONLY,
)
_register_fr(
    FSIM,
    "fsimc",
    _FSIM_PAPER,
    "FSIMc: FSIM with the YIQ chrominance similarity (FeatureSIM.m's second output).",
    defaults={"chromatic": True},
    notes=_RESEARCH_ONLY,
)
_register_fr(
    VSI,
    "vsi",
    "Zhang, Shen, Li. VSI: a visual saliency-induced index for perceptual image quality assessment. IEEE TIP 2014",
    "VSI with SDSP saliency, gradient and LMN chrominance similarity (VSI.m).",
    notes=_RESEARCH_ONLY,
)


# ---- end of classic full-reference, part A ---------------------------------------------------
