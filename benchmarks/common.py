"""Helpers shared by the benchmark scripts: timing, hardware description, Markdown tables.

Benchmarks are scripts, not tests: run them on a quiet machine and paste their Markdown output
(which names the command, the hardware and the library versions) into ``docs/benchmarks.md``.
"""
from __future__ import annotations

import contextlib
import os
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


def reference_photos(batch: int, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """[batch, 3, height, width] in [0, 1]: the pristine photos resized (antialiased bilinear), cycled;
    uniform noise from ``generator`` when ../shared/data is absent."""
    import torch.nn.functional as F

    from iqametrics import load_image

    paths = photos(DATA / "pristine")
    refs = []
    for i in range(batch):
        if paths:
            x = load_image(paths[i % len(paths)])[None]
            x = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
        else:
            x = torch.rand(1, 3, height, width, generator=generator)
        refs.append(x.clamp(0, 1))
    return torch.cat(refs)


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


def synthetic_photo(width: int, height: int, seed: int):
    """A photo-like RGB PIL image (smooth shading, shapes with edges, fine texture), the same for a
    seed on every machine: for suites that must run without ../shared/data."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    coarse = rng.random((6, 8, 3)) * 255  # smooth colour fields, as sky, walls and skin
    img = Image.fromarray(coarse.astype(np.uint8)).resize((width, height), Image.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(12):  # objects: sharp edges at several scales
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(width // 20, width // 3), rng.integers(height // 20, height // 3)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x0 + w, y0 + h], fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(1.0))
    texture = rng.normal(0.0, 6.0, (height, width, 1))  # grain, so that JPEG has detail to code
    return Image.fromarray(np.clip(np.asarray(img, dtype=np.float64) + texture, 0, 255).astype(np.uint8))


@contextlib.contextmanager
def offline():
    """Weights from the local cache only (``IQAMETRICS_OFFLINE=1``) inside the block."""
    saved = os.environ.get("IQAMETRICS_OFFLINE")
    os.environ["IQAMETRICS_OFFLINE"] = "1"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["IQAMETRICS_OFFLINE"]
        else:
            os.environ["IQAMETRICS_OFFLINE"] = saved


def create_or_seeded(name: str, device, *, cached_only: bool = False, **options):
    """``(metric, weights)``: ``name`` pretrained when its weights can be had (``cached_only``: from the
    local cache, never downloading), else with seeded random weights; ``weights`` says which."""
    import iqametrics
    from iqametrics.weights import WeightsError

    try:
        with offline() if cached_only else contextlib.nullcontext():
            metric = iqametrics.create(name, device=device, **options)
        return metric, "pretrained" if metric.info.weights else "none needed"
    except WeightsError:
        torch.manual_seed(0)
        return iqametrics.create(name, device=device, pretrained=False, **options), "random (seed 0)"
