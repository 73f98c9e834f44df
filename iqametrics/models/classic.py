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
