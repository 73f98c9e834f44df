"""VTAMIQ checkpoints of the authors' code (ch-andrei/VTAMIQ) -> :class:`iqametrics.models.vtamiq.VTAMIQ`.

The published checkpoint ("pretrained on KADIS-700k", April 2022) is a ``torch.save`` of
``{"epoch", "test_accuracy", "model_state_dict"}`` written by the 2022 code; the paper-era code
(c67f036) uses the same names without scale embeddings.  Upstream layout -> ours:

================================================================  ==============================================
upstream                                                          iqametrics
================================================================  ==============================================
transformer.embeddings.patch_embeddings.{weight,bias}             vit.patch_embed.proj.{weight,bias}
transformer.embeddings.cls_token                                  vit.cls_token
transformer.embeddings.positional_embeddings.positional_embeddings vit.pos_embed
transformer.embeddings.scale_embeddings.scale_embeddings          scale_embed
transformer.encoder.layer.{k}.attention_norm / ffn_norm           vit.blocks.{k}.norm1 / norm2
transformer.encoder.layer.{k}.attn.{query,key,value}              vit.blocks.{k}.attn.qkv (concatenated, dim 0)
transformer.encoder.layer.{k}.attn.out                            vit.blocks.{k}.attn.proj
transformer.encoder.layer.{k}.ffn.{fc1,fc2}                       vit.blocks.{k}.mlp.{fc1,fc2}
transformer.encoder.encoder_norm                                  vit.norm
diff_net.{g}.body.{r}.body.1 (PReLU)                              diffnet.{g}.blocks.{r}.body.0
diff_net.{g}.body.{r}.body.2 (1×1 conv)                           diffnet.{g}.blocks.{r}.body.1 (linear)
diff_net.{g}.body.{r}.body.4.conv_du.{0,1,2}                      diffnet.{g}.blocks.{r}.attention.{down,act,up}
diff_net.{g}.body.{n_rcab} (1×1 conv)                             diffnet.{g}.tail (linear)
diff_net.{n_groups} (1×1 conv)                                    diffnet.{n_groups} (linear)
q_predictor.{1,2,4}                                               head.{1,2,4}
================================================================  ==============================================

1×1 convolution kernels [O, I, 1, 1] become linear weights [O, I].  Every upstream tensor is
mapped; a tensor this table does not know (for instance the optional ``diff_embedding`` group
of ``use_diff_embedding=True``) is an error, never silently dropped.  A state already in our
layout passes through unchanged, so the manifest's converter also accepts our own files.
"""
from __future__ import annotations

import re
from typing import Dict, Mapping

import torch
from torch import Tensor

from . import register_converter, unwrap_state

__all__ = ["upstream_to_ours", "ours_to_upstream", "is_upstream"]

_EMB = "transformer.embeddings."
_ENC = "transformer.encoder."
_MARKER = _EMB + "patch_embeddings.weight"

# fixed renames (no reshaping)
_FIXED = {
    _EMB + "patch_embeddings.weight": "vit.patch_embed.proj.weight",
    _EMB + "patch_embeddings.bias": "vit.patch_embed.proj.bias",
    _EMB + "cls_token": "vit.cls_token",
    _EMB + "positional_embeddings.positional_embeddings": "vit.pos_embed",
    _EMB + "scale_embeddings.scale_embeddings": "scale_embed",
    _ENC + "encoder_norm.weight": "vit.norm.weight",
    _ENC + "encoder_norm.bias": "vit.norm.bias",
}
# per-layer renames: upstream suffix -> ours
_LAYER = {
    "attention_norm": "norm1",
    "ffn_norm": "norm2",
    "attn.out": "attn.proj",
    "ffn.fc1": "mlp.fc1",
    "ffn.fc2": "mlp.fc2",
}
_QKV = ("query", "key", "value")
# DiffNet, inside one RCAB: upstream module path -> ours
_RCAB = {
    "body.1": "body.0",
    "body.2": "body.1",
    "body.4.conv_du.0": "attention.down",
    "body.4.conv_du.1": "attention.act",
    "body.4.conv_du.2": "attention.up",
}
_HEAD = {"q_predictor.1": "head.1", "q_predictor.2": "head.2", "q_predictor.4": "head.4"}

_LAYER_RE = re.compile(r"transformer\.encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$")
_RCAB_RE = re.compile(r"diff_net\.(\d+)\.body\.(\d+)\.(.+)\.(weight|bias)$")
_RG_TAIL_RE = re.compile(r"diff_net\.(\d+)\.body\.(\d+)\.(weight|bias)$")
_DIFF_OUT_RE = re.compile(r"diff_net\.(\d+)\.(weight|bias)$")


def _unwrap(state: Mapping) -> Mapping:
    return unwrap_state(state, ("model_state_dict",), strip_module=True)


def is_upstream(state: Mapping) -> bool:
    return _MARKER in _unwrap(state)


def _is_ours(state: Mapping) -> bool:
    return "vit.patch_embed.proj.weight" in state and "diffnet.0.tail.weight" in state


