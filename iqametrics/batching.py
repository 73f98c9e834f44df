"""Decode images in DataLoader worker processes and group them into batches.

Inputs are single images, ``(reference, distorted)`` pairs or 2AFC ``(reference, A, B)``
triplets; pairs and triplets share one loader (tuples of files).  Two groupings:

* ``mixed_sizes=True``: consecutive images form a batch whatever their sizes (for metrics that
  take a list of differently sized images in one forward pass: MUSIQ, VTAMIQ);
* ``mixed_sizes=False``: images are bucketed by size; a bucket is emitted when it is full, and
  when too many pixels wait in partial buckets the largest one is emitted early, so memory stays
  bounded on folders where every photo has its own size.

Memory is bounded by pixels, not image counts (a pixel is one H×W position of one image; a
pair counts both images; a decoded pixel takes 12 bytes, float32 RGB):

* a batch holds at most ``batch_size`` images and at most ``max_batch_pixels`` pixels
  (:data:`DEFAULT_MAX_BATCH_PIXELS`, 8 MP); an image larger than that is a batch of its own;
* partial buckets waiting for images of their size hold at most ``4 × max_batch_pixels``;
* the DataLoader has at most ``2 × workers`` decoded inputs in flight (``prefetch_factor=2``),
  each at most the per-image limit of :func:`iqametrics.io.max_image_pixels`.

So decoded images take at most ``12 B × (5 × max_batch_pixels + 2 × workers × largest input +
one input being grouped)``: for 12 MP photos with 4 workers about 0.5 GB + 1.3 GB (pairs: 0.5 GB
+ 2.6 GB).  The metric's own working memory grows with the batch's pixels: a full batch of 8 MP
is 4 MP of pairs, about 5 GB for DISTS or LPIPS-VGG on CPU (1.2-1.3 KB per pixel of a pair) and
7.6 GB for MAD (1.9 KB, float64; ``benchmarks/batching_memory.py``), which is what the default is
sized for on a 16 GB machine.  One input's working memory cannot be split: a single 12 MP pair
through DISTS needs about 14 GB whatever the budget.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from .io import ImageDecodeError, load_image, parse_pixel_count
from .jpeg import EncodedJpeg, decode_batch, read_encoded

__all__ = ["Batch", "Failure", "iter_image_batches", "iter_pair_batches", "iter_triplet_batches", "DEFAULT_MAX_BATCH_PIXELS"]

#: pixels per batch (pairs count both images): 8 MP of pairs fits DISTS / LPIPS-VGG on a 16 GB machine
DEFAULT_MAX_BATCH_PIXELS = 8_000_000
#: partial buckets may hold this many times the batch budget while they wait for same-size images
PENDING_BATCHES = 4
#: decoded inputs each DataLoader worker may have ready ahead of the grouping
PREFETCH_FACTOR = 2


@dataclass
class Batch:
    """Images ready for a metric: ``images`` is a [B,3,H,W] tensor or a list of [3,H,W] tensors.

    For pairs, ``images`` holds the distorted images and ``refs`` the references.
    ``keys`` identify the inputs (paths as strings; pairs as ``(ref, dist)`` tuples) and
    ``indices`` their positions in the input list.
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
    """Decodes in the worker; with ``uint8`` the 8-bit levels (the metric's device converts them),
    with ``encoded_jpegs`` RGB/grey JPEGs stay encoded (:class:`~iqametrics.jpeg.EncodedJpeg`)."""

    def __init__(self, items: Sequence, check: Optional[Callable[[int, int], None]], max_image_pixels=None,
                 uint8: bool = False, encoded_jpegs: bool = False):
        self.items = list(items)
        self.check = check
        self.max_image_pixels = max_image_pixels
        self.dtype = torch.uint8 if uint8 or encoded_jpegs else torch.float32
        self.encoded_jpegs = encoded_jpegs

    def __len__(self) -> int:
        return len(self.items)

    def _load(self, path):
        image = read_encoded(path, self.max_image_pixels) if self.encoded_jpegs else None
        if image is None:
            image = load_image(path, max_pixels=self.max_image_pixels, dtype=self.dtype)
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

    def __init__(self, items: Sequence, check, order: Sequence[int], max_image_pixels=None, uint8: bool = False,
                 encoded_jpegs: bool = False):
        super().__init__(items, check, max_image_pixels, uint8, encoded_jpegs)
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
        prefetch_factor=PREFETCH_FACTOR if workers > 0 else None,
        persistent_workers=False,
    )


def _shape_key(item) -> tuple:
    if isinstance(item, tuple):
        return tuple(tuple(t.shape) for t in item)
    return tuple(item.shape)


def _pixels(item) -> int:
    images = item if isinstance(item, tuple) else (item,)
    return sum(int(t.shape[-2]) * int(t.shape[-1]) for t in images)


def _stack(tensors: List[Tensor], pin: bool) -> Tensor:
    if pin and tensors[0].device.type == "cpu":
        # straight into page-locked memory, so that the copy to the GPU can be asynchronous
        out = torch.empty((len(tensors), *tensors[0].shape), dtype=tensors[0].dtype, pin_memory=True)
        return torch.stack(tensors, out=out)
    return torch.stack(tensors)


