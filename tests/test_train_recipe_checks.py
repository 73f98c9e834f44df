"""The checks of a recipe's task and loss (:mod:`iqametrics.train.options`, ``get_loss``), made
when a trainer is built."""
from __future__ import annotations

import dataclasses

import pytest

from iqametrics.train.config import RecipeError
from iqametrics.train.recipes import list_recipes, load_recipe
from iqametrics.train.tasks import get_task, list_tasks, task_for
from iqametrics.train.options import at_least, flag, non_negative, one_of, probability, weights_or_off


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


@pytest.mark.parametrize("name, options, message", [
    ("nope", {}, "loss.name: unknown loss 'nope'; known: "),
    ("l1_plcc", {"l1_scal": 20.0}, "'l1_plcc' takes no option 'l1_scal'; its options: ['l1_scale', 'plcc_weight']"),
    ("l1_plcc", {"l1_scale": "20"}, "loss.options.l1_scale: 'l1_plcc' takes a number (default 1.0), got '20'"),
    ("vtamiq", {"variant": True}, "loss.options.variant: 'vtamiq' takes a string (default 'paper'), got True"),
    ("mse", {"weight": 1.0}, "'mse' takes no option 'weight'; its options: none"),
    ("l1_plcc", {"l1_scale": 0.0}, "loss.options.l1_scale: 'l1_plcc' takes a finite number > 0, got 0.0"),
    ("l1_plcc", {"plcc_weight": -1.0}, "loss.options.plcc_weight: 'l1_plcc' takes a finite number >= 0, got -1.0"),
    ("vtamiq", {"variant": "papr"}, "loss.options.variant: 'vtamiq' takes one of 'paper', 'code', got 'papr'"),
    ("emd", {"reduction": "none"}, "loss.options.reduction: 'emd' takes one of 'mean', 'sum', got 'none'"),
    ("emd", {"r": float("nan")}, "loss.options.r: 'emd' takes a finite number > 0, got nan"),
    ("pyramidiqa", {"margn": 0.5}, "'pyramidiqa' takes no option 'margn'; its options: ['margin', 'min_gap', 'rank', 'rank_weight']"),
    ("pyramidiqa", {"margin": "0.5"}, "loss.options.margin: 'pyramidiqa' takes a finite number >= 0, got '0.5'"),
    ("pyramidiqa", {"rank": "eq13", "margin": 0.5}, "['margin'] belong to pyramidiqa's rank='code' term; rank='eq13' takes none"),
])
def test_a_loss_or_its_option_that_does_not_exist_is_a_recipe_error(name, options, message):
    from iqametrics.train.objectives import get_loss

    with pytest.raises(RecipeError) as err:
        get_loss(name, options)
    assert message in str(err.value)


def test_loss_options_of_the_right_kind_bind():
    import torch

    from iqametrics.train.objectives import get_loss

    pred, target = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 3.0, 2.0])
    assert get_loss("l1_plcc", {"l1_scale": 20})(pred, target) == get_loss("l1_plcc", {"l1_scale": 20.0})(pred, target)
    get_loss("pyramidiqa", {"rank_weight": 0.3, "margin": 0.5})  # forwarded to the rank term
    get_loss("pyramidiqa", {"rank": "eq13"})


def test_every_option_of_every_loss_has_a_check():
    import inspect

    from iqametrics.train.objectives import LOSS_OPTION_CHECKS, LOSSES

    for name, fn in LOSSES.items():
        options = {k for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}
        assert options <= set(LOSS_OPTION_CHECKS.get(name, {})), name
    assert set(LOSS_OPTION_CHECKS) <= set(LOSSES)


@pytest.mark.parametrize("name, options", [
    ("l1_plcc", {"l1_scale": 0.0}),
    ("emd", {"r": 0.0}),
    ("vtamiq", {"variant": "papr"}),
    ("pyramidiqa", {"rank": "eq13", "margin": 0.5}),
])
def test_each_refused_loss_option_would_fail_the_first_step(name, options):
    """The up-front checks refuse no value that the loss itself would take."""
    import torch

    from iqametrics.train.objectives import LOSSES

    shape = (2, 10) if name == "emd" else (4,)
    pred, target = torch.rand(shape).softmax(-1), torch.rand(shape).softmax(-1)
    with pytest.raises((ValueError, TypeError)):
        LOSSES[name](pred, target, **options)


@pytest.mark.parametrize("section, value, message", [
    ("task", {"flip": 2}, r"model\.task_options\.flip"),
    ("loss", {"l1_scal": 20.0}, r"takes no option 'l1_scal'"),
])
def test_the_trainer_refuses_a_bad_option_before_making_its_folder(tmp_path, section, value, message):
    from iqametrics.train.trainer import Trainer

    recipe = load_recipe("liteiqa-clive")
    recipe = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, soup_seeds=[]))
    if section == "task":
        recipe = _with_options(recipe, **value)
    else:
        recipe = dataclasses.replace(recipe, loss=dataclasses.replace(recipe.loss, options=value))
    with pytest.raises(RecipeError, match=message):
        Trainer(recipe, None, tmp_path / "run")
    assert not (tmp_path / "run").exists()
