"""``iqa list``, ``iqa info`` and ``iqa download``: what the metrics are and where their weights come from."""
from __future__ import annotations

import json
import sys

import click

from .app import main


@main.command("list")
@click.option("--kind", type=click.Choice(["FR", "NR"], case_sensitive=False), default=None, help="Only one kind.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(kind, as_json):
    """List the available metrics."""
    import iqametrics

    from ..weights import availability

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

    from ..registry import UnknownMetricError, get_config, metric_options
    from ..weights import availability_note, get_entry

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


@main.command("download")
@click.argument("names", nargs=-1)
@click.option("--all", "download_all", is_flag=True, help="Every metric's weights (with --verify: every manifest file).")
@click.option("--verify", is_flag=True, help="Download nothing: re-hash the files already here against the manifest and the lock.")
def download_command(names, download_all, verify):
    """Download (and verify) the weights of metrics into the local cache.

    NAMES are metric names or manifest keys (`iqa info NAME` lists a metric's keys)."""
    from ..weights import WeightsConfigError, WeightsError, can_download, check_cached, fetch, get_entry, load_manifest

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

    from ..registry import UnknownMetricError
    from ..weights import load_manifest

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

