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
