"""How far AMP (bf16/fp16 autocast) scores are from float32 scores, on real photos.

    python benchmarks/amp_accuracy.py --device cuda [--amp bf16 fp16] [--metrics musiq vtamiq ...] [--n 64]

Every metric that supports AMP scores the same real photos twice, in float32 and under autocast,
and the table gives the largest and median absolute difference, the largest difference relative
to the spread (standard deviation) of the float32 scores, and the Spearman correlation between
the two rankings.  NR metrics score the first ``--n`` LIVE Challenge photos of
``--data`` (``../shared/data``) in batches of mixed sizes; FR metrics score the pristine photos
against a JPEG (quality 20) and a Gaussian-blurred (radius 2) copy of each.

Weights: each metric is created with its pretrained weights when they can be had (cache,
``IQAMETRICS_WEIGHTS_DIR``, or the Hub); otherwise with seeded random weights, which the table says,
as those differences say little about a trained model.  ``amp`` applies on CPU as on CUDA (on CPU,
``bf16`` is the one that pays off, on processors with AVX512-BF16/AMX).
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import torch
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, command_line, create_or_seeded, photos, hardware, markdown_table  # noqa: E402

import iqametrics  # noqa: E402
from iqametrics.io import pil_to_tensor  # noqa: E402

AMP_METRICS = ("musiq", "hyperiqa", "hyperiqa.official", "pyramidiqa", "vtamiq.paper", "vtamiq", "lpips", "dists", "liteiqa")


def _images(folder: Path, n: int, max_side: int):
    paths = photos(folder)[:n]
    if not paths:
        raise SystemExit(f"no images in {folder}")
    images = []
    for path in paths:
        img = Image.open(path).convert("RGB")
        if max(img.size) > max_side:  # the pristine photos are up to 4352 px: VGG features of 8 of them fill 24 GB
            scale = max_side / max(img.size)
            img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)
        images.append(pil_to_tensor(img))
    return images


def _degraded(x: torch.Tensor, kind: str) -> torch.Tensor:
    img = Image.fromarray((x.permute(1, 2, 0) * 255).round().byte().numpy())
    if kind == "jpeg":
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=20)
        img = Image.open(buf).convert("RGB")
    else:
        img = img.filter(ImageFilter.GaussianBlur(2))
    return pil_to_tensor(img)


def degraded_pairs(refs):
    """(distorted, reference) pairs: a JPEG (quality 20) and a blurred copy of each reference."""
    return [(_degraded(r, kind), r) for r in refs for kind in ("jpeg", "blur")]


def _spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    ra, rb = (t.argsort().argsort().double() for t in (a, b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


def _score(metric, inputs, batch: int):
    out = []
    for i in range(0, len(inputs), batch):
        chunk = inputs[i : i + batch]
        if metric.info.kind == "FR":
            out.append(metric([d for d, _ in chunk], [r for _, r in chunk]).float().cpu())
        else:
            out.append(metric(chunk).float().cpu())
    return torch.cat(out).double()


#: the columns of :func:`amp_rows`
AMP_HEADER = ["metric", "weights", "autocast", "inputs", "max |Δ|", "median |Δ|", "max |Δ| / std(fp32)", "Spearman(fp32, amp)"]


def amp_rows(names, amps, device: str, nr_inputs, fr_inputs, batch: int, create_float32=None, options=None):
    """One row per metric that supports AMP and per autocast dtype: the float32 scores of the inputs
    against the autocast ones (same weights).  ``create_float32(name, device) -> (metric, weights)``
    builds the reference (default: pretrained when possible, else seeded random weights);
    ``options[name]`` are extra metric options for both."""
    create_float32 = create_float32 or create_or_seeded
    options = options or {}
    rows = []
    for name in names:
        fp32, weights = create_float32(name, device)
        if not type(fp32).supports_amp:
            print(f"{name}: does not support AMP, skipped", file=sys.stderr)
            continue
        inputs = fr_inputs if fp32.info.kind == "FR" else nr_inputs
        base = _score(fp32, inputs, batch)
        for amp in amps:
            mixed = iqametrics.create(name, device=device, pretrained=False, amp=amp, **options.get(name, {}))
            mixed.load_state_dict(fp32.state_dict())  # the float32 model's weights, whichever they are
            scores = _score(mixed, inputs, batch)
            diff = (scores - base).abs()
            spread = base.std().item()
            rows.append(
                [
                    name,
                    weights,
                    f"{amp} ({torch.device(device).type})",
                    len(inputs),
                    f"{diff.max().item():.2e}",
                    f"{diff.median().item():.2e}",
                    f"{diff.max().item() / spread:.2e}" if spread > 0 else "–",
                    f"{_spearman(base, scores):.5f}",
                ]
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--amp", nargs="+", default=["bf16", "fp16"], choices=["bf16", "fp16"])
    parser.add_argument("--metrics", nargs="+", default=list(AMP_METRICS))
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--n", type=int, default=64, help="NR photos; FR uses up to n/2 pristine photos x 2 distortions")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-side", type=int, default=1024, help="photos larger than this are downscaled (Lanczos)")
    args = parser.parse_args()

    data = Path(args.data)
    nr_inputs = _images(data / "clive" / "images", args.n, args.max_side)
    refs = _images(data / "pristine", max(1, args.n // 2), args.max_side)
    fr_inputs = degraded_pairs(refs)
    rows = amp_rows(args.metrics, args.amp, args.device, nr_inputs, fr_inputs, args.batch)
    print(f"Command: `{command_line()}`  \nHardware: {hardware()}  \nPhotos larger than {args.max_side} px "
          "downscaled (Lanczos) to that longer side.\n")
    print(markdown_table(AMP_HEADER, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
