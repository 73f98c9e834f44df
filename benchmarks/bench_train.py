"""Training throughput of every packaged recipe: optimiser steps/s and items/s (images for NR,
pairs or triplets for FR and 2AFC, both batches of a joint task), decoding included.

    python benchmarks/bench_train.py [--device cpu] [--steps 4] [--batch-size 8] [--workers 2] [--recipes NAME ...]

Each recipe trains from scratch (``pretrained=False``, no ImageNet start) on synthetic JPEGs of its
data set's size (KonIQ 1024×768 for the NR recipes, KADID 512×384 pairs and triplets for the FR and
2AFC ones; both for a task that learns from two data sets), written
to a temporary folder, through the real pipeline: DataLoader workers decode and crop, the task
forms the batch, the trainer steps.  No validation.  The first step (worker start-up, allocator
warm-up) is not timed.  ``--batch-size`` replaces the papers' batches (96, 20) so a CPU finishes,
a joint task's second batch included;
the GPU figure uses the papers' batches (``--batch-size 0``).
"""
from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import command_line, hardware, markdown_table  # noqa: E402

SIZES = {"NR": (768, 1024), "FR": (384, 512), "2AFC": (384, 512)}  # (height, width)


def _jpegs(folder: Path, kind: str, n: int) -> str:
    """``n`` synthetic JPEGs and their labels in a layout the readers know; returns ``LAYOUT:ROOT``.
    NR: KonIQ-10k's own layout (``1024x768/`` and the sets CSV with rating counts, which TFIQA's NR
    head learns from); FR and 2AFC: generic CSVs of pairs and triplets."""
    from PIL import Image

    h, w = SIZES[kind]
    images = folder / "1024x768" if kind == "NR" else folder
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        # smooth content plus noise: JPEG sizes and decode times like photos', not like pure noise
        base = rng.uniform(0, 255, size=(h // 32, w // 32, 3)).astype(np.uint8)
        img = np.asarray(Image.fromarray(base).resize((w, h), Image.BICUBIC), dtype=np.float32)
        img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(images / f"{i:04d}.jpg", quality=90)
        rows.append(f"{i:04d}.jpg")
    if kind == "NR":
        table = folder / "koniq10k_distributions_sets.csv"
        with open(table, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["image_name", "c1", "c2", "c3", "c4", "c5", "c_total", "MOS", "SD", "set"])
            for i, r in enumerate(rows):
                counts = np.array([1 + i % 3, 2, 3 + i % 5, 2, 1 + i % 2], dtype=np.float64)
                writer.writerow([r, *(counts / counts.sum()).round(6), int(counts.sum()), 10 + i % 80, 0.5, "training"])
        return f"koniq10k:{folder}"
    table = folder / "data.csv"
    with open(table, "w", newline="") as f:
        writer = csv.writer(f)
        if kind == "2AFC":
            writer.writerow(["ref", "a", "b", "label", "split"])
            writer.writerows([(r, rows[(i + 1) % n], rows[(i + 2) % n], (i % 3) / 2, "train") for i, r in enumerate(rows)])
        else:
            writer.writerow(["dist", "ref", "mos", "split"])
            writer.writerows([(r, rows[(i + 1) % n], 1 + i % 5, "train") for i, r in enumerate(rows)])
    return f"generic:{table}"


def main():
    from iqametrics.train.config import apply_overrides
    from iqametrics.train.data import read_dataset
    from iqametrics.train.recipes import list_recipes, load_recipe
    from iqametrics.train.tasks import get_task
    from iqametrics.train.trainer import Trainer

    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=4, help="timed steps (one more is taken untimed)")
    parser.add_argument("--batch-size", type=int, default=8, help="0: the recipe's own batch")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--amp", default="", choices=["", "bf16", "fp16"])
    parser.add_argument("--recipes", nargs="*", default=None)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tables = {}
        for name in args.recipes or list_recipes():
            recipe = load_recipe(name)
            batch = args.batch_size or recipe.train.batch_size
            task = get_task(recipe.model.task)
            kind, joint_kind = task.kind, getattr(task, "joint_kind", None)
            # a joint task's second batch (TFIQA UNI's FR pairs) shrinks with --batch-size too
            joint_batch = (args.batch_size or recipe.data.joint_batch_size or batch) if joint_kind else 0
            n = batch * (args.steps + 1)
            for k, size in ((kind, n), (joint_kind, joint_batch * (args.steps + 1))):
                if k and (k, size) not in tables:
                    tables[k, size] = _jpegs(Path(tmp) / f"{k}{size}", k, size)
            recipe = apply_overrides(recipe, [
                f"train.batch_size={batch}", f"data.joint_batch_size={joint_batch}",
                f"train.max_steps={args.steps + 1}", "train.epochs=1",
                f"train.workers={args.workers}", 'data.val_split=""', "data.repeats=1", 'model.init=""',
                f'train.amp="{args.amp}"', "train.soup_seeds=[]",  # a soup's step is one member's step
            ] + (['model.task_options.labels="distortion"'] if recipe.model.task == "vtamiq" else [])
              + (["model.task_options.imagenet_backbone=false"] if "imagenet_backbone" in recipe.model.task_options else []))
            data = read_dataset(tables[kind, n])
            joint = read_dataset(tables[joint_kind, joint_batch * (args.steps + 1)]) if joint_kind else None
            stamps = []
            trainer = Trainer(recipe, data, Path(tmp) / f"run-{name}", joint_dataset=joint, device=args.device,
                              quiet=True, step_callback=lambda t, step: stamps.append(time.perf_counter()) and False)
            trainer.fit()
            seconds = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
            items = batch + joint_batch  # images (NR) or pairs (FR, 2AFC) per step
            rows.append((name, recipe.model.metric, f"{batch} + {joint_batch}" if joint_kind else batch, 1 / seconds,
                         items / seconds))
            print(f"{name}: {1 / seconds:.3g} steps/s", file=sys.stderr)
    print(f"`{command_line()}`\n\n{hardware()}, {args.workers} decoding workers, amp={args.amp or 'off'}\n")
    print(markdown_table(["recipe", "metric", "batch", "steps/s", "items/s"], rows))


if __name__ == "__main__":
    main()
