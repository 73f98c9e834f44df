"""HyperIQA and PyramidIQA: no-reference quality from a hyper network that writes a small MLP per patch.

HyperIQA: S. Su, Q. Yan, Y. Zhu, C. Zhang, X. Ge, J. Sun, Y. Zhang, "Blindly Assess Image Quality in
the Wild Guided by a Self-Adaptive Hyper Network", CVPR 2020; code ``SSL92/hyperIQA`` (MIT).
PyramidIQA: M. Lyu, "PyramidIQA: Multi-Scale Feature Pyramid Network with Attention for No-Reference
Image Quality Assessment" (SJTU course report); code ``ukeSJTU/CS3324-IQA``, folder ``ms_hyperIQA``
(MIT), class ``MSHyperNet``, which is followed where it and the report disagree (see the model card).

Both networks score 224×224 patches of an ImageNet-normalised image:

* a ResNet-50 (timm's, whose parameter names are torchvision's) gives layer1..layer4 features;
* local distortion-aware (LDA) heads turn the four levels into the target network's input vector
  ``v ∈ R^224`` (16 + 16 + 16 + 176);
* a *neck* turns backbone features into the hyper network's input ``[112, 7, 7]``:
  HyperIQA: three 1×1 convolutions with ReLU on layer4 (2048 → 1024 → 512 → 112);
  PyramidIQA: an FPN over layer2/3/4, CBAM on each level, average pooling to 7×7, concatenation
  and two 1×1 convolutions with ReLU (768 → 256 → 112);
* :class:`~iqametrics.nn.hypernet.HyperNetHead` writes the weights of the target MLP
  224 → 112 → 56 → 28 → 14 → 1 (sigmoid between layers), which scores the patch; PyramidIQA adds
  dropout 0.5 after the first sigmoid (training only).

Image score = mean over crops.  Test-time protocol of both official codes: ``Resize((512, 384))``
(height 512, width 384, PIL bilinear), random 224 crops (HyperIQA: 25 in its test loop, 10 in its
demo; PyramidIQA: 25), ImageNet normalisation.  Departures (see ``docs/models/hyperiqa.md``): the
crops are a fixed function of the image (a 5×5 grid by default, or random positions seeded from
the image content) instead of unseeded random draws; the resize is done in torch on any device,
emulating PIL to within one 8-bit level.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..functional.crops import CropProtocol
from ..metric import NRMetric
from ..nn.backbones import IMAGENET_MEAN, IMAGENET_STD
from ..nn.cbam import CBAM
from ..nn.fpn import FPN
from ..nn.hypernet import HyperNetHead, target_net
from ..config import metric_configs
from ..registry import register_metrics

__all__ = ["HyperIQA", "PyramidIQA", "CropProtocol"]  # CropProtocol: re-exported from functional.crops

PATCH = 224
FEATURE_SIZE = 7
HYPER_CHANNELS = 112
LDA_CHANNELS = 16
TARGET_SIZES = (224, 112, 56, 28, 14, 1)
#: official test-time resize, (height, width): torchvision ``Resize((512, 384))``
OFFICIAL_RESIZE = (512, 384)
#: manifest key of torchvision's ImageNet ResNet-50 (the official codes' starting point)
IMAGENET_BACKBONE = "backbone.resnet50"


class LocalDistortionHeads(nn.Module):
    """LDA heads: layer1..3 -> 1×1 conv (no bias) -> 7×7/7 average pool -> flatten -> linear -> 16
    values each; layer4 -> 7×7/7 average pool -> linear -> 176.  Concatenated: ``v ∈ R^224``."""

    def __init__(self, in_channels: Sequence[int] = (256, 512, 1024, 2048), out_size: int = TARGET_SIZES[0]):
        super().__init__()
        reduced = (16, 32, 64)
        cells = (64, 16, 4)  # 56², 28², 14² maps pooled by 7: 8×8, 4×4, 2×2
        self.convs = nn.ModuleList(nn.Conv2d(c, r, 1, bias=False) for c, r in zip(in_channels[:3], reduced))
        self.fcs = nn.ModuleList(nn.Linear(r * n, LDA_CHANNELS) for r, n in zip(reduced, cells))
        self.fcs.append(nn.Linear(in_channels[3], out_size - 3 * LDA_CHANNELS))

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        maps = [conv(f) for conv, f in zip(self.convs, feats[:3])] + [feats[3]]
        return torch.cat([fc(F.avg_pool2d(m, 7, 7).flatten(1)) for fc, m in zip(self.fcs, maps)], dim=1)


class PyramidNeck(nn.Module):
    """PyramidIQA's hyper-network input: FPN(layer2, layer3, layer4) -> CBAM per level -> average-pool
    the two finer levels to the coarsest's size -> concatenate -> 1×1 conv + ReLU ×2 -> 7×7."""

    def __init__(self, in_channels: Sequence[int] = (512, 1024, 2048), width: int = 256, out_channels: int = HYPER_CHANNELS):
        super().__init__()
        self.fpn = FPN(in_channels, width, upsample="bilinear")
        self.attention = nn.ModuleList(CBAM(width, reduction=16, kernel_size=7) for _ in in_channels)
        self.fusion = nn.Sequential(
            nn.Conv2d(width * len(in_channels), width, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, out_channels, 1),
            nn.ReLU(inplace=True),
        )

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        levels = [att(p) for att, p in zip(self.attention, self.fpn(feats))]
        size = levels[-1].shape[-2:]
        pooled = [F.adaptive_avg_pool2d(p, size) for p in levels[:-1]] + [levels[-1]]
        return F.adaptive_avg_pool2d(self.fusion(torch.cat(pooled, dim=1)), FEATURE_SIZE)


