"""The training tasks' option checks (:mod:`iqametrics.train.tasks.options`)."""
from __future__ import annotations

import dataclasses

import pytest

from iqametrics.train.config import RecipeError
from iqametrics.train.recipes import list_recipes, load_recipe
from iqametrics.train.tasks import get_task, list_tasks, task_for
from iqametrics.train.tasks.options import at_least, flag, non_negative, one_of, probability, weights_or_off


@pytest.mark.parametrize("name", list_tasks())
def test_every_option_of_every_task_has_a_check_its_default_passes(name):
    task = get_task(name)
    checks = task.checks()
    assert set(task.option_defaults) <= set(checks), sorted(set(task.option_defaults) - set(checks))
    for option, default in task.option_defaults.items():
        assert checks[option](default) == default


@pytest.mark.parametrize("recipe", list_recipes())
def test_every_packaged_recipe_passes_its_task_checks(recipe):
    task_for(load_recipe(recipe))


@pytest.mark.parametrize("check, good, bad", [
    (probability, [0, 0.5, 1], [-0.1, 1.5, True, "0.5", float("nan")]),
    (non_negative, [0, 3000.0, 7], [-1, float("inf"), False, "1"]),
    (at_least(32), [32, 384], [31, 384.0, True, "384"]),
    (flag, [True, False], [0, 1, "true", None]),
    (one_of("mos", "distribution"), ["mos"], ["MOS", None, 1]),
    (weights_or_off, [False, "", "backbone.tf_efficientnet_lite2", "/a/b.safetensors"], [True, " ", None, 0]),
])
def test_checks_take_what_they_say_and_refuse_the_rest(check, good, bad):
    for value in good:
        assert check(value) == value
    for value in bad:
        with pytest.raises(ValueError, match=r"takes .*got"):
            check(value)


def _with_options(recipe, **options):
    model = dataclasses.replace(recipe.model, task_options={**recipe.model.task_options, **options})
    return dataclasses.replace(recipe, model=model)


def test_a_bad_value_names_the_option_and_an_unknown_task_is_a_recipe_error():
    recipe = load_recipe("liteiqa-clive")
    with pytest.raises(RecipeError, match=r"model\.task_options\.ridge_alpha takes a finite number >= 0, got -1"):
        task_for(_with_options(recipe, ridge_alpha=-1))
    with pytest.raises(RecipeError, match=r"model\.task_options\.crop takes an integer >= 32"):
        task_for(_with_options(recipe, crop=16))
    with pytest.raises(RecipeError, match="model.task: unknown training task 'nope'"):
        task_for(dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, task="nope")))


def test_the_trainer_refuses_a_bad_option_before_making_its_folder(tmp_path):
    from iqametrics.train.trainer import Trainer

    recipe = dataclasses.replace(_with_options(load_recipe("liteiqa-clive"), flip=2),
                                 train=dataclasses.replace(load_recipe("liteiqa-clive").train, soup_seeds=[]))
    with pytest.raises(RecipeError, match=r"model\.task_options\.flip"):
        Trainer(recipe, None, tmp_path / "run")
    assert not (tmp_path / "run").exists()
