"""create(..., as_loss=True) returns something to minimise; differentiable=True keeps the raw scores.

The optimisation loop is the one docs/api.md shows.
"""
from __future__ import annotations

import math

import pytest
import torch

import iqametrics
from iqametrics.config import MetricInfo
from iqametrics.metric import NRMetric


def _pair(size=40, noise=0.15):
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    ref = torch.stack([0.5 + 0.4 * torch.sin(8 * xx), 0.5 + 0.4 * torch.cos(6 * yy), (xx + yy) / 2])[None]
    noisy = (ref + noise * torch.randn(ref.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    return noisy, ref


@pytest.mark.parametrize("name", ["ssim", "gmsd", "psnr"])
def test_minimising_the_loss_improves_the_metric(name):
    noisy, reference = _pair()
    loss_fn = iqametrics.create(name, as_loss=True)
    metric = iqametrics.create(name)
    # docs/api.md, "Metrics as losses"
    x = noisy.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=0.01)
    for _ in range(8):
        optimiser.zero_grad()
        loss = loss_fn(x, reference).mean()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            x.clamp_(0, 1)  # metrics take images in [0, 1]
    before, after = float(metric(noisy, reference)), float(metric(x.detach(), reference))
    better = after > before if metric.info.higher_is_better else after < before
    assert better, (name, before, after)


def test_loss_orientation_follows_direction_and_range():
    noisy, reference = _pair()
    for name, expected in [
        ("ssim", lambda s: 1.0 - s),     # similarity, best value 1
        ("psnr", lambda s: 100.0 - s),   # similarity, best value the top of its range
        ("gmsd", lambda s: s),           # distance: as it is
    ]:
        raw = iqametrics.create(name, differentiable=True)(noisy, reference)
        loss = iqametrics.create(name, as_loss=True)(noisy, reference)
        assert raw.requires_grad is False  # no input needs gradients here; the mode allows them
        torch.testing.assert_close(loss, expected(raw), rtol=0, atol=1e-5)


class _Mean(NRMetric):
    def _score(self, x):
        return x.mean(dim=(1, 2, 3))


def test_unbounded_similarity_is_negated(register_toy):
    register_toy(_Mean, MetricInfo(name="toy-unbounded", kind="NR", higher_is_better=True,
                                   score_range=(0.0, math.inf), paper="-", licence="-", differentiable=True))
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    loss = iqametrics.create("toy-unbounded", as_loss=True)(x)
    torch.testing.assert_close(loss, -x.mean(dim=(1, 2, 3)))
    loss.sum().backward()
    assert x.grad is not None


def test_differentiable_scores_keep_gradients():
    noisy, reference = _pair()
    x = noisy.clone().requires_grad_(True)
    score = iqametrics.create("ssim", differentiable=True)(x, reference)
    score.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    torch.testing.assert_close(score.detach(), iqametrics.create("ssim")(noisy, reference))
