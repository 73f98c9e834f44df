"""Classic full-reference metrics on the 8-bit luma or RGB: PSNR, SSIM, MS-SSIM, GMSD, FSIM / FSIMc, VSI.

Thin registered wrappers of :mod:`iqametrics.functional` (model card ``docs/models/classic_fr.md``).
"""
from __future__ import annotations

from ..functional.fsim import fsim
from ..functional.gmsd import gmsd
from ..functional.ms_ssim import MS_SSIM_MIN_SIZE, ms_ssim
from ..functional.psnr import psnr
from ..functional.ssim import ssim
from ..functional.vsi import vsi
from ..registry import register_metrics
from ._functional import FunctionalFRMetric, classic_fr_configs

__all__ = ["PSNR", "SSIM", "MSSSIM", "GMSD", "FSIM", "VSI"]


class PSNR(FunctionalFRMetric):
    """Peak signal-to-noise ratio (dB) over RGB by default; see :func:`iqametrics.functional.psnr`."""

    function = staticmethod(psnr)


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
    """FSIM / FSIMc (Zhang et al., IEEE TIP 2011) as ``FeatureSIM.m``; see :func:`iqametrics.functional.fsim`.

    ``chromatic`` selects the registered name: ``fsim`` (False) or ``fsimc`` (True).
    """

    function = staticmethod(fsim)
    min_size = (8, 8)


class VSI(FunctionalFRMetric):
    """VSI (Zhang et al., IEEE TIP 2014) with SDSP saliency as ``VSI.m``; see :func:`iqametrics.functional.vsi`."""

    function = staticmethod(vsi)
    min_size = (8, 8)


# ----------------------------------------------------------------------------- registration
_RESEARCH_ONLY = (
    "The authors' MATLAB code is licensed for research and education only; this is an independent "
    "implementation of the published algorithm."
)

register_metrics(PSNR, classic_fr_configs(
    "Peak signal-to-noise ratio (classic)",
    {"psnr": dict(description="PSNR in dB over the RGB channels of the 8-bit images (color='y' for BT.601 luma).",
                  score_range=(0.0, 100.0))},
))
register_metrics(SSIM, classic_fr_configs(
    "Wang, Bovik, Sheikh, Simoncelli. Image quality assessment: from error visibility to structural similarity. "
    "IEEE TIP 2004",
    {"ssim": dict(description="SSIM on the 8-bit luma with Wang's automatic downsampling (ssim.m); "
                              "downsample=False, color='rgb' for variants.",
                  score_range=(-1.0, 1.0))},
))
register_metrics(MSSSIM, classic_fr_configs(
    "Wang, Simoncelli, Bovik. Multi-scale structural similarity for image quality assessment. Asilomar 2003",
    {"ms_ssim": dict(description="MS-SSIM, 5 scales, official weights, on the 8-bit luma (msssim.m); "
                                 "method='wtd_sum' for the weighted sum.",
                     aliases=("msssim",))},
))
register_metrics(GMSD, classic_fr_configs(
    "Xue, Zhang, Mou, Bovik. Gradient magnitude similarity deviation: a highly efficient perceptual image quality "
    "index. IEEE TIP 2014",
    {"gmsd": dict(description="Gradient magnitude similarity deviation on the 8-bit luma (GMSD.m); lower is better.",
                  higher_is_better=False)},
))
register_metrics(FSIM, classic_fr_configs(
    "Zhang, Zhang, Mou, Zhang. FSIM: a feature similarity index for image quality assessment. IEEE TIP 2011",
    {
        "fsim": dict(description="FSIM: phase congruency and gradient similarity of the luma (FeatureSIM.m); "
                                 "fsimc adds chrominance.",
                     variant_args=dict(chromatic=False)),
        "fsimc": dict(description="FSIMc: FSIM with the YIQ chrominance similarity (FeatureSIM.m's second output).",
                      variant_args=dict(chromatic=True)),
    },
    notes=_RESEARCH_ONLY,
))
register_metrics(VSI, classic_fr_configs(
    "Zhang, Shen, Li. VSI: a visual saliency-induced index for perceptual image quality assessment. IEEE TIP 2014",
    {"vsi": dict(description="VSI with SDSP saliency, gradient and LMN chrominance similarity (VSI.m).")},
    notes=_RESEARCH_ONLY,
))
