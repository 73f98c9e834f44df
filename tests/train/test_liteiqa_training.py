"""LiteIQA's training: its loss, its task (crops, ridge start, parameter groups), k-fold splits and
``iqa train --cross-validate``, on tiny generated images with untrained backbones."""
from __future__ import annotations

import json

import pytest
import torch

from iqametrics.train.config import RecipeError, apply_overrides
from iqametrics.train.crossval import cross_validate
from iqametrics.train.data import read_dataset
from iqametrics.train.losses import batch_pearson, l1_plcc_loss
from iqametrics.train.recipes import load_recipe
from iqametrics.train.tasks.liteiqa import LiteIQATask, random_crop
from iqametrics.train.trainer import Trainer, fold_split

from ..train_helpers import write_scores_csv

# untrained backbone (no ImageNet file here), crops that fit the 40×48 test images, one step
TINY = ["model.task_options.imagenet_backbone=\"\"", "model.task_options.crop=32", "train.max_steps=1",
        "train.batch_size=2", "train.workers=0", "model.task_options.ridge_alpha=10.0"]


def test_l1_plcc_loss_is_scaled_l1_plus_one_minus_pearson():
    pred = torch.tensor([10.0, 30.0, 20.0, 55.0], requires_grad=True)
    target = torch.tensor([12.0, 25.0, 30.0, 50.0])
    loss = l1_plcc_loss(pred, target, l1_scale=20.0)
    r = torch.corrcoef(torch.stack([pred.detach(), target]))[0, 1]
    expected = (pred.detach() - target).abs().mean() / 20.0 + (1 - r)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    # a constant batch has no correlation: r = 0, gradients stay finite
    flat = torch.full((4,), 50.0, requires_grad=True)
    assert batch_pearson(flat, target).item() == 0.0
    l1_plcc_loss(flat, target).backward()
    assert torch.isfinite(flat.grad).all()
    with pytest.raises(ValueError, match="l1_scale"):
        l1_plcc_loss(pred, target, l1_scale=0.0)


def test_random_crop_has_the_requested_size_and_enlarges_small_photos():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(3, 40, 60)
    crop = random_crop(image, 32, g)
    assert crop.shape == (3, 32, 32)
    assert any(torch.equal(crop, image[:, y:y + 32, x:x + 32]) for y in range(9) for x in range(29))
    small = random_crop(image, 48, g)  # 40 < 48: enlarged to 48 × 72 first
    assert small.shape == (3, 48, 48) and 0 <= small.min() and small.max() <= 1


def test_folds_partition_the_data_and_are_stable(tmp_path):
    data = read_dataset("generic", write_scores_csv(tmp_path, n=30))
    seen = []
    for k in range(3):
        train, val = fold_split(data, 3, k, seed=0)
        assert not {r.key for r in train.records} & {r.key for r in val.records}
        assert len(train) + len(val) == len(data)
        seen += [r.key for r in val.records]
        again = fold_split(data.select(range(len(data) - 1, -1, -1)), 3, k, seed=0)[1]  # any order: same fold
        assert {r.key for r in again.records} == {r.key for r in val.records}
    assert sorted(seen) == sorted(r.key for r in data.records)


def test_recipe_checks_folds_and_selection():
    recipe = load_recipe("liteiqa-clive")
    with pytest.raises(RecipeError, match="data.folds"):
        apply_overrides(recipe, ["data.folds=1"]).validate()
    with pytest.raises(RecipeError, match="data.fold must be below"):
        apply_overrides(recipe, ["data.folds=5", "data.fold=5"]).validate()
    with pytest.raises(RecipeError, match="train.select"):
        apply_overrides(recipe, ['train.select="best"']).validate()
    assert recipe.validate().train.select == "last"


def test_the_head_starts_from_ridge_on_whole_photo_statistics(tmp_path):
    from iqametrics.train.heads import extract_features, fit_ridge

    data = read_dataset("generic", write_scores_csv(tmp_path, n=10))
    task = LiteIQATask(apply_overrides(load_recipe("liteiqa-clive"), TINY))
    task.fit_labels(data)
    torch.manual_seed(0)
    metric = task.build_metric()
    task.on_train_start(metric, data, None)
    net = metric.net
    net.eval()
    features = extract_features(net.features, [r.path for r in data.records])
    expected = fit_ridge(features, torch.tensor([r.mos for r in data.records], dtype=torch.float64), 10.0)
    torch.testing.assert_close(net.head.weight[0].double(), expected.weight, rtol=1e-5, atol=1e-6)
    assert net.head.bias.item() == pytest.approx(expected.bias, rel=1e-6)
    metric.requires_grad_(True)  # as the trainer does before asking for the groups
    groups = task.param_groups(metric)
    assert set(groups) == {"backbone", "head"} and len(groups["head"]) == 2
    task.train_mode(metric)
    assert net.head.training and all(not m.training for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_cross_validation_trains_every_fold_once_and_reports_out_of_fold(tmp_path, monkeypatch):
    table = write_scores_csv(tmp_path / "data", n=12)
    recipe = apply_overrides(load_recipe("liteiqa-clive"), TINY)
    lines = []
    report = cross_validate(recipe, f"generic:{table}", tmp_path / "cv", folds=2, device="cpu", quiet=True,
                            bootstrap=0, echo=lines.append)
    assert [row["fold"] for row in report["per_fold"]] == [0, 1]
    assert report["pooled"]["n"] == 12 == sum(row["n"] for row in report["per_fold"])
    assert -1 <= report["mean"]["srcc"] <= 1
    for name in ("cv.json", "cv.md", "cv_predictions.json", "fold-0/model.safetensors", "fold-1/recipe.json"):
        assert (tmp_path / "cv" / name).is_file(), name
    predictions = json.loads((tmp_path / "cv" / "cv_predictions.json").read_text())
    assert sorted(r["key"] for r in predictions["records"]) == sorted(f"images/img{i:03d}.png" for i in range(12))
    assert json.loads((tmp_path / "cv" / "fold-1" / "recipe.json").read_text())["data"]["fold"] == 1

    # a second call reuses the trained folds (a different worker count changes nothing) ...
    def no_training(self):
        raise AssertionError("a trained fold was trained again")

    monkeypatch.setattr(Trainer, "fit", no_training)
    again = cross_validate(apply_overrides(recipe, ["train.workers=1"]), f"generic:{table}", tmp_path / "cv", folds=2,
                           device="cpu", quiet=True, bootstrap=0)
    assert again["per_fold"] == report["per_fold"]
    # ... and refuses folds of another recipe
    from iqametrics.train.trainer import RunDirectoryError

    with pytest.raises(RunDirectoryError, match="another recipe"):
        cross_validate(apply_overrides(recipe, ["train.seed=1"]), f"generic:{table}", tmp_path / "cv", folds=2,
                       device="cpu", quiet=True, bootstrap=0)
