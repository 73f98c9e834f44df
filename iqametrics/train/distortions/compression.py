"""Compression: KADID-10k types 9 (JPEG2000) and 10 (JPEG), after ``imcompressjp2k.m`` and
``imcompressjpeg.m`` of the official code, which write and re-read the image with MATLAB's
``imwrite``.  Here Pillow encodes in memory: OpenJPEG for JPEG 2000, libjpeg for JPEG.
"""
from __future__ import annotations

import math

from torch import Tensor

from ._common import pil_roundtrip

__all__ = ["jpeg2000", "jpeg", "jpeg2000_available"]

#: MATLAB's imwrite uses 4 wavelet decomposition levels ('ReductionLevels') by default: 5 resolutions
_RESOLUTIONS = 5


def jpeg2000_available() -> bool:
    """Whether Pillow was built with OpenJPEG (``PIL.features.check('jpg_2000')``)."""
    from PIL import features

    return bool(features.check("jpg_2000"))


def jpeg2000(x: Tensor, ratio: float, rng=None) -> Tensor:
    """``imwrite(x, f, 'jp2', 'CompressionRatio', ratio)``: lossy 9/7 wavelet, colour transform on.

    ``ratio`` is the size of the raw 8-bit RGB image over the size of the code stream, OpenJPEG's
    rate as MATLAB's.  Images too small for 4 decomposition levels get fewer.
    """
    if not jpeg2000_available():
        raise RuntimeError(
            "JPEG2000 distortions need Pillow built with OpenJPEG (PIL.features.check('jpg_2000') is False); "
            "install a Pillow wheel from PyPI, which includes it"
        )
    levels = min(_RESOLUTIONS, int(math.log2(min(x.shape[-2:]))) + 1)
    return pil_roundtrip(
        x, "JPEG2000", quality_mode="rates", quality_layers=[float(ratio)], irreversible=True, mct=1, num_resolutions=levels
    )


def jpeg(x: Tensor, quality: float, rng=None) -> Tensor:
    """``imwrite(x, f, 'jpg', 'quality', quality)``: baseline JPEG, IJG quality scaling, 4:2:0 chroma."""
    return pil_roundtrip(x, "JPEG", quality=int(quality), subsampling="4:2:0")
