"""Normalisation layers that stay fast under reduced precision on CPU.

On CUDA, autocast runs ``group_norm`` in float32.  PyTorch's CPU autocast leaves it in the input's
dtype, and the CPU GroupNorm kernel is slow on bfloat16 channels-last tensors: 2-7× slower than on
float32 for the shapes of MUSIQ's patch encoder (450 patches: 55 vs 11 ms at 64×16×16, 14 vs 2 ms at
64×8×8, 17 vs 3 ms at 256×8×8; torch 2.14 on a 2-vCPU AVX-512/AMX Xeon).  That ate most of what
bfloat16 convolutions and matrix products gain (MUSIQ under CPU bf16 autocast: 213 ms per 500×500
photo with PyTorch's bfloat16 GroupNorm, 139 ms with :class:`GroupNorm`, 212 ms in float32).

:class:`GroupNorm` therefore does on CPU what autocast does on CUDA: the normalisation of a
bfloat16/float16 input runs in float32 and the result is rounded back once.  Hand-written kernels
(float32 sums over the contiguous channel axis, the affine in bfloat16) were measured 6-12 % faster
end to end and were not kept: the same semantics as CUDA, in three lines, are worth more.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["GroupNorm"]

_REDUCED = (torch.bfloat16, torch.float16)


class GroupNorm(nn.GroupNorm):
    """:class:`torch.nn.GroupNorm` (same parameters and state-dict keys) that normalises
    bfloat16/float16 inputs on CPU in float32 and returns the input's dtype (see the module docstring)."""

    def forward(self, x: Tensor) -> Tensor:
        if x.dtype in _REDUCED and x.device.type == "cpu":
            weight, bias = (None, None) if not self.affine else (self.weight.float(), self.bias.float())
            return F.group_norm(x.float(), self.num_groups, weight, bias, self.eps).to(x.dtype)
        return super().forward(x)
