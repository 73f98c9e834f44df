"""Throughput of the classic no-reference metrics (NIQE, BRISQUE, PIQE): ours vs pyiqa and piq.

Run in an environment that has the peers installed, with this checkout on the path:

    PYTHONPATH=. python benchmarks/bench_classic_nr.py [--device cpu] [--repeat 5] [--threads N] [--quick]

Every metric scores the same inputs (crops of real photos from ``../shared/data/pristine`` when
present, else seeded smooth synthetic images) at 512×384 and 1024×768, batch 1 and 16, in one
process, and prints a Markdown table of images/s with the command and the hardware.

pyiqa and piq download their NIQE/BRISQUE model files at first use; offline, this script writes
stand-ins made from *our* bundled parameters (the same official LIVE files, as checked in
``docs/models/classic_nr.md``) into a temporary folder and points the peers at them.  Speed does
not depend on the values; the table also shows each peer's largest score difference from ours.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, command_line, hardware, markdown_table, photos, time_call  # noqa: E402

import iqametrics  # noqa: E402
from iqametrics.functional._bundled import bundled_params  # noqa: E402

SIZES = ((384, 512), (768, 1024))
BATCHES = (1, 16)
PRISTINE = DATA / "pristine"


def make_inputs(h: int, w: int, n: int) -> torch.Tensor:
    """``n`` RGB images [n, 3, h, w] in [0, 1], 8-bit valued (as decoded files are)."""
    from PIL import Image

    files = photos(PRISTINE)
    out = []
    for i in range(n):
        if files:
            img = Image.open(files[i % len(files)]).convert("RGB")
            scale = max(w / img.width, h / img.height)
            img = img.resize((max(w, round(img.width * scale)), max(h, round(img.height * scale))), Image.BICUBIC)
            left, top = (img.width - w) // 2, (img.height - h) // 2
            arr = np.asarray(img.crop((left, top, left + w, top + h)))
            out.append(torch.from_numpy(arr.copy()).permute(2, 0, 1))
        else:
            g = torch.Generator().manual_seed(i)
            low = torch.rand(1, 3, h // 16, w // 16, generator=g)
            img = torch.nn.functional.interpolate(low, size=(h, w), mode="bicubic", align_corners=False)[0]
            img = img + 0.03 * torch.randn(3, h, w, generator=g)
            out.append((img.clamp(0, 1) * 255).round().to(torch.uint8))
    return torch.stack(out).float() / 255.0


def peer_model_files(folder: Path) -> dict:
    """Stand-in model files in the peers' formats, made from our bundled official parameters."""
    import scipy.io

    niqe = bundled_params("niqe")
    brisque = bundled_params("brisque")
    files = {"niqe_mat": folder / "niqe_modelparameters.mat", "brisque_pth": folder / "brisque_svm_weights.pth"}
    scipy.io.savemat(
        files["niqe_mat"],
        {"mu_prisparam": niqe["mu_pris_param"].numpy(), "cov_prisparam": niqe["cov_pris_param"].numpy()},
    )
    torch.save((brisque["sv_coef"], brisque["sv"]), files["brisque_pth"])
    hub = folder / "hub" / "checkpoints"
    hub.mkdir(parents=True, exist_ok=True)
    # piq's layout: float32 tensors (it casts only the coefficients to the input dtype)
    torch.save((brisque["sv_coef"].float(), brisque["sv"].float()), hub / "brisque_svm_weights.pt")
    return files


def build_runners(device: str, folder: Path) -> dict:
    """metric -> list of (library, callable(images) -> scores)."""
    runners = {name: [("iqametrics", iqametrics.create(name, device=device))] for name in ("niqe", "brisque", "piqe")}
    files = peer_model_files(folder)
    try:
        import pyiqa

        runners["niqe"].append(
            ("pyiqa", pyiqa.create_metric("niqe", device=device, pretrained_model_path=str(files["niqe_mat"])))
        )
        runners["brisque"].append(
            ("pyiqa", pyiqa.create_metric("brisque", device=device, pretrained_model_path=str(files["brisque_pth"])))
        )
        runners["piqe"].append(("pyiqa", pyiqa.create_metric("piqe", device=device)))
    except ImportError:
        print("pyiqa not installed: skipped", file=sys.stderr)
    try:
        import piq

        torch.hub.set_dir(str(folder / "hub"))
        runners["brisque"].append(("piq", lambda x: piq.brisque(x, data_range=1.0, reduction="none")))
    except ImportError:
        print("piq not installed: skipped", file=sys.stderr)
    return runners


def time_round_robin(metric: str, libs, x: torch.Tensor, args) -> list:
    """Best-of-``repeat`` seconds per call for each library, the libraries taking turns.

    Taking turns and keeping the fastest call makes the comparison fair on a shared machine
    (contention only ever adds time).  The first call of each library is its warm-up and gives
    the scores; libraries slower than ``--slow-call`` seconds a call are timed once more only.
    """
    scores, best, first = {}, {}, {}
    for lib, fn in libs:
        start = time.perf_counter()
        scores[lib] = fn(x).reshape(-1).double().cpu()
        first[lib] = time.perf_counter() - start
        best[lib] = float("inf")
    for r in range(args.repeat):
        for lib, fn in libs:
            if r > 0 and first[lib] > args.slow_call:
                continue
            best[lib] = min(best[lib], time_call(lambda: fn(x), device=args.device, warmup=0, repeat=1))
    ours = scores["iqametrics"]
    h, w = x.shape[-2:]
    return [
        (metric, f"{w}×{h}", len(x), lib, len(x) / best[lib],
         None if lib == "iqametrics" else float((scores[lib] - ours).abs().max()))
        for lib, _ in libs
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one size and batch 1 only (smoke test)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--slow-call", type=float, default=30.0, help="seconds above which a call is timed once")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    sizes = SIZES[:1] if args.quick else SIZES
    batches = BATCHES[:1] if args.quick else BATCHES
    rows = []
    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        runners = build_runners(args.device, Path(tmp))
        for h, w in sizes:
            for batch in batches:
                x = make_inputs(h, w, batch).to(args.device)
                for metric, libs in runners.items():
                    rows += time_round_robin(metric, libs, x, args)
                    for row in rows[-len(libs) :]:
                        print(*row, sep=" | ", file=sys.stderr, flush=True)  # progress
    print(f"Command: `{command_line()}`  \nHardware: {hardware()}\n")
    print(f"images/s: best of {args.repeat} calls, libraries taking turns on the same inputs.\n")
    print(markdown_table(("metric", "size", "batch", "library", "images/s", "max abs. score diff. vs ours"), rows))


if __name__ == "__main__":
    main()
