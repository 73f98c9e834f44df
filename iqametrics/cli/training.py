"""``iqa evaluate``, ``iqa train`` and ``iqa export``: the commands that need the train extra
(scipy, matplotlib), which they import only when they run, never for ``iqa --help``."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .app import DEVICE_HELP, InputError, check_output, create_metrics, main, parse_options, resolve_device
from .progress import MIN_ITEMS, Progress
from .running import INTERRUPTED, resume_command


def _check_kind(metric_name: str, kind: str, dataset) -> None:
    import iqametrics

    from ..registry import UnknownMetricError

    try:
        info = iqametrics.get_info(metric_name)
    except UnknownMetricError:
        return  # create_metrics reports it
    if info.kind != kind:
        raise click.UsageError(f"{info.name} is an {info.kind} metric, but the {dataset.name} dataset is {dataset.kind}: "
                               f"it needs an {kind} metric (see `iqa list --kind {kind}`)")


@main.command("evaluate")
@click.option("--metric", "-m", "metric_name", required=True, help="Metric name (see `iqa list`).")
@click.option("--data", "data_spec", required=True, metavar="LAYOUT:ROOT",
              help="Labelled dataset, e.g. koniq10k:/data/koniq10k (layouts: docs/training.md).")
@click.option("--split", default=None, help="Only this split (e.g. test) [default: the whole set].")
@click.option("--data-option", "data_options", multiple=True, metavar="KEY=VALUE",
              help="Dataset reader option (repeatable), e.g. resolution=512x384.")
@click.option("--json", "json_path", type=click.Path(), default=None, help="Write the report as JSON.")
@click.option("--plot", "plot_path", type=click.Path(), default=None,
              help="Write a PNG scatter of scores vs labels with the fitted curve.")
@click.option("--bootstrap", default=1000, show_default=True, type=click.IntRange(0),
              help="Bootstrap resamples for the 95 % intervals (0: none).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the bootstrap.")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
@click.option("--batch-size", "-b", default=16, show_default=True, type=click.IntRange(1), help="Images per batch.")
@click.option("--workers", "-j", default=None, type=click.IntRange(0), help="Decoding processes [default: up to 4].")
@click.option("--weights", default=None, metavar="FILE|KEY", help="Checkpoint file or manifest key for the metric.")
@click.option("--option", "metric_options", multiple=True, metavar="KEY=VALUE", help="Metric option (repeatable).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def evaluate_command(metric_name, data_spec, split, data_options, json_path, plot_path, bootstrap, seed, device,
                     batch_size, workers, weights, metric_options, quiet):
    """Evaluate a metric on a labelled dataset: SRCC, KRCC, PLCC and RMSE (after the VQEG logistic
    fits) with bootstrap intervals, or 2AFC accuracy for triplets. Needs the train extra."""
    import importlib.util

    for path in (json_path, plot_path):  # before the data are read or a model is built
        check_output(path, resume=False, overwrite=True)
    device = resolve_device(device)
    needed = ["scipy"] + (["matplotlib"] if plot_path else [])
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        raise click.ClickException(f"iqa evaluate needs {', '.join(missing)}: pip install \"iqametrics[train]\"")
    from ..train.data import DatasetError, read_dataset
    from ..train.evaluate import evaluate_metric

    options = parse_options(data_options, "--data-option", create_arguments=True)
    try:
        dataset = read_dataset(data_spec, **options)
    except (DatasetError, TypeError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    if split is not None and split not in dataset.splits:
        raise click.UsageError(f"{dataset.name} has no split {split!r} (splits: {', '.join(dataset.splits)})")
    kind = "NR" if dataset.kind == "NR" else "FR"
    _check_kind(metric_name, kind, dataset)
    (metric,) = create_metrics([metric_name], kind, device, weights, parse_options(metric_options))
    total = len(dataset.splits[split]) if split is not None else len(dataset)
    with Progress(total, "evaluating", not quiet and total >= MIN_ITEMS) as progress:
        try:
            evaluation = evaluate_metric(metric, dataset, split=split, batch_size=batch_size, workers=workers,
                                         bootstrap=bootstrap, seed=seed, progress=progress.advance)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(evaluation.table())
    if json_path:
        evaluation.to_json(json_path)
    if plot_path:
        evaluation.plot(plot_path)


@main.command("train")
@click.argument("recipe", required=False)
@click.option("--data", "data_specs", multiple=True, metavar="[LAYOUT:]ROOT",
              help="The data set: its folder, with another layout before a colon; twice for a task that learns from two (TFIQA's UNI).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Run folder: checkpoints, logs, model.safetensors.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe value, e.g. train.epochs=2 (repeatable).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace a run already in --out.")
@click.option("--device", default="auto", show_default=True, help=DEVICE_HELP[:-1] + "; under torchrun one GPU per process.")
@click.option("--cross-validate", "folds", type=click.IntRange(2), default=None, metavar="K",
              help="Train K folds into OUT/fold-k (trained folds reused, interrupted ones resumed) and write "
                   "OUT/cv.json, cv.md, cv.png: the out-of-fold SRCC/PLCC of the recipe.")
@click.option("--list", "show_list", is_flag=True, help="List the packaged recipes.")
@click.option("--show", is_flag=True, help="Print the recipe (with --set applied) as JSON and exit.")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
def train_command(recipe, data_specs, out_dir, overrides, resume, overwrite, device, folds, show_list, show, quiet):
    """Train a model with a recipe (needs the train extra: pip install "iqametrics[train]").

    RECIPE is a packaged recipe (`iqa train --list`) or a .toml file.  Under torchrun
    (`torchrun --nproc-per-node N -m iqametrics train ...`) each process trains on its share of
    every batch.  Ctrl-C stops after the current step with a checkpoint; --resume continues.
    """
    from ..train.config import RecipeError, apply_overrides
    from ..train.recipes import list_recipes, load_recipe
    from ..train.trainer import check_recipe

    if show_list:
        for name in list_recipes():
            click.echo(f"{name:<24} {load_recipe(name).description}")
        return
    if not recipe:
        raise click.UsageError("give a RECIPE (see `iqa train --list`)")
    try:
        resolved = apply_overrides(load_recipe(recipe), overrides)
        check_recipe(resolved)
    except (RecipeError, FileNotFoundError) as exc:
        raise click.UsageError(str(exc)) from None
    if show:
        click.echo(json.dumps(resolved.to_dict(), indent=2))
        return
    if not data_specs or not out_dir:
        raise click.UsageError("--data and --out are required to train")
    resolve_device(device)  # a device this machine lacks: one line before any data are read
    from ..devices import DeviceError
    from ..train.data import DatasetError
    from ..train.trainer import DataMismatchError, RunDirectoryError, TrainingInterrupted, train
    from ..weights import WeightsError

    if folds is not None and (len(data_specs) != 1 or resume):
        raise click.UsageError("--cross-validate takes one --data, and resumes interrupted folds by itself (no --resume)")
    try:
        if folds is not None:
            from ..train.crossval import cross_validate, report_markdown

            report = cross_validate(resolved, data_specs[0], out_dir, folds=folds, device=device, overwrite=overwrite,
                                    quiet=quiet, echo=lambda text: click.echo(text, err=True))
            click.echo(report_markdown(report), nl=False)
            click.echo(f"report: {Path(out_dir) / 'cv.json'}")
            return
        result = train(resolved, list(data_specs), out_dir, device=device, resume=resume, overwrite=overwrite, quiet=quiet)
    except TrainingInterrupted as exc:
        click.echo(f"\n{exc}\nresume with: {resume_command()}", err=True)
        sys.exit(INTERRUPTED)
    except DeviceError as exc:  # under torchrun: this process's GPU (its local rank) is not here
        raise InputError(str(exc)) from None
    except (DatasetError, RunDirectoryError, RecipeError) as exc:
        raise click.UsageError(str(exc)) from None
    except DataMismatchError as exc:  # the data do not fit the task (kind, size, a missing second data set)
        raise click.UsageError(str(exc)) from None
    except (WeightsError, FileNotFoundError) as exc:  # a start (ImageNet backbone, model.init) not here, or not this model's
        raise click.ClickException(str(exc)) from None
    figures = ", ".join(f"{k} {v:.4f}" for k, v in result.final.items() if isinstance(v, float))
    click.echo(f"model: {result.model_path}" + (f" (validation: {figures})" if figures else ""))


@main.command("export")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the export.")
@click.option("--key", default=None, help="Manifest key of the weights [default: METRIC.DATASET].")
@click.option("--half", is_flag=True, help="Store float16 weights (half the size).")
@click.option("--publish", "repo_id", default=None, metavar="REPO_ID", help="Upload to this Hugging Face Hub repository.")
@click.option("--revision", default="main", show_default=True, help="Hub branch to publish to.")
def export_command(run_dir, out_dir, key, half, repo_id, revision):
    """Export a finished training run: safetensors weights, a manifest entry and a model-card stub."""
    from ..train.export import export_run, publish

    try:
        exported = export_run(run_dir, out_dir, key=key, half=half, repo_id=repo_id, revision=revision)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{exported.key}: {exported.weights} ({exported.size} bytes, sha256 {exported.sha256})")
    if repo_id:
        click.echo(f"published: {publish(exported, repo_id, revision=revision)}")

