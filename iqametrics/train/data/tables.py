"""Read the label files of IQA datasets as they are published: CSV, whitespace-separated text,
Excel ``.xlsx`` and MATLAB ``.mat``.

Every reader yields rows as ``(row_number, {column: text})`` where ``row_number`` is the line (or
spreadsheet row) a user sees when opening the file, so errors can name file, row and column.
``.xlsx`` is read with the standard library (an .xlsx file is a zip of XML parts): SPAQ and CSIQ
publish their scores only in that form, and two small tables do not justify a dependency.
"""
from __future__ import annotations

import csv
import math
import re
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple
from xml.etree import ElementTree

from .records import DatasetError

__all__ = ["Row", "require_file", "read_csv", "read_text_table", "read_xlsx", "read_table", "number",
           "integer", "require_columns", "load_mat_vector"]

Row = Tuple[int, Dict[str, str]]


def require_file(path: Path, what: str = "") -> Path:
    """``path`` if it is a file, else a :class:`DatasetError` saying what was expected there."""
    if not path.is_file():
        hint = f" ({what})" if what else ""
        raise DatasetError(path, f"file not found{hint}")
    return path


def require_columns(path: Path, header: Sequence[str], columns: Sequence[str], row: int = 1) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        raise DatasetError(path, f"missing column(s) {missing}; the header has {list(header)}", row=row,
                           column=missing[0])


def number(text, path: Path, row: int, column: str) -> float:
    """``text`` as a finite float, else a :class:`DatasetError` naming the cell."""
    try:
        value = float(str(text).strip())
    except ValueError:
        raise DatasetError(path, f"expected a number, got {text!r}", row=row, column=column) from None
    if not math.isfinite(value):
        raise DatasetError(path, f"expected a finite number, got {text!r}", row=row, column=column)
    return value


def integer(text, path: Path, row: int, column: str) -> int:
    value = number(text, path, row, column)
    if value != int(value):
        raise DatasetError(path, f"expected an integer, got {text!r}", row=row, column=column)
    return int(value)


def read_csv(path: Path, columns: Sequence[str] = (), *, fieldnames: Optional[Sequence[str]] = None) -> List[Row]:
    """Rows of a CSV file keyed by its header (or by ``fieldnames`` for a file without one).

    ``columns`` must be present in the header. A row with too few fields is an error.
    """
    require_file(path)
    rows: List[Row] = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        line = 0
        if fieldnames is None:
            header = next(reader, None)
            line = reader.line_num
            if header is None:
                raise DatasetError(path, "the file is empty (expected a header row)")
            header = [h.strip() for h in header]
        else:
            header = list(fieldnames)
        require_columns(path, header, columns, row=max(line, 1))
        for fields in reader:
            line = reader.line_num
            if not fields or all(not x.strip() for x in fields):
                continue
            if len(fields) < len(header):
                raise DatasetError(path, f"has {len(fields)} fields, expected {len(header)}", row=line,
                                   column=header[len(fields)])
            rows.append((line, {h: v.strip() for h, v in zip(header, fields)}))
    return rows


def read_text_table(path: Path, fieldnames: Sequence[str], *, min_fields: Optional[int] = None) -> List[Row]:
    """Rows of a whitespace-separated text file without header (TID2013, AVA)."""
    require_file(path)
    need = len(fieldnames) if min_fields is None else min_fields
    rows: List[Row] = []
    with open(path, encoding="utf-8-sig") as f:
        for line, text in enumerate(f, 1):
            fields = text.split()
            if not fields:
                continue
            if len(fields) < need:
                raise DatasetError(path, f"has {len(fields)} fields, expected {need}", row=line,
                                   column=fieldnames[len(fields)])
            rows.append((line, dict(zip(fieldnames, fields))))
    return rows


# --------------------------------------------------------------------------- .xlsx
_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_CELL_REF = re.compile(r"([A-Z]+)(\d+)$")


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + (ord(ch) - ord("A") + 1)
    return index - 1


def _text(node) -> str:
    return "".join(t.text or "" for t in node.iter(f"{{{_NS['m']}}}t"))


