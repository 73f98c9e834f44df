"""LiteIQA throughput on CPU, next to BRISQUE, NIQE and MUSIQ, on 500×500 LIVE Challenge photos.

    PYTHONPATH=. python benchmarks/bench_liteiqa.py [--threads 2] [--n 16] [--repeat 5]

The first ``--n`` 500×500 photos of ``../shared/data/clive`` (seeded smooth synthetic images when
it is absent) are decoded once up front (decoding is not timed) and scored in batches of
``--batch-sizes`` by each metric (LiteIQA itself then runs one 500×500 photo per forward pass on
CPU, its default); speed does not depend on the weights, so the learned models are built with
``pretrained=False``.  LiteIQA is timed as registered (float32, channels-last) and with contiguous
tensors and CPU bf16 autocast, which change its speed (and, for bf16, its scores a little:
docs/models/liteiqa.md).  Prints a Markdown table of photos per second (best of ``--repeat``
passes over the photos) and the process CPU time per photo (all threads), with the command, the
hardware and the load average (on a shared machine the wall-clock figure is only a lower bound).  The issue's goal: at least 8 photos/s
on 2 threads.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, command_line, hardware, markdown_table, photos  # noqa: E402

import iqametrics  # noqa: E402
from iqametrics.io import load_image  # noqa: E402


def load_photos(n: int) -> torch.Tensor:
    files = [p for p in photos(DATA / "clive" / "images")]
    images = []
    for path in files:
        img = load_image(path)
        if tuple(img.shape[-2:]) == (500, 500):
            images.append(img)
        if len(images) == n:
            break
    while len(images) < n:  # no shared data: smooth synthetic stand-ins
        g = torch.Generator().manual_seed(len(images))
        low = torch.rand(1, 3, 32, 32, generator=g)
        img = torch.nn.functional.interpolate(low, size=(500, 500), mode="bicubic", align_corners=False)[0]
        images.append((img + 0.03 * torch.randn(3, 500, 500, generator=g)).clamp(0, 1))
    return torch.stack(images)


def photos_per_second(metric, images: torch.Tensor, batch_size: int, repeat: int):
    """(photos per wall second, process CPU seconds per photo) of the fastest of ``repeat`` passes.
    The CPU time (all threads) is less sensitive than the wall time to other work on a shared machine."""
    metric(images[:batch_size])  # warm-up (allocations, kernel selection)
    best, cpu = float("inf"), float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        for chunk in images.split(batch_size):
            metric(chunk)
        wall = time.perf_counter() - start
        if wall < best:
            best, cpu = wall, time.process_time() - start_cpu
    return images.shape[0] / best, cpu / images.shape[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n", type=int, default=16, help="photos per timed pass")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-peers", action="store_true", help="time LiteIQA only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = load_photos(args.n)

    contenders = [
        ("liteiqa", "float32, channels_last (default)", dict()),
        ("liteiqa", "float32, contiguous", dict(channels_last=False)),
        ("liteiqa", "bf16 autocast, channels_last", dict(amp="bf16")),
        ("liteiqa", "bf16 autocast, contiguous", dict(amp="bf16", channels_last=False)),
    ]
    if not args.no_peers:
        contenders += [("brisque", "", {}), ("niqe", "", {}), ("musiq", "float32", {})]
    rows = []
    for name, variant, options in contenders:
        metric = iqametrics.create(name, pretrained=False, **options)
        for batch in args.batch_sizes:
            rate, cpu = photos_per_second(metric, images, batch, args.repeat)
            rows.append((name, variant, batch, rate, cpu))
            print(f"{name} {variant} batch {batch}: {rate:.2f} photos/s, {cpu:.3f} CPU s/photo", file=sys.stderr, flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Command: `{command_line()}`\n\nHardware: {hardware()}; load average {load:.1f} at the end\n")
    print(markdown_table(("metric", "variant", "batch", "photos/s (500×500)", "CPU s / photo"), rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
