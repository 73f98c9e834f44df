"""Architecture equivalence of iqametrics' HyperIQA and pyiqa's port (``pyiqa.archs.hypernet_arch.HyperNet``).

Both networks get the same seeded random weights (ours -> pyiqa through the ``hyperiqa.pyiqa``
converter's inverse) and the same inputs:

1. per patch: 224×224 patches through pyiqa ``forward_patch`` and our ``forward_patches``;
2. per image: pyiqa ``forward`` (its 25-crop uniform grid) against our crop averaging on the crops
   at pyiqa's positions, on real photos when ``--images`` is given (else seeded noise images);
3. for information, our own default protocol (512×384 resize, our 5×5 grid) on the same images.

pyiqa is PolyForm-Noncommercial: it is run, never imported by the package or its tests.  Run it in
a scratch environment that has pyiqa, with this repository on the path::

    PYTHONPATH=. /work/scratch/peers/bin/python tools/compare_hyperiqa_pyiqa.py --images ../shared/data/clive/images

The output is Markdown for ``docs/models/hyperiqa.md``.  ``--golden`` also prints the per-patch
pyiqa outputs that ``tests/test_hyperiqa.py`` holds as golden values.
"""
from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import torch

GOLDEN_SEED = 2020


def seeded_state(model: torch.nn.Module, seed: int = GOLDEN_SEED) -> dict:
    """Random values for every tensor of ``model.state_dict()``, a function of the key names, shapes and ``seed``
    only (not of initialisation order): BatchNorm statistics and affine parameters near their usual ranges,
    weights ~ N(0, 1/fan_in), biases ~ N(0, 0.1²)."""
    state = {}
    for name, t in model.state_dict().items():
        g = torch.Generator().manual_seed((zlib.crc32(name.encode()) << 16) ^ seed)
        if name.endswith("num_batches_tracked"):
            state[name] = torch.zeros_like(t)
        elif name.endswith("running_var") or (t.dim() == 1 and name.endswith("weight")):
            state[name] = torch.rand(t.shape, generator=g) + 0.5
        elif t.dim() == 1:  # biases, BatchNorm shifts and running means
            state[name] = torch.randn(t.shape, generator=g) * 0.1
        else:
            state[name] = torch.randn(t.shape, generator=g) / max(1, t[0].numel()) ** 0.5
    return state


def golden_patches(n: int = 3) -> torch.Tensor:
    """``n`` deterministic 224×224 patches in [0, 1] (smooth colour ramps plus seeded noise)."""
    g = torch.Generator().manual_seed(GOLDEN_SEED)
    ramp = torch.linspace(0, 1, 224)
    base = torch.stack([ramp[None, :].expand(224, 224), ramp[:, None].expand(224, 224), 1 - ramp[None, :].expand(224, 224)])
    return (0.6 * base[None] + 0.4 * torch.rand(n, 3, 224, 224, generator=g)).clamp(0, 1)


def _pyiqa_hypernet():
    import timm

    create = timm.create_model

    def no_download(name, pretrained=False, **kwargs):  # pyiqa asks timm for ImageNet weights
        return create(name, pretrained=False, **kwargs)

    timm.create_model = no_download
    try:
        from pyiqa.archs.hypernet_arch import HyperNet

        return HyperNet(pretrained=False).eval()
    finally:
        timm.create_model = create


def _pyiqa_offsets(h: int, w: int, num: int = 25, size: int = 224):
    """Crop corners of pyiqa's ``uniform_crop`` (offsets ``i * ((L - size) // sqrt(num))``)."""
    k = int(num ** 0.5)
    return [(i * ((h - size) // k), j * ((w - size) // k)) for i in range(k) for j in range(k)]


def _images(folder, count):
    from iqametrics.io import load_image

    if folder is None:
        g = torch.Generator().manual_seed(GOLDEN_SEED)
        return [torch.rand(3, 300 + 20 * i, 400 - 10 * i, generator=g) for i in range(count)]
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))
    return [load_image(p) for p in paths[:count]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", default=None, help="folder of photos (default: seeded noise images)")
    parser.add_argument("--count", type=int, default=8, help="number of images")
    parser.add_argument("--seed", type=int, default=GOLDEN_SEED)
    parser.add_argument("--golden", action="store_true", help="print the golden per-patch values for the tests")
    args = parser.parse_args()

    from iqametrics.convert import get_converter
    from iqametrics.functional.crops import extract_crops
    from iqametrics.models.hyperiqa import HyperIQA

    torch.manual_seed(0)
    ours = HyperIQA().eval()
    ours.load_state_dict(seeded_state(ours, args.seed))
    theirs = _pyiqa_hypernet()
    theirs.load_state_dict(get_converter("hyperiqa.pyiqa").inverse(ours.state_dict())["params"])

    rows = []
    with torch.inference_mode():
        patches = golden_patches()
        a = ours.forward_patches((patches - ours.mean) / ours.std)
        b = theirs.forward_patch(patches).reshape(-1)
        rows.append(("per patch (3 patches)", b.abs().max().item(), (a - b).abs().max().item()))
        if args.golden:
            print("golden pyiqa forward_patch:", [f"{v:.7g}" for v in b.tolist()])

        images = _images(args.images, args.count)
        diffs, spread, ref_scale = [], [], []
        for img in images:
            h, w = img.shape[-2:]
            if min(h, w) <= 224:
                continue  # pyiqa upsamples those first; not compared here
            ref = theirs(img[None]).reshape(())
            crops = extract_crops(img, _pyiqa_offsets(h, w), 224)
            mine = ours._score_crops(crops, 1)[0]
            default = ours(img[None])[0]
            diffs.append((mine - ref).abs().item())
            spread.append((default - ref).abs().item())
            ref_scale.append(ref.abs().item())
        n = len(diffs)
        rows.append((f"per image, pyiqa's 25 crops ({n} images)", max(ref_scale), max(diffs)))

    source = args.images or "seeded noise images"
    print(f"Command: `PYTHONPATH=. python {' '.join(sys.argv)}`")
    print(f"Weights: seeded random (seed {args.seed}), loaded into both through the hyperiqa.pyiqa converter. Images: {source}.\n")
    print("| comparison | max abs(pyiqa) | max abs difference |")
    print("|---|---|---|")
    for name, scale, diff in rows:
        print(f"| {name} | {scale:.4g} | {diff:.3g} |")
    print(
        f"\nFor information, our default protocol (PIL-style resize to 512×384, our 5×5 grid) vs pyiqa's "
        f"(native size, its grid) on the same images: mean abs difference {sum(spread) / max(1, n):.4g}."
    )


if __name__ == "__main__":
    main()
