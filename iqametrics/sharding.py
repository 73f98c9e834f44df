"""Sharded scoring under torchrun: every process scores a share of the inputs into a part file, and
process 0 merges the parts into the one output a single process would have written.

``torchrun --nproc-per-node N -m iqametrics score|compare ... -o FILE`` runs N processes (one GPU
each), which discover the inputs identically (the same arguments, the same sorted listing).  Process
``rank`` owns the inputs at positions ``rank, rank + N, rank + 2N, ...`` of that list: interleaving
balances the work, as neighbours in a sorted listing tend to be alike (one camera, one size).  It
writes its rows to ``FILE.part-<rank>`` next to FILE, one JSON line per input::

    {"index": 12, "key": "photos/a.jpg", "scores": {"musiq": 61.2}}

(``key`` is ``[ref, dist]`` for pairs; ``index`` is the position in the discovered list).  When every
process is done, process 0 appends the rows to FILE in discovery order, in FILE's format, skipping
those FILE already holds, syncs FILE to disk and removes the parts.

A run killed anywhere leaves FILE and the parts as they were; ``--resume`` continues it: the
half-written last line of FILE or of any part is cut, every process skips the inputs found in FILE
or in *any* part (whichever process or world size wrote it), appends the rest to its own part, and
the merge appends what FILE lacks.  Without ``--resume``, leftover parts are an error (``--overwrite``
removes them with FILE).  FILE's folder must be one that every process sees: on several machines, a
shared file system (checked: process 0 must see every part).

The collectives are :class:`iqametrics.distributed.Context`'s (a barrier, a flag, two counts).
"""
from __future__ import annotations

import json
import os
from array import array
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Set, Tuple

import numpy as np

from .output import OutputFileError, completed_keys, drop_partial_last_line, has_results

__all__ = ["ShardingError", "shard", "part_path", "part_files", "PartWriter", "read_part", "prepare", "merge",
           "merge_on_main"]

PART_MARK = ".part-"


class ShardingError(ValueError):
    """The output and its part files cannot be used as asked (the message says what to do)."""


def shard(n_inputs: int, rank: int, world: int) -> range:
    """Positions of the inputs that process ``rank`` of ``world`` scores."""
    if not 0 <= rank < world:
        raise ValueError(f"rank must be in [0, {world}), got {rank}")
    return range(rank, n_inputs, world)


def part_path(output, rank: int) -> Path:
    return Path(f"{output}{PART_MARK}{rank}")


def part_files(output) -> List[Path]:
    """The part files beside ``output`` (of any rank and any earlier world size), by rank."""
    output = Path(output)
    prefix = output.name + PART_MARK
    folder = output.parent
    if not folder.is_dir():
        return []
    found = [(int(p.name[len(prefix):]), p) for p in folder.iterdir()
             if p.name.startswith(prefix) and p.name[len(prefix):].isdigit()]
    return [p for _, p in sorted(found)]


def _key_to_json(key):
    return list(key) if isinstance(key, tuple) else key


def _key_from_json(key):
    return tuple(key) if isinstance(key, list) else key


