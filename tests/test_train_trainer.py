"""The trainer's mechanics on a tiny model: learning, schedules, exact resume, logs, checkpoints."""
from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from iqametrics.train.config import RecipeError, apply_overrides, parse_recipe
from iqametrics.train.data import read_dataset
from iqametrics.train.schedule import learning_rate
from iqametrics.train.sampling import EpochPlan
from iqametrics.train.trainer import RunDirectoryError, Trainer, TrainingInterrupted

from .train_helpers import write_scores_csv

TASK = "tests.train_helpers:TinyTask"


def _dataset(tmp_path, n=24):
    return read_dataset("generic", write_scores_csv(tmp_path, n))


def _recipe(**train):
    return parse_recipe({
        "model": {"task": TASK, "metric": "tiny"},
        "optim": {"name": "adam", "lr": 3e-2},
        "schedule": {"name": "cosine", "per": "step"},
        "loss": {"name": "l1"},
        "train": {"epochs": 3, "batch_size": 4, "workers": 0, "log_every": 1, **train},
    })


def test_training_learns_and_writes_its_files(tmp_path):
    data = _dataset(tmp_path)
    result = Trainer(_recipe(epochs=6), data, tmp_path / "run", device="cpu", quiet=True).fit()
    # the tiny model learns brightness: validation ranks the 6 images almost perfectly
    assert result.final["srcc"] > 0.8
    assert result.steps == 6 * (18 // 4)
    for name in ("last.pt", "best.safetensors", "model.safetensors", "run.json", "recipe.json", "log.jsonl", "epochs.csv"):
        assert (tmp_path / "run" / name).is_file(), name
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    epochs = [r for r in rows if r["type"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4, 5, 6]
    assert all("val_srcc" in r for r in epochs)
    with open(tmp_path / "run" / "epochs.csv") as f:
        assert len(list(csv.DictReader(f))) == 6


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def test_interrupted_and_resumed_run_ends_bit_identical(tmp_path):
    data = _dataset(tmp_path)
    recipe = _recipe(epochs=3, ema_decay=0.9)
    Trainer(recipe, data, tmp_path / "whole", device="cpu", quiet=True).fit()
    # stop in the middle of the second epoch (step 6 of 12), then resume
    with pytest.raises(TrainingInterrupted) as stopped:
        Trainer(recipe, data, tmp_path / "cut", device="cpu", quiet=True,
                step_callback=lambda trainer, step: step == 6).fit()
    assert (stopped.value.epoch, stopped.value.step) == (1, 2)
    Trainer(recipe, data, tmp_path / "cut", device="cpu", quiet=True, resume=True).fit()
    whole, cut = _weights(tmp_path / "whole" / "model.safetensors"), _weights(tmp_path / "cut" / "model.safetensors")
    assert whole.keys() == cut.keys()
    for k in whole:  # same draws, RNG, optimiser moments and schedule: the same arithmetic
        assert torch.equal(whole[k], cut[k]), k


def test_resume_refuses_another_recipe_and_a_run_is_not_overwritten(tmp_path):
    data = _dataset(tmp_path)
    Trainer(_recipe(epochs=1), data, tmp_path / "run", device="cpu", quiet=True).fit()
    with pytest.raises(RunDirectoryError, match="already holds a run"):
        Trainer(_recipe(epochs=1), data, tmp_path / "run", device="cpu", quiet=True).fit()
    with pytest.raises(RunDirectoryError, match="optim.lr"):
        Trainer(apply_overrides(_recipe(epochs=2), ["optim.lr=0.5"]), data, tmp_path / "run", device="cpu",
                quiet=True, resume=True).fit()
    # more epochs is a resumable change
    result = Trainer(_recipe(epochs=2), data, tmp_path / "run", device="cpu", quiet=True, resume=True).fit()
    assert result.steps == 2 * (18 // 4)
    with pytest.raises(RunDirectoryError, match="nothing to resume"):
        Trainer(_recipe(), data, tmp_path / "empty", device="cpu", quiet=True, resume=True).fit()


def test_gradient_accumulation_matches_the_large_batch(tmp_path):
    data = _dataset(tmp_path)
    a = Trainer(_recipe(epochs=1), data, tmp_path / "a", device="cpu", quiet=True).fit()
    b = Trainer(_recipe(epochs=1, accumulate=2), data, tmp_path / "b", device="cpu", quiet=True).fit()
    wa, wb = _weights(a.model_path), _weights(b.model_path)
    for k in wa:  # one batch of 4 vs two of 2: the same mean gradient, summed in another order
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-4, atol=1e-5)


def test_schedules():
    cosine = {"name": "cosine", "per": "step", "warmup": 0, "t_max": 0, "eta_min": 0.0}
    assert learning_rate(1.0, cosine, step=0, epoch=0, total_steps=10, total_epochs=1) == 1.0
    assert learning_rate(1.0, cosine, step=5, epoch=0, total_steps=10, total_epochs=1) == pytest.approx(0.5)
    # torch's CosineAnnealingLR, stepped per epoch, gives the same rates
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=2e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=30, eta_min=2e-7)
    spec = {"name": "cosine", "per": "epoch", "warmup": 0, "t_max": 30, "eta_min": 2e-7}
    for epoch in range(30):
        ours = learning_rate(2e-4, spec, step=0, epoch=epoch, total_steps=1, total_epochs=30)
        assert ours == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9)
        opt.step()
        sched.step()
    step = {"name": "step", "per": "epoch", "warmup": 0, "milestones": [7, 10, 13], "gamma": 0.1}
    rates = [learning_rate(2e-4, step, step=0, epoch=e, total_steps=1, total_epochs=16) for e in range(16)]
    assert rates[6] == 2e-4 and rates[7] == pytest.approx(2e-5) and rates[13] == pytest.approx(2e-7)
    warm = {"name": "constant", "per": "step", "warmup": 4}
    assert [learning_rate(1.0, warm, step=s, epoch=0, total_steps=9, total_epochs=1) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]


