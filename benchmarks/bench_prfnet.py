"""Throughput of PRFNet (triplets per second) on 512×512 triplets, split into its two parts.

PRFNet is a reconstruction with no published weights and no other implementation, so the table
compares its inference configurations with each other: the default 3×3 tiling of 384-pixel
crops (9 crops of a 512×512 image), a single 512-pixel crop (the whole image), and the share of
the Res2Net backbone (3 images per crop) against the comparison part (cross subtract, fusion,
head, run for both orderings).  Weights do not change the speed: ``pretrained=False``.

    python benchmarks/bench_prfnet.py                    # CPU
    python benchmarks/bench_prfnet.py --device cuda --batch 8
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import iqametrics  # noqa: E402
from benchmarks.common import command_line, hardware, markdown_table, reference_photos, time_call  # noqa: E402


def _triplets(batch: int, size: int, device) -> tuple:
    """Pristine photos (noise when absent) and two blurred copies of each."""
    ref = reference_photos(batch, size, size, torch.Generator().manual_seed(0))
    blur = lambda k: F.avg_pool2d(ref, k, stride=1, padding=k // 2, count_include_pad=False)  # noqa: E731
    return ref.to(device), blur(3).to(device), blur(7).to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=1, help="triplets per call")
    parser.add_argument("--size", type=int, default=512, help="side of the square images")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    ref, a, b = _triplets(args.batch, args.size, device)

    torch.manual_seed(0)
    m = iqametrics.create("prfnet", pretrained=False, device=device)
    rows = []
    for crop_size in (384, args.size):
        m.crop_size = crop_size
        m.min_size = (crop_size, crop_size)
        crops = len(m.crop_positions(args.size, args.size))
        with torch.inference_mode():
            s = crop_size
            images = torch.cat([ref, a, b])[..., :s, :s]
            stages = m.net.features(images)
            n = args.batch
            f_ref, f_a, f_b = zip(*(st.split(n) for st in stages))
            both = lambda u, v: [torch.cat(pair) for pair in zip(u, v)]  # noqa: E731
            cpu_start = time.process_time()
            t_total = time_call(lambda: m.prefer(ref, a, b), device=device, repeat=args.repeat)
            # CPU seconds of this process per call (warm-up included): robust to other jobs sharing the cores
            cpu_total = (time.process_time() - cpu_start) / (args.repeat + 1)
            t_backbone = time_call(lambda: m.net.features(images), device=device, repeat=args.repeat)
            t_compare = time_call(lambda: m.net.compare(both(f_ref, f_ref), both(f_a, f_b), both(f_b, f_a)),
                                  device=device, repeat=args.repeat)
            with FlopCounterMode(display=False) as counter:  # machine-independent cost of one crop
                m.net.compare(*(both(f, g) for f, g in ((f_ref, f_ref), (f_a, f_b), (f_b, f_a))))
                m.net.features(images)
            gflops = crops * counter.get_total_flops() / 1e9 / n
        share = crops * t_backbone / t_total
        rows.append((f"{crop_size} px", crops, n, gflops, n / t_total, t_total / n, cpu_total / n, t_backbone, t_compare,
                     share))

    print(f"`{command_line()}`\n")
    print(f"{hardware()}; {args.size}×{args.size} triplets, default PRFNet (SE, shallow → deep fusion)\n")
    header = ("crops", "crops/triplet", "batch", "GFLOP/triplet", "triplets/s", "s/triplet", "CPU s/triplet", "backbone s/crop (3B images)",
              "comparison s/crop (2 orderings)", "backbone share")
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
