"""Input pipeline and import cost.

    python benchmarks/bench_pipeline.py [--folder ../shared/data/clive/images] [--n 200]

Measures (1) what `import iqametrics` adds on top of `import torch` (fresh interpreters, median
of several runs), and (2) decoding throughput of the batching pipeline (images/s) with 0, 1 and
2 worker processes, without any metric, so the numbers show what decoding costs.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DATA, command_line, hardware, markdown_table  # noqa: E402


def import_seconds(code: str, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", f"import time; t=time.perf_counter(); {code}; print(time.perf_counter()-t)"],
            capture_output=True, text=True, check=True,
        )
        times.append(float(out.stdout.strip()))
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", default=str(DATA / "clive" / "images"))
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()

    torch_only = import_seconds("import torch")
    both = import_seconds("import torch; import iqametrics")
    listing = import_seconds("import torch; import iqametrics; iqametrics.list_metrics()")
    print(f"Command: `{command_line()}`  \nHardware: {hardware()}\n")
    print(markdown_table(
        ["what", "seconds (median of 7 fresh interpreters)"],
        [("import torch", torch_only), ("import torch; import iqametrics", both),
         ("... + iqametrics.list_metrics()", listing), ("added by import iqametrics", both - torch_only)],
    ))

    from iqametrics.batching import iter_image_batches
    from iqametrics.io import discover_images

    files = discover_images([args.folder])[: args.n]
    rows = []
    for workers in (0, 1, 2):
        start = time.perf_counter()
        count = sum(len(b) for b in iter_image_batches(files, batch_size=16, workers=workers) if hasattr(b, "images"))
        rows.append((workers, count, count / (time.perf_counter() - start)))
    print()
    print(markdown_table(["decoding workers", "images", "images/s"], rows))


if __name__ == "__main__":
    main()
