"""MUSIQ throughput: iqametrics vs pyiqa on a folder of mixed-size photos, in the same run.

Images: the first ``--n-clive`` LIVE Challenge photos (mostly 500×500) plus ``--n-large`` pristine
photos downscaled to a longer side of ``--large-side`` px (default 1024), decoded once up front
(decoding is not timed).  ``--size WxH`` resizes every image to one size instead (e.g. the
1024×768 GPU benchmark).  Both models have random weights (speed does not depend on them).

* iqametrics: ``create("musiq", pretrained=False)`` called on lists of ``--batch-size`` images of
  mixed sizes (one forward pass per token-budget group: padding + attention mask).
* iqametrics, one image per call: the same model without batching.
* pyiqa: ``pyiqa.archs.musiq_arch.MUSIQ`` one image per call (it cannot batch different sizes).

Run with an environment that has both iqametrics and pyiqa (pyiqa is not a dependency):

    PYTHONPATH=. /work/scratch/peers/bin/python benchmarks/bench_musiq.py
    PYTHONPATH=. /work/scratch/peers/bin/python benchmarks/bench_musiq.py --amp none bf16   # + CPU autocast
    PYTHONPATH=. python benchmarks/bench_musiq.py --device cuda --amp bf16 --size 1024x768 --batch-size 32

Prints a Markdown table with the command, the hardware and the library versions.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import iqametrics  # noqa: E402
from benchmarks.common import DATA, command_line, hardware, markdown_table, photos, sync  # noqa: E402
from iqametrics.io import load_image  # noqa: E402



def load_images(args):
    clive = photos(DATA / "clive" / "images")[: args.n_clive]
    large = photos(DATA / "pristine")[: args.n_large]
    images = [load_image(p) for p in clive]
    for p in large:
        img = load_image(p)
        h, w = img.shape[-2:]
        scale = args.large_side / max(h, w)
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        images.append(F.interpolate(img[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1))
    if args.size:
        w, h = (int(v) for v in args.size.lower().split("x"))
        images = [F.interpolate(im[None], size=(h, w), mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)
                  for im in images]
    return images


def timed(fn, device):
    """(wall seconds, process CPU seconds) of one call."""
    sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    sync(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", nargs="+", choices=["none", "bf16", "fp16"], default=["none"],
                        help="precisions to time, each for both implementations (e.g. --amp none bf16)")
    parser.add_argument("--n-clive", type=int, default=24)
    parser.add_argument("--n-large", type=int, default=8)
    parser.add_argument("--large-side", type=int, default=1024)
    parser.add_argument("--size", help="resize every image to WxH (e.g. 1024x768)")
    parser.add_argument("--batch-size", type=int, default=16, help="images per call of iqametrics")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved timed passes over the folder (best is kept)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--no-pyiqa", action="store_true")
    parser.add_argument("--no-single", action="store_true", help="skip ours with one image per call")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    images = load_images(args)
    on_device = [im.to(device) for im in images]
    sizes = sorted({f"{im.shape[-1]}×{im.shape[-2]}" for im in images})
    impls = []
    if not args.no_pyiqa:
        import pyiqa
        from pyiqa.archs.musiq_arch import MUSIQ as PyiqaMUSIQ

        theirs = PyiqaMUSIQ(pretrained=False).to(device).eval()

    for precision in args.amp:
        amp = None if precision == "none" else precision
        tag = "float32" if amp is None else amp
        ours = iqametrics.create("musiq", device=device, pretrained=False, amp=amp)
        ours(on_device[:2])  # warm-up

        def ours_batched(ours=ours):
            for i in range(0, len(on_device), args.batch_size):
                ours(on_device[i : i + args.batch_size])

        def ours_single(ours=ours):
            for im in on_device:
                ours([im])

        impls.append((f"iqametrics {tag}, lists of {args.batch_size} mixed-size images", ours_batched))
        if not args.no_single:
            impls.append((f"iqametrics {tag}, one image per call", ours_single))
        if not args.no_pyiqa:
            amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)

            @torch.inference_mode()
            def pyiqa_single(amp_dtype=amp_dtype):
                for im in on_device:
                    with torch.autocast(torch.device(device).type, dtype=amp_dtype, enabled=amp_dtype is not None):
                        theirs(im[None])

            pyiqa_single()  # warm-up
            impls.append((f"pyiqa {pyiqa.__version__} {tag} (autocast), one image per call" if amp else
                          f"pyiqa {pyiqa.__version__} {tag}, one image per call", pyiqa_single))

    # rounds interleave the implementations so that load changes on a shared machine hit all of them
    best = {label: (float("inf"), float("inf")) for label, _ in impls}
    for _ in range(args.repeat):
        for label, fn in impls:
            wall, cpu = timed(fn, device)
            best[label] = (min(best[label][0], wall), min(best[label][1], cpu))
    rows = [[label, len(images) / wall, wall, cpu / len(images)] for label, (wall, cpu) in best.items()]
    print(f"Command: `{command_line()}`\n")
    print(f"Hardware: {hardware()}; iqametrics {iqametrics.__version__}; device {device}\n")
    print(f"Images: {len(images)} ({args.n_clive} LIVE Challenge + {args.n_large} pristine photos at longer side "
          f"{args.large_side}{', all resized to ' + args.size if args.size else ''}); sizes: {', '.join(sizes)}\n")
    print(markdown_table(["implementation", "images/s", "seconds per pass (wall)", "CPU seconds per image"], rows))
    if not args.no_pyiqa:
        pyiqa_fp32 = next(label for label in best if label.startswith("pyiqa") and "float32" in label) \
            if "none" in args.amp else None
        print()
        for label, (wall, cpu) in best.items():
            if pyiqa_fp32 and label.startswith("iqametrics"):
                their_wall, their_cpu = best[pyiqa_fp32]
                print(f"- {label}: {their_wall / wall:.2f}× pyiqa float32 in wall time, {their_cpu / cpu:.2f}× less CPU time")
        print(f"\n(best of {args.repeat} interleaved rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
