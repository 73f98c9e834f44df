"""Transformer encoder with a key-padding mask, in two flavours.

* pre-LN (ViT, MUSIQ): ``x = x + Attn(LN(x)); x = x + MLP(LN(x))`` per block, a final LayerNorm
  after the last block, dropout after each linear of the MLP (timm's ``Mlp``);
* post-LN (the original Transformer; TRIQ, TFIQA): ``x = LN(x + Attn(x)); x = LN(x + MLP(x))``,
  no final LayerNorm, dropout on the two sub-layer outputs only (TRIQ's ``TransformerBlock``,
  ``junyongyou/triq`` ``src/models/transformer_iqa.py``).

Attention runs through :func:`torch.nn.functional.scaled_dot_product_attention` (fused kernels on
CPU and GPU); a key-padding mask lets sequences of different lengths share one batch: padded
tokens are never attended to, so the outputs of the real tokens do not depend on how much
padding the batch needed.  Queries of padded tokens still compute (their outputs are garbage the
caller ignores), which keeps every row of the softmax non-empty.

Parameter names follow timm's ViT (``blocks.{i}.norm1``, ``attn.qkv``, ``attn.proj``,
``mlp.fc1``, ``mlp.fc2``, ``norm``) with q, k and v fused into one projection.
"""
from __future__ import annotations

import math
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ACTIVATIONS", "MultiHeadSelfAttention", "Mlp", "EncoderBlock", "TransformerEncoder", "padding_attn_mask",
]


def padding_attn_mask(key_padding_mask: Optional[Tensor]) -> Optional[Tensor]:
    """[B, N] bool (True = real token) -> boolean SDPA mask [B, 1, 1, N] (True = may attend)."""
    if key_padding_mask is None:
        return None
    if key_padding_mask.dtype != torch.bool or key_padding_mask.dim() != 2:
        raise TypeError(f"key_padding_mask must be a bool tensor [B, N], got {key_padding_mask.dtype} {tuple(key_padding_mask.shape)}")
    return key_padding_mask[:, None, None, :]


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention, scale ``head_dim ** -0.5``, fused q/k/v projection with bias."""

    def __init__(self, dim: int, num_heads: int, *, qkv_bias: bool = True, attn_dropout: float = 0.0,
                 proj_dropout: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attn_dropout = attn_dropout
        self.proj_drop = nn.Dropout(proj_dropout)

    def forward(self, x: Tensor, attn_mask: Optional[Tensor] = None, n_queries: Optional[int] = None) -> Tensor:
        """``x`` [B, N, C] -> [B, N, C], or [B, n_queries, C] for the first ``n_queries`` tokens only."""
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # [B, heads, N, head_dim]
        if n_queries is not None:
            q = q[:, :, :n_queries]
            if attn_mask is not None and attn_mask.shape[-2] > 1:  # a per-query mask
                attn_mask = attn_mask[..., :n_queries, :]
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.attn_dropout if self.training else 0.0
        )
        out = out.transpose(1, 2).reshape(b, q.shape[2], c)
        return self.proj_drop(self.proj(out))


#: MLP activations: exact (erf) GELU, Flax/JAX's default tanh-approximated GELU, ReLU (TRIQ)
ACTIVATIONS = {
    "gelu": lambda: nn.GELU(),
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "relu": lambda: nn.ReLU(),
}


class Mlp(nn.Module):
    """Linear -> activation -> dropout -> Linear -> dropout (``act`` one of :data:`ACTIVATIONS`)."""

    def __init__(self, dim: int, hidden: int, *, act: str = "gelu", dropout: float = 0.0):
        super().__init__()
        if act not in ACTIVATIONS:
            raise ValueError(f"act must be one of {sorted(ACTIVATIONS)} (gelu: exact erf GELU), got {act!r}")
        self.fc1 = nn.Linear(dim, hidden)
        self.act = ACTIVATIONS[act]()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class EncoderBlock(nn.Module):
    """One block: pre-LN ``x + Attn(LN(x))`` then ``x + MLP(LN(x))``, or with ``norm_first=False``
    post-LN ``LN(x + Attn(x))`` then ``LN(x + MLP(x))`` (dropout on the MLP's output only, as TRIQ)."""

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, *, eps: float = 1e-6, act: str = "gelu",
                 dropout: float = 0.0, attn_dropout: float = 0.0, norm_first: bool = True):
        super().__init__()
        self.norm_first = bool(norm_first)
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = MultiHeadSelfAttention(dim, num_heads, attn_dropout=attn_dropout, proj_dropout=dropout)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_dim, act=act, dropout=dropout if self.norm_first else 0.0)
        self.mlp_drop = nn.Identity() if self.norm_first else nn.Dropout(dropout)

    def forward(self, x: Tensor, attn_mask: Optional[Tensor] = None, n_queries: Optional[int] = None) -> Tensor:
        residual = x if n_queries is None else x[:, :n_queries]
        if self.norm_first:
            x = residual + self.attn(self.norm1(x), attn_mask, n_queries)
            return x + self.mlp(self.norm2(x))
        x = self.norm1(residual + self.attn(x, attn_mask, n_queries))
        return self.norm2(x + self.mlp_drop(self.mlp(x)))


