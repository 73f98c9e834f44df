"""The Metric base classes: input normalisation, validation, dispatch, gradients; and the registry."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

import iqametrics
from iqametrics.metric import FRMetric, ImageTooSmallError, NRMetric
from iqametrics.registry import MetricInfo, UnknownMetricError


class MeanLevel(NRMetric):
    """Toy NR metric (mean intensity per image) to exercise the base class; not registered."""

    min_size = (4, 4)

    def __init__(self):
        super().__init__()
        self.calls = []

    def _score(self, x):
        self.calls.append(tuple(x.shape))
        return x.mean(dim=(1, 2, 3))


class MixedMeanLevel(MeanLevel):
    accepts_mixed_sizes = True

    def _score_list(self, images):
        self.calls.append(("list", len(images)))
        return torch.stack([im.mean() for im in images])


class MeanSquaredError(FRMetric):
    def _score(self, dist, ref):
        return (dist - ref).pow(2).mean(dim=(1, 2, 3))


def test_nr_accepts_every_input_form(tmp_path):
    m = MeanLevel()
    x = torch.rand(2, 3, 8, 10)
    ref = x.mean(dim=(1, 2, 3))
    torch.testing.assert_close(m(x), ref)
    torch.testing.assert_close(m(x[0]), ref[:1])
    torch.testing.assert_close(m([x[0], x[1]]), ref)
    arr = (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    expected = torch.tensor([arr.mean() / 255.0], dtype=torch.float32)
    torch.testing.assert_close(m(tmp_path / "a.png"), expected)
    torch.testing.assert_close(m(str(tmp_path / "a.png")), expected)
    torch.testing.assert_close(m(Image.fromarray(arr)), expected)
    torch.testing.assert_close(m(arr), expected)
    torch.testing.assert_close(m(torch.from_numpy(arr).permute(2, 0, 1).contiguous()), expected)  # uint8 tensor


def test_output_is_float32_batch():
    m = MeanLevel()
    out = m(torch.rand(3, 3, 8, 8, dtype=torch.float64))
    assert out.dtype == torch.float32 and out.shape == (3,)


def test_grey_is_replicated():
    m = MeanLevel()
    grey = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(m(grey), m(grey.expand(-1, 3, -1, -1)))
    torch.testing.assert_close(m(grey[0, 0]), m(grey[:1]))


def test_out_of_range_raises_naming_range():
    m = MeanLevel()
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]; got values in \[.*\].*divide by 255"):
        m(torch.rand(1, 3, 8, 8) * 255)
    with pytest.raises(ValueError, match=r"got values in \[-0.5, 0.25\]"):
        m(torch.linspace(-0.5, 0.25, 3 * 64).reshape(1, 3, 8, 8))
    with pytest.raises(ValueError, match="NaN"):
        m(torch.full((1, 3, 8, 8), float("nan")))
    inf = torch.rand(1, 3, 8, 8)
    inf[0, 0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match=r"contain infinite values \(got values in \[.*, inf\]\)$"):
        m(inf)  # not "looks like 0-255 data"


def test_bad_shapes_and_types():
    m = MeanLevel()
    with pytest.raises(ValueError, match="channels"):
        m(torch.rand(1, 4, 8, 8))
    with pytest.raises(ValueError, match="shape"):
        m(torch.rand(1, 1, 3, 8, 8))
    with pytest.raises(TypeError, match="float"):
        m(torch.ones(1, 3, 8, 8, dtype=torch.int32))
    with pytest.raises(TypeError, match="cannot interpret"):
        m(object())
    with pytest.raises(ValueError, match="empty"):
        m([])


def test_too_small_raises():
    with pytest.raises(ImageTooSmallError, match="3×2 px is too small"):
        MeanLevel()(torch.rand(1, 3, 2, 3))


def test_mixed_sizes_are_grouped_and_reordered():
    m = MeanLevel()
    images = [torch.rand(3, 8, 8), torch.rand(3, 6, 9), torch.rand(3, 8, 8)]
    out = m(images)
    torch.testing.assert_close(out, torch.stack([im.mean() for im in images]))
    assert sorted(m.calls) == [(1, 3, 6, 9), (2, 3, 8, 8)]
    mixed = MixedMeanLevel()
    torch.testing.assert_close(mixed(images), out)
    assert mixed.calls == [("list", 3)]


def test_inference_mode_and_differentiable():
    m = MeanLevel()
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    assert not m(x).requires_grad
    m.differentiable = True
    out = m(x)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_fr_dispatch_and_errors():
    m = MeanSquaredError()
    d, r = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(m(d, r), (d - r).pow(2).mean(dim=(1, 2, 3)))
    torch.testing.assert_close(m(d, ref=r), m(d, r))
    with pytest.raises(TypeError, match="m\\(dist, ref\\)"):
        m(d)
    with pytest.raises(ValueError, match="10×8 but its reference is 8×8"):
        m(torch.rand(1, 3, 8, 10), torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="2 distorted images but 1 references"):
        m(d, r[:1])
    with pytest.raises(ValueError, match="reference images must be in"):
        m(d, r * 3)
    pairs_d = [torch.rand(3, 8, 8), torch.rand(3, 6, 5)]
    pairs_r = [torch.rand(3, 8, 8), torch.rand(3, 6, 5)]
    expected = torch.stack([(a - b).pow(2).mean() for a, b in zip(pairs_d, pairs_r)])
    torch.testing.assert_close(m(pairs_d, pairs_r), expected)


class LinearLevel(NRMetric):
    """Toy AMP-capable metric: a linear layer over the mean colour; records the dtype it computed in."""

    supports_amp = True

    def __init__(self, amp=None):
        super().__init__(amp=amp)
        self.linear = torch.nn.Linear(3, 1)
        self.seen = None

    def _score(self, x):
        out = self.linear(x.mean(dim=(2, 3)))
        self.seen = out.dtype
        return out[:, 0].float()


@pytest.mark.parametrize("amp, dtype", [(None, torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_amp_autocasts_on_cpu(amp, dtype):
    # amp applies on CPU as on CUDA (docs/api.md)
    m = LinearLevel(amp=amp)
    scores = m(torch.rand(2, 3, 8, 8))
    assert m.seen == dtype and scores.dtype == torch.float32


def test_amp_option_validated():
    with pytest.raises(ValueError, match="does not support AMP"):
        NRMetric(amp="bf16")
    with pytest.raises(ValueError, match="'bf16' or 'fp16'"):
        type("AmpOK", (NRMetric,), {"supports_amp": True})(amp="int8")


# ------------------------------------------------------------------------- registry
def test_list_and_info():
    names = iqametrics.list_metrics()
    assert names == sorted(names) and "psnr" in names
    assert set(iqametrics.list_metrics("FR")) | set(iqametrics.list_metrics("nr")) == set(names)
    info = iqametrics.get_info("PSNR")
    assert isinstance(info, MetricInfo) and info.kind == "FR" and info.higher_is_better
    with pytest.raises(ValueError, match="kind"):
        iqametrics.list_metrics("XX")


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownMetricError, match="Did you mean: psnr"):
        iqametrics.create("psnrr")
    with pytest.raises(UnknownMetricError, match="iqa list"):
        iqametrics.create("completely-unknown")


def test_create_sets_info_device_and_eval():
    m = iqametrics.create("psnr", device="cpu", pretrained=False)
    assert m.info.name == "psnr" and m.device.type == "cpu" and not m.training
    x = torch.rand(2, 3, 16, 16)
    assert m(x, x).shape == (2,)


def test_as_loss_only_for_differentiable(register_toy):
    info = MetricInfo(name="toy-nondiff", kind="NR", higher_is_better=True, score_range=(0, 1), paper="-", licence="-")
    register_toy(MeanLevel, info)
    with pytest.raises(ValueError, match="not differentiable"):
        iqametrics.create("toy-nondiff", as_loss=True)
    with pytest.raises(ValueError, match="not differentiable"):
        iqametrics.create("toy-nondiff", differentiable=True)
    assert iqametrics.create("toy-nondiff").info is info


def test_metric_info_validation():
    with pytest.raises(ValueError, match="kind"):
        MetricInfo(name="x", kind="XR", higher_is_better=True, score_range=(0, 1), paper="", licence="")
    with pytest.raises(ValueError, match="score_range"):
        MetricInfo(name="x", kind="NR", higher_is_better=True, score_range=(1, 0), paper="", licence="")


def test_every_registered_metric_builds_offline_and_is_documented(monkeypatch):
    """pretrained=False must never touch the network, for every metric."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("IQAMETRICS_OFFLINE", "1")
    for name in iqametrics.list_metrics():
        info = iqametrics.get_info(name)
        assert info.paper and info.licence and info.description, name
        m = iqametrics.create(name, pretrained=False)
        assert m.kind == info.kind, name