def _make_batch(entries, keys_of, stack: Optional[bool] = None, pin: bool = False) -> Batch:
    """A batch of ``entries`` (index, item); stacked when ``stack`` (default: when all sizes agree),
    into pinned memory when ``pin``."""
    indices = [i for i, _ in entries]
    items = [x for _, x in entries]
    if stack is None:
        stack = len({_shape_key(x) for x in items}) == 1
    keys = [keys_of(i) for i in indices]
    if isinstance(items[0], tuple):  # pairs or triplets: one Batch field per tuple position
        columns = [list(column) for column in zip(*items)]
        return Batch(indices, keys, *(_stack(c, pin) if stack else c for c in columns))
    return Batch(indices, keys, _stack(items, pin) if stack else items)


class _DeviceJpegs:
    """Decodes the :class:`~iqametrics.jpeg.EncodedJpeg` items of a batch in one call on ``device``
    (the rest of the batch is moved there); inputs that cannot be decoded become failures."""

    def __init__(self, device):
        self.device = torch.device(device)

    def __call__(self, entries):
        flat = [(n, j, x) for n, (_, item) in enumerate(entries)
                for j, x in enumerate(item if isinstance(item, tuple) else (item,))]
        encoded = [(n, j, x) for n, j, x in flat if isinstance(x, EncodedJpeg)]
        decoded = {}
        failed = {}
        if encoded:
            for (n, j, x), (image, reason) in zip(encoded, decode_batch([x for _, _, x in encoded], self.device)):
                if image is None:
                    failed.setdefault(n, f"{x.path}: {reason}" if isinstance(entries[n][1], tuple) else reason)
                decoded[n, j] = image
        kept, failures = [], []
        for n, (i, item) in enumerate(entries):
            if n in failed:
                failures.append((i, failed[n]))
                continue
            parts = [decoded[n, j] if (n, j) in decoded else x.to(self.device, non_blocking=True)
                     for j, x in enumerate(item if isinstance(item, tuple) else (item,))]
            kept.append((i, tuple(parts) if isinstance(item, tuple) else parts[0]))
        return kept, failures


def _emit(entries, keys_of, stack: Optional[bool], pin: bool, materialise):
    """The batch of ``entries`` (after ``materialise``, which may turn some into failures)."""
    if materialise is not None:
        entries, failures = materialise(entries)
        for i, reason in failures:
            yield Failure(i, keys_of(i), reason)
        if not entries:
            return
    yield _make_batch(entries, keys_of, stack, pin)


