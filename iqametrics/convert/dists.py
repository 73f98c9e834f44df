"""The official ``DISTS_pytorch`` layouts -> ours.

Upstream (``DISTS_pytorch`` 0.1, dingkeyan93/DISTS):

* ``weights.pt``: ``alpha`` and ``beta``, each [1, 1475, 1, 1];
* a whole ``DISTS`` state dict adds the VGG16 backbone as ``stage{s}.{i}.*`` (``i`` the
  torchvision index), the L2-pooling kernels ``stage{s}.{i}.filter`` and the constant
  ImageNet ``mean``/``std``.

Ours: ``alpha``/``beta`` flattened to [1475] and ``backbone.features.{i}.*``; the kernels and
the normalisation constants are not state.
"""
from __future__ import annotations

import re
from typing import Mapping

import torch
from torch import Tensor

from ..nn.backbones import IMAGENET_MEAN, IMAGENET_STD, L2Pool2d, VGG16_TAPS
from . import register_converter
from .backbones import features_to_slices, slice_number

_STAGE = re.compile(r"^stage(\d+)\.(\d+)\.(.+)$")
# the L2-pooling layers sit at torchvision's max-pool indices: index -> channels
_POOLS = {4: 64, 9: 128, 16: 256, 23: 512}
_CONSTANTS = ("mean", "std")


def _detect(state: Mapping) -> bool:
    return all(isinstance(state.get(k), Tensor) and state[k].numel() == 1475 for k in ("alpha", "beta"))


def dists_from_ours(state: Mapping) -> dict:
    """Ours -> the names of ``DISTS_pytorch.DISTS().state_dict()`` (kernels and constants added
    when the backbone is given, so that the result loads strictly)."""
    out = {k: state[k].reshape(1, -1, 1, 1) for k in ("alpha", "beta") if k in state}
    taps = sorted(VGG16_TAPS.values())
    backbone = features_to_slices(state, taps, "stage")
    if backbone:
        out.update(backbone)
        for index, channels in _POOLS.items():
            out[f"stage{slice_number(index, taps)}.{index}.filter"] = L2Pool2d(channels).kernel.clone()
        out["mean"] = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        out["std"] = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return out


@register_converter(
    "dists_official", detect=_detect, inverse=dists_from_ours,
    description="DISTS_pytorch: weights.pt (alpha, beta) or a whole DISTS module",
)
def dists_to_ours(state: Mapping) -> dict:
    out = {}
    for key, value in state.items():
        if not isinstance(value, Tensor):
            continue
        stage = _STAGE.match(key)
        if key in ("alpha", "beta"):
            out[key] = value.reshape(-1)
        elif stage and stage.group(3) != "filter":
            out[f"backbone.features.{stage.group(2)}.{stage.group(3)}"] = value
        elif not (stage or key in _CONSTANTS):
            raise ValueError(f"unexpected tensor {key!r} in a DISTS state dict")
    return out
