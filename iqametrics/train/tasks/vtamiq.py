"""Training VTAMIQ: aligned patches drawn afresh by context-aware sampling at every visit.

Chubarau & Clark train on 256 patches per image pair (1024 at test), resampled every time a pair
is seen, with a horizontal flip shared by both images (MODELS.md §5.4).  The patches come from the
metric's own sampler (:meth:`VTAMIQ.sample_patches`), seeded per pair from the draw's generator:
a pair's patches do not depend on the rest of its batch, the process count or the device.
"""
from __future__ import annotations

from typing import Any, Dict, List

import torch

from ...io import load_image
from . import register_task
from .base import Task, hflip, random_seed
from ..options import at_least, flag

__all__ = ["VTAMIQTask"]


@register_task("vtamiq")
class VTAMIQTask(Task):
    """VTAMIQ on (distorted, reference) pairs of one size (KADID-10k, KADIS-700k: 512×384).

    Options: ``flip`` (0.5), ``n_patches`` (256 in training, paper), ``labels`` (the paper's
    target is ``equalised_distortion``), ``imagenet_backbone`` (start the ViT from ImageNet when
    ``model.init`` is empty).  Groups: ``backbone`` (the ViT) and ``head`` (DiffNet,
    scale embeddings, MLP head).
    """

    kind = "FR"
    option_defaults = {"flip": 0.5, "n_patches": 256, "labels": "equalised_distortion", "imagenet_backbone": False}
    option_checks = {"n_patches": at_least(1), "imagenet_backbone": flag}

    def build_metric(self):
        import copy

        metric = super().build_metric()
        if self.options["imagenet_backbone"] and not self.recipe.model.init:
            metric.load_backbone()  # timm's ImageNet-21k -> 1k ViT-B/16-384, the paper's starting point
        self._sampler = copy.copy(metric.sampler)
        self._sampler.n_patches = int(self.options["n_patches"])
        return metric

    def load(self, record, generator: torch.Generator) -> Dict[str, Any]:
        dist, ref = hflip(generator, self.options["flip"], load_image(record.dist), load_image(record.ref))
        if dist.shape != ref.shape:
            raise ValueError(f"{record.key}: distorted {tuple(dist.shape)} and reference {tuple(ref.shape)} differ in size")
        return {"dist": dist, "ref": ref, "target": self.target(record), "seed": torch.tensor(random_seed(generator))}

    def param_groups(self, metric) -> Dict[str, List[torch.nn.Parameter]]:
        backbone = [p for p in metric.vit.parameters() if p.requires_grad]
        ids = {id(p) for p in backbone}
        return {"backbone": backbone, "head": [p for p in metric.parameters() if p.requires_grad and id(p) not in ids]}

    def predict(self, metric, batch) -> torch.Tensor:
        samples = [
            metric.sample_patches(batch["ref"][i : i + 1], batch["dist"][i : i + 1], sampler=self._sampler,
                                  generator=torch.Generator().manual_seed(int(seed)))
            for i, seed in enumerate(batch["seed"].tolist())
        ]
        ref_p = torch.cat([s[0] for s in samples])
        dist_p = torch.cat([s[1][0] for s in samples])
        position = torch.cat([s[2] for s in samples])
        scale = torch.cat([s[3] for s in samples])
        return metric.forward_patches(ref_p, dist_p, position, scale)
