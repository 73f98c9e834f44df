"""Cost of each KADID-10k distortion type on a 512x384 image (iqametrics.train.distortions).

    python benchmarks/bench_distortions.py [--threads 1] [--repeat 5] [--photo PATH]

Prints a Markdown table: milliseconds per distorted image for each type (the median over
``--repeat`` rounds of its five levels, each level timed once per round), with the command and
the hardware.  The photo defaults to a pristine photo of ../shared/data, cropped to 512x384 after
shrinking; without it, a synthetic 512x384 image is used.  One torch thread by default: pair
generation scales across images (one worker per core), not inside one image.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's iqametrics
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DATA, command_line, hardware, markdown_table, time_call  # noqa: E402


def reference(photo) -> torch.Tensor:
    from iqametrics.train.distortions.pairs import load_reference

    if photo is None and (DATA / "pristine" / "Kite.jpg").is_file():
        photo = DATA / "pristine" / "Kite.jpg"
    if photo is None:
        g = torch.Generator().manual_seed(0)
        return torch.round(torch.rand(3, 384, 512, generator=g) * 255) / 255
    x = load_reference(photo, 683)  # 683 px wide for a 3:2 photo, then the central 512x384
    h, w = x.shape[-2:]
    top, left = max(0, (h - 384) // 2), max(0, (w - 512) // 2)
    return x[:, top : top + 384, left : left + 512].contiguous()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--photo", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from iqametrics.train.distortions import DISTORTIONS, distort

    ref = reference(args.photo)
    rows, total = [], 0.0
    for spec in DISTORTIONS:
        def all_levels(number=spec.number):
            for level in range(1, 6):
                distort(ref, number, level)

        ms = 1000 * time_call(all_levels, repeat=args.repeat) / 5  # warm-up round: caches, first-call allocations
        total += ms
        rows.append((spec.number, spec.name, ms))
    rows.append(("", "mean over the 25 types", total / len(DISTORTIONS)))
    print(f"Command: `{command_line()}`\n")
    print(f"Hardware: {hardware()}; image {tuple(ref.shape[-2:])[::-1]} (W, H)\n")
    print(markdown_table(("type", "name", "ms per image"), rows))


if __name__ == "__main__":
    main()
