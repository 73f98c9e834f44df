"""Peak memory of the decoding pipeline, and the working memory per pixel of the heaviest metrics.

    python benchmarks/batching_memory.py [--count 70] [--megapixels 3] [--batch-size 16]
    python benchmarks/batching_memory.py --metrics lpips.vgg dists mad musiq [--side 512]

First form:
Writes ``count`` JPEGs of about ``megapixels`` MP, each a different size (so size buckets never
fill), and runs the grouping of :mod:`iqametrics.batching` over them without any metric (workers=0,
so everything decoded lives in the measuring process). Each configuration runs in a fresh
interpreter; the figure is the growth of the peak resident set over the interpreter after its
imports. "count-bounded" emulates the grouping before the pixel budget (up to
``max(4 * batch_size, 64)`` images waiting, batches bounded by count only) with the same code.

``--metrics``: for each metric (``pretrained=False``: random weights cost the same memory), the
growth of the peak resident set during one call on a ``side``×``side`` image (pair), after a
64×64 warm-up call, divided by the pixels of one image: what the batch budget has to allow for.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import command_line, hardware, markdown_table  # noqa: E402

_CHILD = r"""
import resource, sys
from pathlib import Path
from iqametrics import batching
from iqametrics.batching import Batch, iter_image_batches

folder, batch_size, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
paths = sorted(Path(folder).glob("*.jpg"))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if mode == "count-bounded":
    loader = batching._loader(batching._ImageFiles(paths, None), 0, False)
    keys_of = lambda i: str(paths[i])
    px = max(batching._pixels(batching.load_image(p)) for p in paths[:1])
    stream = batching._group(iter(loader), keys_of, batch_size, False, 10**15, max(4 * batch_size, 64) * px)
else:
    stream = iter_image_batches(paths, batch_size=batch_size, workers=0)
largest = 0
for record in stream:
    if isinstance(record, Batch):
        largest = max(largest, len(record))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((peak - base) / 1024, largest)
"""


_METRIC_CHILD = r"""
import resource, sys, torch
import iqametrics
name, side = sys.argv[1], int(sys.argv[2])
m = iqametrics.create(name, pretrained=False)
fr = m.kind == "FR"
g = torch.Generator().manual_seed(0)
x, y = torch.rand(1, 3, side, side, generator=g), torch.rand(1, 3, side, side, generator=g)
m(x[..., :64, :64], y[..., :64, :64]) if fr else m(x[..., :64, :64])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
m(x, y) if fr else m(x)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024 / side**2)
"""


def write_photos(folder: Path, count: int, megapixels: float) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    height = int((megapixels * 1e6 * 3 / 4) ** 0.5)
    for i in range(count):
        width = int(height * 4 / 3) + i  # every photo its own size
        y, x = np.mgrid[0:height, 0:width]
        base = ((x + y) % 256).astype(np.uint8)
        noise = rng.integers(0, 16, (height, width), dtype=np.uint8)
        image = np.stack([base, base ^ noise, noise * 8], axis=-1)
        Image.fromarray(image).save(folder / f"{i:03d}.jpg", quality=85)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=70)
    parser.add_argument("--megapixels", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--metrics", nargs="*", default=None, help="measure these metrics' working memory instead")
    parser.add_argument("--side", type=int, default=512)
    args = parser.parse_args()
    if args.metrics:
        rows = []
        for name in args.metrics:
            out = subprocess.run([sys.executable, "-c", _METRIC_CHILD, name, str(args.side)],
                                 capture_output=True, text=True, check=True)
            rows.append([name, f"{args.side}x{args.side}", f"{float(out.stdout.split()[-1]):.0f}"])
        print(command_line())
        print(hardware() + "\n")
        print(markdown_table(["metric", "image (pair)", "peak RSS growth per pixel (bytes)"], rows))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        write_photos(Path(tmp), args.count, args.megapixels)
        for mode in ("count-bounded", "pixel budget (default 8 MP)"):
            out = subprocess.run([sys.executable, "-c", _CHILD, tmp, str(args.batch_size), mode.split(" ")[0]],
                                 capture_output=True, text=True, check=True)
            peak_mb, largest = out.stdout.split()
            rows.append([mode, f"{float(peak_mb):.0f}", largest])
    print(command_line())
    print(hardware())
    print(f"{args.count} JPEGs of about {args.megapixels} MP, each its own size; batch size {args.batch_size}\n")
    print(markdown_table(["grouping", "peak RSS growth (MB)", "largest batch"], rows))


if __name__ == "__main__":
    main()
