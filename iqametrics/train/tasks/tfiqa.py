"""Training TFIQA (Zeng & Kwong): the FR head on whole pairs, the NR head on crops, or both at once.

MODELS.md §3.5: the FR model learns KADID-10k pairs with the squared error to ``(5 − MOS)/4``
(the ``distortion`` label transform on KADID's 1–5 scale), the NR model learns KonIQ-10k with the
EMD between its 5-level softmax and the rating histogram, and UNI takes one KonIQ batch and one
KADID batch per step and minimises the sum.  VGG16 stays frozen (its gradients are off); the FR
weights are projected onto w ≥ 0 after every step, as the paper and DISTS's training do.  The NR
crops are the metric's own protocol (resize to 384×512, then a random 224 crop).
"""
from __future__ import annotations

from typing import Any, Dict, List

import torch

from ...io import load_image
from ..labels import LabelTransform
from . import register_task
from .base import Task, hflip, protocol_crop, rating_histogram
from ..options import flag

__all__ = ["TFIQAFRTask", "TFIQANRTask", "TFIQAUNITask"]


class _TFIQATask(Task):
    option_defaults = {"flip": 0.5, "imagenet_backbone": True}
    option_checks = {"imagenet_backbone": flag}

    def build_metric(self):
        metric = super().build_metric()
        if self.options["imagenet_backbone"] and metric.net.backbone_source is None:
            metric.net.load_backbone()  # ImageNet VGG16, frozen (backbone.vgg16)
        if metric.net.has_nr_head:  # the NR crops follow the NR metric's protocol (tfiqa.uni's NR side too)
            self._protocol = (metric if hasattr(metric, "protocol") else metric.as_nr()).protocol
        return metric

    def freeze(self, metric) -> None:
        trainable = {id(p) for p in metric.net.trainable_parameters()}
        for p in metric.net.parameters():
            p.requires_grad_(id(p) in trainable)

    def param_groups(self, metric) -> Dict[str, List[torch.nn.Parameter]]:
        return {"all": list(metric.net.trainable_parameters())}

    def after_step(self, metric) -> None:
        if metric.net.has_fr_head:
            metric.net.clamp_fr_weights_()

    # the two kinds of sample, shared by the FR, NR and joint tasks
    def _pair(self, record, generator) -> Dict[str, Any]:
        dist, ref = hflip(generator, self.options["flip"], load_image(record.dist), load_image(record.ref))
        return {"dist": dist, "ref": ref, "target": torch.tensor(self._fr_labels(record.mos), dtype=torch.float32)}

    def _crop(self, record, generator) -> Dict[str, Any]:
        (image,) = hflip(generator, self.options["flip"], load_image(record.path))
        return {"image": protocol_crop(image, self._protocol, generator), "target": rating_histogram(record, "TFIQA's NR head")}


@register_task("tfiqa_fr")
class TFIQAFRTask(_TFIQATask):
    """TFIQA FR on whole (distorted, reference) pairs of one size (KADID-10k's 512×384)."""

    kind = "FR"

    def fit_labels(self, train_set):
        self.labels = self._fr_labels = LabelTransform.fit("distortion", train_set)  # (5 - MOS) / 4 on KADID
        return self.labels

    def load(self, record, generator):
        return self._pair(record, generator)

    def predict(self, metric, batch):
        return metric.net.fr_distance(batch["dist"], batch["ref"])


@register_task("tfiqa_nr")
class TFIQANRTask(_TFIQATask):
    """TFIQA NR on random 224 crops of the protocol's resize, EMD to the rating histogram."""

    kind = "NR"

    def fit_labels(self, train_set):
        # the head predicts a histogram; its expected level (1-5) orders images like the MOS
        self.labels = LabelTransform("raw", tuple(train_set.score_range), True)
        return self.labels

    def load(self, record, generator):
        return self._crop(record, generator)

    def predict(self, metric, batch):
        return metric.net.nr_logits(batch["image"]).float().softmax(-1)


@register_task("tfiqa_uni")
class TFIQAUNITask(_TFIQATask):
    """TFIQA UNI: each step one NR batch (the primary data set, KonIQ-10k) and one FR batch (the
    joint data set, KADID-10k) through one encoder; the loss is their sum (Eq. 11).  Validation
    scores the NR split with the network's NR side (``tfiqa.uni.nr``)."""

    kind = "NR"
    joint_kind = "FR"

    def fit_labels(self, train_set):
        self.labels = LabelTransform("raw", tuple(train_set.score_range), True)
        # KADID's 1-5 MOS as a distance: the same (5 - MOS) / 4 as the FR task (MODELS.md §3.5 [R])
        self._fr_labels = LabelTransform("distortion", (1.0, 5.0), True)
        return self.labels

    def load(self, record, generator):
        return self._pair(record, generator) if hasattr(record, "dist") else self._crop(record, generator)

    def predict(self, metric, batch):
        nr, fr = batch["primary"], batch["joint"]
        return metric.net.nr_logits(nr["image"]), metric.net.fr_distance(fr["dist"], fr["ref"])

    def loss(self, net, batch, loss_fn):
        # loss_fn: the recipe's "tfiqa_uni", L_fr + L_nr (iqametrics.train.losses.tfiqa_uni_loss)
        logits, distance = net(batch)
        return loss_fn(distance.float(), batch["joint"]["target"], logits.float(), batch["primary"]["target"])

    def validation_metric(self, metric):
        return metric.as_nr()

