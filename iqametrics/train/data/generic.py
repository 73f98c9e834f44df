"""Users' own data: one CSV whose header says what it holds.

=====================  ==================  ==========================================
columns                kind                label
=====================  ==================  ==========================================
``image,mos``          NR (image -> MOS)   ``mos`` (or ``dmos``: lower is better)
``dist,ref,mos``       FR (pair -> MOS)    ``mos`` (or ``dmos``)
``ref,a,b,label``      2AFC (triplet)      ``label`` (or ``p_a``): the fraction of judges
                                           who found ``a`` closer to ``ref``, in [0, 1]
                                           (1 = A preferred, 0 = B preferred)
=====================  ==================  ==========================================

Optional columns: ``std`` (NR/FR), ``content`` (FR/2AFC: the group kept within one split;
default the reference path) and ``split`` (a split name per row: official splits). Paths are
relative to the CSV's folder, or absolute.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

from .assemble import Images, SplitOptions, finish, relkey
from .layouts import register_layout
from .records import DatasetError, ImageRecord, PairRecord, TripletRecord
from .tables import number, read_csv

#: kind -> the image columns that identify it
KIND_COLUMNS = {"2AFC": ("ref", "a", "b"), "FR": ("dist", "ref"), "NR": ("image",)}


def _find_csv(root: Path) -> Path:
    if root.is_file():
        return root
    found = sorted(root.glob("*.csv")) if root.is_dir() else []
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise DatasetError(root, f"{what} CSV files here; give the CSV itself as generic:FILE.csv")
    return found[0]


def _header_kind(table: Path, header: List[str]):
    for kind, columns in KIND_COLUMNS.items():
        if all(c in header for c in columns):
            labels = ("label", "p_a") if kind == "2AFC" else ("mos", "dmos")
            label = next((c for c in labels if c in header), None)
            if label is None:
                raise DatasetError(table, f"a {kind} CSV ({','.join(columns)}) needs a label column: one of {labels}",
                                   row=1, column=labels[0])
            return kind, label
    raise DatasetError(table, f"cannot tell what the CSV holds from its header {header}: expected image,mos / "
                              "dist,ref,mos / ref,a,b,label", row=1)


@register_layout("generic", kind="")
def read_generic(root: Path, *, higher_is_better: Optional[bool] = None, score_range=None, split_seed: int = 0,
                 split_ratios=None, on_missing: str = "error"):
    """A CSV of your own: ``image,mos`` (NR), ``dist,ref,mos`` (FR) or ``ref,a,b,label`` (2AFC).

    ``root`` is the CSV file (or a folder holding exactly one). A ``dmos`` column means lower is
    better unless ``higher_is_better`` says otherwise; ``score_range`` defaults to the observed
    range. A ``split`` column gives the splits; without one they are stable (by content for FR
    and 2AFC).
    """
    opts = SplitOptions(split_seed, split_ratios, on_missing)
    table = _find_csv(root)
    rows = read_csv(table)
    header = list(rows[0][1]) if rows else []
    if not rows:
        raise DatasetError(table, "holds no rows")
    kind, label = _header_kind(table, header)
    images = Images(table.parent, on_missing=on_missing)
    base = table.parent
    records = []
    first_row: Dict[str, int] = {}  # key -> the row that listed it
    official: Dict[str, List[int]] = {}
    for line, row in rows:
        paths = {c: images.get(row[c], table, line, c) for c in KIND_COLUMNS[kind]}
        if None in paths.values():
            continue
        value = number(row[label], table, line, label)
        std = number(row["std"], table, line, "std") if row.get("std") else None
        if kind == "NR":
            record = ImageRecord(key=relkey(paths["image"], base), path=paths["image"], mos=value, std=std)
        elif kind == "FR":
            record = PairRecord(key=relkey(paths["dist"], base), dist=paths["dist"], ref=paths["ref"], mos=value,
                                content=row.get("content") or relkey(paths["ref"], base), std=std)
        else:
            if not 0.0 <= value <= 1.0:
                raise DatasetError(table, f"expected the fraction for A in [0, 1], got {row[label]!r}", row=line,
                                   column=label)
            keys = [relkey(paths[c], base) for c in ("ref", "a", "b")]
            record = TripletRecord(key=",".join(keys), ref=paths["ref"], a=paths["a"], b=paths["b"], p_a=value,
                                   content=row.get("content") or keys[0])
        if record.key in first_row:
            # a second row for one image (pair, triplet) would weigh it twice in training and
            # collapse into one entry of the per-image predictions; with another label it is ambiguous
            raise DatasetError(table, f"{record.key!r} is listed twice (first at row {first_row[record.key]}); "
                                      "give each one row (average repeated ratings first)", row=line)
        first_row[record.key] = line
        if "split" in row:
            if not row["split"]:
                raise DatasetError(table, "empty split name", row=line, column="split")
            official.setdefault(row["split"], []).append(len(records))
        records.append(record)
    values = [r.label for r in records]
    hib = (label != "dmos") if higher_is_better is None else bool(higher_is_better)
    if score_range is None:
        score_range = (0.0, 1.0) if kind == "2AFC" else (min(values, default=0.0), max(values, default=0.0))
    return finish("generic", kind, records, root=base, higher_is_better=hib, score_range=score_range,
                  licence="", options=opts, official=official or None,
                  notes=[f"labels: {label} of {table.name}"], skipped=images.skipped)
