"""Running a scoring command: results written row by row, failures reported as they come, a summary,
Ctrl-C that says what was kept and how to go on, and the same under torchrun (shards, part files)."""
from __future__ import annotations

import contextlib
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import click

from .app import ARGV_KEY, InputError, create_metrics, parse_options, resolve_device
from .progress import MIN_ITEMS, Progress

#: how long a process that finished its shard waits for the slowest one (torch's default is 10-30 min)
SHARD_WAIT = 24 * 3600
#: the exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it)
INTERRUPTED = 130
#: the output formats --resume can read back (iqametrics.output.completed_keys)
RESUMABLE = ("csv", "jsonl")


@dataclass
class Tally:
    """What a run has done so far (kept up to date row by row, so that Ctrl-C can say it)."""

    scored: int = 0
    failed: int = 0


class Missing:
    """Inputs that were not found: collected while the inputs are discovered, reported by name
    before scoring (on one process under torchrun); the run then exits non-zero."""

    def __init__(self):
        self.found: list = []

    def add(self, item: str, reason: str) -> None:
        self.found.append((item, reason))

    def __len__(self) -> int:
        return len(self.found)

    def report(self) -> None:
        for item, reason in self.found:
            click.echo(f"error: {item}: {reason}", err=True)


def _key_text(key) -> str:
    return " vs ".join(key) if isinstance(key, tuple) else str(key)


def consume(records, total: int, write, show: bool, tally: Tally) -> None:
    """Write each result with ``write(result)`` and report each failure on stderr, counting in ``tally``."""
    from ..batching import Failure

    with Progress(total, "scoring", show) as progress:
        for record in records:
            if isinstance(record, Failure):
                tally.failed += 1
                progress.echo(f"error: {_key_text(record.key)}: {record.reason}")
            else:
                write(record)
                tally.scored += 1
            progress.advance()


def _summary(tally: Tally, missing: int, already: int, output, quiet: bool) -> None:
    if not quiet:
        not_found = f", not found {missing}" if missing else ""
        skipped = f", {already} already in {output}" if already else ""
        click.echo(f"scored {tally.scored}, failed {tally.failed}{not_found}{skipped}", err=True)


def resume_command() -> Optional[str]:
    """The command line of this run with ``--resume`` (and without ``--overwrite``), shell-quoted."""
    args = click.get_current_context().meta.get(ARGV_KEY)
    if args is None:
        return None
    args = [a for a in args if a != "--overwrite"]
    if "--resume" not in args:
        args.append("--resume")
    return "iqa " + shlex.join(args)


def _interrupted(records, kept: int, output, fmt: str) -> None:
    """Ctrl-C: stop the decoding workers, say how many rows are kept and how to continue; exit 130."""
    close = getattr(records, "close", None)
    if close is not None:
        close()
    if output is None:
        how = "write to a file (-o FILE, --format csv or jsonl) to be able to resume a run"
        click.echo(f"\ninterrupted: {kept} row(s) written to stdout; {how}", err=True)
    elif fmt not in RESUMABLE:
        click.echo(f"\ninterrupted: {kept} row(s) kept in {output}; the {fmt} format cannot be resumed "
                   "(--format csv or jsonl can)", err=True)
    else:
        again = resume_command()
        click.echo(f"\ninterrupted: {kept} row(s) kept in {output}" + (f"\ncontinue with: {again}" if again else ""),
                   err=True)
    sys.exit(INTERRUPTED)


@contextlib.contextmanager
def _open_output(output: Optional[str], resume: bool):
    """The output stream and whether it is new (a header is due); checked earlier by ``check_output``."""
    from ..output import has_results

    if output is None:
        yield sys.stdout, True
        return
    append = resume and has_results(output)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    with open(output, "a" if append else "w", encoding="utf-8", newline="") as f:
        yield f, not append


def run(records, total: int, writer_args: dict, output, resume, quiet: bool, done: set, *, missing: int = 0,
        summary=None) -> None:
    """Write ``records`` to the output (stdout when None), then the summary; exit 1 after any failure."""
    from ..output import ResultWriter

    tally = Tally()
    try:
        with _open_output(output, resume) as (stream, fresh):
            writer = ResultWriter(stream, header=fresh, **writer_args)
            show = not quiet and total >= MIN_ITEMS
            consume(records, total, lambda r: writer.write(r.key, r.scores), show, tally)
    except KeyboardInterrupt:
        _interrupted(records, len(done) + tally.scored, output, writer_args["fmt"])
    _summary(tally, missing, len(done), output, quiet)
    extra = summary() if summary is not None and not quiet else None
    if extra:
        click.echo(extra, err=True)
    if tally.failed or missing:
        sys.exit(1)


