"""Result writers for the CLI: table, CSV and JSON Lines, written row by row.

Every row is flushed as soon as it is written, so an interrupted run keeps what it scored;
:func:`completed_keys` reads such a file back so that ``--resume`` skips those inputs.
"""
from __future__ import annotations

import csv
import json
import math
import os
from typing import IO, Dict, Sequence, Set

__all__ = ["ResultWriter", "completed_keys", "drop_partial_last_line", "check_writable", "has_results", "FORMATS",
           "OutputFileError"]

#: "clic": CSV without a header, as the CLIC perceptual devkit reads it (``iqa prefer``)
FORMATS = ("table", "csv", "jsonl", "clic")


class OutputFileError(ValueError):
    """An output file cannot be written, or an existing one cannot be resumed (wrong format, other
    columns, unreadable)."""


def check_writable(path) -> None:
    """Refuse, before any work, an output path that cannot be written: a folder, a file without
    write permission, a folder that cannot be created or written in.

    Missing folders are created (the output would create them anyway); an existing file is opened
    for appending and left unchanged; in a new file's folder a temporary file is created and removed.
    Raises :class:`OutputFileError` with one line naming the path and the reason.
    """
    import tempfile
    from pathlib import Path

    target = Path(path)
    if target.is_dir():
        raise OutputFileError(f"cannot write {path}: it is a folder (give a file name)")

    def refuse(where: str, exc: OSError) -> OutputFileError:
        return OutputFileError(f"cannot write {path}: {where}{exc.strerror or exc}")

    folder = target.parent
    existing = next((a for a in (folder, *folder.parents) if a.exists()), None)
    if existing is not None and not existing.is_dir():
        raise OutputFileError(f"cannot write {path}: {existing} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise refuse(f"its folder {folder} cannot be created: ", exc) from None
    try:
        if target.exists():
            with open(target, "a", encoding="utf-8"):
                pass
        else:
            fd, probe = tempfile.mkstemp(dir=folder, prefix=".iqa-write-check-")
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise refuse("" if target.exists() else f"in {folder}: ", exc) from None


def _fmt(value, digits: int) -> str:
    if isinstance(value, str):  # a label column (e.g. which image `iqa prefer` found closer)
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.{digits}g}"


class ResultWriter:
    """Write one row per scored input; ``key_columns`` are ``["path"]``, ``["ref", "dist"]`` or
    ``["O", "A", "B"]``; values are numbers (or short strings)."""

    def __init__(self, stream: IO[str], fmt: str, key_columns: Sequence[str], metrics: Sequence[str], *, header: bool = True):
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
        self.stream = stream
        self.fmt = fmt
        self.key_columns = list(key_columns)
        self.metrics = list(metrics)
        self._csv = csv.writer(stream, lineterminator="\n") if fmt in ("csv", "clic") else None
        if header:
            self._header()

    def _header(self) -> None:
        columns = self.key_columns + self.metrics
        if self.fmt == "clic":
            return
        if self.fmt == "csv":
            self._csv.writerow(columns)
        elif self.fmt == "table":
            self.stream.write("  ".join(f"{m:>12}" for m in self.metrics) + "  " + "  ".join(self.key_columns) + "\n")
        self.stream.flush()

    def write(self, key, scores: Dict[str, float]) -> None:
        keys = list(key) if isinstance(key, tuple) else [key]
        values = [scores.get(m) for m in self.metrics]
        if self._csv is not None:
            self._csv.writerow(keys + [_fmt(v, 8) for v in values])
        elif self.fmt == "jsonl":
            row = dict(zip(self.key_columns, keys))
            row.update({m: (None if v is None or (isinstance(v, float) and math.isnan(v)) else v)
                        for m, v in zip(self.metrics, values)})
            self.stream.write(json.dumps(row) + "\n")
        else:
            self.stream.write("  ".join(f"{_fmt(v, 6):>12}" for v in values) + "  " + "  ".join(keys) + "\n")
        self.stream.flush()


def drop_partial_last_line(path: str) -> None:
    """A run killed mid-write can leave half a row; cut it so the row is redone.

    Reads the file from its end only (outputs of millions of rows are not loaded for this)."""
    with open(path, "rb+") as f:
        end = f.seek(0, os.SEEK_END)
        if end == 0:
            return
        f.seek(end - 1)
        if f.read(1) == b"\n":
            return
        while end > 0:
            start = max(0, end - 65536)
            f.seek(start)
            newline = f.read(end - start).rfind(b"\n")
            if newline >= 0:
                f.truncate(start + newline + 1)
                return
            end = start
        f.truncate(0)


def has_results(path) -> bool:
    """``path`` exists and is not empty: an output to resume, append to or refuse to overwrite (an
    empty file is as good as none)."""
    return os.path.exists(path) and os.path.getsize(path) > 0


def completed_keys(path: str, fmt: str, key_columns: Sequence[str], metrics: Sequence[str]) -> Set:
    """Keys already scored in an existing output file (for ``--resume``)."""
    if not has_results(path):
        return set()
    if fmt in ("table", "clic"):
        raise OutputFileError(f"--resume needs --format csv or jsonl (the {fmt} format has no header to check)")
    drop_partial_last_line(path)
    done: Set = set()
    with open(path, encoding="utf-8", newline="") as f:
        if fmt == "csv":
            reader = csv.reader(f)
            header = next(reader, None)
            expected = list(key_columns) + list(metrics)
            if header != expected:
                raise OutputFileError(f"{path} has columns {header}, but this run writes {expected}")
            for row in reader:
                if len(row) == len(expected):
                    done.add(tuple(row[: len(key_columns)]) if len(key_columns) > 1 else row[0])
        else:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    raise OutputFileError(f"{path}:{n} is not valid JSON; cannot resume from this file") from None
                missing = [c for c in list(key_columns) + list(metrics) if c not in row]
                if missing:
                    raise OutputFileError(f"{path}:{n} lacks {missing}; it was written by a run with other metrics")
                keys = tuple(row[c] for c in key_columns)
                done.add(keys if len(keys) > 1 else keys[0])
    return done
