"""MUSIQ checkpoints -> :class:`iqametrics.models.musiq.MUSIQNet` state dicts, and back.

Two upstream layouts:

* ``musiq_official``: the JAX/Flax ``.npz`` files of google-research (``koniq_ckpt.npz``, ...,
  ``imagenet_pretrain.npz``).  Parameters live under ``opt/target/`` (other ``opt/...`` entries
  are optimiser state and are ignored); Flax names its unnamed sub-modules by class and call
  order (``LayerNorm_0``, ``SelfAttention_1``, ``LayerNorm_2``, ``MlpBlock_3``).  Kernels are
  HWIO (convolutions), [in, out] (dense), [in, heads, head_dim] (q/k/v) and
  [heads, head_dim, out] (attention output).
* ``musiq_pyiqa``: the PyTorch files of pyiqa (``musiq_koniq_ckpt-e95806b9.pth``, ...), a plain
  state dict: ``conv_root.weight``, ``block1.conv1.weight``, ``embedding.weight``,
  ``transformer_encoder.transformer.encoderblock_{i}.attention.query.weight``, ``head.weight``
  (``head.0.weight`` for AVA's 10-bin head, whose softmax pyiqa puts in the module).

Each layout is one table of rules (our key, upstream keys, and the two tensor maps); the
conversion and its inverse both read it, and both are strict: a tensor left over or missing
is an error.  Our layout fuses q, k and v into one projection (``attn.qkv``); like both
upstream layouts, the patch embedding reads the patch encoder's output in TF's (h, w, c) order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Tuple

import torch
from torch import Tensor

from . import register_converter, unwrap_state

OFFICIAL_PREFIX = "opt/target/"
_CONVS = ("conv_root", "conv1", "conv2", "conv3", "conv_proj")
_NORMS = ("gn_root", "gn1", "gn2", "gn3", "gn_proj")
_QKV = ("query", "key", "value")
_HEAD_DIM = 64  # the released MUSIQ: 6 heads of 64 (the fused qkv weight does not record the split)


@dataclass(frozen=True)
class _Rule:
    ours: str
    theirs: Tuple[str, ...]
    to_ours: Callable[..., Tensor]  # upstream tensors -> ours
    to_theirs: Callable[[Tensor], Tuple[Tensor, ...]]  # ours -> upstream tensors


def _same(key_ours: str, key_theirs: str) -> _Rule:
    return _Rule(key_ours, (key_theirs,), lambda t: t, lambda t: (t,))


def _reshaped(key_ours: str, key_theirs: str, ours_fn, theirs_fn) -> _Rule:
    return _Rule(key_ours, (key_theirs,), ours_fn, lambda t: (theirs_fn(t),))


def _fused(key_ours: str, keys_theirs: Tuple[str, ...], piece_to_ours, piece_to_theirs) -> _Rule:
    """One of our tensors made of the upstream q, k, v pieces concatenated along dim 0."""

    def to_theirs(t: Tensor) -> Tuple[Tensor, ...]:
        return tuple(piece_to_theirs(p) for p in t.chunk(len(keys_theirs)))

    return _Rule(key_ours, keys_theirs, lambda *ts: torch.cat([piece_to_ours(t) for t in ts]), to_theirs)


# ----------------------------------------------------------------------------- rule tables
def _official_rules(depth: int) -> List[_Rule]:
    scope = {n: n if n.endswith("root") else f"block1/unit1/{n}" for n in _CONVS + _NORMS}
    rules = [_reshaped(f"patch_encoder.{n}.weight", f"{scope[n]}/kernel", lambda k: k.permute(3, 2, 0, 1),
                       lambda w: w.permute(2, 3, 1, 0)) for n in _CONVS]  # HWIO <-> OIHW
    for n in _NORMS:
        rules += [_same(f"patch_encoder.{n}.weight", f"{scope[n]}/scale"), _same(f"patch_encoder.{n}.bias", f"{scope[n]}/bias")]
    rules += [
        _reshaped("embedding.weight", "embedding/kernel", lambda k: k.t(), lambda w: w.t()),
        _same("embedding.bias", "embedding/bias"),
        _reshaped("pos_embed", "Transformer/posembed_input/pos_embedding", lambda t: t[0], lambda t: t[None]),
        _reshaped("scale_embed", "Transformer/scaleembed_input/scale_embedding", lambda t: t[0], lambda t: t[None]),
        _reshaped("cls_token", "Transformer/cls", lambda t: t.reshape(-1), lambda t: t.reshape(1, 1, -1)),
    ]
    for i in range(depth):
        src, dst = f"Transformer/encoderblock_{i}/", f"encoder.blocks.{i}."
        attn = src + "SelfAttention_1/"
        rules += [
            _same(dst + "norm1.weight", src + "LayerNorm_0/scale"),
            _same(dst + "norm1.bias", src + "LayerNorm_0/bias"),
            # q/k/v kernels [in, heads, head_dim] -> rows (head, head_dim) of a [out, in] weight
            _fused(dst + "attn.qkv.weight", tuple(f"{attn}{p}/kernel" for p in _QKV),
                   lambda k: k.reshape(k.shape[0], -1).t(), lambda w: w.t().reshape(w.shape[1], -1, _HEAD_DIM)),
            _fused(dst + "attn.qkv.bias", tuple(f"{attn}{p}/bias" for p in _QKV),
                   lambda b: b.reshape(-1), lambda b: b.reshape(-1, _HEAD_DIM)),
            # output kernel [heads, head_dim, out] -> [out, in] with in = (head, head_dim)
            _reshaped(dst + "attn.proj.weight", attn + "out/kernel", lambda k: k.reshape(-1, k.shape[-1]).t(),
                      lambda w: w.t().reshape(-1, _HEAD_DIM, w.shape[0])),
            _same(dst + "attn.proj.bias", attn + "out/bias"),
            _same(dst + "norm2.weight", src + "LayerNorm_2/scale"),
            _same(dst + "norm2.bias", src + "LayerNorm_2/bias"),
        ]
        for dense, fc in (("Dense_0", "fc1"), ("Dense_1", "fc2")):
            rules += [_reshaped(dst + f"mlp.{fc}.weight", src + f"MlpBlock_3/{dense}/kernel", lambda k: k.t(), lambda w: w.t()),
                      _same(dst + f"mlp.{fc}.bias", src + f"MlpBlock_3/{dense}/bias")]
    rules += [
        _same("encoder.norm.weight", "Transformer/encoder_norm/scale"),
        _same("encoder.norm.bias", "Transformer/encoder_norm/bias"),
        _reshaped("head.weight", "head/kernel", lambda k: k.t(), lambda w: w.t()),
        _same("head.bias", "head/bias"),
    ]
    return rules


def _pyiqa_rules(depth: int, head: str = "head") -> List[_Rule]:
    where = {n: n if n.endswith("root") else f"block1.{n}" for n in _CONVS + _NORMS}
    t = "transformer_encoder."
    rules = [_same(f"patch_encoder.{n}.weight", f"{where[n]}.weight") for n in _CONVS]
    for n in _NORMS:
        rules += [_same(f"patch_encoder.{n}.weight", f"{where[n]}.weight"), _same(f"patch_encoder.{n}.bias", f"{where[n]}.bias")]
    rules += [
        _same("embedding.weight", "embedding.weight"),
        _same("embedding.bias", "embedding.bias"),
        _reshaped("pos_embed", t + "posembed_input.position_emb", lambda p: p[0], lambda p: p[None]),
        _same("scale_embed", t + "scaleembed_input.scale_emb"),
        _reshaped("cls_token", t + "cls", lambda c: c.reshape(-1), lambda c: c.reshape(1, 1, -1)),
    ]
    for i in range(depth):
        src, dst = f"{t}transformer.encoderblock_{i}.", f"encoder.blocks.{i}."
        rules += [
            _fused(dst + "attn.qkv.weight", tuple(f"{src}attention.{p}.weight" for p in _QKV), lambda w: w, lambda w: w),
            _fused(dst + "attn.qkv.bias", tuple(f"{src}attention.{p}.bias" for p in _QKV), lambda b: b, lambda b: b),
            _same(dst + "attn.proj.weight", src + "attention.out.weight"),
            _same(dst + "attn.proj.bias", src + "attention.out.bias"),
        ]
        rules += [_same(dst + f"{m}.{p}", src + f"{m}.{p}") for m in ("norm1", "norm2", "mlp.fc1", "mlp.fc2") for p in ("weight", "bias")]
    rules += [
        _same("encoder.norm.weight", t + "encoder_norm.weight"),
        _same("encoder.norm.bias", t + "encoder_norm.bias"),
        _same("head.weight", f"{head}.weight"),
        _same("head.bias", f"{head}.bias"),
    ]
    return rules


# ----------------------------------------------------------------------------- applying a table
def _depth(keys, pattern: str) -> int:
    found = {int(m.group(1)) for k in keys for m in [re.search(pattern, k)] if m}
    if not found:
        raise ValueError("no transformer blocks found in the MUSIQ checkpoint")
    depth = max(found) + 1
    if found != set(range(depth)):
        raise ValueError(f"MUSIQ checkpoint has non-contiguous transformer blocks: {sorted(found)}")
    return depth


def _to_ours(rules: List[_Rule], state: Mapping[str, object], what: str) -> Dict[str, Tensor]:
    rest = dict(state)
    out = {}
    for rule in rules:
        missing = [k for k in rule.theirs if k not in rest]
        if missing:
            raise ValueError(f"the {what} MUSIQ checkpoint lacks {missing[0]!r}")
        tensors = [torch.as_tensor(rest.pop(k)).float() for k in rule.theirs]
        out[rule.ours] = rule.to_ours(*tensors).contiguous()
    _check_empty(rest, what)
    return out


def _to_theirs(rules: List[_Rule], state: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    rest = dict(state)
    out = {}
    for rule in rules:
        if rule.ours not in rest:
            raise ValueError(f"the MUSIQNet state lacks {rule.ours!r}")
        for key, tensor in zip(rule.theirs, rule.to_theirs(rest.pop(rule.ours))):
            out[key] = tensor.contiguous()
    _check_empty(rest, "iqametrics")
    return out


def _check_empty(rest: Mapping, what: str) -> None:
    if rest:
        names = sorted(rest)
        raise ValueError(f"unexpected tensors in the {what} MUSIQ checkpoint: {names[:8]}{'...' if len(names) > 8 else ''}")


# ----------------------------------------------------------------------------- official (Flax .npz)
def _detect_official(state: Mapping) -> bool:
    return any(k.endswith("Transformer/encoderblock_0/SelfAttention_1/query/kernel") for k in state)


def convert_official_to_ours(state: Mapping[str, object]) -> Dict[str, Tensor]:
    """Official Flax ``.npz`` state (``opt/target/...``; optimiser state ignored) -> MUSIQNet state."""
    if any(k.startswith(OFFICIAL_PREFIX) for k in state):
        state = {k[len(OFFICIAL_PREFIX):]: v for k, v in state.items() if k.startswith(OFFICIAL_PREFIX)}
    if any(k.startswith("pre_logits/") for k in state):
        raise ValueError("this MUSIQ checkpoint has a pre_logits layer (representation_size), which the released models do not use")
    return _to_ours(_official_rules(_depth(state, r"Transformer/encoderblock_(\d+)/")), state, "official")


def convert_ours_to_official(state: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """MUSIQNet state -> official Flax names and shapes, under ``opt/target/``."""
    out = _to_theirs(_official_rules(_depth(state, r"encoder\.blocks\.(\d+)\.")), state)
    return {OFFICIAL_PREFIX + k: v for k, v in out.items()}


# ----------------------------------------------------------------------------- pyiqa (.pth)
def _unwrap(state: Mapping) -> Mapping:
    return unwrap_state(state, ("params", "state_dict", "params_ema"))


def _detect_pyiqa(state: Mapping) -> bool:
    return "transformer_encoder.transformer.encoderblock_0.attention.query.weight" in _unwrap(state)


def convert_pyiqa_to_ours(state: Mapping[str, object]) -> Dict[str, Tensor]:
    """pyiqa MUSIQ state dict -> MUSIQNet state.

    AVA's head is ``head.0`` in pyiqa.  pyiqa's ImageNet file carries the 1000-class classifier
    as ``imagenet_head``; it becomes our ``head`` (a ``head`` stored beside it is a placeholder
    and is dropped).
    """
    state = dict(_unwrap(state))
    head = "head.0" if "head.0.weight" in state else "head"
    if "imagenet_head.weight" in state:
        state.pop(f"{head}.weight", None)
        state.pop(f"{head}.bias", None)
        head = "imagenet_head"
    return _to_ours(_pyiqa_rules(_depth(state, r"encoderblock_(\d+)\."), head), state, "pyiqa")


def convert_ours_to_pyiqa(state: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """MUSIQNet state -> pyiqa names and shapes (``head.0`` for a multi-class head, as pyiqa builds it)."""
    head = "head.0" if state["head.weight"].shape[0] > 1 else "head"
    return _to_theirs(_pyiqa_rules(_depth(state, r"encoder\.blocks\.(\d+)\."), head), state)


register_converter("musiq_official", detect=_detect_official, inverse=convert_ours_to_official)(convert_official_to_ours)
register_converter("musiq_pyiqa", detect=_detect_pyiqa, inverse=convert_ours_to_pyiqa)(convert_pyiqa_to_ours)
