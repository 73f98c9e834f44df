"""The decoding pipeline: size buckets, mixed-size batches, failures, workers."""
from __future__ import annotations

import weakref

import numpy as np
import pytest
import torch
from PIL import Image

from iqametrics import batching
from iqametrics.batching import Batch, iter_image_batches, iter_pair_batches


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    sizes = [(8, 8), (8, 12), (8, 8), (8, 12), (8, 8), (16, 8), (8, 8)]
    paths = []
    for i, (h, w) in enumerate(sizes):
        p = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    (tmp_path / "bad.png").write_text("nope")
    paths.insert(3, tmp_path / "bad.png")
    return paths


def _collect(stream):
    batches, failures = [], []
    for item in stream:
        (batches if isinstance(item, Batch) else failures).append(item)
    return batches, failures


@pytest.mark.parametrize("workers", [0, 2])
def test_buckets_by_size_and_reports_failures(files, workers):
    batches, failures = _collect(iter_image_batches(files, batch_size=2, workers=workers))
    assert [f.key.rsplit("/", 1)[-1] for f in failures] == ["bad.png"]
    assert "not a recognised image format" in failures[0].reason
    seen = sorted(i for b in batches for i in b.indices)
    assert seen == [i for i, p in enumerate(files) if p.name != "bad.png"]
    for b in batches:
        assert isinstance(b.images, torch.Tensor) and b.images.shape[0] == len(b) <= 2
        assert b.keys == [str(files[i]) for i in b.indices]


def test_mixed_sizes_keep_input_order(files):
    batches, failures = _collect(iter_image_batches(files, batch_size=3, workers=0, mixed_sizes=True))
    order = [i for b in batches for i in b.indices]
    assert order == sorted(order)
    assert any(isinstance(b.images, list) for b in batches)


def test_pending_images_stay_bounded(tmp_path):
    rng = np.random.default_rng(1)
    paths = []
    for i in range(80):  # every image its own size: buckets never fill
        p = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (8, 8 + i, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    stream = iter_image_batches(paths, batch_size=4, workers=0)
    first = next(stream)
    assert isinstance(first, Batch)  # emitted before the whole folder was read
    rest = list(stream)
    assert sum(len(b) for b in [first] + rest) == 80


def test_check_rejects_images(files):
    def no_wide(h, w):
        if w > h:
            raise ValueError("too wide")

    batches, failures = _collect(iter_image_batches(files, batch_size=4, workers=0, check=no_wide))
    assert sorted(f.reason for f in failures) == ["not a recognised image format", "too wide", "too wide"]


def test_pairs(files):
    pairs = [(files[0], files[2]), (files[1], files[4]), (files[3], files[0])]
    batches, failures = _collect(iter_pair_batches(pairs, batch_size=4, workers=0))
    assert len(failures) == 1 and "bad.png" in failures[0].reason
    keys = [k for b in batches for k in b.keys]
    assert (str(files[0]), str(files[2])) in keys
    for b in batches:
        assert b.refs is not None and len(b.refs) == len(b.images)


# ------------------------------------------------------------------------- memory bounded by pixels
def _image_files(tmp_path, shapes):
    rng = np.random.default_rng(2)
    paths = []
    for i, (h, w) in enumerate(shapes):
        p = tmp_path / f"{i:03d}.png"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return paths


@pytest.fixture
def decoded(monkeypatch):
    """Weak references to every image the pipeline decodes (workers=0: decoding happens here)."""
    refs = []
    real = batching.load_image

    def tracked(path, **kwargs):
        image = real(path, **kwargs)
        refs.append(weakref.ref(image))
        return image

    monkeypatch.setattr(batching, "load_image", tracked)

    def alive_pixels() -> int:  # decoded images something still holds (freed by reference counting)
        return sum(t.shape[-2] * t.shape[-1] for t in (r() for r in refs) if t is not None)

    return alive_pixels


def _pixels(batch):
    images = list(batch.images) + (list(batch.refs) if batch.refs is not None else [])
    return sum(int(t.shape[-2]) * int(t.shape[-1]) for t in images)


# many sizes, some larger than the batch budget on their own (60×60 = 3,600 > 2,000)
SHAPES = [(10 + 3 * (i % 11), 12 + 2 * (i % 7)) for i in range(70)] + [(60, 60)] * 3 + [(20, 20)] * 20
BUDGET = 2000


@pytest.mark.parametrize("mixed_sizes", [False, True])
def test_batches_and_queues_are_bounded_by_pixels(tmp_path, decoded, mixed_sizes):
    paths = _image_files(tmp_path, SHAPES)
    largest = max(h * w for h, w in SHAPES)
    stream = iter_image_batches(paths, batch_size=16, workers=0, mixed_sizes=mixed_sizes, max_batch_pixels=BUDGET)
    seen, peak = [], 0
    for batch in stream:
        assert isinstance(batch, Batch)
        assert len(batch) <= 16
        assert _pixels(batch) <= BUDGET or len(batch) == 1, "a batch over the budget must be split"
        # alive: the partial buckets, the input just decoded and this batch's own images
        alive = decoded()
        peak = max(peak, alive)
        assert alive <= batching.PENDING_BATCHES * BUDGET + largest + BUDGET
        seen += batch.indices
        del batch
    assert sorted(seen) == list(range(len(SHAPES)))
    assert peak > BUDGET  # the bound was exercised, not trivially met


def test_same_size_images_are_split_by_pixels(tmp_path):
    paths = _image_files(tmp_path, [(20, 20)] * 20)  # 400 px each: 5 per 2,000 px
    sizes = [len(b) for b in iter_image_batches(paths, batch_size=16, workers=0, max_batch_pixels=BUDGET)]
    assert sizes == [5, 5, 5, 5]


def test_pairs_count_both_images(tmp_path):
    paths = _image_files(tmp_path, [(20, 20)] * 12)
    pairs = list(zip(paths[:6], paths[6:]))  # 800 px per pair
    batches = list(iter_pair_batches(pairs, batch_size=16, workers=0, max_batch_pixels=BUDGET))
    assert [len(b) for b in batches] == [2, 2, 2]
    assert all(_pixels(b) <= BUDGET for b in batches)


def test_pixel_budget_validation(tmp_path):
    paths = _image_files(tmp_path, [(8, 8)])
    with pytest.raises(ValueError, match="pixel count"):
        iter_image_batches(paths, max_batch_pixels="lots")
    assert [len(b) for b in iter_image_batches(paths, workers=0, max_batch_pixels="1k")] == [1]


def test_image_over_the_per_image_limit_is_one_failure(tmp_path):
    paths = _image_files(tmp_path, [(8, 8), (40, 40), (8, 8)])
    records = list(iter_image_batches(paths, batch_size=4, workers=0, max_image_pixels=1000))
    failures = [r for r in records if not isinstance(r, Batch)]
    assert [f.index for f in failures] == [1] and "40×40" in failures[0].reason
    assert sorted(i for r in records if isinstance(r, Batch) for i in r.indices) == [0, 2]
