"""HyperIQA / PyramidIQA losses against element-by-element loops written from the formulas."""
from __future__ import annotations

import itertools

import pytest
import torch

from iqametrics.train.losses import l1_loss, pairwise_rank_loss_eq13, pyramidiqa_loss, pyramidiqa_rank_loss


def _sign(v: float) -> float:
    return (v > 0) - (v < 0)


def rank_loss_code_loop(q, y, margin=0.5, min_gap=0.1):
    """ms_hyperIQA/train.py rank_loss, one ordered pair at a time."""
    total, pairs = 0.0, 0
    for i, j in itertools.permutations(range(len(q)), 2):
        if abs(y[i] - y[j]) > min_gap:
            total += max(0.0, margin - _sign(y[i] - y[j]) * (q[i] - q[j]))
            pairs += 1
    return total / pairs if pairs else 0.0


def rank_loss_eq13_loop(q, y):
    """Report Eq. (13) over unordered pairs."""
    pairs = list(itertools.combinations(range(len(q)), 2))
    return sum(max(0.0, abs(q[i] - q[j]) - _sign(q[i] - q[j]) * (y[i] - y[j])) for i, j in pairs) / max(1, len(pairs))


@pytest.fixture
def batch(rng):
    q = torch.rand(9, generator=rng, dtype=torch.float64) * 100
    y = torch.rand(9, generator=rng, dtype=torch.float64) * 100
    y[3] = y[5] + 0.05  # a pair closer than the 0.1 threshold is ignored by the code's loss
    return q, y


def test_code_rank_loss_matches_loop(batch):
    q, y = batch
    assert pyramidiqa_rank_loss(q, y).item() == pytest.approx(rank_loss_code_loop(q.tolist(), y.tolist()), rel=1e-12)
    assert pyramidiqa_rank_loss(q / 100, y / 100, margin=0.005, min_gap=0.001).item() == pytest.approx(
        rank_loss_code_loop((q / 100).tolist(), (y / 100).tolist(), 0.005, 0.001), rel=1e-12
    )


def test_eq13_rank_loss_matches_loop(batch):
    q, y = batch
    assert pairwise_rank_loss_eq13(q, y).item() == pytest.approx(rank_loss_eq13_loop(q.tolist(), y.tolist()), rel=1e-12)


def test_rank_losses_vanish_when_order_is_right():
    y = torch.tensor([10.0, 20.0, 30.0, 40.0])
    assert pyramidiqa_rank_loss(y * 2, y).item() == 0.0  # ordered and every gap beyond the margin
    assert pairwise_rank_loss_eq13(y * 0.5, y).item() == 0.0  # ordered, gaps no larger than the labels'
    assert pyramidiqa_rank_loss(-y, y).item() > 0 and pairwise_rank_loss_eq13(-y, y).item() > 0


def test_rank_losses_without_valid_pairs_are_zero_with_gradient():
    q = torch.tensor([1.0, 2.0], requires_grad=True)
    for loss in (pyramidiqa_rank_loss(q, torch.tensor([5.0, 5.05])), pairwise_rank_loss_eq13(q[:1], torch.tensor([3.0]))):
        assert loss.item() == 0.0
        loss.backward()
        assert torch.isfinite(q.grad).all()


def test_combined_loss_and_gradients(batch):
    q, y = batch
    q = q.clone().requires_grad_(True)
    total = pyramidiqa_loss(q, y)
    expected = (q - y).abs().mean() + 0.3 * rank_loss_code_loop(q.tolist(), y.tolist())
    assert total.item() == pytest.approx(expected.item(), rel=1e-12)
    total.backward()
    assert torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0
    assert pyramidiqa_loss(q, y, rank="eq13").item() == pytest.approx(
        l1_loss(q, y).item() + 0.3 * rank_loss_eq13_loop(q.tolist(), y.tolist()), rel=1e-12
    )


def test_loss_validation():
    with pytest.raises(ValueError, match="same number"):
        l1_loss(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="rank must be"):
        pyramidiqa_loss(torch.zeros(3), torch.zeros(3), rank="hinge")
    with pytest.raises(TypeError, match="no options"):
        pyramidiqa_loss(torch.zeros(3), torch.zeros(3), rank="eq13", margin=1.0)
    assert l1_loss(torch.zeros(3, 1), torch.ones(3)).item() == 1.0  # [N, 1] predictions accepted
