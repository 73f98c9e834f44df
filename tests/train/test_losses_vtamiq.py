"""VTAMIQ training losses (paper §3.4, Eq. 5; authors' run_main.py)."""
from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from iqametrics.train.losses import (
    vtamiq_loss,
    vtamiq_pairwise_loss,
    vtamiq_pearson_loss,
    vtamiq_preference_probability,
    vtamiq_rank_loss,
)


def _loop_rank_loss(q, y, eps=1e-6, normalise=False):
    """The authors' loop over torch.combinations, written out."""
    terms = []
    for i, j in itertools.combinations(range(len(q)), 2):
        rl = max(0.0, float(-(y[i] - y[j]) * (q[i] - q[j]) / (abs(y[i] - y[j]) + eps)))
        terms.append(rl / max(abs(float(q[i])), abs(float(q[j]))) if normalise else rl)
    return sum(terms) / len(terms)


def test_rank_loss_matches_the_pairwise_definition():
    g = torch.Generator().manual_seed(0)
    q, y = torch.rand(7, generator=g, dtype=torch.float64), torch.rand(7, generator=g, dtype=torch.float64)
    assert vtamiq_rank_loss(q, y).item() == pytest.approx(_loop_rank_loss(q, y), rel=1e-12)
    expected = _loop_rank_loss(q, y, normalise=True)
    assert vtamiq_rank_loss(q, y, normalise_by_pred=True).item() == pytest.approx(expected, rel=1e-12)


def test_rank_loss_is_zero_for_correct_orderings_and_the_gap_otherwise():
    y = torch.tensor([0.1, 0.5, 0.9])
    assert vtamiq_rank_loss(y * 2 + 1, y) == 0  # any increasing map of the targets
    # one swapped pair out of three: loss = |q_i − q_j| · |Δy| / (|Δy| + eps) / 3
    q = torch.tensor([0.5, 0.1, 0.9])
    assert vtamiq_rank_loss(q, y).item() == pytest.approx(0.4 / 3, rel=1e-5)
    assert vtamiq_rank_loss(torch.tensor([0.3]), torch.tensor([0.2])) == 0
    with pytest.raises(ValueError):
        vtamiq_rank_loss(torch.zeros(3), torch.zeros(4))


def test_paper_and_code_losses():
    g = torch.Generator().manual_seed(1)
    q = torch.rand(6, generator=g, requires_grad=True)
    y = torch.rand(6, generator=g)
    paper = vtamiq_loss(q, y)
    assert paper.item() == pytest.approx((F.l1_loss(q, y) + vtamiq_rank_loss(q, y)).item())
    w = 0.975**3  # MAE weight after three epochs of the authors' decay
    code = vtamiq_loss(q, y, variant="code", mae_weight=w)
    rank = vtamiq_rank_loss(q, y, normalise_by_pred=True)
    expected = (w * F.l1_loss(q, y) + rank + 0.2 * vtamiq_pearson_loss(q, y)) / (w + 1.2)
    assert code.item() == pytest.approx(expected.item())
    (paper + code).backward()
    assert torch.isfinite(q.grad).all()
    assert vtamiq_pearson_loss(y, y).item() == pytest.approx(0.0, abs=1e-5)
    assert vtamiq_pearson_loss(-y, y).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="variant"):
        vtamiq_loss(q, y, variant="mse")


def test_pairwise_preference():
    # a lower distortion level for A means A is preferred
    assert vtamiq_preference_probability(torch.tensor([0.1]), torch.tensor([0.9])) > 0.5
    assert vtamiq_preference_probability(torch.tensor([0.4]), torch.tensor([0.4])) == 0.5
    qa, qb = torch.tensor([0.2, 0.7]), torch.tensor([0.5, 0.1])
    p = 1 / (1 + torch.exp(qa - qb))
    human = torch.tensor([1.0, 0.0])
    assert torch.allclose(vtamiq_pairwise_loss(qa, qb, human), ((p - human) ** 2).mean())


@pytest.mark.parametrize("variant", ["paper", "code"])
def test_loss_takes_column_predictions_like_flat_ones(variant):
    """A model's [N, 1] output against [N] targets must not broadcast to [N, N] in the MAE term."""
    pred, target = torch.tensor([[0.1], [0.5], [0.9]]), torch.tensor([0.2, 0.4, 1.0])
    assert vtamiq_loss(pred, target, variant) == pytest.approx(vtamiq_loss(pred[:, 0], target, variant).item())
