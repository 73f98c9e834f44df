"""Decode images in DataLoader worker processes and group them into batches.

Inputs are single images, ``(reference, distorted)`` pairs or 2AFC ``(reference, A, B)``
triplets; pairs and triplets share one loader (tuples of files).  Two groupings:

* ``mixed_sizes=True``: consecutive images form a batch whatever their sizes (for metrics that
  take a list of differently sized images in one forward pass: MUSIQ, VTAMIQ);
* ``mixed_sizes=False``: images are bucketed by size; a bucket is emitted when it holds
  ``batch_size`` images, and when too many images wait in partial buckets the fullest one is
  emitted early, so memory stays bounded on folders where every photo has its own size.

Unreadable files do not stop the stream: they come out as :class:`Failure` records naming the
file and the reason, in the order they are met.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from .io import ImageDecodeError, load_image

__all__ = ["Batch", "Failure", "iter_image_batches", "iter_pair_batches", "iter_triplet_batches"]


@dataclass
class Batch:
    """Images ready for a metric: ``images`` is a [B,3,H,W] tensor or a list of [3,H,W] tensors.

    For pairs, ``images`` holds the distorted images and ``refs`` the references; for 2AFC
    triplets, ``images`` holds A, ``images_b`` holds B and ``refs`` the references.
    ``keys`` identify the inputs (paths as strings; pairs as ``(ref, dist)`` tuples, triplets
    as ``(ref, a, b)``) and ``indices`` their positions in the input list.
    """

    indices: List[int]
    keys: List[object]
    images: Union[Tensor, List[Tensor]]
    refs: Optional[Union[Tensor, List[Tensor]]] = None
    images_b: Optional[Union[Tensor, List[Tensor]]] = None

    def __len__(self) -> int:
        return len(self.indices)


@dataclass
class Failure:
    index: int
    key: object
    reason: str


class _ImageFiles(Dataset):
    def __init__(self, items: Sequence, check: Optional[Callable[[int, int], None]]):
        self.items = list(items)
        self.check = check

    def __len__(self) -> int:
        return len(self.items)

    def _load(self, path) -> Tensor:
        image = load_image(path)
        if self.check is not None:
            self.check(int(image.shape[-2]), int(image.shape[-1]))
        return image

    def __getitem__(self, i: int):
        try:
            return i, self._load(self.items[i]), None
        except (ImageDecodeError, ValueError) as exc:
            return i, None, getattr(exc, "reason", None) or str(exc)


class _FileTuples(_ImageFiles):
    """Items are tuples of paths (a pair, a triplet); ``order`` picks the item positions that
    become the :class:`Batch` fields ``images``, ``refs`` (and ``images_b``), in that order."""

    def __init__(self, items: Sequence, check: Optional[Callable[[int, int], None]], order: Sequence[int]):
        super().__init__(items, check)
        self.order = tuple(order)

    def __getitem__(self, i: int):
        paths = self.items[i]
        try:
            images = [self._load(paths[j]) for j in self.order]
        except (ImageDecodeError, ValueError) as exc:
            which = getattr(exc, "path", None)
            reason = getattr(exc, "reason", None) or str(exc)
            return i, None, f"{which}: {reason}" if which else reason
        return i, tuple(images), None


def _single_thread_worker(_):
    # decoding workers must not each start a full pool of intra-op threads
    torch.set_num_threads(1)


def _as_is(item):
    # the default conversion would turn the (index, image, error) tuples into lists
    return item


def _loader(dataset: Dataset, workers: int, pin_memory: bool):
    return DataLoader(
        dataset,
        batch_size=None,
        collate_fn=_as_is,
        shuffle=False,
        num_workers=workers,
        pin_memory=pin_memory,
        worker_init_fn=_single_thread_worker if workers > 0 else None,
        prefetch_factor=4 if workers > 0 else None,
        persistent_workers=False,
    )


def _shape_key(item) -> tuple:
    if isinstance(item, tuple):
        return tuple(tuple(t.shape) for t in item)
    return tuple(item.shape)


def _make_batch(entries, keys_of, stack: Optional[bool] = None) -> Batch:
    """A batch of ``entries`` (index, item); stacked when ``stack`` (default: when all sizes agree)."""
    indices = [i for i, _ in entries]
    items = [x for _, x in entries]
    if stack is None:
        stack = len({_shape_key(x) for x in items}) == 1
    keys = [keys_of(i) for i in indices]
    if isinstance(items[0], tuple):  # pairs or triplets: one Batch field per tuple position
        columns = [list(column) for column in zip(*items)]
        return Batch(indices, keys, *(torch.stack(c) if stack else c for c in columns))
    return Batch(indices, keys, torch.stack(items) if stack else items)


def _group(stream, keys_of, batch_size: int, mixed_sizes: bool, max_pending: int):
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if mixed_sizes:
        pending: list = []
        for i, item, error in stream:
            if error is not None:
                yield Failure(i, keys_of(i), error)
                continue
            pending.append((i, item))
            if len(pending) == batch_size:
                yield _make_batch(pending, keys_of)
                pending = []
        if pending:
            yield _make_batch(pending, keys_of)
        return
    buckets: dict = {}
    waiting = 0
    for i, item, error in stream:
        if error is not None:
            yield Failure(i, keys_of(i), error)
            continue
        key = _shape_key(item)
        buckets.setdefault(key, []).append((i, item))
        waiting += 1
        if len(buckets[key]) == batch_size:
            waiting -= batch_size
            yield _make_batch(buckets.pop(key), keys_of, stack=True)
        elif waiting > max_pending:
            fullest = max(buckets, key=lambda k: len(buckets[k]))
            waiting -= len(buckets[fullest])
            yield _make_batch(buckets.pop(fullest), keys_of, stack=True)
    for key in sorted(buckets, key=lambda k: buckets[k][0][0]):
        yield _make_batch(buckets[key], keys_of, stack=True)


def default_workers(n_items: int) -> int:
    """Worker processes for decoding: none for a handful of images, else up to 4."""
    import os

    if n_items <= 4:
        return 0
    return min(4, os.cpu_count() or 1)


def _stream(dataset, keys_of, n_items, batch_size, workers, mixed_sizes, pin_memory):
    workers = default_workers(n_items) if workers is None else workers
    loader = _loader(dataset, workers, pin_memory)
    return _group(iter(loader), keys_of, batch_size, mixed_sizes, max(4 * batch_size, 64))


def iter_image_batches(
    paths: Sequence[Union[str, Path]],
    *,
    batch_size: int = 16,
    workers: Optional[int] = None,
    mixed_sizes: bool = False,
    check: Optional[Callable[[int, int], None]] = None,
    pin_memory: bool = False,
) -> Iterator[Union[Batch, Failure]]:
    """Yield :class:`Batch` and :class:`Failure` records for image files.

    ``check(height, width)`` may raise ``ValueError`` to reject an image (e.g. too small for
    the metric); rejected images come out as failures with that message.
    """
    paths = [Path(p) for p in paths]
    keys_of = lambda i: str(paths[i])  # noqa: E731
    return _stream(_ImageFiles(paths, check), keys_of, len(paths), batch_size, workers, mixed_sizes, pin_memory)


def iter_pair_batches(
    pairs: Sequence[Tuple[Union[str, Path], Union[str, Path]]],
    *,
    batch_size: int = 16,
    workers: Optional[int] = None,
    mixed_sizes: bool = False,
    check: Optional[Callable[[int, int], None]] = None,
    pin_memory: bool = False,
) -> Iterator[Union[Batch, Failure]]:
    """Like :func:`iter_image_batches` for ``(reference, distorted)`` file pairs.

    Each :class:`Batch` holds the distorted images in ``images`` and the references in ``refs``;
    keys are ``(ref, dist)`` string tuples.
    """
    pairs = [(Path(r), Path(d)) for r, d in pairs]
    keys_of = lambda i: (str(pairs[i][0]), str(pairs[i][1]))  # noqa: E731
    files = _FileTuples(pairs, check, order=(1, 0))
    return _stream(files, keys_of, len(pairs), batch_size, workers, mixed_sizes, pin_memory)


def iter_triplet_batches(
    triplets: Sequence[Tuple[Union[str, Path], Union[str, Path], Union[str, Path]]],
    *,
    keys: Optional[Sequence[object]] = None,
    batch_size: int = 16,
    workers: Optional[int] = None,
    mixed_sizes: bool = False,
    check: Optional[Callable[[int, int], None]] = None,
    pin_memory: bool = False,
) -> Iterator[Union[Batch, Failure]]:
    """Like :func:`iter_pair_batches` for 2AFC ``(reference, A, B)`` file triplets.

    Each :class:`Batch` holds A in ``images``, B in ``images_b`` and the references in ``refs``.
    Keys are ``keys[i]`` when given (e.g. the paths as a CSV spells them), else ``(ref, a, b)``
    string tuples.
    """
    triplets = [tuple(Path(p) for p in t) for t in triplets]
    if any(len(t) != 3 for t in triplets):
        raise ValueError("triplets must be (reference, A, B) path tuples")
    if keys is not None and len(keys) != len(triplets):
        raise ValueError(f"got {len(keys)} keys for {len(triplets)} triplets")
    keys_of = (lambda i: keys[i]) if keys is not None else (lambda i: tuple(str(p) for p in triplets[i]))
    files = _FileTuples(triplets, check, order=(1, 0, 2))
    return _stream(files, keys_of, len(triplets), batch_size, workers, mixed_sizes, pin_memory)
