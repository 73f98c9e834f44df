"""LPIPS and DISTS throughput: iqametrics vs the official packages, pyiqa and piq, in one run.

    PYTHONPATH=. python benchmarks/bench_lpips_dists.py                 # CPU, 512x384 and 1024x768, batch 1 and 16
    PYTHONPATH=. python benchmarks/bench_lpips_dists.py --device cuda --amp bf16

Every implementation gets the same random backbone weights (ours, copied into theirs through
our converters' inverse mappings; nothing is downloaded) and the same inputs, and runs without
autograd (``torch.inference_mode``).  Pairs per second = batch / median time of one call; the
implementations are timed in turn, round after round.
Peers that are not installed are skipped.  piq's DISTS first downsamples images whose shorter
side exceeds 256 px (bilinear), so it scores smaller images than the others: its figures are
shown but not used as the reference for the ``ours / fastest`` column.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
from typing import Callable, Dict, Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import command_line, hardware, markdown_table, time_call  # noqa: E402

import iqametrics  # noqa: E402
from iqametrics.convert.backbones import features_from_ours  # noqa: E402
from iqametrics.convert.dists import dists_from_ours  # noqa: E402
from iqametrics.convert.lpips import lpips_from_ours  # noqa: E402

NET = {"lpips": "alex", "lpips.vgg": "vgg", "lpips.squeeze": "squeeze"}


@contextlib.contextmanager
def no_downloads():
    """torchvision constructors build random weights, and hub downloads return synthetic heads."""
    import torchvision.models as tvm

    saved = {name: getattr(tvm, name) for name in ("vgg16", "alexnet", "squeezenet1_1")}

    def random_weights(build):
        return lambda *args, **kwargs: build(weights=None)

    def fake_hub(url, *args, **kwargs):  # piq's LPIPS/DISTS heads
        if "dists" in url:
            return {"alpha": torch.full((1, 1475, 1, 1), 0.1), "beta": torch.full((1, 1475, 1, 1), 0.1)}
        return [torch.full((1, c, 1, 1), 0.1) for c in (64, 128, 256, 512, 512)]

    hub = torch.hub.load_state_dict_from_url
    for name, build in saved.items():
        setattr(tvm, name, random_weights(build))
    torch.hub.load_state_dict_from_url = fake_hub
    try:
        yield
    finally:
        for name, build in saved.items():
            setattr(tvm, name, build)
        torch.hub.load_state_dict_from_url = hub


def _load(module: torch.nn.Module, state: dict) -> None:
    missing, _ = module.load_state_dict(state, strict=False)
    learned = [k for k in missing if not k.endswith((".filter", "mean", "std", "shift", "scale"))]
    if learned:
        raise RuntimeError(f"weights not copied into {type(module).__name__}: {learned[:4]}")


def peers(name: str, ours, device) -> Dict[str, Callable]:
    """name -> callable(dist, ref) for every installed peer, with our weights copied in."""
    ours_state = ours.state_dict()
    out: Dict[str, Callable] = {}
    with no_downloads():
        if name.startswith("lpips"):
            try:
                import lpips

                m = lpips.LPIPS(net=NET[name], pnet_rand=True, verbose=False)
                _load(m, lpips_from_ours(ours_state))
                m = m.to(device).eval()
                out["official"] = lambda d, r, m=m: m(d, r, normalize=True)
            except ImportError:
                pass
        else:
            try:
                from DISTS_pytorch import DISTS

                m = DISTS(load_weights=False)
                _load(m, dists_from_ours(ours_state))
                m = m.to(device).eval()
                out["official"] = lambda d, r, m=m: m(r, d)
            except ImportError:
                pass
        try:
            import pyiqa

            pname = {"lpips": "lpips", "lpips.vgg": "lpips-vgg", "dists": "dists"}.get(name)
            if pname:
                kwargs = {"pnet_rand": True} if name.startswith("lpips") else {}
                m = pyiqa.create_metric(pname, device=device, pretrained=False, **kwargs)
                state = lpips_from_ours(ours_state) if name.startswith("lpips") else dists_from_ours(ours_state)
                _load(m.net, state)
                out["pyiqa"] = lambda d, r, m=m: m(d, r)
        except ImportError:
            pass
        try:
            import piq
            import piq.perceptual
            import torchvision.models as tvm

            piq.perceptual.vgg16 = tvm.vgg16  # bound at piq's import time; this is the patched one
            if name == "lpips.vgg":
                m = piq.LPIPS(reduction="none")
            elif name == "dists":
                m = piq.DISTS(reduction="none")
            else:
                m = None
            if m is not None:
                features = features_from_ours(ours_state)  # piq's model is the features Sequential itself
                _load(m.model, {k[len("features."):]: v for k, v in features.items()})
                m = m.to(device).eval()
                out["piq*" if name == "dists" else "piq"] = lambda d, r, m=m: m(d, r)
        except ImportError:
            pass
    return out


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metrics", default="lpips,lpips.vgg,dists")
    parser.add_argument("--sizes", default="512x384,1024x768", help="WxH list")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", default=None, help="bf16/fp16 for ours (CUDA only)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    columns = ["ours", "official", "pyiqa", "piq", "piq*"]
    rows = []
    for name in args.metrics.split(","):
        options = {"amp": args.amp} if args.amp else {}
        ours = iqametrics.create(name, pretrained=False, device=device, **options)
        impls = {"ours": lambda d, r: ours(d, r), **peers(name, ours, device)}
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.split("x"))
            for batch in (int(b) for b in args.batches.split(",")):
                g = torch.Generator().manual_seed(0)
                ref = torch.rand(batch, 3, h, w, generator=g).to(device)
                dist = (ref + 0.1 * torch.rand(batch, 3, h, w, generator=g).to(device)).clamp(0, 1)
                calls = {}
                for label, fn in impls.items():
                    def call(fn=fn):
                        with torch.inference_mode():
                            fn(dist, ref)
                    call()  # warm-up
                    calls[label] = call
                # round-robin, so that a change of machine load during the run hits every column alike
                times = {label: [] for label in calls}
                for _ in range(args.repeat):
                    for label, call in calls.items():
                        times[label].append(time_call(call, device=device, warmup=0, repeat=1))
                rate = {label: batch / statistics.median(t) for label, t in times.items()}
                fastest = max((v for k, v in rate.items() if k not in ("ours", "piq*")), default=None)
                rows.append(
                    [name, f"{w}×{h}", batch]
                    + [rate.get(c) for c in columns]
                    + [rate["ours"] / fastest if fastest else None]
                )
                print(rows[-1], file=sys.stderr, flush=True)
    print(f"`{command_line()}`\n\n{hardware()}\n")
    print(markdown_table(["metric", "size", "batch"] + [f"{c} (pairs/s)" for c in columns] + ["ours / fastest peer"], rows))
    print("\npiq*: piq's DISTS downsamples to a 256-px shorter side first (less work; not comparable).")


if __name__ == "__main__":
    main()
