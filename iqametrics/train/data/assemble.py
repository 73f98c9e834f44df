"""What every reader shares: finding image files named in label files, and turning records into
a :class:`LabelledSet` with official or stable splits."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from .records import DatasetError, LabelledSet
from .splits import DEFAULT_RATIOS, split_groups, stable_split

__all__ = ["Images", "SplitOptions", "finish", "relkey"]

ON_MISSING = ("error", "skip")


def relkey(path: Path, root: Path) -> str:
    """The stable id of a file: its POSIX path relative to the dataset root."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


class Images:
    """Image files named by a label file, looked up below one folder.

    Names may contain sub-folders (``"trainingImages/t1.bmp"``); ``recursive`` finds a bare name
    anywhere in the tree (PIPAL spreads its distorted images over sub-folders). Names match
    case-insensitively when the exact name is absent (TID2013 stores ``I01.BMP`` and lists
    ``i01_...``; archives unpacked on other systems change case). A missing file is an error
    naming the label file, row and column, or is skipped (``on_missing="skip"``) and counted in
    ``skipped``.
    """

    def __init__(self, folder: Path, *, on_missing: str = "error", recursive: bool = False):
        if on_missing not in ON_MISSING:
            raise ValueError(f"on_missing must be one of {ON_MISSING}, got {on_missing!r}")
        self.folder = folder
        self.on_missing = on_missing
        self.recursive = recursive
        self.skipped: List[str] = []
        self._files: Optional[Dict[str, Path]] = None
        self._dirs: Dict[str, Path] = {}
        self._children: Dict[str, "Images"] = {}

    def _index(self) -> Dict[str, Path]:
        if self._files is None:
            files: Dict[str, Path] = {}
            if self.folder.is_dir():
                if self.recursive:
                    for dirpath, dirnames, names in os.walk(self.folder):
                        dirnames.sort()
                        for name in sorted(names):
                            files.setdefault(name, Path(dirpath) / name)
                else:
                    with os.scandir(self.folder) as it:
                        for e in it:
                            (self._dirs if e.is_dir() else files)[e.name] = Path(e.path)
            for name, path in sorted(files.items()):
                files.setdefault(name.lower(), path)
            for name, path in sorted(self._dirs.items()):
                self._dirs.setdefault(name.lower(), path)
            self._files = files
        return self._files

    def find(self, name: str) -> Optional[Path]:
        if Path(name).is_absolute():
            return Path(name) if Path(name).is_file() else None
        files = self._index()
        if "/" in name and not self.recursive:
            if (self.folder / name).is_file():
                return self.folder / name
            head, rest = name.split("/", 1)
            folder = self._dirs.get(head) or self._dirs.get(head.lower())
            if folder is None:
                return None
            child = self._children.setdefault(folder.name, Images(folder))
            return child.find(rest)
        return files.get(name) or files.get(name.lower())

    def get(self, name: str, label_file: Path, row: int, column: str) -> Optional[Path]:
        """The file called ``name``; None (skipped) or :class:`DatasetError` when it is missing."""
        path = self.find(name)
        if path is not None:
            return path
        if self.on_missing == "skip":
            self.skipped.append(name)
            return None
        where = self.folder if self.folder.is_dir() else f"{self.folder} (folder missing)"
        raise DatasetError(label_file, f"image {name!r} not found in {where}", row=row, column=column)


class SplitOptions:
    """The options every reader takes for splits and missing files."""

    def __init__(self, split_seed: int = 0, split_ratios: Optional[Mapping[str, float]] = None,
                 on_missing: str = "error"):
        if on_missing not in ON_MISSING:
            raise ValueError(f"on_missing must be one of {ON_MISSING}, got {on_missing!r}")
        self.seed = int(split_seed)
        self.ratios = dict(split_ratios) if split_ratios is not None else None
        self.on_missing = on_missing


def finish(name: str, kind: str, records: Sequence, *, root: Path, higher_is_better: bool,
           score_range, licence: str, options: SplitOptions, official: Optional[Mapping[str, Sequence[int]]] = None,
           notes: Sequence[str] = (), skipped: Sequence[str] = ()) -> LabelledSet:
    """A :class:`LabelledSet` with the official splits, or stable ones when there are none (or
    when ``split_ratios`` was given). FR and 2AFC records are split by content."""
    if not records:
        raise DatasetError(root, f"no {name} records found")
    notes = list(notes)
    if skipped:
        notes.append(f"skipped {len(skipped)} records whose image files are missing (e.g. {skipped[0]})")
    if official and options.ratios is None:
        splits = {s: tuple(sorted(idx)) for s, idx in official.items()}
        notes.append("splits: official (" + ", ".join(f"{s} {len(i)}" for s, i in splits.items()) + ")")
    else:
        ratios = options.ratios if options.ratios is not None else DEFAULT_RATIOS
        keys = [r.key for r in records]
        groups = split_groups(records, kind)
        splits = stable_split(keys, ratios, seed=options.seed, groups=groups)
        by = "content" if groups is not None else "file"
        notes.append(f"splits: stable by {by}, seed {options.seed}, ratios {dict(ratios)}")
    return LabelledSet(name=name, kind=kind, records=tuple(records), splits=splits,
                       higher_is_better=higher_is_better, score_range=tuple(float(v) for v in score_range),
                       root=root, licence=licence, notes=tuple(notes))
