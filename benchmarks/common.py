"""Helpers shared by the benchmark scripts: timing, hardware description, Markdown tables.

Benchmarks are scripts, not tests: run them on a quiet machine and paste their Markdown output
(which names the command, the hardware and the library versions) into ``docs/benchmarks.md``.
"""
from __future__ import annotations

import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, List, Sequence

import torch


def hardware() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {torch.get_num_threads()} torch threads, {gpu}; Python {platform.python_version()}, "
        f"torch {torch.__version__}"
    )


#: ../shared/data beside the checkout (LIVE Challenge photos, pristine photos)
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def photos(folder: Path) -> List[Path]:
    """The image files of ``folder`` (e.g. ``DATA / "pristine"``), sorted; none when it is missing."""
    from iqametrics.io import discover_images

    return discover_images([folder], recursive=False) if Path(folder).is_dir() else []


def pristine_batch(batch: int, height: int, width: int) -> torch.Tensor:
    """``batch`` pristine photos resized to height × width (antialiased bilinear), cycling through
    the set; seeded random images when ../shared/data is absent.  [batch, 3, height, width] in [0, 1]."""
    import torch.nn.functional as F

    from iqametrics.io import load_image

    paths = photos(DATA / "pristine")
    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(batch):
        if paths:
            x = load_image(paths[i % len(paths)])[None]
            x = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
        else:
            x = torch.rand(1, 3, height, width, generator=g)
        out.append(x.clamp(0, 1))
    return torch.cat(out)


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def time_call(fn: Callable[[], object], *, device="cpu", warmup: int = 1, repeat: int = 5, min_time: float = 0.0) -> float:
    """Median wall time in seconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    sync(device)
    times: List[float] = []
    total = 0.0
    while len(times) < repeat or total < min_time:
        start = time.perf_counter()
        fn()
        sync(device)
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        total += elapsed
    return statistics.median(times)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) < 1000 else f"{v:.0f}"
        return "–" if v is None else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def command_line() -> str:
    return "python " + " ".join(sys.argv)
