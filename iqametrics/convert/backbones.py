"""ImageNet backbone checkpoints (torchvision, or timm ``*.tv_in1k``) -> ``backbone.features.*``.

torchvision's ``vgg16``/``alexnet``/``squeezenet1_1`` state dicts and timm's ``vgg16.tv_in1k``
(the same weights, re-saved by timm with its classifier renamed ``pre_logits``/``head``) share
the ``features.{index}.*`` names of :mod:`iqametrics.nn.backbones`.  The converters keep the
feature tensors up to the deepest layer a metric taps and drop the classifier; the metric then
keeps its own head (see ``FeatureDistanceMetric``).
"""
from __future__ import annotations

import re
from typing import Mapping

from torch import Tensor

from ..nn.backbones import ALEXNET_TAPS, SQUEEZENET1_1_TAPS, VGG16_TAPS
from . import register_converter

_FEATURE_KEY = re.compile(r"^features\.(\d+)\.(.+)$")
PREFIX = "backbone."


def features_to_ours(state: Mapping, last_index: int) -> dict:
    """``features.{i}.*`` with ``i <= last_index`` -> ``backbone.features.{i}.*`` (tensors unchanged)."""
    out = {}
    for key, value in state.items():
        match = _FEATURE_KEY.match(key)
        if match and int(match.group(1)) <= last_index and isinstance(value, Tensor):
            out[PREFIX + key] = value
    return out


def features_from_ours(state: Mapping) -> dict:
    """``backbone.features.*`` -> ``features.*`` (the torchvision names); other keys are dropped."""
    return {k[len(PREFIX):]: v for k, v in state.items() if k.startswith(PREFIX + "features.")}


def slice_number(index: int, taps) -> int:
    """The official LPIPS/DISTS modules cut the stack after every tap into slices numbered from 1;
    the slice that holds torchvision layer ``index``."""
    return 1 + sum(t < index for t in taps)


def features_to_slices(state: Mapping, taps, prefix: str) -> dict:
    """``backbone.features.{i}.*`` -> ``{prefix}{slice}.{i}.*`` (e.g. ``net.slice`` for lpips, ``stage`` for DISTS)."""
    out = {}
    for key, value in features_from_ours(state).items():
        index = int(key.split(".")[1])
        out[f"{prefix}{slice_number(index, taps)}.{key[len('features.'):]}"] = value
    return out


def _has_shapes(state: Mapping, shapes: Mapping[str, tuple]) -> bool:
    return all(isinstance(state.get(k), Tensor) and tuple(state[k].shape) == s for k, s in shapes.items())


def _register(name: str, last_index: int, signature: Mapping[str, tuple], what: str) -> None:
    register_converter(
        name,
        detect=lambda state: _has_shapes(state, signature),
        inverse=features_from_ours,
        description=f"{what} (torchvision layout, also timm *.tv_in1k) -> backbone.features.*",
    )(lambda state: features_to_ours(state, last_index))


# The signatures tell the three architectures (and VGG16 from VGG16-BN, whose index 1 is a norm) apart.
_register(
    "vgg16_features",
    max(VGG16_TAPS.values()),
    {"features.0.weight": (64, 3, 3, 3), "features.2.weight": (64, 64, 3, 3), "features.28.weight": (512, 512, 3, 3)},
    "VGG16 ImageNet checkpoint",
)
_register(
    "alexnet_features",
    max(ALEXNET_TAPS.values()),
    {"features.0.weight": (64, 3, 11, 11), "features.3.weight": (192, 64, 5, 5)},
    "AlexNet ImageNet checkpoint",
)
_register(
    "squeezenet1_1_features",
    max(SQUEEZENET1_1_TAPS.values()),
    {"features.0.weight": (64, 3, 3, 3), "features.3.squeeze.weight": (16, 64, 1, 1)},
    "SqueezeNet 1.1 ImageNet checkpoint",
)
