"""What ``compile=True`` (torch.compile of MUSIQ's patch encoder) gains, and what compiling costs.

    python benchmarks/bench_compile.py [--device cpu|cuda] [--amp none bf16] [--repeat 10] [--size 1024x768]

For each precision, an eager and a compiled MUSIQ with the same random weights take turns, round
after round, on the patches of one photo-sized random image (918 patches for 1024×768): the patch
encoder alone (``MUSIQNet.embed_patches``: chunks of 128 patches on CPU, 1024 on GPU) and the whole
metric on that image.  The table gives the best and the median of the rounds, the first compiled
call (compilation; ``--cold`` disables Inductor's on-disk caches so that it is compiled from
scratch) and the largest score difference between the two.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command_line, hardware, markdown_table, sync  # noqa: E402

import iqametrics  # noqa: E402


def _timed(fn, device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", nargs="+", default=["none", "bf16"], choices=["none", "bf16", "fp16"])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--size", default="1024x768", help="WxH of the image")
    parser.add_argument("--cold", action="store_true", help="no Inductor caches: compile from scratch")
    args = parser.parse_args()
    if args.cold:
        import torch._inductor.config as inductor_config

        inductor_config.force_disable_caches = True
    width, height = (int(v) for v in args.size.split("x"))
    image = torch.rand(3, height, width, generator=torch.Generator().manual_seed(0)).to(args.device)

    rows = []
    for amp in args.amp:
        options = {} if amp == "none" else {"amp": amp}
        eager = iqametrics.create("musiq", device=args.device, pretrained=False, **options)
        compiled = iqametrics.create("musiq", device=args.device, pretrained=False, compile=True, **options)
        compiled.load_state_dict(eager.state_dict())
        net_e, net_c = eager.net, compiled.net
        patches = net_e.tokenize([image]).patches
        autocast = eager._amp_context  # the metric's own autocast (none, or bf16/fp16 on this device)

        def encode(net):
            with torch.inference_mode(), autocast():
                return net.embed_patches(patches)

        compile_s = _timed(lambda: encode(net_c), args.device)
        diff_embed = (encode(net_e).float() - encode(net_c).float()).abs().max().item()
        diff_score = (eager([image]) - compiled([image])).abs().max().item()
        times = {k: [] for k in ("enc_e", "enc_c", "img_e", "img_c")}
        for _ in range(args.repeat):  # interleaved, so that load from elsewhere hits both alike
            times["enc_e"].append(_timed(lambda: encode(net_e), args.device))
            times["enc_c"].append(_timed(lambda: encode(net_c), args.device))
            times["img_e"].append(_timed(lambda: eager([image]), args.device))
            times["img_c"].append(_timed(lambda: compiled([image]), args.device))
        ms = {k: (1e3 * min(v), 1e3 * statistics.median(v)) for k, v in times.items()}
        label = "float32" if amp == "none" else amp
        rows.append([f"patch encoder, {patches.shape[0]} patches", label, *ms["enc_e"], *ms["enc_c"],
                     ms["enc_e"][0] / ms["enc_c"][0], compile_s, f"{diff_embed:.2e}"])
        rows.append([f"MUSIQ, one {width}×{height} image", label, *ms["img_e"], *ms["img_c"],
                     ms["img_e"][0] / ms["img_c"][0], None, f"{diff_score:.2e}"])
        print(f"{label}: done", file=sys.stderr, flush=True)

    print(f"Command: `{command_line()}`  \nHardware: {hardware()}; {args.repeat} interleaved rounds"
          f"{'; Inductor caches off (cold compile)' if args.cold else ''}.\n")
    header = ["what", "precision", "eager best (ms)", "eager median (ms)", "compiled best (ms)", "compiled median (ms)",
              "speed-up (best)", "first compiled call (s)", "max |Δ| eager vs compiled"]
    print(markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
