"""Converters for HyperIQA / PyramidIQA checkpoints.

* ``hyperiqa.official``: ``SSL92/hyperIQA`` ``HyperNet.state_dict()`` (e.g. ``koniq_pretrained.pkl``):
  ``res.{conv1,bn1,layer1..4}.*`` (torchvision ResNet names), ``res.lda{1,2,3}_pool.0.weight``,
  ``res.lda{1..4}_fc.*``, ``conv1.{0,2,4}.*``, ``fc{1..4}w_conv.*``, ``fc5w_fc.*``, ``fc{1..5}b_fc.*``.
* ``pyramidiqa.official``: ``ukeSJTU/CS3324-IQA`` ``ms_hyperIQA.MSHyperNet.state_dict()`` (the
  author's ``best_model.pkl``): ``res.*`` and ``fc*`` as above, ``fpn.{lateral,smooth}_conv{2,3,4}.*``,
  ``attention_p{2,3,4}.{channel_attention.fc.{0,2},spatial_attention.conv}.weight``,
  ``fusion_conv.{0,2}.*``.
* ``hyperiqa.pyiqa``: pyiqa's ``HyperNet`` (``HyperIQA-resnet50-koniq10k-c96c41b1.pth``, tensors
  under ``"params"``): ``base_model.*`` (timm ResNet-50, torchvision names), ``lda_modules.*``,
  ``conv1.*``, ``fc_w_modules.*``, ``fc_b_modules.*``.

timm's ResNet-50 uses torchvision's parameter names, so the backbone only changes prefix.
Checkpoints saved before PyTorch 0.4.1 lack BatchNorm ``num_batches_tracked``; it is filled with 0
(it is unused in evaluation).  A ``module.`` prefix (DataParallel) is removed.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Tuple

import torch

from . import register_converter, unwrap_state

Rules = List[Tuple[str, str]]

_GENERATOR_OFFICIAL: Rules = (
    [(f"fc{i + 1}w_conv.", f"generator.weight_convs.{i}.") for i in range(4)]
    + [("fc5w_fc.", "generator.weight_fc.")]
    + [(f"fc{i + 1}b_fc.", f"generator.bias_fcs.{i}.") for i in range(5)]
)
_RES_OFFICIAL: Rules = (
    [(f"res.lda{i + 1}_pool.0.", f"lda.convs.{i}.") for i in range(3)]
    + [(f"res.lda{i + 1}_fc.", f"lda.fcs.{i}.") for i in range(4)]
    + [("res.", "backbone.")]
)
HYPERIQA_OFFICIAL: Rules = _RES_OFFICIAL + [(f"conv1.{i}.", f"neck.{i}.") for i in (0, 2, 4)] + _GENERATOR_OFFICIAL
PYRAMIDIQA_OFFICIAL: Rules = (
    _RES_OFFICIAL
    + [(f"fpn.lateral_conv{k}.", f"neck.fpn.laterals.{k - 2}.") for k in (2, 3, 4)]
    + [(f"fpn.smooth_conv{k}.", f"neck.fpn.smooth.{k - 2}.") for k in (2, 3, 4)]
    + [(f"attention_p{k}.channel_attention.fc.", f"neck.attention.{k - 2}.channel.mlp.") for k in (2, 3, 4)]
    + [(f"attention_p{k}.spatial_attention.conv.", f"neck.attention.{k - 2}.spatial.conv.") for k in (2, 3, 4)]
    + [("fusion_conv.", "neck.fusion.")]
    + _GENERATOR_OFFICIAL
)
HYPERIQA_PYIQA: Rules = (
    [(f"lda_modules.{i}.0.", f"lda.convs.{i}.") for i in range(3)]
    + [(f"lda_modules.{i}.3.", f"lda.fcs.{i}.") for i in range(3)]
    + [("lda_modules.3.2.", "lda.fcs.3."), ("base_model.", "backbone.")]
    + [(f"conv1.{i}.", f"neck.{i}.") for i in (0, 2, 4)]
    + [(f"fc_w_modules.{i}.", f"generator.weight_convs.{i}.") for i in range(4)]
    + [("fc_w_modules.4.2.", "generator.weight_fc.")]
    + [(f"fc_b_modules.{i}.2.", f"generator.bias_fcs.{i}.") for i in range(5)]
)


def _unwrap(state: Mapping) -> Mapping:
    return unwrap_state(state, ("params", "state_dict"), strip_module=True)


def rename(state: Mapping, rules: Rules, what: str) -> Dict[str, torch.Tensor]:
    """Rename every key by the first rule whose source prefix it starts with; unknown keys are an error."""
    out: Dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state.items():
        for src, dst in rules:
            if key.startswith(src):
                out[dst + key[len(src):]] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"{what}: unexpected keys {', '.join(unknown[:5])}{'...' if len(unknown) > 5 else ''}")
    return out


def _inverse(rules: Rules) -> Rules:
    return [(dst, src) for src, dst in rules]


def _fill_num_batches_tracked(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    for key in [k for k in state if k.endswith(".running_mean")]:
        state.setdefault(key[: -len("running_mean")] + "num_batches_tracked", torch.tensor(0, dtype=torch.long))
    return state


def _has(state: Mapping, *keys: str) -> bool:
    state = _unwrap(state)
    return all(k in state for k in keys)


def _register_official(name: str, rules: Rules, what: str, *detect_keys: str) -> None:
    """The authors' layouts: raw ``state_dict()`` of their ``nn.Module`` (possibly from PyTorch < 0.4.1)."""

    def convert(state: Mapping) -> Dict[str, torch.Tensor]:
        return _fill_num_batches_tracked(rename(_unwrap(state), rules, what))

    register_converter(
        name,
        detect=lambda s: _has(s, *detect_keys),
        inverse=lambda s: rename(s, _inverse(rules), "iqametrics state"),
        description=f"{what} -> iqametrics",
    )(convert)


_register_official(
    "hyperiqa.official", HYPERIQA_OFFICIAL, "official HyperIQA (SSL92/hyperIQA) checkpoint",
    "res.conv1.weight", "res.lda1_fc.weight", "conv1.0.weight", "fc1w_conv.weight",
)
_register_official(
    "pyramidiqa.official", PYRAMIDIQA_OFFICIAL, "PyramidIQA (ms_hyperIQA.MSHyperNet) checkpoint",
    "res.conv1.weight", "fpn.lateral_conv2.weight", "fusion_conv.0.weight",
)


@register_converter(
    "hyperiqa.pyiqa",
    detect=lambda s: _has(s, "base_model.conv1.weight", "lda_modules.0.0.weight", "fc_w_modules.0.weight"),
    inverse=lambda s: {"params": rename(s, _inverse(HYPERIQA_PYIQA), "iqametrics state")},
)
def convert_hyperiqa_pyiqa(state: Mapping) -> Dict[str, torch.Tensor]:
    """pyiqa ``HyperNet`` checkpoint (``{"params": ...}``) -> iqametrics ``hyperiqa``."""
    return rename(_unwrap(state), HYPERIQA_PYIQA, "pyiqa HyperNet checkpoint")
