"""Model soups (``train.soup_seeds``): members, their average, reuse, refusals, cross-validation."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from iqametrics.train.config import RecipeError, parse_recipe, recipe_changes
from iqametrics.train.crossval import cross_validate
from iqametrics.train.data import read_dataset
from iqametrics.train.soup import average_weights, member_recipe, train_soup
from iqametrics.train.trainer import RunDirectoryError, Trainer, train

from .train_helpers import write_scores_csv

TASK = "tests.train_helpers:TinyTask"  # starts every run from the same weights, as a soup needs


def _recipe(data=None, **train):
    return parse_recipe({
        "name": "tiny-soup",
        "data": data or {},
        "model": {"task": TASK, "metric": "tiny"},
        "optim": {"name": "adam", "lr": 3e-2},
        "schedule": {"name": "cosine", "per": "step"},
        "loss": {"name": "l1"},
        "train": {"epochs": 2, "batch_size": 4, "workers": 0, "soup_seeds": [0, 1], **train},
    })


@pytest.fixture(scope="module")
def souped(tmp_path_factory):
    root = tmp_path_factory.mktemp("soup")
    data = read_dataset("generic", write_scores_csv(root, 24))
    result = train_soup(_recipe(), data, root / "soup", device="cpu", quiet=True)
    return root, data, result


def test_the_soup_is_the_mean_of_its_members(souped):
    root, _, result = souped
    soup = load_file(str(result.model_path))
    a, b = (load_file(str(root / "soup" / f"seed-{s}" / "model.safetensors")) for s in (0, 1))
    assert set(soup) == set(a) == set(b)
    assert any(not torch.equal(a[k], b[k]) for k in a), "the members must differ, or the test proves nothing"
    for k in soup:
        torch.testing.assert_close(soup[k], ((a[k].double() + b[k].double()) / 2).float(), rtol=0, atol=0)


def test_a_member_is_the_plain_run_of_its_seed(souped):
    root, data, _ = souped
    plain = Trainer(member_recipe(_recipe(), 1), data, root / "plain-seed-1", device="cpu", quiet=True).fit()
    member, alone = load_file(str(root / "soup" / "seed-1" / "model.safetensors")), load_file(str(plain.model_path))
    assert all(torch.equal(member[k], alone[k]) for k in member)  # one process, one machine: deterministic


def test_run_summary_and_validation_of_the_soup(souped):
    root, data, result = souped
    summary = json.loads((root / "soup" / "run.json").read_text())
    assert summary["soup"]["seeds"] == [0, 1] and [m["dir"] for m in summary["soup"]["members"]] == ["seed-0", "seed-1"]
    assert summary["final"] == result.final and result.final["n"] == 6  # every fourth of 24 images validates
    from iqametrics.train.evaluate import evaluate_metric, trained_metric

    again = evaluate_metric(trained_metric(_recipe(), result.model_path, "cpu"), data, split="val", bootstrap=0)
    assert again.stats["srcc"] == pytest.approx(result.final["srcc"], abs=1e-12)
    assert json.loads((root / "soup" / "recipe.json").read_text())["train"]["soup_seeds"] == [0, 1]


def test_a_trained_model_is_scored_through_the_tasks_validation_metric(souped, monkeypatch):
    from iqametrics.train.evaluate import trained_metric

    from .train_helpers import TinyTask

    monkeypatch.setattr(TinyTask, "validation_metric", lambda self, metric: ("validation view of", metric))
    view, metric = trained_metric(_recipe(), souped[2].model_path, "cpu")
    assert view == "validation view of" and not metric.training  # TFIQA UNI validates its NR side


def test_a_soup_is_not_overwritten_and_resume_reuses_its_members(souped):
    root, data, _ = souped
    out = root / "soup"
    with pytest.raises(RunDirectoryError, match="already holds a run"):
        train_soup(_recipe(), data, out, device="cpu", quiet=True)
    stamps = {s: (out / f"seed-{s}" / "model.safetensors").stat().st_mtime_ns for s in (0, 1)}
    said = []
    train_soup(_recipe(), data, out, device="cpu", quiet=True, resume=True, echo=said.append)
    assert said.count("seed-0: trained already, reused") == 1 and said.count("seed-1: trained already, reused") == 1
    assert stamps == {s: (out / f"seed-{s}" / "model.safetensors").stat().st_mtime_ns for s in (0, 1)}


def test_iqa_train_trains_a_soup_recipe(tmp_path):
    table = write_scores_csv(tmp_path, 12)
    result = train(_recipe(epochs=1), f"generic:{table}", tmp_path / "run", device="cpu", quiet=True)
    assert result.model_path == tmp_path / "run" / "model.safetensors"
    assert (tmp_path / "run" / "seed-0" / "run.json").is_file() and (tmp_path / "run" / "seed-1" / "run.json").is_file()


def test_one_trainer_refuses_a_soup_recipe(tmp_path):
    data = read_dataset("generic", write_scores_csv(tmp_path, 8))
    with pytest.raises(RecipeError, match="soup"):
        Trainer(_recipe(), data, tmp_path / "run")


def test_a_soup_refuses_torchrun(tmp_path, monkeypatch):
    data = read_dataset("generic", write_scores_csv(tmp_path, 8))
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RunDirectoryError, match="one process"):
        train_soup(_recipe(), data, tmp_path / "run")


@pytest.mark.parametrize("seeds", [[1], [0, 0], ["a", "b"], [True, False]])
def test_soup_seeds_must_be_two_or_more_different_integers(seeds):
    with pytest.raises(RecipeError, match="train.soup_seeds"):
        _recipe(soup_seeds=seeds)


def test_a_saved_recipe_without_a_newer_key_counts_it_at_its_default():
    recipe = _recipe(soup_seeds=[])
    saved = json.loads(recipe.to_json())
    del saved["train"]["soup_seeds"]
    assert recipe_changes(saved, recipe) == []
    assert recipe_changes(saved, _recipe()) == ["train.soup_seeds"]
    saved["description"], saved["name"] = "reworded", "renamed"  # prose does not count, the name does
    assert recipe_changes(saved, recipe) == ["name"]


def test_average_weights_refuses_files_that_are_not_one_soup(tmp_path):
    one, two, three = tmp_path / "1.safetensors", tmp_path / "2.safetensors", tmp_path / "3.safetensors"
    save_file({"w": torch.ones(2), "n": torch.tensor(3)}, str(one))
    save_file({"w": torch.zeros(2), "n": torch.tensor(4)}, str(two))
    save_file({"w": torch.zeros(2)}, str(three))
    with pytest.raises(ValueError, match="integer tensors must agree"):
        average_weights([one, two])
    with pytest.raises(ValueError, match="other tensors"):
        average_weights([one, three])
    save_file({"w": torch.zeros(2), "n": torch.tensor(3)}, str(two))
    state, _ = average_weights([one, two])
    assert torch.equal(state["w"], torch.full((2,), 0.5)) and state["n"].item() == 3


def test_cross_validation_of_a_soup_recipe(tmp_path):
    table = write_scores_csv(tmp_path, 12)
    recipe = _recipe({"train_split": "all"}, epochs=1, select="last")
    # folds are hashed per file (stable, not balanced): 3 folds of these 12 keep every fold trainable
    report = cross_validate(recipe, f"generic:{table}", tmp_path / "cv", folds=3, device="cpu", quiet=True, bootstrap=0)
    assert report["pooled"]["n"] == 12
    for k in (0, 1, 2):
        fold = tmp_path / "cv" / f"fold-{k}"
        assert (fold / "seed-0" / "model.safetensors").is_file() and (fold / "seed-1" / "model.safetensors").is_file()
        assert json.loads((fold / "run.json").read_text())["soup"]["seeds"] == [0, 1]
    said = []
    cross_validate(recipe, f"generic:{table}", tmp_path / "cv", folds=3, device="cpu", quiet=True, bootstrap=0,
                   echo=said.append)
    assert said.count("fold-0: trained already, reused") == 1

    # a seed added to the recipe: each fold trains that member alone and averages the three again
    stamps = {k: (tmp_path / "cv" / f"fold-{k}" / "seed-1" / "model.safetensors").stat().st_mtime_ns for k in (0, 1, 2)}
    grown = _recipe({"train_split": "all"}, epochs=1, select="last", soup_seeds=[0, 1, 2])
    said.clear()
    cross_validate(grown, f"generic:{table}", tmp_path / "cv", folds=3, device="cpu", quiet=True, bootstrap=0,
                   echo=said.append)
    assert said.count("seed-1: trained already, reused") == 3 and said.count("seed-2: training") == 3
    assert stamps == {k: (tmp_path / "cv" / f"fold-{k}" / "seed-1" / "model.safetensors").stat().st_mtime_ns
                      for k in (0, 1, 2)}
    fold = tmp_path / "cv" / "fold-1"
    assert json.loads((fold / "run.json").read_text())["soup"]["seeds"] == [0, 1, 2]
    soup, members = load_file(str(fold / "model.safetensors")), [load_file(str(fold / f"seed-{s}" / "model.safetensors"))
                                                                 for s in (0, 1, 2)]
    for k in soup:
        torch.testing.assert_close(soup[k], (sum(m[k].double() for m in members) / 3).float(), rtol=0, atol=0)
    # a single run is not a soup: making its recipe a soup still refuses the folder
    single = _recipe({"train_split": "all"}, epochs=1, select="last", soup_seeds=[])
    cross_validate(single, f"generic:{table}", tmp_path / "single", folds=3, device="cpu", quiet=True, bootstrap=0)
    with pytest.raises(RunDirectoryError, match="another recipe"):
        cross_validate(recipe, f"generic:{table}", tmp_path / "single", folds=3, device="cpu", quiet=True, bootstrap=0)
    # any other change still refuses the folds trained before it
    with pytest.raises(RunDirectoryError, match="another recipe"):
        cross_validate(parse_recipe({**json.loads(grown.to_json()), "optim": {"name": "adam", "lr": 1e-2}}),
                       f"generic:{table}", tmp_path / "cv", folds=3, device="cpu", quiet=True, bootstrap=0)


def test_members_trained_apart_are_averaged_by_resume_from_the_cli(tmp_path):
    from click.testing import CliRunner

    from iqametrics.cli import main

    table = write_scores_csv(tmp_path, 12)
    recipe = tmp_path / "soup.toml"
    recipe.write_text(f'name = "tiny-soup"\n[model]\ntask = "{TASK}"\nmetric = "tiny"\n[optim]\nname = "adam"\nlr = 0.03\n'
                      '[loss]\nname = "l1"\n[train]\nepochs = 1\nbatch_size = 4\nworkers = 0\nsoup_seeds = [0, 1]\n')
    base = ["train", str(recipe), "--data", f"generic:{table}", "--device", "cpu", "-q"]
    runner = CliRunner()
    for seed in (0, 1):  # as on two machines: the documented member command
        member = runner.invoke(main, base + ["--out", str(tmp_path / "run" / f"seed-{seed}"), "--set", f"train.seed={seed}",
                                             "--set", "train.soup_seeds=[]"])
        assert member.exit_code == 0, member.output
    stamps = [(tmp_path / "run" / f"seed-{s}" / "model.safetensors").stat().st_mtime_ns for s in (0, 1)]
    refused = runner.invoke(main, base + ["--out", str(tmp_path / "run")])
    assert refused.exit_code != 0 and "--resume" in refused.output
    soup = runner.invoke(main, base + ["--out", str(tmp_path / "run"), "--resume"])
    assert soup.exit_code == 0, soup.output
    assert stamps == [(tmp_path / "run" / f"seed-{s}" / "model.safetensors").stat().st_mtime_ns for s in (0, 1)]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["soup"]["seeds"] == [0, 1]
