"""The post-LN flavour of iqametrics.nn.transformer (TRIQ, TFIQA) against a direct transcription of
TRIQ's ``TransformerBlock`` (``junyongyou/triq`` ``src/models/transformer_iqa.py``)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from iqametrics.nn.transformer import TransformerEncoder


def _triq_block(blk, x, mask=None):
    """out1 = LN1(x + MHA(x, x, x)); out2 = LN2(out1 + Dense(ReLU(Dense(out1)))), eps 1e-6,
    separate q/k/v maps, logits / sqrt(depth), masked keys get -1e9."""
    b, n, c = x.shape
    heads = blk.attn.num_heads
    wq, wk, wv = blk.attn.qkv.weight.split(c)
    bq, bk, bv = blk.attn.qkv.bias.split(c)

    def split(t):
        return t.view(b, n, heads, c // heads).transpose(1, 2)

    q, k, v = split(x @ wq.T + bq), split(x @ wk.T + bk), split(x @ wv.T + bv)
    logits = q @ k.transpose(-1, -2) / math.sqrt(c // heads)
    if mask is not None:
        logits = logits + (~mask[:, None, None, :]).to(x.dtype) * -1e9
    attn = (logits.softmax(-1) @ v).transpose(1, 2).reshape(b, n, c)
    out1 = F.layer_norm(x + blk.attn.proj(attn), (c,), blk.norm1.weight, blk.norm1.bias, 1e-6)
    ffn = blk.mlp.fc2(F.relu(blk.mlp.fc1(out1)))
    return F.layer_norm(out1 + ffn, (c,), blk.norm2.weight, blk.norm2.bias, 1e-6)


@pytest.fixture
def encoder():
    torch.manual_seed(0)
    enc = TransformerEncoder(32, 2, 8, 64, act="relu", dropout=0.1, norm_first=False).eval()
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return enc


def test_post_ln_matches_triq(encoder):
    x = torch.randn(3, 11, 32)
    mask = torch.arange(11)[None] < torch.tensor([[11], [6], [1]])
    want, layers = x, []
    for blk in encoder.blocks:
        want = _triq_block(blk, want, mask)
        layers.append(want)
    out = encoder(x, mask)
    for i, n in enumerate([11, 6, 1]):
        torch.testing.assert_close(out[i, :n], want[i, :n], rtol=1e-5, atol=1e-5)
    # no final LayerNorm in the post-LN flavour; the per-layer outputs are TRIQ's y_1 ... y_L
    assert isinstance(encoder.norm, torch.nn.Identity)
    for got, ref in zip(encoder.layer_outputs(x, mask), layers):
        torch.testing.assert_close(got[0], ref[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(encoder(x, mask, keep_first=1), out[:, :1], rtol=1e-5, atol=1e-6)


def test_post_ln_dropout_only_on_sublayer_outputs(encoder):
    """TRIQ drops the attention output and the feed-forward output, not the hidden ReLU units."""
    blk = encoder.blocks[0]
    assert blk.mlp.drop.p == 0.0 and blk.mlp_drop.p == 0.1 and blk.attn.proj_drop.p == 0.1
    assert blk.attn.attn_dropout == 0.0


def test_activation_is_validated():
    with pytest.raises(ValueError, match="act must be one of"):
        TransformerEncoder(8, 1, 2, 16, act="swish")
    pre = TransformerEncoder(8, 1, 2, 16, act="gelu_tanh")
    assert pre.blocks[0].mlp.act.approximate == "tanh" and isinstance(pre.norm, torch.nn.LayerNorm)