def _kaiming(*modules: nn.Module, **kwargs) -> None:
    for m in modules:
        for sub in m.modules():
            if isinstance(sub, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(sub.weight, **kwargs)


class HyperIQA(NRMetric):
    """HyperIQA (Su et al., CVPR 2020) as built by the official code ``SSL92/hyperIQA``.

    Args:
        num_crops: 224×224 crops averaged per image (official test loop: 25).
        crop_mode: ``"grid"`` (default; a k×k grid evenly covering every crop position, so
            ``num_crops`` must be a square) or ``"random"`` (uniform positions as RandomCrop, seeded
            from the image content and ``seed``).  See :mod:`iqametrics.functional.crops`.
        seed: mixed into the per-image seed of ``crop_mode="random"``.
        resize: ``(height, width)`` every image is resized to first (PIL-style bilinear); the
            official ``(512, 384)`` by default.  ``None`` keeps the native size (pyiqa's protocol);
            images whose short side is below 224 are then upscaled to 224, aspect kept.
        channels_last: run the convolutions in channels-last memory format (faster on GPUs).
        imagenet_backbone: start the backbone from torchvision's ImageNet ResNet-50 weights (as the
            official code does before training): the manifest entry ``backbone.resnet50`` (timm's
            ``resnet50.tv_in1k``), fetched like every other file (override folder, Hub cache,
            offline settings, checksum).
        amp: ``"bf16"``/``"fp16"`` autocast (CUDA or CPU).

    Departures from the official code: deterministic crops instead of unseeded random crops; the
    resize runs in torch (:func:`~iqametrics.functional.pil_resize`: at most one 8-bit level from
    PIL, on about 0.1 % of the values of typical photos).

    Built directly, a HyperIQA has the official protocol and ``info`` of ``hyperiqa`` (its first
    registered name); ``create`` gives each name the protocol its weights need (``hyperiqa``:
    ``resize=None``; ``hyperiqa.official``: ``(512, 384)``).
    """

    accepts_mixed_sizes = True
    supports_amp = True
    converters = ("hyperiqa.official", "hyperiqa.pyiqa")
    #: dropout after the first hidden layer of the target network (training only)
    target_dropout = 0.0

    def __init__(
        self,
        *,
        num_crops: int = 25,
        crop_mode: str = "grid",
        seed: int = 0,
        resize: Optional[Tuple[int, int]] = OFFICIAL_RESIZE,
        channels_last: bool = False,
        imagenet_backbone: bool = False,
        amp: Optional[str] = None,
        variant: Optional[str] = None,
    ):
        super().__init__(amp=amp, variant=variant)
        self.protocol = CropProtocol(num_crops, crop_mode, int(seed), resize)
        self.channels_last = bool(channels_last)

        import timm  # heavy: imported only when a model is built

        # timm's ResNet-50 (torchvision's parameter names); never downloaded by timm itself
        self.backbone = timm.create_model("resnet50", pretrained=False, features_only=True, out_indices=(1, 2, 3, 4))
        self.lda = LocalDistortionHeads()
        self.neck = self._build_neck()
        self.generator = HyperNetHead(HYPER_CHANNELS, TARGET_SIZES, FEATURE_SIZE)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._init_weights()
        if imagenet_backbone:
            self.load_imagenet_backbone()
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    # ----------------------------------------------------------------- architecture
    def _build_neck(self) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(2048, 1024, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(1024, 512, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(512, HYPER_CHANNELS, 1),
            nn.ReLU(inplace=True),
        )

    def _hyper_input(self, feats: Sequence[Tensor]) -> Tensor:
        return self.neck(feats[3])

    def load_imagenet_backbone(self, source: str = IMAGENET_BACKBONE) -> None:
        """Load ImageNet ResNet-50 weights (a file or manifest key, timm/torchvision names) into the
        backbone; the classifier ``fc.*`` is not part of it and is skipped."""
        from ..weights import load_backbone

        load_backbone(self.backbone, source, skip=("fc.",))

    def _init_weights(self) -> None:
        # official: LDA convs/linears and every generator layer Kaiming-normal (fan_in); the 1×1
        # conv stack keeps PyTorch's default initialisation
        _kaiming(self.lda, self.generator)

    def forward_patches(self, x: Tensor) -> Tensor:
        """Scores ``[N]`` of ImageNet-normalised 224×224 patches ``[N, 3, 224, 224]`` (training entry point)."""
        if x.shape[-2:] != (PATCH, PATCH):
            raise ValueError(f"{type(self).__name__} scores {PATCH}×{PATCH} patches, got {tuple(x.shape[-2:])}")
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        feats = self.backbone(x)
        weights, biases = self.generator(self._hyper_input(feats))
        return target_net(self.lda(feats), weights, biases, dropout=self.target_dropout, training=self.training)

    # ----------------------------------------------------------------- test-time protocol
    def _score_crops(self, crops: Tensor, n_images: int) -> Tensor:
        scores = self.forward_patches((crops - self.mean) / self.std)
        return scores.float().view(n_images, self.protocol.num_crops).mean(dim=1)

    def _score(self, x: Tensor) -> Tensor:
        return self._score_crops(self.protocol(x), x.shape[0])

    def _score_list(self, images: List[Tensor]) -> Tensor:
        # every image contributes num_crops patches of 224×224, so one forward pass takes them all
        return self._score_crops(torch.cat([self.protocol(img.unsqueeze(0)) for img in images]), len(images))

    def extra_repr(self) -> str:
        return f"{self.protocol}, channels_last={self.channels_last}"



class PyramidIQA(HyperIQA):
    """PyramidIQA (Lyu, SJTU course report) as built by its author's code (``ms_hyperIQA.MSHyperNet``).

    HyperIQA whose hyper-network input comes from an FPN over ResNet-50 layer2/3/4 (28², 14², 7²
    for a 224 patch; the report's 56/28/14 are those of a 448 input) with CBAM on each level, and
    whose target network has dropout 0.5 after its first layer in training.  The LDA heads still
    form the target network's input.  Same options and test protocol as :class:`HyperIQA` (the
    author's evaluation: Resize((512, 384)), 25 random crops).
    """

    converters = ("pyramidiqa.official",)
    target_dropout = 0.5

    @classmethod
    def training_hint(cls, config, key: str) -> str:
        return ("train it on KonIQ-10k with the author's recipe, `iqa train pyramidiqa-koniq --data koniq10k:ROOT "
                "--out runs/pyramidiqa` (docs/training.md; PATH: runs/pyramidiqa/model.safetensors, and the author's "
                "best_model.pkl layout is converted too)")

    def _build_neck(self) -> nn.Module:
        return PyramidNeck((512, 1024, 2048), 256, HYPER_CHANNELS)

    def _hyper_input(self, feats: Sequence[Tensor]) -> Tensor:
        return self.neck(feats[1:])

    def _init_weights(self) -> None:
        # author's code: FPN convs Kaiming-normal (fan_out, ReLU); fusion convs, LDA and generator
        # layers Kaiming-normal (fan_in); CBAM keeps PyTorch's default initialisation
        _kaiming(self.lda, self.generator, self.neck.fusion)
        _kaiming(self.neck.fpn, mode="fan_out", nonlinearity="relu")


# --------------------------------------------------------------------------- registration
_HYPERIQA_DESCRIPTION = "Hyper network writing a per-patch MLP on ResNet-50 features; mean over 25 crops."

# The preprocessing follows the weights: each file is scored with the protocol it was trained and
# evaluated with (pyiqa's retrain: native size, 5×5 grid; the authors' checkpoint: 512×384 resize).
register_metrics(HyperIQA, metric_configs(
    dict(
        kind="NR",
        higher_is_better=True,
        paper="Su et al., Blindly Assess Image Quality in the Wild Guided by a Self-Adaptive Hyper Network, CVPR 2020",
    ),
    {
        "hyperiqa.pyiqa": dict(
            score_range=(0.0, 1.0),
            licence="MIT (official code); weights: pyiqa's KonIQ-10k retrain (licence not stated)",
            weights=("hyperiqa",),
            defaults=dict(resize=None),
            description=_HYPERIQA_DESCRIPTION + " Weights: pyiqa's KonIQ-10k retrain (scores 0-1).",
            notes=(
                "Weights retrained by pyiqa on KonIQ-10k 512×384 images with MOS scaled to [0, 1]; scored as pyiqa "
                "evaluates them: native size (short side below 224 upscaled), 25 crops on a 5×5 grid. "
                "hyperiqa.official uses the authors' checkpoint (0-100) and the official 512×384 resize."
            ),
        ),
        "hyperiqa.official": dict(
            score_range=(0.0, 100.0),
            licence="MIT (official code and checkpoint, SSL92/hyperIQA)",
            weights=("hyperiqa@official",),
            defaults=dict(resize=OFFICIAL_RESIZE),
            description=_HYPERIQA_DESCRIPTION + " Weights: the authors' KonIQ-10k checkpoint (scores 0-100).",
            notes=(
                "The authors' koniq_pretrained.pkl is on Google Drive and must be downloaded by hand "
                "(see `iqa info hyperiqa.official`); scored with the official protocol: resize to 512×384 "
                "(height × width), 25 crops."
            ),
        ),
    },
))
register_metrics(PyramidIQA, metric_configs(
    dict(kind="NR", higher_is_better=True),
    {"pyramidiqa": dict(
        score_range=(0.0, 100.0),
        paper="Lyu, PyramidIQA: Multi-Scale Feature Pyramid Network with Attention for No-Reference IQA "
              "(SJTU course report)",
        licence="MIT (author's code); no published weights",
        weights=("pyramidiqa",),
        description="HyperIQA with an FPN + CBAM hyper-network input over ResNet-50 layer2/3/4.",
        notes="No trained weights are published: train it, or pass weights=PATH (author's or our layout).",
    )},
))
