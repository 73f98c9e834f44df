"""Throughput of VIF, VIFp, NLPD and MAD on CPU: iqametrics against pyiqa and piq, same inputs, same run.

Run in an environment that has the peers (they are optional; missing ones are reported as such):

    PYTHONPATH=. /work/scratch/peers/bin/python benchmarks/bench_vif_nlpd_mad.py [--threads N] [--budget S]

Prints a Markdown table (images per second, higher is better) with the command and the hardware.
Inputs are a photo from ../shared/data (resized to each size; a smooth synthetic image when the
data is absent) and a JPEG-compressed copy of it.  A peer configuration whose estimated time
exceeds ``--budget`` seconds (pyiqa's MAD) is measured on batch 1 only and marked as skipped;
ours is always measured (a single timed call when one call exceeds the budget).
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, command_line, hardware, markdown_table, photos, time_call  # noqa: E402

import iqametrics  # noqa: E402
from iqametrics.io import pil_to_tensor  # noqa: E402

SIZES = ((384, 512), (768, 1024))
BATCHES = (1, 16)
METRICS = ("vif", "vifp", "nlpd", "mad")


def _photo(h: int, w: int) -> torch.Tensor:
    from PIL import Image

    files = photos(DATA / "pristine")
    if files:
        im = Image.open(files[0]).convert("RGB").resize((w, h), Image.BICUBIC)
    else:  # smooth synthetic stand-in
        yy, xx = np.mgrid[0:h, 0:w]
        arr = np.stack([np.sin(xx / 17.0 + c) * np.cos(yy / 23.0 - c) for c in range(3)], -1)
        im = Image.fromarray(((arr + 1) * 127.5).astype(np.uint8))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=20)
    buf.seek(0)
    return pil_to_tensor(im), pil_to_tensor(Image.open(buf).convert("RGB"))


def _implementations(name: str):
    impls = {}
    ours = iqametrics.create(name)
    impls["iqametrics"] = lambda d, r: ours(d, r)
    try:
        import pyiqa

        if name in ("vif", "nlpd", "mad"):
            peer = pyiqa.create_metric(name, device="cpu", as_loss=False)
            impls["pyiqa"] = lambda d, r: peer(d, r)
    except ImportError:
        pass
    try:
        import piq

        if name == "vifp":
            impls["piq"] = lambda d, r: piq.vif_p(d, r, data_range=1.0)
    except ImportError:
        pass
    return impls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--budget", type=float, default=120.0, help="seconds allowed for one timed call")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--metrics", nargs="*", default=list(METRICS))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    peers = ("pyiqa", "piq")
    rows = []
    for name in args.metrics:
        impls = _implementations(name)
        for h, w in SIZES:
            ref1, dist1 = _photo(h, w)
            single = {}
            for batch in BATCHES:
                ref = ref1[None].repeat(batch, 1, 1, 1)
                dist = dist1[None].repeat(batch, 1, 1, 1)
                rates = {}
                for impl, fn in impls.items():
                    est = single.get(impl, 0.0) * batch
                    if impl != "iqametrics" and est > args.budget:
                        rates[impl] = f"skipped (est. {est:.0f} s)"
                        continue
                    with torch.no_grad():
                        start = time.perf_counter()
                        fn(dist, ref)  # warm-up, also the estimate for slow peers
                        first = time.perf_counter() - start
                        if first * args.repeat > args.budget:
                            seconds = first
                        else:
                            seconds = time_call(lambda: fn(dist, ref), warmup=0, repeat=args.repeat)
                    if batch == 1:
                        single[impl] = seconds
                    rates[impl] = batch / seconds
                peer_rates = [v for k, v in rates.items() if k in peers and isinstance(v, float)]
                ours = rates.get("iqametrics")
                ratio = f"{ours / max(peer_rates):.2f}×" if peer_rates and isinstance(ours, float) else None
                rows.append([name, f"{w}×{h}", batch, ours, *(rates.get(p, "n/a") for p in peers), ratio])
                print(rows[-1], file=sys.stderr, flush=True)
    print(f"Command: `{command_line()}`  ")
    print(f"Hardware: {hardware()}  ")
    versions = []
    for mod in ("pyiqa", "piq"):
        try:
            versions.append(f"{mod} {__import__(mod).__version__}")
        except ImportError:
            versions.append(f"{mod} not installed")
    print(f"Peers: {', '.join(versions)}; iqametrics {iqametrics.__version__}\n")
    header = ["metric", "size", "batch", "iqametrics img/s", "pyiqa img/s", "piq img/s", "ours / fastest peer"]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
