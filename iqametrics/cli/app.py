"""The ``iqa`` group and what its commands share: the common options, checks of the device and of
the output path made before any model is built, and building the metrics with errors a user can act on."""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Optional, Sequence

import click

from .._version import __version__
from ..registry import CREATE_ARGUMENTS

#: defaults that need no download, so ``iqa score photo.jpg`` works offline on a fresh install
DEFAULT_NR_METRIC = "liteiqa"
DEFAULT_FR_METRIC = "ssim"
FORMATS = ("table", "csv", "jsonl")
SUFFIX_FORMATS = {".csv": "csv", ".jsonl": "jsonl"}
#: where the group keeps the command line it was given (for the ``--resume`` command after Ctrl-C)
ARGV_KEY = "iqametrics.argv"


class InputError(click.ClickException):
    """A command line that cannot run as given (a device this machine lacks, an output that cannot be
    written): one line, ``Error: ...``, exit status 2 like click's usage errors, without the usage."""

    exit_code = 2


class _Group(click.Group):
    def parse_args(self, ctx: click.Context, args):
        ctx.meta[ARGV_KEY] = list(args)  # shared with the subcommand's context
        return super().parse_args(ctx, args)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="iqa")
def main():
    """Image quality assessment: score images (no-reference) or compare them with references."""


def parse_options(pairs: Sequence[str], param_hint: str = "--option", *, create_arguments: bool = False) -> dict:
    """``KEY=VALUE`` pairs as keyword arguments (values read as JSON where they parse).  For
    ``--option``, ``create()``'s own arguments are refused unless ``create_arguments``."""
    options = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=param_hint)
        key, value = pair.split("=", 1)
        if not create_arguments and key.strip() in CREATE_ARGUMENTS:
            # create()'s own arguments: a CLI score always comes from the published (or --weights) model
            raise click.BadParameter(f"{key.strip()!r} is not a metric option here (see --device, --weights)",
                                     param_hint=param_hint)
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def _pixel_count(value):
    from ..io import parse_pixel_count

    try:
        return None if value is None else parse_pixel_count(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-batch-pixels") from None


def resolve_device(device: str) -> str:
    """``--device`` checked against this machine (``auto`` resolved): one line and exit 2 if it is not here."""
    from ..devices import DeviceError, resolve_device as resolve

    try:
        return str(resolve(device))
    except DeviceError as exc:
        raise InputError(str(exc)) from None


def check_output(output: Optional[str], resume: bool, overwrite: bool, *, sharded: bool = False) -> None:
    """Before any model is built: ``--output`` can be written, and an existing one is resumed or
    replaced only when asked (under torchrun, :func:`iqametrics.sharding.prepare` checks that)."""
    from ..output import OutputFileError, check_writable, has_results

    if output is None:
        if resume:
            raise click.UsageError("--resume needs --output")
        return
    try:
        check_writable(output)
    except OutputFileError as exc:
        raise InputError(str(exc)) from None
    if not sharded and not (resume or overwrite) and has_results(output):
        raise click.UsageError(f"{output} exists: add --resume to continue it or --overwrite to replace it")


def decode_mode(decode: str, metrics, quiet: bool) -> str:
    """``--decode`` as it can be done here; a fallback to the CPU is said once (not by every process)."""
    from ..scoring import resolve_decode

    mode, note = resolve_decode(decode, metrics)
    if note and not quiet:
        click.echo(f"note: {note.replace('decode=' + repr(decode), '--decode ' + decode)}", err=True)
    return mode


def create_metrics(names: Sequence[str], kind: str, device: str, weights: Optional[str], options: dict):
    """The named metrics, built; the errors a user can fix become one-line errors, any other keeps
    its traceback (a bug is not a usage error)."""
    import iqametrics

    from ..devices import DeviceError
    from ..registry import OptionError, UnknownMetricError, WeightsArgumentError
    from ..weights import WeightsError

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
        except DeviceError as exc:
            raise InputError(str(exc)) from None
        except (OptionError, WeightsArgumentError) as exc:  # an option or --weights the metric does not take
            raise click.UsageError(str(exc)) from None
        except (WeightsError, FileNotFoundError) as exc:  # weights unavailable, corrupt, or not this model's
            raise click.ClickException(str(exc)) from None
    names_seen = [m.name for m in metrics]
    if len(set(names_seen)) != len(names_seen):
        raise click.UsageError("the same metric is named twice")
    return metrics


DEVICE_HELP = "cpu, cuda, cuda:N, mps, or auto (CUDA if available, else the CPU)."


def _common_options(formats=FORMATS):
    return [
        click.option("--metric", "-m", "metric_names", multiple=True, help="Metric name (repeatable). See `iqa list`."),
        click.option("--device", default="auto", show_default=True, help=DEVICE_HELP),
        click.option("--batch-size", "-b", default=16, show_default=True, type=click.IntRange(1), help="Images per batch."),
        click.option("--workers", "-j", default=None, type=click.IntRange(0), help="Decoding processes [default: up to 4]."),
        click.option("--max-batch-pixels", default=None, metavar="N", callback=lambda ctx, param, v: _pixel_count(v),
                     help="Pixels per batch, pairs counting both images (e.g. 4M) [default: 8M]."),
        click.option("--decode", type=click.Choice(["cpu", "gpu"]), default="cpu", show_default=True,
                     help="gpu: decode JPEG files on the metrics' CUDA device (nvJPEG); other files, and runs without CUDA, on the CPU."),
        click.option("--format", "fmt", type=click.Choice(list(formats)), default=None,
                     help="[default: what --output's suffix names, .csv or .jsonl; else table]"),
        click.option("--output", "-o", type=click.Path(), default=None, help="Write results to FILE (default: stdout)."),
        click.option("--resume", is_flag=True, help="Skip inputs already in --output and append the rest."),
        click.option("--overwrite", is_flag=True, help="Replace an existing --output file."),
        click.option("--weights", default=None, metavar="FILE|KEY", help="Checkpoint file or manifest key for the (single) metric."),
        click.option("--option", "metric_options", multiple=True, metavar="KEY=VALUE", help="Metric option (repeatable), e.g. resize=bicubic."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary on stderr."),
    ]


def with_common(fn=None, *, formats=FORMATS):
    """The options shared by ``score``, ``compare`` and ``prefer``."""
    if fn is None:  # @with_common(formats=...)
        return lambda f: with_common(f, formats=formats)

    @functools.wraps(fn)
    def command(*args, fmt, output, **kwargs):
        return fn(*args, fmt=output_format(fmt, output), output=output, **kwargs)

    for option in reversed(_common_options(formats)):
        command = option(command)
    return command


def output_format(fmt: Optional[str], output: Optional[str]) -> str:
    """``--format``, or the one ``--output``'s suffix names (``-o scores.csv`` writes CSV), or a table."""
    if fmt is not None:
        return fmt
    return SUFFIX_FORMATS.get(Path(output).suffix.lower(), "table") if output else "table"
