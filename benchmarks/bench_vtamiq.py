"""Throughput of VTAMIQ (pairs per second) at 512×384 with 1024 patches, split into its two stages.

No other library implements VTAMIQ, so the table compares the variants with each other and splits
each one into patch sampling (difference maps on the device, corner draws on the CPU, patch
gather) and the network (ViT on 2 × N patches, DiffNet, head).  Weights do not change the speed:
the models are built with ``pretrained=False``.

    python benchmarks/bench_vtamiq.py                          # CPU
    python benchmarks/bench_vtamiq.py --device cuda --batch 32 # GPU, fp32
    python benchmarks/bench_vtamiq.py --device cuda --batch 32 --amp bf16
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import iqametrics  # noqa: E402
from benchmarks.common import command_line, hardware, markdown_table, pristine_batch, time_call  # noqa: E402


def _pairs(batch: int, height: int, width: int, device) -> tuple:
    """Reference photos (the pristine set when present, else noise) and noisy copies."""
    ref = pristine_batch(batch, height, width)
    dist = (ref + 0.05 * torch.randn(ref.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    return dist.to(device), ref.to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", choices=("bf16", "fp16"), default=None, help="autocast the ViT (CUDA only)")
    parser.add_argument("--batch", type=int, default=2, help="pairs per call")
    parser.add_argument("--n-patches", type=int, default=1024)
    parser.add_argument("--size", default="512x384", help="WIDTHxHEIGHT")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--metrics", nargs="+", default=["vtamiq", "vtamiq.kadis"])
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    device = torch.device(args.device)
    dist, ref = _pairs(args.batch, height, width, device)

    rows = []
    for name in args.metrics:
        torch.manual_seed(0)
        m = iqametrics.create(name, pretrained=False, device=device, n_patches=args.n_patches, amp=args.amp)
        with torch.inference_mode():
            ref_p, (dist_p,), pos, scale = m.sample_patches(ref, dist)

            def network():
                with m._amp_context():
                    return m.forward_patches(ref_p, dist_p, pos, scale)

            t_total = time_call(lambda: m(dist, ref), device=device, repeat=args.repeat)
            t_sample = time_call(lambda: m.sample_patches(ref, dist), device=device, repeat=args.repeat)
            t_net = time_call(network, device=device, repeat=args.repeat)
        b = args.batch
        rows.append((name, args.amp or "fp32", b, b / t_total, b / t_sample, b / t_net))
        del m

    print(f"`{command_line()}`\n")
    print(f"{hardware()}; {width}×{height}, {args.n_patches} patches per image\n")
    header = (
        "metric", "precision", "pairs/call", "pairs/s (end to end)", "pairs/s (sampling only)", "pairs/s (network only)"
    )
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