class TransformerEncoder(nn.Module):
    """A stack of :class:`EncoderBlock`: pre-LN with a final LayerNorm, or post-LN without one.

    Args:
        dim, depth, num_heads, mlp_dim: width, number of blocks, heads, MLP hidden width.
        eps: LayerNorm epsilon (1e-6 in ViT/Flax and TRIQ).
        act: the MLP activation, ``"gelu"`` (exact erf GELU, PyTorch's default), ``"gelu_tanh"``
            (Flax's default) or ``"relu"`` (TRIQ).
        dropout, attn_dropout: dropout after each projection / on the attention weights (training).
        norm_first: pre-LN (True, ViT) or post-LN (False, TRIQ/TFIQA; no final LayerNorm).
    """

    def __init__(self, dim: int, depth: int, num_heads: int, mlp_dim: int, *, eps: float = 1e-6,
                 act: str = "gelu", dropout: float = 0.0, attn_dropout: float = 0.0, norm_first: bool = True):
        super().__init__()
        self.blocks = nn.ModuleList(
            EncoderBlock(dim, num_heads, mlp_dim, eps=eps, act=act, dropout=dropout, attn_dropout=attn_dropout,
                         norm_first=norm_first)
            for _ in range(depth)
        )
        # post-LN blocks end with a LayerNorm already
        self.norm = nn.LayerNorm(dim, eps=eps) if norm_first else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self, generator: Optional[torch.Generator] = None) -> None:
        """ViT/Flax initialisation: Xavier-uniform kernels (q, k, v each on its own), zero biases,
        MLP biases N(0, 1e-6), LayerNorm (1, 0)."""
        for block in self.blocks:
            dim = block.attn.proj.in_features
            with torch.no_grad():
                for chunk in block.attn.qkv.weight.split(dim, dim=0):
                    _xavier_uniform_(chunk, generator)
                _xavier_uniform_(block.attn.proj.weight, generator)
                _xavier_uniform_(block.mlp.fc1.weight, generator)
                _xavier_uniform_(block.mlp.fc2.weight, generator)
                if block.attn.qkv.bias is not None:
                    block.attn.qkv.bias.zero_()
                block.attn.proj.bias.zero_()
                block.mlp.fc1.bias.normal_(0.0, 1e-6, generator=generator)
                block.mlp.fc2.bias.normal_(0.0, 1e-6, generator=generator)
            for norm in (block.norm1, block.norm2):
                nn.init.ones_(norm.weight)
                nn.init.zeros_(norm.bias)
        if isinstance(self.norm, nn.LayerNorm):
            nn.init.ones_(self.norm.weight)
            nn.init.zeros_(self.norm.bias)

    def forward(self, x: Tensor, key_padding_mask: Optional[Tensor] = None, *, keep_first: Optional[int] = None) -> Tensor:
        """``x`` [B, N, C]; ``key_padding_mask`` [B, N] bool (True = real token) or None.

        ``keep_first=k`` returns only the first ``k`` tokens [B, k, C] and skips the last block's
        queries, MLP and the final norm for the others (e.g. ``k=1`` for a [CLS] readout).
        """
        attn_mask = padding_attn_mask(key_padding_mask)
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            x = block(x, attn_mask, keep_first if i == last else None)
        if keep_first is not None and not self.blocks:
            x = x[:, :keep_first]
        return self.norm(x)

    def layer_outputs(self, x: Tensor, key_padding_mask: Optional[Tensor] = None) -> List[Tensor]:
        """The output of every block, [B, N, C] each, first block first (for post-LN the last one
        is the encoder's output; for pre-LN the final LayerNorm is not applied to any of them)."""
        attn_mask = padding_attn_mask(key_padding_mask)
        outputs = []
        for block in self.blocks:
            x = block(x, attn_mask)
            outputs.append(x)
        return outputs


def _xavier_uniform_(w: Tensor, generator: Optional[torch.Generator]) -> None:
    fan_out, fan_in = w.shape
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    w.uniform_(-bound, bound, generator=generator)