def _sheet_part(book: zipfile.ZipFile, path: Path, sheet: Optional[str]) -> str:
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    sheets = [(s.get("name"), s.get(_REL)) for s in workbook.iterfind("m:sheets/m:sheet", _NS)]
    if not sheets:
        raise DatasetError(path, "the workbook has no sheets")
    names = [n for n, _ in sheets]
    if sheet is None:
        rel_id = sheets[0][1]
    elif sheet in names:
        rel_id = dict(sheets)[sheet]
    else:
        raise DatasetError(path, f"no sheet {sheet!r} (sheets: {names})")
    rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    for rel in rels:
        if rel.get("Id") == rel_id:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else "xl/" + target
    raise DatasetError(path, f"the workbook does not say where sheet {sheet or names[0]!r} is stored")


def read_xlsx(path: Path, columns: Sequence[str] = (), *, sheet: Optional[str] = None) -> List[Row]:
    """Rows of one worksheet (the first unless ``sheet`` names one), keyed by its first non-empty row.

    Cell values come back as text, as the sheet stores them (numbers as written, e.g. ``"1600"``).
    """
    require_file(path)
    try:
        with zipfile.ZipFile(path) as book:
            part = _sheet_part(book, path, sheet)
            shared = []
            if "xl/sharedStrings.xml" in book.namelist():
                strings = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
                shared = [_text(si) for si in strings.iterfind("m:si", _NS)]
            root = ElementTree.fromstring(book.read(part))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError) as exc:
        raise DatasetError(path, f"not a readable .xlsx workbook ({exc})") from None
    grid: List[Tuple[int, Dict[int, str]]] = []
    for row in root.iterfind("m:sheetData/m:row", _NS):
        cells: Dict[int, str] = {}
        for c in row.iterfind("m:c", _NS):
            match = _CELL_REF.match(c.get("r", ""))
            if match is None:  # cells without references follow each other
                col = max(cells, default=-1) + 1
            else:
                col = _column_index(match.group(1))
            kind, v = c.get("t"), c.find("m:v", _NS)
            if kind == "inlineStr":
                value = _text(c)
            elif v is None:
                value = ""
            elif kind == "s":
                value = shared[int(v.text)]
            else:
                value = v.text or ""
            if value.strip():
                cells[col] = value.strip()
        if cells:
            grid.append((int(row.get("r", len(grid) + 1)), cells))
    if not grid:
        raise DatasetError(path, "the sheet is empty (expected a header row)")
    header_row, header_cells = grid[0]
    header = {col: name for col, name in header_cells.items()}
    require_columns(path, list(header.values()), columns, row=header_row)
    return [(r, {name: cells.get(col, "") for col, name in header.items()}) for r, cells in grid[1:]]


def read_table(path: Path, columns: Sequence[str] = (), *, sheet: Optional[str] = None) -> List[Row]:
    """A CSV or .xlsx table by its extension (a CSV export of a published .xlsx reads the same)."""
    if path.suffix.lower() == ".xlsx":
        return read_xlsx(path, columns, sheet=sheet)
    return read_csv(path, columns)


# --------------------------------------------------------------------------- .mat
def load_mat_vector(path: Path, variable: str) -> list:
    """The MATLAB variable ``variable`` of ``path`` as a flat Python list (cells of strings -> str)."""
    require_file(path)
    try:
        import scipy.io
    except ImportError:  # pragma: no cover - scipy is in the train extra
        raise ImportError('reading .mat files needs scipy: pip install "iqametrics[train]"') from None
    try:
        content = scipy.io.loadmat(str(path))
    except Exception as exc:  # noqa: BLE001 - scipy raises many types for a bad file
        raise DatasetError(path, f"not a readable .mat file ({type(exc).__name__}: {exc})") from None
    if variable not in content:
        found = sorted(k for k in content if not k.startswith("__"))
        raise DatasetError(path, f"has no variable {variable!r} (variables: {found})", column=variable)
    return [_mat_item(x) for x in content[variable].ravel()]


def _mat_item(x):
    # cell arrays hold nested object arrays: ["3.bmp"] inside [[...]]
    while hasattr(x, "dtype") and x.dtype == object and x.size == 1:
        x = x.ravel()[0]
    if hasattr(x, "dtype") and x.dtype.kind in "US":
        return str(x.ravel()[0]) if x.size else ""
    if hasattr(x, "item"):
        return x.item()
    return x

