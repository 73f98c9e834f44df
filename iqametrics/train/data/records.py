"""Record types of labelled IQA datasets and the set that holds them.

Every reader in :mod:`iqametrics.train.data` returns a :class:`LabelledSet`: a tuple of records of
one kind (NR images, FR pairs or 2AFC triplets), the dataset's splits as index tuples, and how to
read its labels (MOS or DMOS, their range).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Optional, Sequence, Tuple, Union

__all__ = ["ImageRecord", "PairRecord", "TripletRecord", "LabelledSet", "DatasetError", "KINDS"]

KINDS = ("NR", "FR", "2AFC")


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message names the file, row and column."""

    def __init__(self, file: Union[str, Path], message: str, *, row: Optional[int] = None,
                 column: Optional[str] = None):
        where = str(file)
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")
        self.file = str(file)
        self.row = row
        self.column = column


@dataclass(frozen=True)
class ImageRecord:
    """No-reference sample: one image and its opinion score."""

    key: str  # stable id: POSIX path relative to the dataset root
    path: Path
    mos: float  # as the dataset states it (MOS or DMOS; see LabelledSet.higher_is_better)
    std: Optional[float] = None
    distribution: Optional[Tuple[float, ...]] = None  # normalised rating histogram (KonIQ 5 bins, AVA 10)

    @property
    def label(self) -> float:
        return self.mos


@dataclass(frozen=True)
class PairRecord:
    """Full-reference sample: a distorted image, its reference and the opinion score of the pair."""

    key: str
    dist: Path
    ref: Path
    mos: float
    content: str  # reference/content id: FR splits never put one content in two splits
    std: Optional[float] = None
    distribution: Optional[Tuple[float, ...]] = None
    distortion: Optional[str] = None  # distortion type as the dataset names or numbers it
    level: Optional[int] = None  # distortion level, where the dataset has levels

    @property
    def label(self) -> float:
        return self.mos


@dataclass(frozen=True)
class TripletRecord:
    """2AFC sample: which of ``a`` and ``b`` is closer to ``ref`` (or preferred)."""

    key: str
    ref: Path
    a: Path
    b: Path
    p_a: float  # fraction of judges for A, in [0, 1] (hard labels: 0 or 1)
    content: str = ""

    @property
    def label(self) -> float:
        return self.p_a


Record = Union[ImageRecord, PairRecord, TripletRecord]
_RECORD_TYPE = {"NR": ImageRecord, "FR": PairRecord, "2AFC": TripletRecord}


@dataclass(frozen=True)
class LabelledSet:
    """The records of one dataset, its splits and how to read its labels.

    ``splits`` maps a split name ("train", "val", "test", ...) to indices into ``records``;
    a split either comes from the dataset's own files (official) or from
    :func:`~iqametrics.train.data.splits.stable_split`.
    """

    name: str  # layout name, e.g. "koniq10k", "clive", "kadid10k", "generic"
    kind: str  # "NR" | "FR" | "2AFC"
    records: Tuple[Record, ...]
    splits: Mapping[str, Tuple[int, ...]]
    higher_is_better: bool  # True for MOS, False for DMOS
    score_range: Tuple[float, float]
    root: Path
    licence: str = ""  # the dataset's terms, one line (model cards quote it)
    notes: Tuple[str, ...] = field(default=())  # how labels and splits were read (for reports)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"LabelledSet.kind must be one of {KINDS}, got {self.kind!r}")
        expected = _RECORD_TYPE[self.kind]
        for record in self.records:
            if not isinstance(record, expected):
                raise TypeError(f"a {self.kind} set holds {expected.__name__}s, got {type(record).__name__}")
        n = len(self.records)
        for split, indices in self.splits.items():
            bad = [i for i in indices if not 0 <= i < n]
            if bad:
                raise ValueError(f"split {split!r} has indices outside 0..{n - 1}: {bad[:5]}")

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, i: int) -> Record:
        return self.records[i]

    @property
    def labels(self) -> Tuple[float, ...]:
        """MOS/DMOS of each record (``p_a`` for triplets), in record order."""
        return tuple(r.label for r in self.records)

    def subset(self, split: str) -> "LabelledSet":
        """Only the records of ``split`` (they form the subset's single split of that name)."""
        if split not in self.splits:
            known = ", ".join(sorted(self.splits)) or "none"
            raise KeyError(f"{self.name} has no split {split!r} (splits: {known})")
        indices = self.splits[split]
        return replace(self, records=tuple(self.records[i] for i in indices),
                       splits={split: tuple(range(len(indices)))})

    def select(self, indices: Sequence[int]) -> "LabelledSet":
        """The records at ``indices``, in that order; splits are dropped."""
        return replace(self, records=tuple(self.records[int(i)] for i in indices), splits={})
