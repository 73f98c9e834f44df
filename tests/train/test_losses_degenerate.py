"""Every loss of iqametrics.train.losses on degenerate batches: all-zero predictions, constant
targets, a batch of one, identical pairs, zero-width (one-hot) and one-bin distributions.

Each case states the value that makes sense and checks that the loss and the gradients of every
input are finite: a training step on such a batch must not put NaN into the weights.
"""
from __future__ import annotations

import math

import pytest
import torch

from iqametrics.train import losses

Z4 = torch.zeros(4)
RAMP = torch.tensor([0.0, 1.0, 2.0, 3.0])
CONST = torch.full((4,), 2.0)
ONE_HOT = torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0]])  # all the votes in the middle bin: zero width
UNIFORM_CDF_GAP = math.sqrt((0.2**2 + 0.4**2 + 0.4**2 + 0.2**2) / 5)  # uniform vs one-hot in bin 3 of 5 (r = 2)

# (loss, inputs, keyword arguments, expected value, why)
CASES = [
    # HyperIQA / PyramidIQA
    (losses.l1_loss, (Z4, RAMP), {}, 1.5, "mean |0 - y| over 0, 1, 2, 3"),
    (losses.l1_loss, (CONST, CONST), {}, 0.0, "perfect predictions of constant targets"),
    (losses.l1_loss, (torch.tensor([0.0]), torch.tensor([1.0])), {}, 1.0, "a batch of one"),
    # LiteIQA
    (losses.l1_plcc_loss, (Z4, RAMP), {"l1_scale": 1.5}, 2.0, "constant predictions: L1 1.5 / 1.5 + (1 - 0)"),
    (losses.l1_plcc_loss, (RAMP, CONST), {}, 1.0 + 1.0, "constant targets: L1 1, r taken as 0"),
    (losses.l1_plcc_loss, (torch.tensor([1.0]), torch.tensor([2.0])), {}, 2.0, "a batch of one: L1 1, r taken as 0"),
    (losses.batch_pearson, (Z4, RAMP), {}, 0.0, "constant predictions: r taken as 0"),
    (losses.batch_pearson, (RAMP, RAMP * 2 + 1), {}, 1.0, "a perfect linear relation"),
    (losses.pyramidiqa_rank_loss, (Z4, RAMP), {}, 0.5, "every pair tied: the full margin 0.5 on each"),
    (losses.pyramidiqa_rank_loss, (RAMP, CONST), {}, 0.0, "constant targets: no pair is farther apart than min_gap"),
    (losses.pyramidiqa_rank_loss, (torch.tensor([0.0]), torch.tensor([1.0])), {}, 0.0, "a batch of one has no pair"),
    (losses.pairwise_rank_loss_eq13, (Z4, RAMP), {}, 0.0, "tied predictions: |dq| - sign(dq) dy = 0"),
    (losses.pairwise_rank_loss_eq13, (RAMP, CONST), {}, 10 / 6, "constant targets: the mean |q_i - q_j| of 6 pairs"),
    (losses.pairwise_rank_loss_eq13, (torch.tensor([0.0]), torch.tensor([1.0])), {}, 0.0, "a batch of one"),
    (losses.pyramidiqa_loss, (Z4, RAMP), {}, 1.5 + 0.3 * 0.5, "L1 + 0.3 x the code's rank loss"),
    (losses.pyramidiqa_loss, (Z4, RAMP), {"rank": "eq13"}, 1.5, "L1 + 0.3 x 0"),
    (losses.pyramidiqa_loss, (CONST, CONST), {}, 0.0, "perfect constant predictions"),
    # VTAMIQ
    (losses.vtamiq_rank_loss, (Z4, RAMP), {}, 0.0, "tied predictions are not misordered"),
    (losses.vtamiq_rank_loss, (Z4, RAMP), {"normalise_by_pred": True}, 0.0,
     "tied at 0: the authors' max(|q_i|, |q_j|) divisor is 0 (NaN there), floored at eps here"),
    (losses.vtamiq_rank_loss, (torch.zeros(2), torch.tensor([0.0, 1.0])), {"normalise_by_pred": True}, 0.0, "one pair at 0"),
    (losses.vtamiq_rank_loss, (RAMP, CONST), {"normalise_by_pred": True}, 0.0, "constant targets: dy = 0 in every term"),
    (losses.vtamiq_rank_loss, (torch.tensor([0.0]), torch.tensor([1.0])), {"normalise_by_pred": True}, 0.0, "a batch of one"),
    (losses.vtamiq_pearson_loss, (Z4, RAMP), {}, 1.0, "constant predictions: r taken as 0"),
    (losses.vtamiq_pearson_loss, (RAMP, CONST), {}, 1.0, "constant targets: r taken as 0"),
    (losses.vtamiq_pearson_loss, (torch.tensor([1.0]), torch.tensor([2.0])), {}, 1.0, "a batch of one: r taken as 0"),
    (losses.vtamiq_loss, (Z4, RAMP), {}, 1.5, "paper: MAE 1.5 + rank 0"),
    (losses.vtamiq_loss, (Z4, RAMP), {"variant": "code"}, (1.5 + 0 + 0.2 * 1.0) / 2.2,
     "code: (MAE + normalised rank + 0.2 (1 - r)) / (1 + 1.2)"),
    (losses.vtamiq_loss, (torch.tensor([0.0]), torch.tensor([0.5])), {"variant": "code"}, (0.5 + 0.2) / 2.2, "a batch of one"),
    (losses.vtamiq_pairwise_loss, (Z4, Z4, torch.full((4,), 0.5)), {}, 0.0, "identical pairs: p = 1/2, as judged"),
    (losses.vtamiq_pairwise_loss, (Z4, Z4, torch.ones(4)), {}, 0.25, "identical pairs judged unanimously: (1/2 - 1)^2"),
    # NIMA / MUSIQ
    (losses.emd_loss, (ONE_HOT, ONE_HOT), {}, 0.0, "identical zero-width distributions"),
    (losses.emd_loss, (torch.ones(3, 1), torch.ones(3, 1)), {}, 0.0, "one bin: every CDF is 1"),
    (losses.emd_loss, (torch.full((1, 5), 0.2), ONE_HOT), {}, UNIFORM_CDF_GAP, "uniform vs zero width"),
    # PRFNet
    (losses.two_afc_classification_loss, (torch.zeros(1, 2), torch.tensor([1.0])), {}, math.log(2), "equal logits: ln 2"),
    (losses.two_afc_classification_loss, (torch.zeros(3, 2), torch.full((3,), 0.5)), {}, math.log(2), "a tie judged a tie"),
    (losses.two_afc_regression_loss, (torch.zeros(1), torch.tensor([0.5])), {}, 0.0, "logit 0 is p = 1/2, as judged"),
    (losses.two_afc_regression_loss, (torch.zeros(2), torch.ones(2)), {}, 0.25, "(1/2 - 1)^2"),
    # TFIQA
    (losses.tfiqa_fr_loss, (Z4, Z4), {}, 0.0, "identical images at distance 0, labelled 0"),
    (losses.tfiqa_fr_loss, (torch.tensor([0.0]), torch.tensor([1.0])), {}, 1.0, "a batch of one"),
    (losses.tfiqa_nr_loss, (torch.zeros(1, 5), ONE_HOT), {}, UNIFORM_CDF_GAP, "equal logits vs zero-width votes"),
    (losses.tfiqa_nr_loss, (torch.zeros(2, 5), torch.full((2, 5), 0.2)), {}, 0.0, "uniform votes, equal logits"),
    (losses.tfiqa_uni_loss, (Z4, Z4, torch.zeros(1, 5), ONE_HOT), {}, UNIFORM_CDF_GAP, "0 + the NR term"),
]


