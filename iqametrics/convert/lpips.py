"""The official ``lpips`` package's layouts -> ours.

Upstream (``lpips`` 0.1.4, richzhang/PerceptualSimilarity):

* the v0.1 head files ``weights/v0.1/{alex,vgg,squeeze}.pth``: ``lin{k}.model.1.weight`` [1, C_k, 1, 1]
  (``model.0`` is a parameter-free dropout);
* a whole ``lpips.LPIPS`` state dict adds the backbone as ``net.slice{s}.{i}.*`` (``i`` the
  torchvision index, slices cut after each tap), the constant ``scaling_layer.{shift,scale}``
  and every head a second time as ``lins.{k}.model.1.weight`` (a ModuleList of the same layers).

Ours: ``lins.{k}.weight`` (same tensors) and ``backbone.features.{i}.*``; the scaling constants
are not state.
"""
from __future__ import annotations

import re
from typing import Mapping

import torch
from torch import Tensor

from ..nn.backbones import ALEXNET_TAPS, LPIPS_SCALE, LPIPS_SHIFT, SQUEEZENET1_1_TAPS, VGG16_TAPS
from . import register_converter
from .backbones import features_to_slices

_LIN = re.compile(r"^lins?\.?(\d+)\.model\.1\.weight$")
_NET = re.compile(r"^net\.slice(\d+)\.(\d+)\.(.+)$")
_OURS_LIN = re.compile(r"^lins\.(\d+)\.weight$")


def _detect(state: Mapping) -> bool:
    return isinstance(state.get("lin0.model.1.weight"), Tensor)


def _taps_for(lin_channels: list) -> list:
    """The tap indices of the backbone an LPIPS head belongs to (from its channel counts)."""
    if len(lin_channels) == 7:
        return sorted(SQUEEZENET1_1_TAPS.values())
    if lin_channels[1:2] == [192]:
        return sorted(ALEXNET_TAPS.values())
    if lin_channels[1:2] == [128]:
        return sorted(VGG16_TAPS.values())
    raise ValueError(f"not an LPIPS head of alex, vgg or squeeze: channels {lin_channels}")


def lpips_from_ours(state: Mapping) -> dict:
    """Ours -> the head file's names, or with the backbone the names of ``lpips.LPIPS.state_dict()``
    (scaling constants and duplicated heads included, so the result loads strictly)."""
    lins = {int(m.group(1)): v for k, v in state.items() if (m := _OURS_LIN.match(k))}
    out = {f"lin{k}.model.1.weight": v for k, v in sorted(lins.items())}
    if any(k.startswith("backbone.") for k in state):
        out.update(features_to_slices(state, _taps_for([int(lins[k].shape[1]) for k in sorted(lins)]), "net.slice"))
        out["scaling_layer.shift"] = torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1)
        out["scaling_layer.scale"] = torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1)
        out.update({f"lins.{k}.model.1.weight": v for k, v in sorted(lins.items())})
    return out


@register_converter(
    "lpips_official", detect=_detect, inverse=lpips_from_ours,
    description="lpips package: v0.1 heads or a whole LPIPS module",
)
def lpips_to_ours(state: Mapping) -> dict:
    out = {}
    for key, value in state.items():
        if not isinstance(value, Tensor):
            continue
        lin, net = _LIN.match(key), _NET.match(key)
        if lin:
            out[f"lins.{lin.group(1)}.weight"] = value
        elif net:
            out[f"backbone.features.{net.group(2)}.{net.group(3)}"] = value
        elif not key.startswith("scaling_layer."):
            raise ValueError(f"unexpected tensor {key!r} in an lpips state dict")
    return out
