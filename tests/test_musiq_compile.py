"""MUSIQ with ``compile=True``: torch.compile of the patch encoder gives the eager scores (up to
float32 rounding), for images of any size, without changing the checkpoint layout."""
from __future__ import annotations

import pytest
import torch

import iqametrics


def _images():
    g = torch.Generator().manual_seed(0)
    # 162 and 135 patches over the three scales: chunks of 32, the last one partial, alone or together
    return [torch.rand(3, 96, 128, generator=g), torch.rand(3, 64, 40, generator=g)]


def _pair(backend=True):
    eager = iqametrics.create("musiq", pretrained=False, patch_chunk=32)
    compiled = iqametrics.create("musiq", pretrained=False, patch_chunk=32, compile=backend)
    compiled.load_state_dict(eager.state_dict())
    return eager, compiled


def test_compile_takes_a_flag_or_a_backend_name():
    with pytest.raises(TypeError, match="compile"):
        iqametrics.create("musiq", pretrained=False, compile=1)
    metric = iqametrics.create("musiq", pretrained=False, compile="eager")
    assert list(metric.state_dict()) == list(iqametrics.create("musiq", pretrained=False).state_dict())


@pytest.mark.slow
def test_traced_encoder_pads_its_chunks_and_keeps_every_score():
    """The eager backend (Dynamo's graph, run by PyTorch's own kernels): the padding of the last chunk
    and the compiled call path, without Inductor's compilation time."""
    eager, compiled = _pair(backend="eager")
    images = _images()
    together = compiled(images)
    torch.testing.assert_close(together, eager(images), rtol=1e-5, atol=1e-5)
    # each image alone: other chunk boundaries, other padding; one compiled shape serves them all
    alone = torch.cat([compiled([im]) for im in images])
    torch.testing.assert_close(alone, together, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_inductor_compiled_scores_equal_eager_within_float32_rounding():
    """Inductor fuses GroupNorm and the ReLUs into the convolutions' neighbours and sums in other
    orders: float32 rounding (scores of order 1 here; measured 2e-7), compiled in tens of seconds."""
    pytest.importorskip("torch._inductor")
    eager, compiled = _pair()
    images = _images()
    torch.testing.assert_close(compiled(images), eager(images), rtol=1e-5, atol=1e-5)
