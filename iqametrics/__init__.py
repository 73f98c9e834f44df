"""iqametrics: image quality assessment metrics for PyTorch.

>>> import iqametrics
>>> iqametrics.list_metrics()                      # doctest: +SKIP
>>> m = iqametrics.create("musiq", device="cuda")  # doctest: +SKIP
>>> m(images)                                      # doctest: +SKIP

Importing this package is cheap: models, timm and torchvision load when a metric is created.
"""
from ._version import __version__
from .registry import MetricInfo, create, get_info, list_metrics

__all__ = ["__version__", "create", "list_metrics", "get_info", "load_image", "MetricInfo"]


def load_image(path, *, max_pixels=None):
    """Decode an image file to a float RGB tensor [3, H, W] in [0, 1] (see :mod:`iqametrics.io`)."""
    from .io import load_image as _load

    return _load(path, max_pixels=max_pixels)
