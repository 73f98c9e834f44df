"""The decoding pipeline: size buckets, mixed-size batches, failures, workers."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

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
