"""The ``iqa`` command line: list, info, score, compare, download."""
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


def _resolve_device(device: str) -> str:
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


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


def _run(records, total: int, writer_args: dict, output, resume, overwrite, quiet: bool, done: set):
    from .batching import Failure
    from .output import ResultWriter

    failures = scored = 0
    with _open_output(output, resume, overwrite) as (stream, fresh):
        writer = ResultWriter(stream, header=fresh, **writer_args)
        show = not quiet and total >= _PROGRESS_MIN_ITEMS
        bar_cm = click.progressbar(length=total, label="scoring", file=sys.stderr) if show else contextlib.nullcontext()
        with bar_cm as bar:
            for record in records:
                if isinstance(record, Failure):
                    failures += 1
                    key = " vs ".join(record.key) if isinstance(record.key, tuple) else record.key
                    click.echo(f"\nerror: {key}: {record.reason}" if show else f"error: {key}: {record.reason}", err=True)
                else:
                    writer.write(record.key, record.scores)
                    scored += 1
                if bar is not None:
                    bar.update(1)
    if not quiet:
        skipped = f", {len(done)} already in {output}" if done else ""
        click.echo(f"scored {scored}, failed {failures}{skipped}", err=True)
    if failures:
        sys.exit(1)


_common_options = [
    click.option("--metric", "-m", "metric_names", multiple=True, help="Metric name (repeatable). See `iqa list`."),
    click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N, or auto."),
    click.option("--batch-size", "-b", default=16, show_default=True, type=click.IntRange(1), help="Images per batch."),
    click.option("--workers", "-j", default=None, type=click.IntRange(0), help="Decoding processes [default: up to 4]."),
    click.option("--format", "fmt", type=click.Choice(["table", "csv", "jsonl"]), default="table", show_default=True),
    click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write results to FILE (default: stdout)."),
    click.option("--resume", is_flag=True, help="Skip inputs already in --output and append the rest."),
    click.option("--overwrite", is_flag=True, help="Replace an existing --output file."),
    click.option("--weights", default=None, metavar="FILE|KEY", help="Checkpoint file or manifest key for the (single) metric."),
    click.option("--option", "metric_options", multiple=True, metavar="KEY=VALUE", help="Metric option (repeatable), e.g. resize=bicubic."),
    click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary on stderr."),
]


def _with_common(fn):
    for option in reversed(_common_options):
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

    infos = [iqametrics.get_info(n) for n in iqametrics.list_metrics(kind.upper() if kind else None)]
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in infos], indent=2))
        return
    width = max(len(i.name) for i in infos) if infos else 4
    click.echo(f"{'name':<{width}}  kind  better  download  description")
    for i in infos:
        better = "higher" if i.higher_is_better else "lower"
        click.echo(f"{i.name:<{width}}  {i.kind:<4}  {better:<6}  {'yes' if i.needs_download else 'no':<8}  {i.description}")


@main.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info_command(name, as_json):
    """Show what is known about a metric and its weights."""
    import dataclasses

    from .registry import UnknownMetricError, get_config, metric_options
    from .weights import get_entry

    try:
        config = get_config(name)
    except UnknownMetricError as exc:
        raise click.UsageError(str(exc)) from None
    info = config.info
    entries = [dataclasses.asdict(get_entry(k)) for k in info.weights]
    # what the name fixes, the defaults it chooses, and what a user may set
    construction = {"fixed": dict(config.variant_args), "defaults": dict(config.defaults), "options": metric_options(name)}
    if as_json:
        click.echo(json.dumps({**info.as_dict(), **construction, "weight_files": entries}, indent=2))
        return
    for field, value in info.as_dict().items():
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
def score_command(paths, metric_names, device, batch_size, workers, fmt, output, resume, overwrite, weights, metric_options, quiet):
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
    metrics = _create_metrics(names, "NR", _resolve_device(device), weights, _parse_options(metric_options))
    writer_args = dict(fmt=fmt, key_columns=["path"], metrics=[m.name for m in metrics])
    done = _completed(resume, output, writer_args)
    files = [f for f in files if str(f) not in done]
    records = score_files(metrics, files, batch_size=batch_size, workers=workers)
    _run(records, len(files), writer_args, output, resume, overwrite, quiet, done)


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
def compare_command(ref, dist, pairs_csv, metric_names, device, batch_size, workers, fmt, output, resume, overwrite, weights, metric_options, quiet):
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
    metrics = _create_metrics(names, "FR", _resolve_device(device), weights, _parse_options(metric_options))
    writer_args = dict(fmt=fmt, key_columns=["ref", "dist"], metrics=[m.name for m in metrics])
    done = _completed(resume, output, writer_args)
    pairs = [p for p in pairs if (str(p[0]), str(p[1])) not in done]
    records = compare_files(metrics, pairs, batch_size=batch_size, workers=workers)
    _run(records, len(pairs), writer_args, output, resume, overwrite, quiet, done)


@main.command("download")
@click.argument("names", nargs=-1)
@click.option("--all", "download_all", is_flag=True, help="Every metric's weights.")
def download_command(names, download_all):
    """Download (and verify) the weights of metrics into the local cache."""
    import iqametrics
    from .registry import UnknownMetricError
    from .weights import WeightsError, fetch, get_entry

    if download_all == bool(names):
        raise click.UsageError("give metric names or --all (not both)")
    selected = iqametrics.list_metrics() if download_all else list(names)
    keys = []
    for name in selected:
        try:
            keys += [k for k in iqametrics.get_info(name).weights if k not in keys]
        except UnknownMetricError as exc:
            raise click.UsageError(str(exc)) from None
    if not keys:
        click.echo("nothing to download: these metrics need no weight files", err=True)
        return
    failed = 0
    for key in keys:
        entry = get_entry(key)
        try:
            path = fetch(entry)
        except WeightsError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
        else:
            click.echo(f"{key}: {path}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
