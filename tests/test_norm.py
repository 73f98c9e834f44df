"""iqametrics.nn.norm.GroupNorm: PyTorch's GroupNorm, except that bfloat16/float16 inputs on CPU are
normalised in float32 (as CUDA autocast does) and rounded back once."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from iqametrics.nn.norm import GroupNorm


def _layer(channels, groups=32, eps=1e-6, seed=0):
    g = torch.Generator().manual_seed(seed)
    layer = GroupNorm(groups, channels, eps=eps)
    with torch.no_grad():
        layer.weight.copy_(1 + 0.2 * torch.randn(channels, generator=g))
        layer.bias.copy_(0.2 * torch.randn(channels, generator=g))
    return layer


def _input(shape, mean, std, dtype, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g) * std + mean
    return x.to(dtype).contiguous(memory_format=torch.channels_last)


def test_float32_takes_pytorch_kernel_unchanged():
    layer = _layer(64)
    x = _input((5, 64, 8, 8), 1.0, 2.0, torch.float32)
    assert torch.equal(layer(x), F.group_norm(x, 32, layer.weight, layer.bias, 1e-6))
    assert layer.state_dict().keys() == torch.nn.GroupNorm(32, 64).state_dict().keys()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("mean, std", [(0.0, 1.0), (50.0, 1.0)])
def test_reduced_precision_is_normalised_in_float32_and_rounded_once(dtype, mean, std):
    layer = _layer(64)
    x = _input((3, 64, 16, 16), mean, std, dtype)
    with torch.no_grad():
        ours = layer(x)
        exact = F.group_norm(x.double(), 32, layer.weight.double(), layer.bias.double(), 1e-6)
    assert ours.dtype == dtype and ours.is_contiguous(memory_format=torch.channels_last)
    in_float32 = F.group_norm(x.float(), 32, layer.weight, layer.bias, 1e-6)
    assert torch.equal(ours, in_float32.to(dtype))
    # one rounding of the float32 result: within half an ulp of the dtype at each value's magnitude of it
    # (the float32 error itself grows with mean²/var in PyTorch's channels-last kernel: 4e-4 at offset 50σ)
    # (float16 subnormals: a fixed spacing of finfo.smallest_normal · eps)
    info = torch.finfo(dtype)
    half_ulp = in_float32.double().abs().clamp_min(info.smallest_normal) * info.eps / 2
    assert ((ours.double() - exact).abs() <= half_ulp + (in_float32.double() - exact).abs() + 1e-12).all()


def test_weights_in_reduced_precision_and_no_affine():
    x = _input((2, 8, 4, 4), 0.0, 1.0, torch.bfloat16)
    layer = GroupNorm(4, 8).bfloat16()
    plain = GroupNorm(4, 8, affine=False)
    with torch.no_grad():
        assert layer(x).dtype == torch.bfloat16
        assert torch.equal(plain(x), F.group_norm(x.float(), 4, eps=1e-5).bfloat16())


def test_gradients_under_cpu_autocast_match_float32():
    layer = _layer(64)
    x32 = _input((3, 64, 8, 8), 1.0, 2.0, torch.float32).requires_grad_()
    probe = torch.randn(3, 64, 8, 8, generator=torch.Generator().manual_seed(3))
    (F.group_norm(x32, 32, layer.weight, layer.bias, 1e-6) * probe).sum().backward()
    ref_x, ref_w = x32.grad.clone(), layer.weight.grad.clone()
    layer.zero_grad()
    xb = x32.detach().bfloat16().contiguous(memory_format=torch.channels_last).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        (layer(xb).float() * probe).sum().backward()
    assert xb.grad.dtype == torch.bfloat16
    torch.testing.assert_close(xb.grad.float(), ref_x, atol=0.05, rtol=0.05)
    torch.testing.assert_close(layer.weight.grad, ref_w, atol=0.5, rtol=0.03)
