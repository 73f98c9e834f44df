"""VIF, VIFp, NLPD and MAD: full-reference models of the visual system on MATLAB's 8-bit grey image.

Each scores the 8-bit grey image of MATLAB ``rgb2gray`` as the official scripts do; with gradients
(``create(..., differentiable=True)`` or ``as_loss=True``) the 8-bit rounding is straight-through,
so scores do not change.
The maths lives in :mod:`iqametrics.functional` (``vif``, ``nlpd``, ``mad``); model card
``docs/models/vif_nlpd_mad.md``.
"""
from __future__ import annotations

from ..functional.color import check_grey_color
from ..functional.mad import MAD_MIN_SIZE
from ..functional.mad import mad as _mad_fn
from ..functional.nlpd import nlpd as _nlpd_fn
from ..functional.vif import VIF_MIN_SIZE, VIFP_MIN_SIZE
from ..functional.vif import vif as _vif_fn
from ..functional.vif import vifp as _vifp_fn
from ..registry import register_metrics
from ._functional import FunctionalFRMetric, classic_fr_configs

__all__ = ["VIF", "VIFp", "NLPD", "MAD"]


class _GreyFR(FunctionalFRMetric):
    """FR metric on MATLAB ``rgb2gray`` grey levels (``color="y"``: the Y of ``rgb2ycbcr``);
    ``quantize`` rounds to 8 bit like the official scripts reading ``uint8`` files (straight-through
    for gradients)."""

    def __init__(self, quantize: bool = True, color: str = "gray", **options):
        check_grey_color(color)
        super().__init__(quantize=bool(quantize), color=color, **options)


class VIF(_GreyFR):
    """Wavelet-domain visual information fidelity (Sheikh & Bovik, IEEE TIP 2006), as the
    official ``vifvec.m``; see :func:`iqametrics.functional.vif` and ``docs/models/vif_nlpd_mad.md``."""

    function = staticmethod(_vif_fn)
    min_size = (VIF_MIN_SIZE, VIF_MIN_SIZE)

    def __init__(self, sigma_nsq: float = 0.4, orientations=(0, 3), **options):
        orientations = tuple(int(o) for o in orientations)
        if not orientations or any(o < 0 or o > 5 for o in orientations):
            raise ValueError(f"orientations must be a non-empty subset of 0..5, got {orientations}")
        super().__init__(sigma_nsq=sigma_nsq, orientations=orientations, **options)  # sigma_nsq > 0: checked there


class VIFp(_GreyFR):
    """Pixel-domain VIF (``vifp_mscale.m``), the simplified VIF of piq/torchmetrics; a different
    metric from ``vif``.  See :func:`iqametrics.functional.vifp`."""

    function = staticmethod(_vifp_fn)
    min_size = (VIFP_MIN_SIZE, VIFP_MIN_SIZE)

    def __init__(self, sigma_nsq: float = 2.0, **options):
        super().__init__(sigma_nsq=sigma_nsq, **options)


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


# ----------------------------------------------------------------------------- registration
register_metrics(VIF, classic_fr_configs(
    "Sheikh & Bovik, Image information and visual quality, IEEE TIP 2006",
    {"vif": dict(
        description="Visual information fidelity in the steerable-pyramid domain (official vifvec.m).",
        notes="1 for identical images; can exceed 1 for contrast enhancement. Not the pixel-domain vifp.",
    )},
))
register_metrics(VIFp, classic_fr_configs(
    "Sheikh & Bovik, Image information and visual quality, IEEE TIP 2006 (vifp_mscale.m)",
    {"vifp": dict(
        description="Pixel-domain VIF (four Gaussian scales), the VIF of piq and torchmetrics.",
        notes="A simplification of vif, not the same metric; 1 for identical images.",
    )},
))
register_metrics(NLPD, classic_fr_configs(
    "Laparra, Ballé, Berardino & Simoncelli, Perceptual image quality assessment using a "
    "normalized Laplacian pyramid, HVEI 2016",
    {"nlpd": dict(
        description="Normalized Laplacian pyramid distance (official NLP_dist.m, 2016 parameters).",
        higher_is_better=False,
    )},
))
register_metrics(MAD, classic_fr_configs(
    "Larson & Chandler, Most apparent distortion: full-reference image quality assessment "
    "and the role of strategy, J. Electronic Imaging 2010",
    {"mad": dict(
        description="Most apparent distortion: detection (CSF, masking) and appearance (log-Gabor statistics) blended.",
        higher_is_better=False,
        score_range=(0.0, 250.0),
        differentiable=False,
        notes="0 for identical images, also for distortions the detection stage finds invisible (official MAD_index.m).",
    )},
))
