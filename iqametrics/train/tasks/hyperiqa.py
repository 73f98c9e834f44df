"""Training HyperIQA and PyramidIQA: random 224×224 crops of the resized image, one score per crop.

Both official codes train on crops of the test-time resize (``transforms.Resize((512, 384))``,
PIL bilinear), drawn by ``RandomCrop(224)`` after a random horizontal flip, each image
contributing 25 crops per epoch (``data.repeats = 25``); the loss compares each crop's score
with its image's label.  The resize here is the metric's own :class:`CropProtocol`, so training
and inference cannot drift; the crop position comes from the draw's generator through
:func:`~iqametrics.functional.crops.crop_offsets`.
"""
from __future__ import annotations

from typing import Dict, List

import torch

from ...io import load_image
from . import register_task
from .base import Task, hflip, load_backbone, protocol_crop
from ..options import flag

#: manifest key of torchvision's ImageNet ResNet-50 (timm ``resnet50.tv_in1k``)
IMAGENET_BACKBONE = "backbone.resnet50"

__all__ = ["HyperIQATask"]


@register_task("hyperiqa")
class HyperIQATask(Task):
    """HyperIQA/PyramidIQA on 224 crops (MODELS.md §1.5, §2.3).

    Options: ``flip`` (probability of a horizontal flip, official 0.5), ``labels`` (see
    :mod:`iqametrics.train.labels`), ``imagenet_backbone`` (start the ResNet-50 from torchvision's
    ImageNet weights, manifest key ``backbone.resnet50``, as both official codes do; ignored when
    ``model.init`` gives a whole checkpoint).  Parameter groups: ``backbone`` (the ResNet-50 and, as in
    both official codes, the LDA heads) and ``head`` (everything else: neck and weight generators).
    """

    kind = "NR"
    option_defaults = {"flip": 0.5, "labels": "raw", "imagenet_backbone": False}
    option_checks = {"imagenet_backbone": flag}

    def load(self, record, generator: torch.Generator) -> Dict[str, torch.Tensor]:
        (image,) = hflip(generator, self.options["flip"], load_image(record.path))
        return {"image": protocol_crop(image, self._protocol, generator), "target": self.target(record)}

    def build_metric(self):
        metric = super().build_metric()
        if self.options["imagenet_backbone"] and not self.recipe.model.init:
            load_backbone(metric.backbone, IMAGENET_BACKBONE, skip=("fc.",))
        # the protocol is plain data: workers receive it with the task, never the network
        self._protocol = metric.protocol
        return metric

    def param_groups(self, metric) -> Dict[str, List[torch.nn.Parameter]]:
        backbone = [p for m in (metric.backbone, metric.lda) for p in m.parameters() if p.requires_grad]
        ids = {id(p) for p in backbone}
        head = [p for p in metric.parameters() if p.requires_grad and id(p) not in ids]
        return {"backbone": backbone, "head": head}

    def predict(self, metric, batch) -> torch.Tensor:
        x = (batch["image"] - metric.mean) / metric.std
        return metric.forward_patches(x)