def _group(stream, keys_of, batch_size: int, mixed_sizes: bool, max_batch_pixels: int, max_pending_pixels: int,
           pin: bool = False, materialise=None):
    """Batches of at most ``batch_size`` inputs and ``max_batch_pixels`` pixels (a larger input alone);
    partial size buckets hold at most ``max_pending_pixels`` besides the input just received.

    ``materialise(entries) -> (entries, [(index, reason)])`` prepares each batch's items before they
    are stacked (GPU JPEG decoding); ``pin`` stacks CPU batches into pinned memory."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if mixed_sizes:
        pending: list = []
        pending_pixels = 0
        for i, item, error in stream:
            if error is not None:
                yield Failure(i, keys_of(i), error)
                continue
            pixels = _pixels(item)
            if pending and pending_pixels + pixels > max_batch_pixels:
                yield from _emit(pending, keys_of, None, pin, materialise)
                pending, pending_pixels = [], 0
            pending.append((i, item))
            pending_pixels += pixels
            if len(pending) == batch_size or pending_pixels >= max_batch_pixels:
                yield from _emit(pending, keys_of, None, pin, materialise)
                pending, pending_pixels = [], 0
        if pending:
            yield from _emit(pending, keys_of, None, pin, materialise)
        return
    buckets: dict = {}  # shape -> [(index, item)], all of one size
    waiting = 0  # pixels in the buckets
    for i, item, error in stream:
        if error is not None:
            yield Failure(i, keys_of(i), error)
            continue
        key, pixels = _shape_key(item), _pixels(item)
        capacity = max(1, min(batch_size, max_batch_pixels // pixels))
        bucket = buckets.setdefault(key, [])
        bucket.append((i, item))
        waiting += pixels
        if len(bucket) == capacity:
            waiting -= pixels * len(bucket)
            yield from _emit(buckets.pop(key), keys_of, True, pin, materialise)
        while waiting > max_pending_pixels:  # release the bucket that holds the most pixels
            largest = max(buckets, key=lambda k: _pixels(buckets[k][0][1]) * len(buckets[k]))
            batch = buckets.pop(largest)
            waiting -= _pixels(batch[0][1]) * len(batch)
            yield from _emit(batch, keys_of, True, pin, materialise)
    for key in sorted(buckets, key=lambda k: buckets[k][0][0]):
        yield from _emit(buckets[key], keys_of, True, pin, materialise)


def default_workers(n_items: int) -> int:
    """Worker processes for decoding: none for a handful of images, else up to 4."""
    import os

    if n_items <= 4:
        return 0
    return min(4, os.cpu_count() or 1)


def _stream(dataset, keys_of, n_items, batch_size, workers, mixed_sizes, pin_memory, max_batch_pixels, jpeg_device):
    workers = default_workers(n_items) if workers is None else workers
    budget = DEFAULT_MAX_BATCH_PIXELS if max_batch_pixels is None else parse_pixel_count(max_batch_pixels)
    # lists of mixed sizes are pinned image by image (in the loader's thread); stacked batches are
    # stacked straight into pinned memory instead, which saves a copy
    loader = _loader(dataset, workers, pin_memory and mixed_sizes)
    materialise = None if jpeg_device is None else _DeviceJpegs(jpeg_device)
    return _group(iter(loader), keys_of, batch_size, mixed_sizes, budget, PENDING_BATCHES * budget,
                  pin=pin_memory, materialise=materialise)


def iter_image_batches(
    paths: Sequence[Union[str, Path]],
    *,
    batch_size: int = 16,
    workers: Optional[int] = None,
    mixed_sizes: bool = False,
    check: Optional[Callable[[int, int], None]] = None,
    pin_memory: bool = False,
    max_batch_pixels: Optional[Union[int, str]] = None,
    max_image_pixels: Optional[Union[int, str]] = None,
    uint8: bool = False,
    jpeg_device=None,
) -> Iterator[Union[Batch, Failure]]:
    """Yield :class:`Batch` and :class:`Failure` records for image files.

    ``check(height, width)`` may raise ``ValueError`` to reject an image (e.g. too small for
    the metric); rejected images come out as failures with that message.  ``max_batch_pixels``
    (default :data:`DEFAULT_MAX_BATCH_PIXELS`; ``"8M"`` style accepted) bounds each batch and,
    four times over, the images waiting for a batch; ``max_image_pixels`` is the per-image limit
    of :func:`iqametrics.io.load_image` (images over it come out as failures).

    For a GPU: ``pin_memory`` stacks batches into page-locked memory (for ``non_blocking`` copies);
    ``uint8`` gives the 8-bit levels (uint8 tensors, 0-255) instead of floats, a quarter of the
    bytes to copy (a metric divides them by 255 on its device: the same floats); ``jpeg_device``
    (a CUDA device) decodes RGB and grey JPEGs there, batch by batch (:mod:`iqametrics.jpeg`), and
    moves the other images there too, as uint8.
    """
    paths = [Path(p) for p in paths]
    keys_of = lambda i: str(paths[i])  # noqa: E731
    dataset = _ImageFiles(paths, check, max_image_pixels, uint8, jpeg_device is not None)
    return _stream(dataset, keys_of, len(paths), batch_size, workers, mixed_sizes, pin_memory, max_batch_pixels,
                   jpeg_device)


def iter_pair_batches(
    pairs: Sequence[Tuple[Union[str, Path], Union[str, Path]]],
    *,
    batch_size: int = 16,
    workers: Optional[int] = None,
    mixed_sizes: bool = False,
    check: Optional[Callable[[int, int], None]] = None,
    pin_memory: bool = False,
    max_batch_pixels: Optional[Union[int, str]] = None,
    max_image_pixels: Optional[Union[int, str]] = None,
    uint8: bool = False,
    jpeg_device=None,
) -> Iterator[Union[Batch, Failure]]:
    """Like :func:`iter_image_batches` for ``(reference, distorted)`` file pairs (a pair's pixels count both images).

    Each :class:`Batch` holds the distorted images in ``images`` and the references in ``refs``;
    keys are ``(ref, dist)`` string tuples.
    """
    pairs = [(Path(r), Path(d)) for r, d in pairs]
    keys_of = lambda i: (str(pairs[i][0]), str(pairs[i][1]))  # noqa: E731
    files = _FileTuples(pairs, check, (1, 0), max_image_pixels, uint8, jpeg_device is not None)
    return _stream(files, keys_of, len(pairs), batch_size, workers, mixed_sizes, pin_memory, max_batch_pixels,
                   jpeg_device)


def iter_triplet_batches(
    triplets: Sequence[Tuple[Union[str, Path], Union[str, Path], Union[str, Path]]],
    *,
    keys: Optional[Sequence[object]] = None,
    batch_size: int = 16,
    workers: Optional[int] = None,
    mixed_sizes: bool = False,
    check: Optional[Callable[[int, int], None]] = None,
    pin_memory: bool = False,
    max_batch_pixels: Optional[Union[int, str]] = None,
    max_image_pixels: Optional[Union[int, str]] = None,
    uint8: bool = False,
    jpeg_device=None,
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
    files = _FileTuples(triplets, check, (1, 0, 2), max_image_pixels, uint8, jpeg_device is not None)
    return _stream(files, keys_of, len(triplets), batch_size, workers, mixed_sizes, pin_memory, max_batch_pixels,
                   jpeg_device)