def completed(resume: bool, output, writer_args: dict) -> set:
    """Keys already scored in ``output`` (``--resume``), or an empty set."""
    if not resume:  # check_output has made sure that --resume comes with --output
        return set()
    from ..output import OutputFileError, completed_keys

    try:
        return completed_keys(output, writer_args["fmt"], writer_args["key_columns"], writer_args["metrics"])
    except OutputFileError as exc:
        raise click.UsageError(str(exc)) from None


def torchrun_context(device: str, output):
    """The torchrun job this process belongs to (None outside torchrun): see iqametrics.sharding."""
    from ..devices import DeviceError
    from ..distributed import init, launched_by_torchrun

    if not launched_by_torchrun():
        return None
    if output is None:
        raise click.UsageError("under torchrun, give --output FILE: every process writes a part beside FILE and "
                               "process 0 merges them into it")
    import datetime

    try:
        return init(device, timeout=datetime.timedelta(seconds=SHARD_WAIT))
    except DeviceError as exc:
        raise InputError(str(exc)) from None


def _create_in_turn(ctx, create):
    """``create()`` on every process, one machine at a time filling the weights cache: process 0
    first, then the first process of every other machine, then the rest."""
    metrics = None
    for turn in (ctx.rank == 0, ctx.rank != 0 and ctx.local_rank == 0, ctx.local_rank != 0):
        if turn:
            metrics = create()
        ctx.barrier()
    return metrics


def metrics_for_run(ctx, names, kind: str, device: str, weights, metric_options):
    """The metrics on this process's device (under torchrun: built by one machine at a time)."""
    options = parse_options(metric_options)
    target = str(ctx.device) if ctx else resolve_device(device)
    create = lambda: create_metrics(names, kind, target, weights, options)  # noqa: E731
    return _create_in_turn(ctx, create) if ctx else create()


def _run_sharded(ctx, inputs: list, key_of, score, writer_args: dict, output, resume, overwrite, quiet: bool,
                 missing: int) -> None:
    """Score this process's shard of ``inputs`` into its part file; process 0 merges (iqametrics.sharding)."""
    from .. import sharding
    from ..distributed import shutdown

    tally = Tally()
    try:
        try:
            done = sharding.prepare(ctx, output, resume=resume, overwrite=overwrite, **writer_args)
        except sharding.ShardingError as exc:
            raise click.UsageError(str(exc)) from None
        keys = [key_of(x) for x in inputs]
        todo = [i for i in sharding.shard(len(inputs), ctx.rank, ctx.world) if keys[i] not in done]
        records = None
        try:
            with sharding.PartWriter(sharding.part_path(output, ctx.rank)) as part:
                show = ctx.is_main and not quiet and len(todo) >= MIN_ITEMS
                records = score([inputs[i] for i in todo])
                consume(records, len(todo), lambda r: part.write(todo[r.index], r.key, r.scores), show, tally)
        except KeyboardInterrupt:
            if records is not None:
                records.close()
            click.echo(f"\ninterrupted: process {ctx.rank} kept {tally.scored} row(s) in "
                       f"{sharding.part_path(output, ctx.rank)}; run the same torchrun command with --resume "
                       "to continue", err=True)
            sys.exit(INTERRUPTED)
        scored, failed = ctx.sum([tally.scored, tally.failed])  # waits for the slowest process
        merged, error = sharding.merge_on_main(ctx, output, keys, **writer_args)
        if not merged:
            raise click.ClickException(error)
        if ctx.is_main:
            _summary(Tally(scored, failed), missing, len(done), output, quiet)
        if failed or missing:  # on every process: torchrun then reports the job as failed
            sys.exit(1)
    finally:
        shutdown(ctx)


def score_inputs(ctx, inputs: list, key_of, score, writer_args: dict, output, resume, overwrite, quiet: bool,
                 missing: int = 0) -> None:
    """``score(inputs not yet in --output)`` into the output: sharded under torchrun, else directly."""
    if ctx:
        return _run_sharded(ctx, inputs, key_of, score, writer_args, output, resume, overwrite, quiet, missing)
    done = completed(resume, output, writer_args)
    todo = [x for x in inputs if key_of(x) not in done]
    run(score(todo), len(todo), writer_args, output, resume, quiet, done, missing=missing)
