"""Rebuild the bundled LPIPS and DISTS heads (iqametrics/data/{lpips,dists}/) from the pip packages.

    pip install lpips==0.1.4 DISTS_pytorch==0.1
    python tools/bundle_lpips_dists_heads.py

The tensors are copied unchanged, under their upstream names, from ``torch.load`` of
``lpips/weights/v0.1/{alex,vgg,squeeze}.pth`` (BSD-2-Clause) and ``DISTS_pytorch/weights.pt``
(MIT) into safetensors files; the converters ``lpips_official`` and ``dists_official`` map the
names to ours when they are loaded.  Prints the sha256 of sources and outputs for the manifest.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's iqametrics
from iqametrics.weights import sha256_file as sha256  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "iqametrics" / "data"


def convert(source: Path, target: Path) -> None:
    state = torch.load(source, map_location="cpu", weights_only=True)
    state = {k: v.detach().to(torch.float32).contiguous() for k, v in state.items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(target))  # no metadata: its key order is not deterministic
    print(f"{target.relative_to(DATA)}  sha256 {sha256(target)}  size {target.stat().st_size}  "
          f"from {source.name} sha256 {sha256(source)}")


def main() -> None:
    import DISTS_pytorch
    import lpips

    lpips_dir = Path(lpips.__file__).parent / "weights" / "v0.1"
    for net in ("alex", "vgg", "squeeze"):
        convert(lpips_dir / f"{net}.pth", DATA / "lpips" / f"{net}_v0.1.safetensors")
    convert(Path(DISTS_pytorch.__file__).parent / "weights.pt", DATA / "dists" / "dists_weights.safetensors")


if __name__ == "__main__":
    main()