def test_epoch_plan_is_the_same_for_any_number_of_processes():
    one = EpochPlan(10, 4, seed=3, epoch=2, repeats=2)
    two = [EpochPlan(10, 4, seed=3, epoch=2, repeats=2, world=2) for _ in range(2)]
    single = list(one.micro_batches())
    per_rank = [list(p.micro_batches(rank=r)) for r, p in enumerate(two)]
    assert [sorted(a + b) for a, b in zip(*per_rank)] == [sorted(s) for s in single]
    drawn = [d for batch in single for d in batch]
    assert len(drawn) == one.steps * 4 == 20 and sorted(one.item(d) for d in drawn) == sorted(list(range(10)) * 2)
    assert list(one.micro_batches(start_step=3)) == single[3:]
    with pytest.raises(ValueError, match="divisible"):
        EpochPlan(10, 5, seed=0, epoch=0, world=2)


def test_recipe_errors_name_the_key():
    with pytest.raises(RecipeError, match=r"\[train\] has unknown keys \['epoch'\]"):
        parse_recipe({"model": {"task": "x", "metric": "y"}, "train": {"epoch": 3}})
    with pytest.raises(RecipeError, match="train.batch_size must be int"):
        parse_recipe({"model": {"task": "x", "metric": "y"}, "train": {"batch_size": "8"}})
    with pytest.raises(RecipeError, match="unknown key 'lrr'"):
        apply_overrides(_recipe(), ["optim.lrr=1"])
    assert apply_overrides(_recipe(), ["train.epochs=7", "optim.group_lr.backbone=1e-5"]).train.epochs == 7
    with pytest.raises(RecipeError, match="multiple of train.accumulate"):
        apply_overrides(_recipe(), ["train.accumulate=3"])
