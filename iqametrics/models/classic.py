"""Registered wrappers of the classic metrics in :mod:`iqametrics.functional`.

Each class is a thin :class:`~iqametrics.metric.FRMetric`/:class:`~iqametrics.metric.NRMetric`
holding the options of one functional metric; the maths lives in ``functional/``.
"""
from __future__ import annotations

import inspect
from typing import Callable

from ..functional.fsim import fsim
from ..functional.gmsd import gmsd
from ..functional.ms_ssim import ms_ssim
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


@register_metric(
    MetricInfo(
        name="psnr",
        kind="FR",
        higher_is_better=True,
        score_range=(0.0, 100.0),
        paper="Peak signal-to-noise ratio (classic)",
        licence=_OURS,
        differentiable=True,
        description="PSNR in dB over the RGB channels of the 8-bit images (color='y' for BT.601 luma).",
    )
)
def _psnr(*, pretrained: bool = True, **options):
    return PSNR(**options)


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
    min_size = (176, 176)


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


def _register_fr(cls, name: str, paper: str, description: str, defaults: dict = None, **info) -> None:
    """Register ``cls`` (built with ``defaults`` updated by the user's options) under ``name``."""
    info.setdefault("score_range", (0.0, 1.0))
    info.setdefault("higher_is_better", True)
    metric_info = MetricInfo(
        name=name, kind="FR", paper=paper, licence=_OURS, differentiable=True, description=description, **info
    )
    register_metric(metric_info)(lambda *, pretrained=True, **options: cls(**{**(defaults or {}), **options}))


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
