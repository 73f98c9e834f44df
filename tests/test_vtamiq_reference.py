"""VTAMIQ against its authors' network (ch-andrei/VTAMIQ), without their code: golden values.

``tools/compare_vtamiq_official.py`` runs the authors' networks (c67f036, the paper's
configuration; 055a4e3, the code of the published checkpoint) beside ours on the same seeded
weights and the same patches.  Its ``--golden`` mode prints the authors' outputs for a small
configuration (2 transformer blocks, 2 residual groups of 2 RCABs; every kind of block of the full
model) on seeded inputs: three 80×96 8-bit pairs (``golden_pairs``) and seeded corners in our
sampler's layout (``golden_samples``: 48 patches, one level for the paper configuration, three for
the 2022 one).  The weights are a function of the authors' tensor names and shapes
(``seeded_upstream_state``), loaded into ours through the ``vtamiq_2022`` converter, so a wrong
name, shape or tensor mapping changes the output as surely as a wrong layer.

Golden values: ``python tools/compare_vtamiq_official.py PATH/TO/VTAMIQ --golden`` (torch 2.14.1 CPU,
the authors' commits c67f036 and 055a4e3), the authors' networks in float64.
"""
from __future__ import annotations

import copy
import functools
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("compare_vtamiq_official", REPO / "tools" / "compare_vtamiq_official.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


tool = _tool()

#: the authors' networks in float64 on the golden inputs (``--golden``, see the module docstring)
AUTHORS_FLOAT64 = {
    "paper": [-0.023308199041852655, -0.13293961416846137, -0.16138441259172878],  # c67f036
    "released": [0.005355301967028145, -0.023089792804289168, 0.03654321847704105],  # 055a4e3
}
# float64: the two networks order their sums differently (fused q/k/v, convolution vs linear), which
# moves outputs of magnitude ≤ 1 by ~1e-15 (observed ≤ 3e-15); 1e-10 leaves room for any CPU's kernels.
FLOAT64_ATOL = 1e-10
# float32: each network alone is ~2e-6 away from its float64 value on these inputs (the DiffNet
# amplifies the rounding of the [CLS] features, |f| ≈ 4, by the cancellation f_ref − f_dist);
# 2e-5 is ten times that, still 1e-4 of the spread of the golden outputs.
FLOAT32_ATOL = 2e-5


@functools.lru_cache(maxsize=None)
def _model(config: str):
    return tool.our_model(config, small=True, n_patches=tool.GOLDEN_PATCHES)


def _run(config: str, dtype=torch.float64, scale_shift: int = 0, **options):
    model = copy.deepcopy(_model(config))
    if options:  # same weights, another option (e.g. the positional offset)
        other = tool.VTAMIQ(**{**tool.CONFIGS[config], **tool.SMALL, "n_patches": tool.GOLDEN_PATCHES, **options})
        other.load_state_dict(model.state_dict())
        model = other.eval()
    ref_u8, dist_u8 = tool.golden_pairs()
    # float32 patches, as the golden values were made (ImageNet normalisation in float32)
    ref_p, dist_p, position, scale = tool.our_inputs(model, ref_u8, dist_u8, tool.golden_samples(model))
    model = model.to(dtype)
    with torch.inference_mode():
        return model.forward_patches(ref_p.to(dtype), dist_p.to(dtype), position, (scale + scale_shift).clamp(max=scale.max()))


@pytest.mark.parametrize("config", ["paper", "released"])
def test_equals_the_authors_network_in_float64(config):
    q = _run(config)
    expected = torch.tensor(AUTHORS_FLOAT64[config], dtype=torch.float64)
    torch.testing.assert_close(q, expected, rtol=0, atol=FLOAT64_ATOL)


@pytest.mark.parametrize("config", ["paper", "released"])
def test_float32_is_within_float32_rounding_of_the_authors_network(config):
    q = _run(config, torch.float32).double()
    torch.testing.assert_close(q, torch.tensor(AUTHORS_FLOAT64[config], dtype=torch.float64), rtol=0, atol=FLOAT32_ATOL)


def test_the_golden_values_see_a_one_row_index_change():
    # the paper configuration with the +1 positional offset (vtamiq.paper's default, a documented departure
    # from c67f036) reads every table row one further: far outside the tolerances above
    shifted = _run("paper", legacy_pos_index=False)
    assert (shifted - torch.tensor(AUTHORS_FLOAT64["paper"], dtype=torch.float64)).abs().max() > 1e-3
    # patches given the scale embedding of the next pyramid level
    shifted = _run("released", scale_shift=1)
    assert (shifted - torch.tensor(AUTHORS_FLOAT64["released"], dtype=torch.float64)).abs().max() > 1e-3


def test_paper_and_2022_layouts_differ_only_by_the_scale_table():
    paper, released = tool.upstream_shapes(_model("paper")), tool.upstream_shapes(_model("released"))
    assert set(released) - set(paper) == {"transformer.embeddings.scale_embeddings.scale_embeddings"}
    assert released["transformer.embeddings.scale_embeddings.scale_embeddings"] == (1, 6, 768)
    assert all(paper[k] == released[k] for k in paper)


def test_a_float64_model_scores_like_float32():
    # the feature difference is taken in fp32 for 16-bit features, and kept in fp64 for a float64 model
    # (the metric API returns float32 scores either way)
    model = _model("released")
    ref_u8, dist_u8 = tool.golden_pairs()
    ref, dist = ref_u8.float() / 255, dist_u8.float() / 255
    with torch.inference_mode():
        single = model(dist, ref)
        double = copy.deepcopy(model).double()(dist.double(), ref.double())
    torch.testing.assert_close(double, single, rtol=0, atol=FLOAT32_ATOL)
