"""The ``iqa`` command line: list, info, score, compare, prefer, evaluate, train, export, download."""
from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import click

from ._version import __version__
from .registry import CREATE_ARGUMENTS

#: defaults that need no download, so ``iqa score photo.jpg`` works offline on a fresh install
DEFAULT_NR_METRIC = "brisque"
DEFAULT_FR_METRIC = "ssim"
_PROGRESS_MIN_ITEMS = 6


def _parse_options(pairs: Sequence[str]) -> dict:
    options = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--option")
        key, value = pair.split("=", 1)
        if key.strip() in CREATE_ARGUMENTS:
            # create()'s own arguments: a CLI score always comes from the published (or --weights) model
            raise click.BadParameter(f"{key.strip()!r} is not a metric option here (see --device, --weights)",
                                     param_hint="--option")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def _pixel_count(value):
    from .io import parse_pixel_count

    try:
        return None if value is None else parse_pixel_count(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-batch-pixels") from None


def _resolve_device(device: str) -> str:
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _decode_mode(decode: str, metrics, quiet: bool) -> str:
    """``--decode`` as it can be done here; a fallback to the CPU is said once (not by every process)."""
    from .scoring import resolve_decode

    mode, note = resolve_decode(decode, metrics)
    if note and not quiet:
        click.echo(f"note: {note.replace('decode=' + repr(decode), '--decode ' + decode)}", err=True)
    return mode


def _create_metrics(names: Sequence[str], kind: str, device: str, weights: Optional[str], options: dict):
    import iqametrics
    from .registry import OptionError, UnknownMetricError
    from .weights import WeightsError

    if weights and len(names) != 1:
        raise click.UsageError("--weights applies to one metric; give exactly one --metric with it")
    metrics = []
    for name in names:
        try:
            info = iqametrics.get_info(name)
        except UnknownMetricError as exc:
            raise click.UsageError(str(exc)) from None
        if info.kind != kind:
            other = "compare" if info.kind == "FR" else "score"
            raise click.UsageError(f"{info.name} is a {info.kind} metric: use `iqa {other}`")
        try:
            metrics.append(iqametrics.create(name, device=device, weights=weights, **options))
        except (WeightsError, FileNotFoundError) as exc:
            raise click.ClickException(str(exc)) from None
        except OptionError as exc:  # an option the metric does not take, or one its name fixes
            raise click.UsageError(str(exc)) from None
        except (TypeError, ValueError) as exc:  # an invalid --option value or --weights
            raise click.UsageError(f"{info.name}: {exc}") from None
    names_seen = [m.name for m in metrics]
    if len(set(names_seen)) != len(names_seen):
        raise click.UsageError("the same metric is named twice")
    return metrics


@contextlib.contextmanager
def _open_output(output: Optional[str], resume: bool, overwrite: bool):
    if output is None:
        yield sys.stdout, True
        return
    exists = os.path.exists(output) and os.path.getsize(output) > 0
    if exists and not (resume or overwrite):
        raise click.UsageError(f"{output} exists: add --resume to continue it or --overwrite to replace it")
    mode = "a" if (exists and resume) else "w"
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    with open(output, mode, encoding="utf-8", newline="") as f:
        yield f, mode == "w"


def _consume(records, total: int, write, show: bool):
    """Write each result with ``write(result)`` and report each failure on stderr; returns (scored, failed)."""
    from .batching import Failure

    failures = scored = 0
    bar_cm = click.progressbar(length=total, label="scoring", file=sys.stderr) if show else contextlib.nullcontext()
    with bar_cm as bar:
        for record in records:
            if isinstance(record, Failure):
                failures += 1
                key = " vs ".join(record.key) if isinstance(record.key, tuple) else record.key
                click.echo(f"\nerror: {key}: {record.reason}" if show else f"error: {key}: {record.reason}", err=True)
            else:
                write(record)
                scored += 1
            if bar is not None:
                bar.update(1)
    return scored, failures


def _summary(scored: int, failures: int, already: int, output, quiet: bool) -> None:
    if not quiet:
        skipped = f", {already} already in {output}" if already else ""
        click.echo(f"scored {scored}, failed {failures}{skipped}", err=True)


def _run(records, total: int, writer_args: dict, output, resume, overwrite, quiet: bool, done: set, summary=None):
    from .output import ResultWriter

    with _open_output(output, resume, overwrite) as (stream, fresh):
        writer = ResultWriter(stream, header=fresh, **writer_args)
        show = not quiet and total >= _PROGRESS_MIN_ITEMS
        scored, failures = _consume(records, total, lambda r: writer.write(r.key, r.scores), show)
    _summary(scored, failures, len(done), output, quiet)
    extra = summary() if summary is not None and not quiet else None
    if extra:
        click.echo(extra, err=True)
    if failures:
        sys.exit(1)


_FORMATS = ("table", "csv", "jsonl")


#: how long a process that finished its shard waits for the slowest one (torch's default is 10-30 min)
SHARD_WAIT = 24 * 3600


def _torchrun_context(device: str, output):
    """The torchrun job this process belongs to (None outside torchrun): see iqametrics.sharding."""
    from .distributed import init, launched_by_torchrun

    if not launched_by_torchrun():
        return None
    if output is None:
        raise click.UsageError("under torchrun, give --output FILE: every process writes a part beside FILE and "
                               "process 0 merges them into it")
    import datetime

    return init(device, timeout=datetime.timedelta(seconds=SHARD_WAIT))


def _create_in_turn(ctx, create):
    """``create()`` on every process, one machine at a time filling the weights cache: process 0
    first, then the first process of every other machine, then the rest."""
    metrics = None
    for turn in (ctx.rank == 0, ctx.rank != 0 and ctx.local_rank == 0, ctx.local_rank != 0):
        if turn:
            metrics = create()
        ctx.barrier()
    return metrics


def _run_sharded(ctx, inputs: list, key_of, score, writer_args: dict, output, resume, overwrite, quiet: bool):
    """Score this process's shard of ``inputs`` into its part file; process 0 merges (iqametrics.sharding)."""
    from . import sharding
    from .distributed import shutdown

    try:
        try:
            done = sharding.prepare(ctx, output, resume=resume, overwrite=overwrite, **writer_args)
        except sharding.ShardingError as exc:
            raise click.UsageError(str(exc)) from None
        keys = [key_of(x) for x in inputs]
        todo = [i for i in sharding.shard(len(inputs), ctx.rank, ctx.world) if keys[i] not in done]
        with sharding.PartWriter(sharding.part_path(output, ctx.rank)) as part:
            show = ctx.is_main and not quiet and len(todo) >= _PROGRESS_MIN_ITEMS
            records = score([inputs[i] for i in todo])
            scored, failures = _consume(records, len(todo), lambda r: part.write(todo[r.index], r.key, r.scores), show)
        scored, failures = ctx.sum([scored, failures])  # waits for the slowest process
        merged, error = sharding.merge_on_main(ctx, output, keys, **writer_args)
        if not merged:
            raise click.ClickException(error)
        if ctx.is_main:
            _summary(scored, failures, len(done), output, quiet)
        if failures:  # on every process: torchrun then reports the job as failed
            sys.exit(1)
    finally:
        shutdown(ctx)


def _common_options(formats=_FORMATS):
    return [
        click.option("--metric", "-m", "metric_names", multiple=True, help="Metric name (repeatable). See `iqa list`."),
        click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N, or auto."),
        click.option("--batch-size", "-b", default=16, show_default=True, type=click.IntRange(1), help="Images per batch."),
        click.option("--workers", "-j", default=None, type=click.IntRange(0), help="Decoding processes [default: up to 4]."),
        click.option("--max-batch-pixels", default=None, metavar="N", callback=lambda ctx, param, v: _pixel_count(v),
                     help="Pixels per batch, pairs counting both images (e.g. 4M) [default: 8M]."),
        click.option("--decode", type=click.Choice(["cpu", "gpu"]), default="cpu", show_default=True,
                     help="gpu: decode JPEG files on the metrics' CUDA device (nvJPEG); other files, and runs without CUDA, on the CPU."),
        click.option("--format", "fmt", type=click.Choice(list(formats)), default="table", show_default=True),
        click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write results to FILE (default: stdout)."),
        click.option("--resume", is_flag=True, help="Skip inputs already in --output and append the rest."),
        click.option("--overwrite", is_flag=True, help="Replace an existing --output file."),
        click.option("--weights", default=None, metavar="FILE|KEY", help="Checkpoint file or manifest key for the (single) metric."),
        click.option("--option", "metric_options", multiple=True, metavar="KEY=VALUE", help="Metric option (repeatable), e.g. resize=bicubic."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary on stderr."),
    ]


def _with_common(fn=None, *, formats=_FORMATS):
    if fn is None:  # @_with_common(formats=...)
        return lambda f: _with_common(f, formats=formats)
    for option in reversed(_common_options(formats)):
        fn = option(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="iqa")
def main():
    """Image quality assessment: score images (no-reference) or compare them with references."""


@main.command("list")
@click.option("--kind", type=click.Choice(["FR", "NR"], case_sensitive=False), default=None, help="Only one kind.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(kind, as_json):
    """List the available metrics."""
    import iqametrics
    from .weights import availability

    infos = [iqametrics.get_info(n) for n in iqametrics.list_metrics(kind.upper() if kind else None)]
    if as_json:
        click.echo(json.dumps([{**i.as_dict(), "availability": availability(i.weights)} for i in infos], indent=2))
        return
    width = max(len(i.name) for i in infos) if infos else 4
    click.echo(f"{'name':<{width}}  kind  better  weights      description")
    for i in infos:
        better = "higher" if i.higher_is_better else "lower"
        click.echo(f"{i.name:<{width}}  {i.kind:<4}  {better:<6}  {availability(i.weights):<11}  {i.description}")


@main.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info_command(name, as_json):
    """Show what is known about a metric and its weights."""
    import dataclasses

    from .registry import UnknownMetricError, get_config, metric_options
    from .weights import availability_note, get_entry

    try:
        config = get_config(name)
    except UnknownMetricError as exc:
        raise click.UsageError(str(exc)) from None
    info = config.info
    entries = [dataclasses.asdict(get_entry(k)) for k in info.weights]
    # what the name fixes, the defaults it chooses, and what a user may set
    construction = {"fixed": dict(config.variant_args), "defaults": dict(config.defaults), "options": metric_options(name)}
    if as_json:
        click.echo(json.dumps({**info.as_dict(), "availability": availability_note(info.weights), **construction,
                               "weight_files": entries}, indent=2))
        return
    for field, value in {**info.as_dict(), "availability": availability_note(info.weights)}.items():
        if field == "weights":
            continue
        click.echo(f"{field:>17}: {value}")
    for field, value in construction.items():
        if value:
            shown = ", ".join(value) if isinstance(value, list) else ", ".join(f"{k}={v!r}" for k, v in value.items())
            click.echo(f"{field:>17}: {shown}")
    for entry in entries:
        click.echo(f"{'weights':>17}: {entry['key']}")
        for k in ("filename", "repo_id", "revision", "url", "bundled", "sha256", "sha256_prefix", "size", "format", "converter", "licence", "source", "training_data", "notes"):
            if entry.get(k):
                click.echo(f"{'':>19}{k}: {entry[k]}")


@main.command("score")
@click.argument("paths", nargs=-1, required=True)
@_with_common
def score_command(paths, metric_names, device, batch_size, workers, max_batch_pixels, decode, fmt, output, resume, overwrite, weights, metric_options, quiet):
    """Score images without a reference: files, folders (recursive) and glob patterns."""
    from .io import discover_images
    from .scoring import score_files

    names = list(metric_names) or [DEFAULT_NR_METRIC]
    try:
        files = discover_images(paths)
    except FileNotFoundError as exc:
        raise click.UsageError(str(exc)) from None
    if not files:
        raise click.UsageError("no image files found")
    ctx, metrics = _metrics_for_run(names, "NR", device, weights, metric_options, output)
    writer_args = dict(fmt=fmt, key_columns=["path"], metrics=[m.name for m in metrics])
    decoding = _decode_mode(decode, metrics, quiet or (ctx is not None and not ctx.is_main))
    score = lambda todo: score_files(metrics, todo, batch_size=batch_size, workers=workers,  # noqa: E731
                                     max_batch_pixels=max_batch_pixels, decode=decoding)
    _score_inputs(ctx, files, str, score, writer_args, output, resume, overwrite, quiet)


def _metrics_for_run(names, kind: str, device: str, weights, metric_options, output):
    """The torchrun job this process is part of (None outside torchrun) and the metrics on its device."""
    options = _parse_options(metric_options)
    ctx = _torchrun_context(device, output)
    create = lambda: _create_metrics(names, kind, str(ctx.device) if ctx else _resolve_device(device), weights,  # noqa: E731
                                     options)
    return ctx, (_create_in_turn(ctx, create) if ctx else create())


def _score_inputs(ctx, inputs: list, key_of, score, writer_args: dict, output, resume, overwrite, quiet: bool):
    """``score(inputs not yet in --output)`` into the output: sharded under torchrun, else directly."""
    if ctx:
        return _run_sharded(ctx, inputs, key_of, score, writer_args, output, resume, overwrite, quiet)
    done = _completed(resume, output, writer_args)
    todo = [x for x in inputs if key_of(x) not in done]
    _run(score(todo), len(todo), writer_args, output, resume, overwrite, quiet, done)


def _completed(resume: bool, output, writer_args: dict) -> set:
    """Keys already scored in ``output`` (``--resume``), or an empty set."""
    if not resume:
        return set()
    if output is None:
        raise click.UsageError("--resume needs --output")
    from .output import OutputFileError, completed_keys

    try:
        return completed_keys(output, writer_args["fmt"], writer_args["key_columns"], writer_args["metrics"])
    except OutputFileError as exc:
        raise click.UsageError(str(exc)) from None


def _read_pairs_csv(path: str) -> List[tuple]:
    base = Path(path).parent
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields = {name.lower().strip(): name for name in (reader.fieldnames or [])}
        ref_col = fields.get("ref") or fields.get("reference")
        dist_col = fields.get("dist") or fields.get("distorted")
        if not ref_col or not dist_col:
            raise click.UsageError(f"{path} needs a header with columns 'ref' and 'dist'")
        pairs = []
        for row in reader:
            ref, dist = Path(row[ref_col]), Path(row[dist_col])
            pairs.append((ref if ref.is_absolute() else base / ref, dist if dist.is_absolute() else base / dist))
    if not pairs:
        raise click.UsageError(f"{path} lists no pairs")
    return pairs


@main.command("compare")
@click.argument("ref", required=False)
@click.argument("dist", required=False)
@click.option("--pairs", "pairs_csv", type=click.Path(exists=True, dir_okay=False), help="CSV with columns ref,dist.")
@_with_common
def compare_command(ref, dist, pairs_csv, metric_names, device, batch_size, workers, max_batch_pixels, decode, fmt, output, resume, overwrite, weights, metric_options, quiet):
    """Compare distorted images with references: REF DIST files, REF_DIR DIST_DIR folders
    (paired by relative path), or --pairs FILE.csv."""
    from .io import discover_pairs
    from .scoring import compare_files

    if pairs_csv:
        if ref or dist:
            raise click.UsageError("give REF DIST or --pairs, not both")
        pairs = _read_pairs_csv(pairs_csv)
    else:
        if not (ref and dist):
            raise click.UsageError("give a reference and a distorted image (or folders), or --pairs FILE.csv")
        try:
            pairs = discover_pairs(ref, dist)
        except (FileNotFoundError, ValueError) as exc:
            raise click.UsageError(str(exc)) from None
    names = list(metric_names) or [DEFAULT_FR_METRIC]
    ctx, metrics = _metrics_for_run(names, "FR", device, weights, metric_options, output)
    for m in metrics:
        if not getattr(m, "scores_pairs", True):
            raise click.UsageError(f"{m.name} compares two images with a reference and scores no single pair: use `iqa prefer`")
    writer_args = dict(fmt=fmt, key_columns=["ref", "dist"], metrics=[m.name for m in metrics])
    decoding = _decode_mode(decode, metrics, quiet or (ctx is not None and not ctx.is_main))
    score = lambda todo: compare_files(metrics, todo, batch_size=batch_size, workers=workers,  # noqa: E731
                                       max_batch_pixels=max_batch_pixels, decode=decoding)
    _score_inputs(ctx, pairs, lambda p: (str(p[0]), str(p[1])), score, writer_args, output, resume, overwrite, quiet)


def _check_kind(metric_name: str, kind: str, dataset) -> None:
    import iqametrics
    from .registry import UnknownMetricError

    try:
        info = iqametrics.get_info(metric_name)
    except UnknownMetricError:
        return  # _create_metrics reports it
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
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Write the report as JSON.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Write a PNG scatter of scores vs labels with the fitted curve.")
@click.option("--bootstrap", default=1000, show_default=True, type=click.IntRange(0),
              help="Bootstrap resamples for the 95 % intervals (0: none).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the bootstrap.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N, or auto.")
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

    needed = ["scipy"] + (["matplotlib"] if plot_path else [])
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        raise click.ClickException(f"iqa evaluate needs {', '.join(missing)}: pip install \"iqametrics[train]\"")
    from .train.data import DatasetError, read_dataset
    from .train.evaluate import evaluate_metric

    options = {}
    for pair in data_options:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--data-option")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    try:
        dataset = read_dataset(data_spec, **options)
    except (DatasetError, TypeError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    if split is not None and split not in dataset.splits:
        raise click.UsageError(f"{dataset.name} has no split {split!r} (splits: {', '.join(dataset.splits)})")
    kind = "NR" if dataset.kind == "NR" else "FR"
    _check_kind(metric_name, kind, dataset)
    (metric,) = _create_metrics([metric_name], kind, _resolve_device(device), weights, _parse_options(metric_options))
    total = len(dataset.splits[split]) if split is not None else len(dataset)
    show = not quiet and total >= _PROGRESS_MIN_ITEMS
    bar_cm = click.progressbar(length=total, label="evaluating", file=sys.stderr) if show else contextlib.nullcontext()
    with bar_cm as bar:
        try:
            evaluation = evaluate_metric(metric, dataset, split=split, batch_size=batch_size, workers=workers,
                                         bootstrap=bootstrap, seed=seed, progress=None if bar is None else bar.update)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(evaluation.table())
    if json_path:
        evaluation.to_json(json_path)
    if plot_path:
        evaluation.plot(plot_path)


#: header names accepted for the first three columns of a triplet CSV (CLIC's files have no header)
_TRIPLET_HEADERS = ({"o", "original", "ref", "reference"}, {"a"}, {"b"})


def _read_triplets_csv(path: str):
    """Rows ``O,A,B[,T]`` of a CLIC-style CSV: (triplets as paths, keys as written, labels or None).

    Paths are relative to the CSV's folder; an optional header row names the columns.  The
    optional fourth column is the human label in CLIC's orientation (0: A is closer, 1: B is;
    a fraction: the share of judges choosing B, as BAPPS' ``judge``).
    """
    base = Path(path).parent
    with open(path, encoding="utf-8", newline="") as f:
        rows = [(n, row) for n, row in enumerate(csv.reader(f), 1) if any(cell.strip() for cell in row)]
    if rows and all(cell.strip().lower() in names for cell, names in zip(rows[0][1], _TRIPLET_HEADERS)):
        rows = rows[1:]
    if not rows:
        raise click.UsageError(f"{path} lists no triplets")
    widths = {len(row) for _, row in rows}
    if not widths <= {3, 4} or len(widths) > 1:
        n, row = next((n, row) for n, row in rows if len(row) != len(rows[0][1]) or len(row) not in (3, 4))
        raise click.UsageError(f"{path}:{n} has {len(row)} columns; every row needs O,A,B or every row O,A,B,T")
    keys, triplets, labels = [], [], []
    for n, row in rows:
        cells = [cell.strip() for cell in row]
        keys.append(tuple(cells[:3]))
        triplets.append(tuple(p if p.is_absolute() else base / p for p in map(Path, cells[:3])))
        if len(cells) == 4:
            try:
                label = float(cells[3])
            except ValueError:
                label = float("nan")
            if not 0.0 <= label <= 1.0:
                raise click.UsageError(f"{path}:{n}: label {cells[3]!r} is not a number in [0, 1] (0: A is closer, 1: B is)")
            labels.append(label)
    return triplets, keys, (labels or None)


def _preference_rows(records, name: str, labels, agreements: list):
    """Results of one metric's ``prefer`` turned into rows T, p_a, closer (CLIC's T: 0 = A closer)."""
    import torch

    from .batching import Failure
    from .preference import clic_decision, label_agreement
    from .scoring import Result

    for record in records:
        if isinstance(record, Failure):
            yield record
            continue
        p = torch.tensor([record.scores[name]])
        t = clic_decision(p)
        closer = "tie" if p.item() == 0.5 else "nan" if p.isnan().item() else ("A" if t.item() == 0 else "B")
        if labels is not None and not p.isnan().item():
            agreements.append(label_agreement(t, torch.tensor([labels[record.index]])).item())
        value = t.item()
        row = {"T": value if value != value else int(value), "p_a": p.item(), "closer": closer}
        yield Result(record.index, record.key, row)


@main.command("prefer")
@click.argument("ref", required=False)
@click.argument("a", required=False)
@click.argument("b", required=False)
@click.option("--triplets", "triplets_csv", type=click.Path(exists=True, dir_okay=False),
              help="CSV of O,A,B rows (CLIC's layout), optionally with a label column T.")
@_with_common(formats=_FORMATS + ("clic",))
def prefer_command(ref, a, b, triplets_csv, metric_names, device, batch_size, workers, max_batch_pixels, decode, fmt,
                   output, resume, overwrite, weights, metric_options, quiet):
    """Two-alternative forced choice: is A or B closer to the reference REF?

    Writes p_a (probability that A is closer), CLIC's T (0: A is closer, 1: B is) and the closer
    image. --format clic writes exactly CLIC's O,A,B,T rows without a header (the devkit's
    eval_csv.py reads them). With --triplets, a fourth column of labels (CLIC's T) is compared
    with the decisions and the agreement printed at the end.
    """
    from .scoring import prefer_files

    if triplets_csv:
        if ref or a or b:
            raise click.UsageError("give REF A B or --triplets, not both")
        triplets, keys, labels = _read_triplets_csv(triplets_csv)
    else:
        if not (ref and a and b):
            raise click.UsageError("give a reference and two images to compare with it (REF A B), or --triplets FILE.csv")
        for path in (ref, a, b):
            if not Path(path).is_file():
                raise click.UsageError(f"no such file: {path!r}")
        triplets, keys, labels = [(Path(ref), Path(a), Path(b))], [(ref, a, b)], None
    names = list(metric_names) or [DEFAULT_FR_METRIC]
    if len(names) != 1:
        raise click.UsageError("iqa prefer takes one --metric")
    (metric,) = _create_metrics(names, "FR", _resolve_device(device), weights, _parse_options(metric_options))
    writer_args = dict(fmt=fmt, key_columns=["O", "A", "B"], metrics=["T"] if fmt == "clic" else ["T", "p_a", "closer"])
    done = _completed(resume, output, writer_args)
    todo = [i for i, key in enumerate(keys) if key not in done]
    labels = [labels[i] for i in todo] if labels is not None else None
    records = prefer_files([metric], [triplets[i] for i in todo], keys=[keys[i] for i in todo],
                           batch_size=batch_size, workers=workers, max_batch_pixels=max_batch_pixels,
                           decode=_decode_mode(decode, [metric], quiet))
    agreements: list = []
    rows = _preference_rows(records, metric.name, labels, agreements)

    def summary():
        if labels is None or not agreements:
            return None
        return f"agreement with the labels: {sum(agreements) / len(agreements):.4f} over {len(agreements)} triplets"

    _run(rows, len(todo), writer_args, output, resume, overwrite, quiet, done, summary=summary)


@main.command("download")
@click.argument("names", nargs=-1)
@click.option("--all", "download_all", is_flag=True, help="Every metric's weights (with --verify: every manifest file).")
@click.option("--verify", is_flag=True, help="Download nothing: re-hash the files already here against the manifest and the lock.")
def download_command(names, download_all, verify):
    """Download (and verify) the weights of metrics into the local cache.

    NAMES are metric names or manifest keys (`iqa info NAME` lists a metric's keys)."""
    from .weights import WeightsConfigError, WeightsError, can_download, check_cached, fetch, get_entry, load_manifest

    if download_all == bool(names):
        raise click.UsageError("give metric names or --all (not both)")
    if verify and download_all:
        keys = list(load_manifest())
    else:
        keys = _weight_keys(names, download_all)
    if not keys:
        click.echo(f"nothing to {'check' if verify else 'download'}: these metrics need no weight files", err=True)
        return
    failed = 0
    for key in keys:
        entry = get_entry(key)
        try:
            if verify:
                result = check_cached(entry)
                failed += not result.ok
                click.echo(result.line(), err=not result.ok)
                continue
            path = fetch(entry)
        except WeightsConfigError as exc:  # the same for every file: say it once
            raise click.ClickException(str(exc)) from None
        except WeightsError as exc:
            if download_all and not verify and not can_download(entry):  # --all fetches what it can; the rest is a note
                click.echo(f"skipped: {exc}", err=True)
                continue
            failed += 1
            click.echo(f"error: {exc}", err=True)
        else:
            click.echo(f"{key}: {path}")
    if failed:
        sys.exit(1)


def _weight_keys(names, download_all: bool) -> list:
    """Manifest keys of the named metrics (or of every metric); a manifest key stands for itself."""
    import iqametrics
    from .registry import UnknownMetricError
    from .weights import load_manifest

    selected = iqametrics.list_metrics() if download_all else list(names)
    keys = []
    for name in selected:
        try:
            found = iqametrics.get_info(name).weights
        except UnknownMetricError as exc:
            if name not in load_manifest():
                raise click.UsageError(str(exc)) from None
            found = (name,)
        keys += [k for k in found if k not in keys]
    return keys


@main.command("train")
@click.argument("recipe", required=False)
@click.option("--data", "data_specs", multiple=True, metavar="[LAYOUT:]ROOT",
              help="The data set: its folder, with another layout before a colon; twice for a task that learns from two (TFIQA's UNI).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Run folder: checkpoints, logs, model.safetensors.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe value, e.g. train.epochs=2 (repeatable).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace a run already in --out.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto (torchrun: one GPU per process).")
@click.option("--list", "show_list", is_flag=True, help="List the packaged recipes.")
@click.option("--show", is_flag=True, help="Print the recipe (with --set applied) as JSON and exit.")
@click.option("--quiet", "-q", is_flag=True, help="No progress line.")
def train_command(recipe, data_specs, out_dir, overrides, resume, overwrite, device, show_list, show, quiet):
    """Train a model with a recipe (needs the train extra: pip install "iqametrics[train]").

    RECIPE is a packaged recipe (`iqa train --list`) or a .toml file.  Under torchrun
    (`torchrun --nproc-per-node N -m iqametrics train ...`) each process trains on its share of
    every batch.  Ctrl-C stops after the current step with a checkpoint; --resume continues.
    """
    from .train.config import RecipeError, apply_overrides
    from .train.recipes import list_recipes, load_recipe

    if show_list:
        for name in list_recipes():
            click.echo(f"{name:<24} {load_recipe(name).description}")
        return
    if not recipe:
        raise click.UsageError("give a RECIPE (see `iqa train --list`)")
    try:
        resolved = apply_overrides(load_recipe(recipe), overrides)
    except (RecipeError, FileNotFoundError) as exc:
        raise click.UsageError(str(exc)) from None
    if show:
        click.echo(json.dumps(resolved.to_dict(), indent=2))
        return
    if not data_specs or not out_dir:
        raise click.UsageError("--data and --out are required to train")
    from .train.data import DatasetError
    from .train.trainer import DataMismatchError, RunDirectoryError, TrainingInterrupted, train

    try:
        result = train(resolved, list(data_specs), out_dir, device=device, resume=resume, overwrite=overwrite, quiet=quiet)
    except TrainingInterrupted as exc:
        again = " ".join(["iqa train", recipe, *[f"--data {d}" for d in data_specs], "--out", out_dir, *[f"--set {o}" for o in overrides], "--resume"])
        click.echo(f"\n{exc}\nresume with: {again}", err=True)
        sys.exit(130)
    except (DatasetError, RunDirectoryError, RecipeError) as exc:
        raise click.UsageError(str(exc)) from None
    except DataMismatchError as exc:  # the data do not fit the task (kind, size, a missing second data set)
        raise click.UsageError(str(exc)) from None
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
    from .train.export import export_run, publish

    try:
        exported = export_run(run_dir, out_dir, key=key, half=half, repo_id=repo_id, revision=revision)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{exported.key}: {exported.weights} ({exported.size} bytes, sha256 {exported.sha256})")
    if repo_id:
        click.echo(f"published: {publish(exported, repo_id, revision=revision)}")


if __name__ == "__main__":  # pragma: no cover
    main()