@pytest.mark.parametrize("loss, inputs, options, expected, why", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_degenerate_batches_give_finite_values_and_gradients(loss, inputs, options, expected, why):
    leaves = [x.clone().requires_grad_(True) for x in inputs]
    value = loss(*leaves, **options)
    assert value.dim() == 0 and torch.isfinite(value), why
    assert value.item() == pytest.approx(expected, abs=1e-5), why
    value.backward()
    assert leaves[0].grad is not None, why  # the predictions always get a gradient
    for x in leaves:  # a target the value does not depend on (a batch of one has no pair) has none
        assert x.grad is None or torch.isfinite(x.grad).all(), why


def test_the_normalised_rank_loss_agrees_with_the_authors_where_their_divisor_is_defined():
    """The eps floor changes nothing where max(|q_i|, |q_j|) >= eps (here every |q| >= 0.1)."""
    q = torch.tensor([0.3, -0.1, 0.7, 0.2], dtype=torch.float64)
    y = torch.tensor([0.1, 0.4, 0.2, 0.9], dtype=torch.float64)
    i, j = torch.triu_indices(4, 4, offset=1)
    dy = y[i] - y[j]
    authors = (torch.clamp_min(-dy * (q[i] - q[j]) / (dy.abs() + 1e-6), 0) / torch.maximum(q[i].abs(), q[j].abs())).mean()
    assert losses.vtamiq_rank_loss(q, y, normalise_by_pred=True).item() == pytest.approx(authors.item(), rel=1e-12)


def test_the_helpers_at_their_edges():
    """Not losses, but in the module's API: preference of identical predictions, the label map's ends."""
    assert torch.equal(losses.vtamiq_preference_probability(Z4, Z4), torch.full((4,), 0.5))
    mos = torch.tensor([1.0, 5.0], requires_grad=True)
    labels = losses.fr_label_from_mos(mos)
    assert labels.tolist() == [1.0, 0.0]  # the worst MOS is the largest distance
    labels.sum().backward()
    assert torch.isfinite(mos.grad).all()
    with pytest.raises(ValueError, match="best > worst"):
        losses.fr_label_from_mos(mos, scale=(3.0, 3.0))  # a zero-width scale


def test_every_loss_of_the_module_is_covered():
    covered = {case[0].__name__ for case in CASES} | {"vtamiq_preference_probability", "fr_label_from_mos"}
    assert set(losses.__all__) <= covered, set(losses.__all__) - covered
