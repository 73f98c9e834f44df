"""Score files with one or more metrics, streaming results as batches complete.

This is what ``iqa score``, ``iqa compare`` and ``iqa prefer`` run, usable from Python as well::

    from iqametrics.io import discover_images
    from iqametrics.scoring import score_files
    for record in score_files([iqametrics.create("musiq")], discover_images(["photos/"])):
        ...

Finding the files is the caller's job (:func:`~iqametrics.io.discover_images`,
:func:`~iqametrics.io.discover_pairs`), done once: the CLI needs the list anyway, to count
and to skip what ``--resume`` finds done.

Each yielded record is a :class:`Result` (the scores of one input under every metric) or a
:class:`~iqametrics.batching.Failure` (an input that could not be scored, with the reason).
A batch that fails inside a metric is retried one input at a time, so one bad image costs only
itself.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Iterator, Optional, Sequence, Tuple, Union

import torch

from .batching import Batch, Failure, iter_image_batches, iter_pair_batches, iter_triplet_batches
from .metric import Metric, check_min_size

__all__ = ["Result", "score_files", "compare_files", "prefer_files", "run_metrics", "resolve_decode", "DECODE_MODES"]


@dataclass
class Result:
    index: int
    key: object
    scores: Dict[str, float]


class _SizeCheck:
    """Picklable size check for decoding workers (rejects images too small for any metric)."""

    def __init__(self, metrics: Sequence[Metric]):
        self.limits = [(m.name, tuple(m.min_size)) for m in metrics]

    def __call__(self, height: int, width: int) -> None:
        for name, min_size in self.limits:
            check_min_size(name, min_size, height, width)


def _call(metric: Metric, batch: Batch) -> torch.Tensor:
    if batch.refs is None:
        return metric(batch.images)
    if batch.images_b is not None:
        return metric.prefer(batch.refs, batch.images, batch.images_b)
    return metric(batch.images, batch.refs)


def _single(batch: Batch, j: int) -> Batch:
    pick = lambda x: None if x is None else x[j : j + 1] if isinstance(x, torch.Tensor) else [x[j]]  # noqa: E731
    return Batch([batch.indices[j]], [batch.keys[j]], pick(batch.images), pick(batch.refs), pick(batch.images_b))


def _to(x, device: torch.device):
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    return [t.to(device, non_blocking=True) for t in x]


def _on_devices(batch: Batch, metrics: Sequence[Metric]) -> dict:
    """The batch on each metric's device, copied once per device (asynchronously from pinned memory)."""
    copies = {}
    for m in metrics:
        if m.device not in copies:
            copies[m.device] = Batch(batch.indices, batch.keys, _to(batch.images, m.device),
                                     None if batch.refs is None else _to(batch.refs, m.device),
                                     None if batch.images_b is None else _to(batch.images_b, m.device))
    return copies


def run_metrics(metrics: Sequence[Metric], stream: Iterable[Union[Batch, Failure]]) -> Iterator[Union[Result, Failure]]:
    """Apply every metric to every batch of ``stream``; yield results in batch order."""
    for item in stream:
        if isinstance(item, Failure):
            yield item
            continue
        try:
            on = _on_devices(item, metrics)
            columns = {m.name: _call(m, on[m.device]).float().cpu().tolist() for m in metrics}
        except Exception:  # isolate the input that breaks the batch
            for j in range(len(item)):
                one = _single(item, j)
                try:
                    scores = {m.name: float(_call(m, one).float().cpu()[0]) for m in metrics}
                except Exception as exc:  # noqa: BLE001 - reported to the user, run goes on
                    yield Failure(one.indices[0], one.keys[0], f"{type(exc).__name__}: {exc}")
                else:
                    yield Result(one.indices[0], one.keys[0], scores)
            continue
        for j, (index, key) in enumerate(zip(item.indices, item.keys)):
            yield Result(index, key, {name: values[j] for name, values in columns.items()})


DECODE_MODES = ("cpu", "gpu")


