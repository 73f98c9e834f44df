"""Registered wrappers of the classic metrics in :mod:`iqametrics.functional`.

Each class is a thin :class:`~iqametrics.metric.FRMetric`/:class:`~iqametrics.metric.NRMetric`
holding the options of one functional metric; the maths lives in ``functional/``.
"""
from __future__ import annotations

from ..functional.psnr import psnr
from ..metric import FRMetric
from ..registry import MetricInfo, register_metric


class PSNR(FRMetric):
    """Peak signal-to-noise ratio (dB) on the BT.601 luma by default; see :func:`iqametrics.functional.psnr`."""

    def __init__(self, color: str = "y", data_range: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if color not in ("y", "rgb"):
            raise ValueError(f"color must be 'y' or 'rgb', got {color!r}")
        self.color = color
        self.data_range = data_range

    def _score(self, dist, ref):
        return psnr(dist, ref, color=self.color, data_range=self.data_range)


@register_metric(
    MetricInfo(
        name="psnr",
        kind="FR",
        higher_is_better=True,
        score_range=(0.0, 100.0),
        paper="Peak signal-to-noise ratio (classic)",
        licence="Apache-2.0 (iqametrics implementation)",
        differentiable=True,
        description="PSNR in dB on BT.601 luma (color='rgb' for all channels).",
    )
)
def _psnr(*, pretrained: bool = True, **options):
    return PSNR(**options)


# --- classic FR metrics, part B: VIF, VIFp, NLPD, MAD ------------------------------------------
# Each scores the 8-bit grey image of MATLAB rgb2gray as the official scripts do; as a loss
# (create(..., as_loss=True)) the 8-bit rounding is skipped so that gradients flow.
from ..functional.color import check_grey_color  # noqa: E402
from ..functional.mad import mad as _mad_fn  # noqa: E402
from ..functional.nlpd import nlpd as _nlpd_fn  # noqa: E402
from ..functional.vif import VIF_MIN_SIZE, VIFP_MIN_SIZE  # noqa: E402
from ..functional.vif import vif as _vif_fn  # noqa: E402
from ..functional.vif import vifp as _vifp_fn  # noqa: E402


class _GreyFR(FRMetric):
    """FR metric on MATLAB ``rgb2gray`` grey levels (``color="y"``: the Y of ``rgb2ycbcr``);
    ``quantize`` rounds to 8 bit like the official scripts reading ``uint8`` files (skipped when
    used as a loss)."""

    def __init__(self, quantize: bool = True, color: str = "gray", **kwargs):
        super().__init__(**kwargs)
        check_grey_color(color)
        self.quantize = bool(quantize)
        self.color = color

    def _quantize(self) -> bool:
        return self.quantize and not self.as_loss


class VIF(_GreyFR):
    """Wavelet-domain visual information fidelity (Sheikh & Bovik, IEEE TIP 2006), as the
    official ``vifvec.m``; see :func:`iqametrics.functional.vif` and ``docs/models/classic_fr_b.md``."""

    min_size = (VIF_MIN_SIZE, VIF_MIN_SIZE)

    def __init__(self, sigma_nsq: float = 0.4, orientations=(0, 3), **kwargs):
        super().__init__(**kwargs)
        if sigma_nsq <= 0:
            raise ValueError(f"sigma_nsq must be positive, got {sigma_nsq}")
        orientations = tuple(int(o) for o in orientations)
        if not orientations or any(o < 0 or o > 5 for o in orientations):
            raise ValueError(f"orientations must be a non-empty subset of 0..5, got {orientations}")
        self.sigma_nsq = float(sigma_nsq)
        self.orientations = orientations

    def _score(self, dist, ref):
        return _vif_fn(
            dist, ref, sigma_nsq=self.sigma_nsq, orientations=self.orientations, quantize=self._quantize(), color=self.color
        )


class VIFp(_GreyFR):
    """Pixel-domain VIF (``vifp_mscale.m``), the simplified VIF of piq/torchmetrics; a different
    metric from ``vif``.  See :func:`iqametrics.functional.vifp`."""

    min_size = (VIFP_MIN_SIZE, VIFP_MIN_SIZE)

    def __init__(self, sigma_nsq: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        if sigma_nsq <= 0:
            raise ValueError(f"sigma_nsq must be positive, got {sigma_nsq}")
        self.sigma_nsq = float(sigma_nsq)

    def _score(self, dist, ref):
        return _vifp_fn(dist, ref, sigma_nsq=self.sigma_nsq, quantize=self._quantize(), color=self.color)


class NLPD(_GreyFR):
    """Normalized Laplacian pyramid distance (Laparra et al. 2016), as the official ``NLP_dist.m``;
    see :func:`iqametrics.functional.nlpd`."""

    min_size = (32, 32)

    def _score(self, dist, ref):
        return _nlpd_fn(dist, ref, quantize=self._quantize(), color=self.color)


class MAD(_GreyFR):
    """Most apparent distortion (Larson & Chandler 2010), as the official ``MAD_index.m``;
    see :func:`iqametrics.functional.mad`."""

    min_size = (34, 34)

    def _score(self, dist, ref):
        return _mad_fn(dist, ref, quantize=self._quantize(), color=self.color)


@register_metric(
    MetricInfo(
        name="vif",
        kind="FR",
        higher_is_better=True,
        score_range=(0.0, 1.0),
        paper="Sheikh & Bovik, Image information and visual quality, IEEE TIP 2006",
        licence="Apache-2.0 (iqametrics implementation)",
        differentiable=True,
        description="Visual information fidelity in the steerable-pyramid domain (official vifvec.m).",
        notes="1 for identical images; can exceed 1 for contrast enhancement. Not the pixel-domain vifp.",
    )
)
def _vif(*, pretrained: bool = True, **options):
    return VIF(**options)


@register_metric(
    MetricInfo(
        name="vifp",
        kind="FR",
        higher_is_better=True,
        score_range=(0.0, 1.0),
        paper="Sheikh & Bovik, Image information and visual quality, IEEE TIP 2006 (vifp_mscale.m)",
        licence="Apache-2.0 (iqametrics implementation)",
        differentiable=True,
        description="Pixel-domain VIF (four Gaussian scales), the VIF of piq and torchmetrics.",
        notes="A simplification of vif, not the same metric; 1 for identical images.",
    )
)
def _vifp(*, pretrained: bool = True, **options):
    return VIFp(**options)


@register_metric(
    MetricInfo(
        name="nlpd",
        kind="FR",
        higher_is_better=False,
        score_range=(0.0, 1.0),
        paper="Laparra, Ballé, Berardino & Simoncelli, Perceptual image quality assessment using a "
        "normalized Laplacian pyramid, HVEI 2016",
        licence="Apache-2.0 (iqametrics implementation)",
        differentiable=True,
        description="Normalized Laplacian pyramid distance (official NLP_dist.m, 2016 parameters).",
    )
)
def _nlpd(*, pretrained: bool = True, **options):
    return NLPD(**options)


@register_metric(
    MetricInfo(
        name="mad",
        kind="FR",
        higher_is_better=False,
        score_range=(0.0, 250.0),
        paper="Larson & Chandler, Most apparent distortion: full-reference image quality assessment "
        "and the role of strategy, J. Electronic Imaging 2010",
        licence="Apache-2.0 (iqametrics implementation)",
        differentiable=False,
        description="Most apparent distortion: detection (CSF, masking) and appearance (log-Gabor statistics) blended.",
        notes="0 for identical images, also for distortions the detection stage finds invisible (official MAD_index.m).",
    )
)
def _mad(*, pretrained: bool = True, **options):
    return MAD(**options)


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