def _linear(t: Tensor) -> Tensor:
    return t.reshape(t.shape[0], t.shape[1]) if t.dim() == 4 else t


def upstream_to_ours(state: Mapping) -> Dict[str, Tensor]:
    """Map the authors' VTAMIQ state dict (2022 or paper-era code) to ours; see the module table."""
    state = _unwrap(state)
    if _is_ours(state):
        return {k: v for k, v in state.items() if isinstance(v, Tensor)}
    out: Dict[str, Tensor] = {}
    qkv: Dict[tuple, Tensor] = {}
    unknown = []
    for key, value in state.items():
        if not isinstance(value, Tensor):
            continue
        if key in _FIXED:
            out[_FIXED[key]] = value
            continue
        m = _LAYER_RE.match(key)
        if m:
            k, module, kind = m.groups()
            if module.startswith("attn.") and module[5:] in _QKV:
                qkv[(k, module[5:], kind)] = value
                continue
            if module in _LAYER:
                out[f"vit.blocks.{k}.{_LAYER[module]}.{kind}"] = value
                continue
        m = _RCAB_RE.match(key)
        if m and m.group(3) in _RCAB:
            g, r, module, kind = m.groups()
            out[f"diffnet.{g}.blocks.{r}.{_RCAB[module]}.{kind}"] = _linear(value)
            continue
        m = _RG_TAIL_RE.match(key)
        if m:
            g, r, kind = m.groups()
            out[f"diffnet.{g}.tail.{kind}"] = _linear(value)
            continue
        m = _DIFF_OUT_RE.match(key)
        if m:
            g, kind = m.groups()
            out[f"diffnet.{g}.{kind}"] = _linear(value)
            continue
        module, _, kind = key.rpartition(".")
        if module in _HEAD:
            out[f"{_HEAD[module]}.{kind}"] = value
            continue
        unknown.append(key)
    if unknown:
        hint = " (the optional difference-embedding group, use_diff_embedding=True, is not implemented)" if any(
            k.startswith("diff_embedding.") for k in unknown
        ) else ""
        raise ValueError(
            f"VTAMIQ checkpoint has {len(unknown)} tensors this converter does not know{hint}: {unknown[:6]}"
        )
    for k, kind in sorted({(k, kind) for k, _, kind in qkv}):
        parts = [qkv.get((k, name, kind)) for name in _QKV]
        if any(p is None for p in parts):
            raise ValueError(f"VTAMIQ checkpoint layer {k}: query/key/value {kind} incomplete")
        out[f"vit.blocks.{k}.attn.qkv.{kind}"] = torch.cat(parts, dim=0)
    return out


def ours_to_upstream(state: Mapping) -> Dict[str, Tensor]:
    """Inverse of :func:`upstream_to_ours` (1×1 convolutions get their [O, I, 1, 1] shape back)."""
    fixed = {v: k for k, v in _FIXED.items()}
    layer = {v: k for k, v in _LAYER.items()}
    rcab = {v: k for k, v in _RCAB.items()}
    head = {v: k for k, v in _HEAD.items()}
    conv = lambda t: t.reshape(*t.shape, 1, 1) if t.dim() == 2 else t  # noqa: E731  (PReLU slopes, biases: 1-D)
    out: Dict[str, Tensor] = {}
    for key, value in state.items():
        module, _, kind = key.rpartition(".")
        if key in fixed:
            out[fixed[key]] = value
        elif (m := re.match(r"vit\.blocks\.(\d+)\.(.+)$", module)) is not None:
            k, sub = m.groups()
            if sub == "attn.qkv":
                for name, part in zip(_QKV, value.chunk(3, dim=0)):
                    out[f"{_ENC}layer.{k}.attn.{name}.{kind}"] = part.clone()
            else:
                out[f"{_ENC}layer.{k}.{layer[sub]}.{kind}"] = value
        elif (m := re.match(r"diffnet\.(\d+)\.blocks\.(\d+)\.(.+)$", module)) is not None:
            g, r, sub = m.groups()
            out[f"diff_net.{g}.body.{r}.{rcab[sub]}.{kind}"] = conv(value)
        elif (m := re.match(r"diffnet\.(\d+)\.tail$", module)) is not None:
            n_rcab = 1 + max(int(k.split(".")[3]) for k in state if k.startswith(f"diffnet.{m.group(1)}.blocks."))
            out[f"diff_net.{m.group(1)}.body.{n_rcab}.{kind}"] = conv(value)
        elif (m := re.match(r"diffnet\.(\d+)$", module)) is not None:
            out[f"diff_net.{m.group(1)}.{kind}"] = conv(value)
        elif module in head:
            out[f"{head[module]}.{kind}"] = value
        else:
            raise ValueError(f"not a VTAMIQ state dict of iqametrics: unexpected key {key!r}")
    return out


@register_converter(
    "vtamiq_2022",
    detect=lambda state: is_upstream(state),
    inverse=ours_to_upstream,
    description="ch-andrei/VTAMIQ checkpoints (2022 code with scale embeddings, or paper-era c67f036)",
)
def _convert(state: Mapping) -> Dict[str, Tensor]:
    return upstream_to_ours(state)
