"""``iqa prefer``: two-alternative forced choice on (reference, A, B) triplets, CLIC's layout."""
from __future__ import annotations

import csv
from pathlib import Path

import click

from .app import DEFAULT_FR_METRIC, FORMATS, check_output, decode_mode, main, with_common
from .running import completed, metrics_for_run, run

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

    from ..batching import Failure
    from ..preference import clic_decision, label_agreement
    from ..scoring import Result

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
@with_common(formats=FORMATS + ("clic",))
def prefer_command(ref, a, b, triplets_csv, metric_names, device, batch_size, workers, max_batch_pixels, decode, fmt,
                   output, resume, overwrite, weights, metric_options, quiet):
    """Two-alternative forced choice: is A or B closer to the reference REF?

    Writes p_a (probability that A is closer), CLIC's T (0: A is closer, 1: B is) and the closer
    image. --format clic writes exactly CLIC's O,A,B,T rows without a header (the devkit's
    eval_csv.py reads them). With --triplets, a fourth column of labels (CLIC's T) is compared
    with the decisions and the agreement printed at the end.
    """
    from ..scoring import prefer_files

    check_output(output, resume, overwrite)
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
    (metric,) = metrics_for_run(None, names, "FR", device, weights, metric_options)
    writer_args = dict(fmt=fmt, key_columns=["O", "A", "B"], metrics=["T"] if fmt == "clic" else ["T", "p_a", "closer"])
    done = completed(resume, output, writer_args)
    todo = [i for i, key in enumerate(keys) if key not in done]
    labels = [labels[i] for i in todo] if labels is not None else None
    records = prefer_files([metric], [triplets[i] for i in todo], keys=[keys[i] for i in todo],
                           batch_size=batch_size, workers=workers, max_batch_pixels=max_batch_pixels,
                           decode=decode_mode(decode, [metric], quiet))
    agreements: list = []
    rows = _preference_rows(records, metric.name, labels, agreements)

    def summary():
        if labels is None or not agreements:
            return None
        return f"agreement with the labels: {sum(agreements) / len(agreements):.4f} over {len(agreements)} triplets"

    run(rows, len(todo), writer_args, output, resume, quiet, done, summary=summary)
