"""Readers of labelled IQA datasets in their official on-disk layouts.

>>> from iqametrics.train.data import read_dataset, list_layouts
>>> koniq = read_dataset("koniq10k:/data/koniq10k")          # doctest: +SKIP
>>> test = koniq.subset("test")                              # doctest: +SKIP

Each layout reads the publisher's own files (names, columns, .mat variables) with no conversion
step; a missing or malformed file raises :class:`DatasetError` naming the file, row and column.
Splits are official where the dataset has them, else seeded and stable (:mod:`.splits`).
"""
from . import generic, inthewild, synthetic, twoafc  # noqa: F401 - register the layouts
from .layouts import Layout, get_layout, list_layouts, read_dataset, register_layout
from .records import DatasetError, ImageRecord, LabelledSet, PairRecord, TripletRecord
from .splits import DEFAULT_RATIOS, kfold, stable_split

__all__ = [
    "read_dataset", "list_layouts", "register_layout", "get_layout", "Layout",
    "ImageRecord", "PairRecord", "TripletRecord", "LabelledSet", "DatasetError",
    "stable_split", "kfold", "DEFAULT_RATIOS",
]
