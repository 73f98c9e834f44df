"""Throughput of TFIQA: FR pairs per second (next to DISTS, whose stages it shares) and NR images per second.

No other library implements TFIQA and no weights exist, so the table compares its variants with
DISTS on the same inputs: the FR cost over DISTS is the transformer and the second encoder pass
(TFIQA runs the distorted and the reference image as two same-shape batches so that identical
images give exactly 0; DISTS concatenates them).  NR cost is 25 crops of 224×224 through VGG16 per
image (the protocol's resize to 384×512 included).  Weights do not change the speed
(``pretrained=False``).

    python benchmarks/bench_tfiqa.py                                  # CPU, 512x384, FR batch 1 and 4, NR batch 1
    python benchmarks/bench_tfiqa.py --device cuda --fr-batches 1,16 --nr-batch 16 --amp bf16
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import iqametrics  # noqa: E402
from benchmarks.common import command_line, hardware, markdown_table, reference_photos, time_call  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", choices=("bf16", "fp16"), default=None)
    parser.add_argument("--size", default="512x384", help="WIDTHxHEIGHT")
    parser.add_argument("--fr-batches", default="1,4", help="pairs per call, comma-separated")
    parser.add_argument("--nr-batch", type=int, default=1, help="images per NR call (0: skip NR)")
    parser.add_argument("--fr-metrics", default="dists,tfiqa.fr,tfiqa.uni")
    parser.add_argument("--nr-metrics", default="tfiqa.nr,tfiqa.uni.nr")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    device = torch.device(args.device)
    rows = []
    for batch in (int(b) for b in args.fr_batches.split(",") if b):
        ref = reference_photos(batch, height, width, torch.Generator().manual_seed(0)).to(device)
        dist = (ref + 0.05 * torch.randn(ref.shape, generator=torch.Generator().manual_seed(1)).to(device)).clamp(0, 1)
        for name in args.fr_metrics.split(","):
            m = iqametrics.create(name, pretrained=False, device=device, amp=args.amp)
            seconds = time_call(lambda: m(dist, ref), device=device, repeat=args.repeat)
            rows.append((name, "FR", f"{width}×{height}", batch, args.amp or "fp32", batch / seconds, 1000 * seconds / batch))
            del m
    if args.nr_batch:
        images = reference_photos(args.nr_batch, height, width, torch.Generator().manual_seed(0)).to(device)
        for name in args.nr_metrics.split(","):
            m = iqametrics.create(name, pretrained=False, device=device, amp=args.amp)
            seconds = time_call(lambda: m(images), device=device, repeat=args.repeat)
            rows.append((name, "NR (25 crops)", f"{width}×{height}", args.nr_batch, args.amp or "fp32",
                         args.nr_batch / seconds, 1000 * seconds / args.nr_batch))
            del m

    print(f"`{command_line()}`\n")
    print(f"{hardware()}; median of {args.repeat} calls after one warm-up\n")
    print(markdown_table(("metric", "kind", "size", "batch", "precision", "images or pairs/s", "ms each"), rows))


if __name__ == "__main__":
    main()
