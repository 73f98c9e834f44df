"""How far apart MUSIQ's two resize options put the 224/384 copies of real photos.

``resize="gaussian"`` is the official TF Gaussian ScaleAndTranslate (σ = 0.5 input pixel, no
antialiasing); ``resize="bicubic"`` is PyTorch's bicubic (a = -0.75, no antialiasing), what pyiqa
uses.  For each photo and each scale the script compares the two copies in [0, 1] units (mean
absolute difference, PSNR).  Scores themselves need the trained weights (not reachable here):
see docs/models/musiq.md for the published TF-vs-pyiqa calibration outputs.

    python tools/musiq_resize_gap.py [--n-clive 100] [--n-pristine 10]
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from iqametrics.io import load_image  # noqa: E402
from iqametrics.nn.musiq_tokens import _resize, aspect_preserving_size  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-clive", type=int, default=100)
    parser.add_argument("--n-pristine", type=int, default=10)
    args = parser.parse_args()
    groups = {
        "LIVE Challenge (500×500)": sorted((DATA / "clive" / "images").iterdir())[: args.n_clive],
        "pristine (1280-6028 px)": sorted(p for p in (DATA / "pristine").iterdir() if p.suffix == ".jpg")[: args.n_pristine],
    }
    print("| photos | scale | mean abs diff | max abs diff | PSNR (dB) |\n|---|---|---|---|---|")
    for label, paths in groups.items():
        stats = {224: [], 384: []}
        for path in paths:
            x = load_image(path)
            h, w = x.shape[-2:]
            for L in stats:
                size = aspect_preserving_size(h, w, L)
                g = _resize(x * 2 - 1, size, "gaussian")
                b = _resize(x * 2 - 1, size, "bicubic")
                d = (g - b).abs() / 2  # back to [0, 1] units
                stats[L].append((d.mean().item(), d.max().item(), (d * d).mean().item()))
        for L, s in stats.items():
            mad = sum(v[0] for v in s) / len(s)
            mx = max(v[1] for v in s)
            psnr = sum(-10 * math.log10(v[2]) for v in s) / len(s)
            print(f"| {label}, {len(s)} | {L} | {mad:.4f} | {mx:.3f} | {psnr:.1f} |")
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
