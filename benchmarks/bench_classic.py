"""Throughput of the classic full-reference metrics: ours vs pyiqa and piq, same inputs, same run.

    /path/to/peers/python benchmarks/bench_classic.py [--metrics ssim gmsd] [--device cpu]

Prints a Markdown table (images/s from the fastest call, higher is better; the contenders run in
turn for ``--repeat`` rounds) with the command and the hardware.  pyiqa and piq are optional: a peer that is not installed, or lacks a metric, shows "–".  To add a
metric, add a row to ``METRICS``: our registered name and options, the pyiqa name and options,
and a function calling piq.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's iqametrics
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import command_line, hardware, markdown_table, time_call  # noqa: E402


@dataclass
class Entry:
    ours: str  # registered iqametrics name
    ours_options: dict = field(default_factory=dict)
    pyiqa: Optional[str] = None  # pyiqa metric name
    pyiqa_options: dict = field(default_factory=dict)
    piq: Optional[Callable] = None  # piq_module -> fn(dist, ref)


METRICS = {
    "psnr": Entry("psnr", pyiqa="psnr", piq=lambda piq: lambda d, r: piq.psnr(d, r, data_range=1.0, reduction="none")),
    "ssim": Entry("ssim", pyiqa="ssim", piq=lambda piq: lambda d, r: piq.ssim(d, r, data_range=1.0, reduction="none")),
    "ms_ssim": Entry(
        "ms_ssim", pyiqa="ms_ssim", piq=lambda piq: lambda d, r: piq.multi_scale_ssim(d, r, data_range=1.0, reduction="none")
    ),
    "gmsd": Entry("gmsd", pyiqa="gmsd", piq=lambda piq: lambda d, r: piq.gmsd(d, r, data_range=1.0, reduction="none")),
    "fsim": Entry(
        "fsim",
        pyiqa="fsim",
        pyiqa_options={"chromatic": False},
        piq=lambda piq: lambda d, r: piq.fsim(d, r, data_range=1.0, reduction="none", chromatic=False),
    ),
    "fsimc": Entry(
        "fsimc", pyiqa="fsim", piq=lambda piq: lambda d, r: piq.fsim(d, r, data_range=1.0, reduction="none", chromatic=True)
    ),
    "vsi": Entry("vsi", pyiqa="vsi", piq=lambda piq: lambda d, r: piq.vsi(d, r, data_range=1.0, reduction="none")),
}


def _try_import(name):
    try:
        return __import__(name)
    except Exception:  # noqa: BLE001 - any failure means the peer is unavailable
        return None


def _pyiqa_fn(pyiqa, entry: Entry, device):
    if pyiqa is None or entry.pyiqa is None:
        return None
    try:
        metric = pyiqa.create_metric(entry.pyiqa, device=device, as_loss=False, **entry.pyiqa_options)
    except Exception as err:  # noqa: BLE001
        print(f"pyiqa {entry.pyiqa}: unavailable ({err})", file=sys.stderr)
        return None
    return lambda d, r: metric(d, r)


def _interleaved_speeds(fns, dist, ref, device, repeat: int, round_time: float) -> dict:
    """Images/s of each contender from its fastest call, over ``repeat`` rounds run in turn.

    On a shared machine the load changes from second to second; running the contenders in turn
    (each for about ``round_time`` seconds per round) exposes them to the same conditions, and
    the fastest call is the least disturbed one.
    """
    calls = {}
    for who, fn in fns.items():
        if fn is None:
            continue

        def call(fn=fn):
            with torch.inference_mode():
                fn(dist, ref)

        call()  # warm-up: caches, thread pools
        calls[who] = call
    best = {who: float("inf") for who in calls}
    for _ in range(repeat):
        for who, call in calls.items():
            spent = 0.0
            while spent < round_time or spent == 0.0:
                seconds = time_call(call, device=device, warmup=0, repeat=1)
                best[who] = min(best[who], seconds)
                spent += seconds
    return {who: (len(dist) / best[who] if who in best else None) for who in fns}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics", nargs="+", default=list(METRICS), choices=list(METRICS))
    parser.add_argument("--sizes", nargs="+", default=["512x384", "1024x768"], help="WxH")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 16])
    parser.add_argument("--peers", nargs="+", default=["pyiqa", "piq"], choices=["pyiqa", "piq"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds in which the contenders run in turn")
    parser.add_argument("--round-time", type=float, default=0.5, help="seconds each contender runs per round")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    import iqametrics

    peers = {name: _try_import(name) for name in args.peers}
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(0)
    rows = []
    for name in args.metrics:
        entry = METRICS[name]
        ours = iqametrics.create(entry.ours, device=device, **entry.ours_options)
        fns = {"ours": ours}
        if "pyiqa" in peers:
            fns["pyiqa"] = _pyiqa_fn(peers["pyiqa"], entry, device)
        if "piq" in peers:
            fns["piq"] = entry.piq(peers["piq"]) if peers["piq"] is not None and entry.piq else None
        for size in args.sizes:
            w, h = (int(v) for v in size.lower().split("x"))
            for batch in args.batches:
                ref = torch.rand(batch, 3, h, w, generator=gen).to(device)
                noise = 0.05 * torch.randn(batch, 3, h, w, generator=gen).to(device)
                dist = (ref + noise).clamp(0, 1)
                speed = _interleaved_speeds(fns, dist, ref, device, args.repeat, args.round_time)
                peer_best = max((v for k, v in speed.items() if k != "ours" and v), default=None)
                ratio = speed["ours"] / peer_best if peer_best else None
                rows.append([name, size, batch] + [speed.get(k) for k in ["ours", *args.peers]] + [ratio])
                print(f"{name} {size} b{batch}: " + ", ".join(f"{k} {v:.3g}/s" for k, v in speed.items() if v), file=sys.stderr)
    header = ["metric", "size (WxH)", "batch", "ours (img/s)"] + [f"{p} (img/s)" for p in args.peers] + ["ours / fastest peer"]
    print(f"`{command_line()}`\n\n{hardware()}\n")
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