def test_nr_metric_called_with_two_images_says_what_it_expects():
    m = MeanLevel()
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(TypeError, match=r"no-reference metric: call it with one argument.*got 2 arguments "
                                        r"\(a tensor of shape \(1, 3, 8, 8\); a tensor of shape \(1, 3, 8, 8\)\)"):
        m(x, x)
    with pytest.raises(TypeError, match=r"got 2 arguments \(a list of 1; ref=a tensor"):
        m([x], ref=x)


@pytest.mark.parametrize("shape, fix", [((8, 9, 3), r"x.permute\(2, 0, 1\)"), ((2, 8, 9, 3), r"x.permute\(0, 3, 1, 2\)")])
def test_channels_last_tensor_gets_the_layout_hint(shape, fix):
    with pytest.raises(ValueError, match=rf"got an image tensor of shape {re.escape(str(shape))}; expected "
                                         rf"\[B, 3, H, W\].*channels-last.*{fix}"):
        MeanLevel()(torch.rand(shape))
    with pytest.raises(ValueError, match=fix):  # FR metrics, either argument
        MeanSquaredError()(torch.rand(2, 3, 8, 9), torch.rand(shape))


def test_mixed_sizes_without_the_flag_never_reach_score_list():
    class Forgetful(MeanLevel):
        def _score_list(self, images):  # ignored: accepts_mixed_sizes is not set
            raise AssertionError("called")

    images = [torch.rand(3, 8, 8), torch.rand(3, 6, 9)]
    torch.testing.assert_close(Forgetful()(images), torch.stack([im.mean() for im in images]))

    class Flagged(MeanLevel):
        accepts_mixed_sizes = True

    with pytest.raises(NotImplementedError, match="accepts_mixed_sizes but has no _score_list"):
        Flagged()(images)


def test_a_metric_copies_and_pickles_with_its_config():
    import copy
    import pickle

    m = iqametrics.create("ssim")
    for twin in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert twin.info == m.info and twin.name == "ssim"
        x = torch.rand(1, 3, 16, 16)
        assert torch.equal(twin(x, x), m(x, x))
