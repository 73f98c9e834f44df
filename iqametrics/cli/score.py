"""``iqa score`` (no-reference) and ``iqa compare`` (full-reference): files, folders, globs and pair lists."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import List

import click

from .app import DEFAULT_FR_METRIC, DEFAULT_NR_METRIC, check_output, decode_mode, main, with_common
from .running import Missing, metrics_for_run, score_inputs, torchrun_context

_STRICT_HELP = "Stop before scoring anything if an input is missing (default: report it, score the rest, exit 1)."


def _prepare(device, output, missing: Missing):
    """After the inputs are known: the torchrun context (None outside torchrun), and the missing
    inputs reported once (by process 0)."""
    ctx = torchrun_context(device, output)
    if ctx is None or ctx.is_main:
        missing.report()
    return ctx


def _nothing_found(missing: Missing, what: str) -> click.UsageError:
    if missing.found:
        return click.UsageError("; ".join(f"{reason}: {item!r}" for item, reason in missing.found))
    return click.UsageError(what)


@main.command("score")
@click.argument("paths", nargs=-1, required=True)
@click.option("--strict", is_flag=True, help=_STRICT_HELP)
@with_common
def score_command(paths, strict, metric_names, device, batch_size, workers, max_batch_pixels, decode, fmt, output,
                  resume, overwrite, weights, metric_options, quiet):
    """Score images without a reference: files, folders (recursive) and glob patterns."""
    from ..distributed import launched_by_torchrun
    from ..io import discover_images
    from ..scoring import score_files

    check_output(output, resume, overwrite, sharded=launched_by_torchrun())
    names = list(metric_names) or [DEFAULT_NR_METRIC]
    missing = Missing()
    try:
        files = discover_images(paths, on_missing=None if strict else missing.add)
    except FileNotFoundError as exc:
        raise click.UsageError(str(exc)) from None
    if not files:
        raise _nothing_found(missing, "no image files found")
    ctx = _prepare(device, output, missing)
    metrics = metrics_for_run(ctx, names, "NR", device, weights, metric_options)
    writer_args = dict(fmt=fmt, key_columns=["path"], metrics=[m.name for m in metrics])
    decoding = decode_mode(decode, metrics, quiet or (ctx is not None and not ctx.is_main))
    score = lambda todo: score_files(metrics, todo, batch_size=batch_size, workers=workers,  # noqa: E731
                                     max_batch_pixels=max_batch_pixels, decode=decoding)
    score_inputs(ctx, files, str, score, writer_args, output, resume, overwrite, quiet, missing=len(missing))


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


def _check_listed(pairs, path: str) -> None:
    """``--strict`` with ``--pairs``: every listed file exists before anything is scored."""
    absent = sorted({str(p) for pair in pairs for p in pair if not p.is_file()})
    if absent:
        raise click.UsageError(f"{path} lists {len(absent)} file(s) that do not exist: {', '.join(absent[:5])}"
                               + (" ..." if len(absent) > 5 else ""))


@main.command("compare")
@click.argument("ref", required=False)
@click.argument("dist", required=False)
@click.option("--pairs", "pairs_csv", type=click.Path(exists=True, dir_okay=False), help="CSV with columns ref,dist.")
@click.option("--strict", is_flag=True, help=_STRICT_HELP.replace("an input is missing", "an input is missing or "
                                                                    "a distorted image has no reference"))
@with_common
def compare_command(ref, dist, pairs_csv, strict, metric_names, device, batch_size, workers, max_batch_pixels, decode,
                    fmt, output, resume, overwrite, weights, metric_options, quiet):
    """Compare distorted images with references: REF DIST files, REF_DIR DIST_DIR folders
    (paired by relative path), or --pairs FILE.csv."""
    from ..distributed import launched_by_torchrun
    from ..io import discover_pairs
    from ..scoring import compare_files

    check_output(output, resume, overwrite, sharded=launched_by_torchrun())
    missing = Missing()
    if pairs_csv:
        if ref or dist:
            raise click.UsageError("give REF DIST or --pairs, not both")
        pairs = _read_pairs_csv(pairs_csv)
        if strict:
            _check_listed(pairs, pairs_csv)
    else:
        if not (ref and dist):
            raise click.UsageError("give a reference and a distorted image (or folders), or --pairs FILE.csv")
        try:
            pairs = discover_pairs(ref, dist, on_unmatched=None if strict else missing.add)
        except (FileNotFoundError, ValueError) as exc:
            raise click.UsageError(str(exc)) from None
        if not pairs:
            raise _nothing_found(missing, f"no images found in {dist}")
    names = list(metric_names) or [DEFAULT_FR_METRIC]
    ctx = _prepare(device, output, missing)
    metrics = metrics_for_run(ctx, names, "FR", device, weights, metric_options)
    for m in metrics:
        if not getattr(m, "scores_pairs", True):
            raise click.UsageError(f"{m.name} compares two images with a reference and scores no single pair: use `iqa prefer`")
    writer_args = dict(fmt=fmt, key_columns=["ref", "dist"], metrics=[m.name for m in metrics])
    decoding = decode_mode(decode, metrics, quiet or (ctx is not None and not ctx.is_main))
    score = lambda todo: compare_files(metrics, todo, batch_size=batch_size, workers=workers,  # noqa: E731
                                       max_batch_pixels=max_batch_pixels, decode=decoding)
    score_inputs(ctx, pairs, lambda p: (str(p[0]), str(p[1])), score, writer_args, output, resume, overwrite, quiet,
                 missing=len(missing))