class PartWriter:
    """Appends one JSON line per scored input to a part file, flushed line by line."""

    def __init__(self, path):
        self.path = Path(path)
        self._file = open(self.path, "a", encoding="utf-8")

    def write(self, index: int, key, scores: dict) -> None:
        self._file.write(json.dumps({"index": index, "key": _key_to_json(key), "scores": scores}) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "PartWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _part_rows(path: Path) -> Iterator[Tuple[int, int, object, dict]]:
    """(byte offset, index, key, scores) of every row of a part file."""
    offset = 0
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            start, offset = offset, offset + len(line)
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                yield start, int(row["index"]), _key_from_json(row["key"]), row["scores"]
            except (ValueError, KeyError, TypeError):
                raise OutputFileError(f"{path}:{n} is not a row of a part file; remove the parts and start again "
                                      "(--overwrite)") from None


def read_part(path) -> Iterator[Tuple[int, object, dict]]:
    """(index, key, scores) of every row of a part file."""
    for _, index, key, scores in _part_rows(Path(path)):
        yield index, key, scores


def prepare(ctx, output, *, resume: bool, overwrite: bool, fmt: str, key_columns: Sequence[str],
            metrics: Sequence[str]) -> Set:
    """Make ``output`` and the part files ready and return the keys already scored (a collective).

    Every process checks the same files before any is changed, so a refusal happens on all of them.
    """
    output = Path(output)
    parts = part_files(output)
    has_output = has_results(output)
    if resume and fmt == "table":
        raise ShardingError("--resume needs --format csv or jsonl (the table format is for reading, not resuming)")
    if not (resume or overwrite):
        if has_output:
            raise ShardingError(f"{output} exists: add --resume to continue it or --overwrite to replace it")
        if parts:
            raise ShardingError(f"{output} has {len(parts)} part file(s) of an interrupted run ({parts[0].name}, ...): "
                                "add --resume to continue it or --overwrite to start again")
    if ctx.is_main:
        output.parent.mkdir(parents=True, exist_ok=True)
        for path in ([output] if has_output else []) + parts:
            if overwrite and not resume:
                path.unlink()
            else:
                drop_partial_last_line(str(path))
    ctx.barrier()
    part_path(output, ctx.rank).touch()
    ctx.barrier()
    missing = [part_path(output, r) for r in range(ctx.world) if not part_path(output, r).exists()] if ctx.is_main else []
    if ctx.any(bool(missing)):
        where = f" (missing: {', '.join(str(p) for p in missing[:3])})" if missing else ""
        raise ShardingError(f"process 0 cannot see the part files of every process{where}: the folder of {output} "
                            "must be shared by every machine (a network or cluster file system)")
    if not resume:
        return set()
    try:
        done = completed_keys(str(output), fmt, key_columns, metrics)
        for part in part_files(output):
            done.update(key for _, key, _ in read_part(part))
    except OutputFileError as exc:
        raise ShardingError(str(exc)) from None
    return done


def merge(output, keys: Sequence, fmt: str, key_columns: Sequence[str], metrics: Sequence[str]) -> int:
    """Append the part files' rows to ``output`` in the order of ``keys`` (the discovered inputs),
    skipping rows ``output`` already has; then remove the parts.  Returns the rows appended.

    A row whose index no longer names its key (the inputs changed between a run and its resumption)
    goes to its key's first position, or after every input if its key is gone.  Memory: three
    integers per row besides ``keys``; the rows themselves are read back from the parts one by one.
    """
    from .output import ResultWriter

    output = Path(output)
    done = completed_keys(str(output), fmt, key_columns, metrics) if fmt != "table" else set()
    parts = part_files(output)
    positions, sources, offsets = array("q"), array("q"), array("q")
    first_position: Optional[dict] = None
    for p, part in enumerate(parts):
        for offset, index, key, _ in _part_rows(part):
            if key in done:
                continue
            if not (0 <= index < len(keys) and keys[index] == key):
                if first_position is None:
                    first_position = {}
                    for i, k in enumerate(keys):
                        first_position.setdefault(k, i)
                index = first_position.get(key, len(keys))
            positions.append(index)
            sources.append(p)
            offsets.append(offset)
    # stable: rows of one position (gone inputs) keep their part and line order
    order = np.argsort(np.frombuffer(positions, dtype=np.int64), kind="stable") if positions else []
    fresh = not has_results(output)
    files = [open(part, "rb") for part in parts]
    try:
        with open(output, "w" if fresh else "a", encoding="utf-8", newline="") as stream:
            writer = ResultWriter(stream, fmt=fmt, key_columns=key_columns, metrics=metrics, header=fresh)
            for j in order:
                f = files[sources[j]]
                f.seek(offsets[j])
                row = json.loads(f.readline())
                writer.write(_key_from_json(row["key"]), row["scores"])
            stream.flush()
            os.fsync(stream.fileno())
    finally:
        for f in files:
            f.close()
    for part in parts:
        part.unlink()
    return len(order)


def merge_on_main(ctx, output, keys: Sequence, fmt: str, key_columns: Sequence[str], metrics: Sequence[str]) -> Tuple[bool, str]:
    """:func:`merge` on process 0 once every process is here; ``(ok, error)`` on every process (a collective)."""
    ctx.barrier()
    error = ""
    if ctx.is_main:
        try:
            merge(output, keys, fmt, key_columns, metrics)
        except (OSError, ValueError) as exc:  # ValueError: OutputFileError, a row that cannot be read back
            error = f"merging the parts into {output} failed: {exc}; the parts are kept, rerun with --resume"
    failed = ctx.any(bool(error))
    if failed and not error:
        error = "process 0 could not merge the parts (its message says why); rerun with --resume"
    return not failed, error
