"""Throughput of iqametrics' HyperIQA and PyramidIQA against pyiqa's HyperIQA, in the same run.

Every model scores the same batch of random images (default 16 images of 512×384, 25 crops of
224 each, all crops in one forward pass) with random weights (throughput does not depend on them).
Our pipeline includes its PIL-style resize to 512×384 (height × width) and crop extraction;
pyiqa's takes its 25 crops from the native image.  pyiqa (PolyForm-Noncommercial) is only run,
from a separate environment; without it the pyiqa row is skipped.

    PYTHONPATH=. python benchmarks/bench_hyperiqa.py                       # CPU, batch 16, 25 crops
    PYTHONPATH=. python benchmarks/bench_hyperiqa.py --device cuda --amp bf16 --channels-last

Prints a Markdown table with the command, hardware and versions for ``docs/benchmarks.md``.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command_line, hardware, markdown_table, time_call  # noqa: E402

_AMP = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _pyiqa_model(crops: int):
    try:
        import timm
        from pyiqa.archs import hypernet_arch
    except ImportError:
        return None
    create = timm.create_model

    def no_download(name, pretrained=False, **kwargs):  # pyiqa asks timm for ImageNet weights
        return create(name, pretrained=False, **kwargs)

    timm.create_model = no_download
    try:
        return hypernet_arch.HyperNet(pretrained=False, num_crop=crops).eval()
    finally:
        timm.create_model = create


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--crops", type=int, default=25, help="crops per image (a square for our grid)")
    parser.add_argument("--height", type=int, default=384)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--amp", choices=sorted(_AMP), default="none", help="autocast dtype on CUDA")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-pyiqa", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import iqametrics

    device = torch.device(args.device)
    amp = _AMP[args.amp] if device.type == "cuda" else None
    g = torch.Generator().manual_seed(0)
    images = torch.rand(args.batch, 3, args.height, args.width, generator=g).to(device)

    options = dict(num_crops=args.crops, channels_last=args.channels_last, amp=args.amp if amp else None)
    runs = [(f"iqametrics {name}", iqametrics.create(name, device=device, pretrained=False, **options))
            for name in ("hyperiqa", "pyramidiqa")]
    peer = None if args.no_pyiqa else _pyiqa_model(args.crops)
    if peer is not None:
        peer = peer.to(device)
        if args.channels_last:
            peer = peer.to(memory_format=torch.channels_last)

        def run_peer(model=peer):
            ctx = torch.autocast("cuda", dtype=amp) if amp else contextlib.nullcontext()
            with torch.inference_mode(), ctx:
                x = images.contiguous(memory_format=torch.channels_last) if args.channels_last else images
                return model(x)

        import pyiqa

        runs.insert(0, (f"pyiqa {pyiqa.__version__} hyperiqa", run_peer))

    rows, base = [], None
    for name, fn in runs:
        seconds = time_call(lambda: fn(images) if isinstance(fn, torch.nn.Module) else fn(), device=device,
                            warmup=args.warmup, repeat=args.repeat)
        ips = args.batch / seconds
        base = base or (ips if name.startswith("pyiqa") else None)
        rows.append((name, ips, 1000 * seconds / args.batch, f"{ips / base:.2f}×" if base else "–"))

    print(f"Command: `{command_line()}`  ")
    print(f"Hardware: {hardware()}  ")
    print(
        f"Input: {args.batch} images of {args.width}×{args.height}, {args.crops} crops of 224 each, "
        f"device {device}, amp {args.amp if amp else 'off'}, channels_last {args.channels_last}; "
        f"median of {args.repeat} runs after {args.warmup} warm-up.\n"
    )
    print(markdown_table(["implementation", "images/s", "ms/image", "vs pyiqa"], rows))


if __name__ == "__main__":
    main()
