"""A tiny NR model and its training task, so the trainer's mechanics are tested in seconds.

They live in a module of their own because the torchrun test's worker processes import the task
by name (``model.task = "tests.train_helpers:TinyTask"``, the hook users have for their own tasks).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch
from PIL import Image
from torch import nn

from iqametrics.config import metric_configs
from iqametrics.metric import NRMetric
from iqametrics.train.tasks.base import Task, hflip, random_seed
from iqametrics.functional.crops import crop_offsets, extract_crops
from iqametrics.io import load_image

CROP = 24


class TinyNR(NRMetric):
    """conv 3→8 → ReLU → conv 8→8 → global mean → linear: enough to learn brightness."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
        self.head = nn.Linear(8, 1)

    def forward_crops(self, x):
        return self.head(self.body(x).mean(dim=(2, 3)))[:, 0]

    def _score(self, x):
        return self.forward_crops(x)


# a config table that is never registered: the metric has its info, the registry never sees it
TinyNR.configs = metric_configs(dict(kind="NR", higher_is_better=True, score_range=(0.0, 1.0), paper="test",
                                     licence="test"), {"tiny": {}})


class TinyTask(Task):
    kind = "NR"
    option_defaults = {"flip": 0.5, "labels": "raw"}

    def build_metric(self):
        torch.manual_seed(1234)  # the same initial weights in every process
        metric = TinyNR()
        if self.recipe.model.init:
            metric.load_checkpoint(self.recipe.model.init)
        return metric

    def load(self, record, generator):
        (image,) = hflip(generator, self.options["flip"], load_image(record.path))
        offsets = crop_offsets(image.shape[-2], image.shape[-1], CROP, 1, mode="random", seed=random_seed(generator))
        return {"image": extract_crops(image, offsets, CROP)[0], "target": self.target(record)}

    def predict(self, metric, batch):
        return metric.forward_crops(batch["image"])


def write_scores_csv(folder: Path, n: int = 24) -> Path:
    """``n`` images (see :func:`write_images`) and a generic ``image,mos,split`` CSV: every fourth image validates."""
    import csv

    rows = write_images(folder / "images", n)
    table = folder / "scores.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "mos", "split"])
        for i, (name, mos) in enumerate(rows):
            w.writerow([f"images/{name}", mos, "val" if i % 4 == 0 else "train"])
    return table


def write_images(folder: Path, n: int, seed: int = 0, size: Tuple[int, int] = (40, 48)):
    """``n`` small noisy PNGs of growing brightness and their 'MOS' (the brightness); returns rows."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        level = (i + 0.5) / n
        pixels = np.clip(level * 255 + rng.normal(0, 20, size=(*size, 3)), 0, 255).astype(np.uint8)
        name = f"img{i:03d}.png"
        Image.fromarray(pixels).save(folder / name)
        rows.append((name, round(level * 100, 3)))
    return rows
