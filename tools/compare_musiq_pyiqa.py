"""Architecture equivalence of iqametrics' MUSIQ with pyiqa's independent port, on real photos.

Both networks get the same random weights (made by iqametrics with a fixed seed, converted to
pyiqa's layout with ``convert_ours_to_pyiqa`` and loaded strictly into ``pyiqa.archs.musiq_arch.MUSIQ``),
then score the same photos.  pyiqa resizes with PyTorch bicubic, uses the exact (erf) GELU and
the unbiased std in weight standardisation; iqametrics reproduces those three choices with
``resize="bicubic", gelu="none", ws_correction=1`` ("pyiqa options"), and the table also shows
how far iqametrics' defaults (the official Gaussian resize, tanh GELU, population std) land.

pyiqa scores one image per call (it cannot batch different sizes); iqametrics scores all the
photos in one batched call (padding + attention mask).

Run with the scratch environment that has pyiqa (never a dependency of iqametrics):

    PYTHONPATH=. /work/scratch/peers/bin/python tools/compare_musiq_pyiqa.py [--json golden.json]

The ``--json`` output holds the pyiqa scores used as golden values by ``tests/test_musiq.py``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from iqametrics.convert.musiq import convert_ours_to_pyiqa  # noqa: E402
from iqametrics.io import load_image  # noqa: E402
from iqametrics.models.musiq import MUSIQNet  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PYIQA_OPTIONS = dict(resize="bicubic", gelu="none", ws_correction=1)


def golden_images(data: Path = DATA):
    """Lossless CLIVE photos and crops of them with other sizes and aspect ratios (name, tensor)."""
    clive = data / "clive" / "images"
    a, b, c = (load_image(clive / n) for n in ("10.png", "100.png", "101.png"))
    return [
        ("10.png", a),
        ("100.png", b),
        ("101.png[:317, :]", c[:, :317, :]),
        ("10.png[:, 40:251]", a[:, :, 40:251]),
        ("100.png[123:456, 7:500]", b[:, 123:456, 7:500]),
        ("101.png[:33, :97]", c[:, :33, :97]),
    ]


def extra_images(data: Path = DATA):
    """Larger photos (JPEG: decoder-dependent, so not used as golden values)."""
    clive = data / "clive" / "images"
    out = [("1024.JPG", load_image(clive / "1024.JPG")), ("1113.JPG", load_image(clive / "1113.JPG"))]
    dune = load_image(data / "pristine" / "Dune.jpg")  # 1680×1050
    out.append(("Dune.jpg[:, :768, :1024]", dune[:, :768, :1024]))
    return out


def make_pair(num_classes: int, seed: int, **options):
    """(ours, pyiqa) MUSIQ with identical random weights."""
    from pyiqa.archs.musiq_arch import MUSIQ as PyiqaMUSIQ

    ours = MUSIQNet(num_classes, init="random", seed=seed, **options).eval()
    theirs = PyiqaMUSIQ(num_class=num_classes, pretrained=False).eval()
    theirs.load_state_dict(convert_ours_to_pyiqa(ours.state_dict()), strict=True)
    return ours, theirs


@torch.inference_mode()
def run(seed: int, with_extra: bool):
    images = golden_images() + (extra_images() if with_extra else [])
    results = {}
    for num_classes in (1, 10):
        ours, theirs = make_pair(num_classes, seed, **PYIQA_OPTIONS)
        ref = torch.stack([theirs(img[None]).reshape(-1)[0] for _, img in images])
        compat = ours.scores(ours([img for _, img in images]))
        official = MUSIQNet(num_classes, init="random", seed=seed).eval()
        official.load_state_dict(ours.state_dict())
        default = official.scores(official([img for _, img in images]))
        results[num_classes] = (ref, compat, default)
    return images, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-extra", action="store_true", help="only the lossless golden images")
    parser.add_argument("--json", help="write the pyiqa scores of the golden images here")
    args = parser.parse_args()
    images, results = run(args.seed, not args.no_extra)
    import pyiqa

    print(f"pyiqa {pyiqa.__version__}, torch {torch.__version__}; random weights, seed {args.seed}\n")
    for num_classes, (ref, compat, default) in results.items():
        label = "1 output (KonIQ/SPAQ/PaQ-2-PiQ head)" if num_classes == 1 else "10-bin head (AVA), mean score"
        print(f"### {label}\n")
        print("| image | size | pyiqa | ours, pyiqa options | |diff| | ours, official defaults | |diff| |")
        print("|---|---|---|---|---|---|---|")
        for (name, img), r, c, d in zip(images, ref.tolist(), compat.tolist(), default.tolist()):
            h, w = img.shape[-2:]
            print(f"| {name} | {w}×{h} | {r:.6f} | {c:.6f} | {abs(c - r):.1e} | {d:.6f} | {abs(d - r):.1e} |")
        print(f"\nmax |ours (pyiqa options) - pyiqa| = {(compat - ref).abs().max():.2e}; "
              f"max |ours (official) - pyiqa| = {(default - ref).abs().max():.2e}\n")
    if args.json:
        n = len(golden_images())
        golden = {
            "provenance": f"pyiqa {pyiqa.__version__} MUSIQ arch, torch {torch.__version__}, CPU float32; "
                          f"weights MUSIQNet(init='random', seed={args.seed}) converted with convert_ours_to_pyiqa; "
                          "produced by tools/compare_musiq_pyiqa.py",
            "seed": args.seed,
            "images": [name for name, _ in images[:n]],
            "scores": {str(k): v[0][:n].tolist() for k, v in results.items()},
        }
        Path(args.json).write_text(json.dumps(golden, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