def resolve_decode(decode: str, metrics: Sequence[Metric]) -> Tuple[str, Optional[str]]:
    """The decoding that ``decode`` gives for these metrics, and why it differs when it does:
    ``"gpu"`` needs torchvision's nvJPEG and the metrics on one CUDA device, else it is ``"cpu"``."""
    if decode not in DECODE_MODES:
        raise ValueError(f"decode must be one of {DECODE_MODES}, got {decode!r}")
    if decode == "cpu":
        return "cpu", None
    devices = {m.device for m in metrics}
    if not torch.cuda.is_available() or any(d.type != "cuda" for d in devices):
        return "cpu", "decode='gpu' needs the metrics on a CUDA device: decoding on the CPU instead"
    if len(devices) > 1:
        return "cpu", "decode='gpu' needs every metric on one CUDA device: decoding on the CPU instead"
    return "gpu", None


def _apply(metrics: Sequence[Metric], kind: str, make_stream, inputs, batch_size, workers, decode, **limits):
    other = {"NR": "compare_files / `iqa compare`", "FR": "score_files / `iqa score`"}[kind]
    for m in metrics:
        if m.kind != kind:
            raise ValueError(f"{m.name} is not a {kind} metric: use {other}")
    mode, note = resolve_decode(decode, metrics)
    if note:
        warnings.warn(note, RuntimeWarning, stacklevel=3)
    on_gpu = any(m.device.type == "cuda" for m in metrics)
    stream = make_stream(
        inputs,
        batch_size=batch_size,
        workers=workers,
        mixed_sizes=all(m.accepts_mixed_sizes for m in metrics),
        check=_SizeCheck(metrics),
        pin_memory=on_gpu,
        # to a GPU, 8-bit levels: a quarter of the bytes, divided by 255 there (the same floats)
        uint8=on_gpu,
        jpeg_device=metrics[0].device if mode == "gpu" else None,
        **limits,
    )
    return run_metrics(metrics, stream)


def score_files(
    metrics: Sequence[Metric],
    files: Sequence[Union[str, Path]],
    *,
    batch_size: int = 16,
    workers=None,
    max_batch_pixels=None,
    max_image_pixels=None,
    decode: str = "cpu",
) -> Iterator[Union[Result, Failure]]:
    """Score image files with no-reference metrics (folders and globs: :func:`~iqametrics.io.discover_images`).

    ``max_batch_pixels`` and ``max_image_pixels`` bound memory (see :mod:`iqametrics.batching`
    and :func:`iqametrics.io.load_image`; defaults 8 MP per batch and 179 MP per image).
    ``decode="gpu"`` decodes JPEG files on the metrics' CUDA device (:mod:`iqametrics.jpeg`); without
    one it decodes on the CPU and warns once (a ``RuntimeWarning``).
    """
    limits = dict(max_batch_pixels=max_batch_pixels, max_image_pixels=max_image_pixels)
    return _apply(metrics, "NR", iter_image_batches, files, batch_size, workers, decode, **limits)


def compare_files(
    metrics: Sequence[Metric],
    pairs: Sequence[Tuple[Union[str, Path], Union[str, Path]]],
    *,
    batch_size: int = 16,
    workers=None,
    max_batch_pixels=None,
    max_image_pixels=None,
    decode: str = "cpu",
) -> Iterator[Union[Result, Failure]]:
    """Score ``(reference, distorted)`` file pairs with full-reference metrics (limits and ``decode``
    as in :func:`score_files`)."""
    limits = dict(max_batch_pixels=max_batch_pixels, max_image_pixels=max_image_pixels)
    return _apply(metrics, "FR", iter_pair_batches, pairs, batch_size, workers, decode, **limits)


def prefer_files(
    metrics: Sequence[Metric],
    triplets: Sequence[Tuple[Union[str, Path], Union[str, Path], Union[str, Path]]],
    *,
    keys: Optional[Sequence[object]] = None,
    batch_size: int = 16,
    workers=None,
    max_batch_pixels=None,
    max_image_pixels=None,
    decode: str = "cpu",
) -> Iterator[Union[Result, Failure]]:
    """2AFC on ``(reference, A, B)`` file triplets: each result holds, per metric, the probability
    that A is closer to the reference (``metric.prefer``).  ``keys`` name the triplets in the
    results (default: the three paths); limits and ``decode`` as in :func:`score_files`."""
    make_stream = functools.partial(iter_triplet_batches, keys=keys)
    limits = dict(max_batch_pixels=max_batch_pixels, max_image_pixels=max_image_pixels)
    return _apply(metrics, "FR", make_stream, triplets, batch_size, workers, decode, **limits)
