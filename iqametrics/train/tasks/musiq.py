"""Training MUSIQ: multi-scale tokens of the flipped full image, as the paper fine-tunes.

Ke et al. (ICCV 2021) fine-tune from the ImageNet model with "only random horizontal flip, no
resize/crop" and cut the native-resolution sequence to ``l = 512`` patches in training
(MODELS.md §4.3).  Tokenisation runs in the DataLoader workers through the metric's own
:meth:`~iqametrics.models.musiq.MUSIQNet.tokenize` options, so training and inference share one
preprocessing; only the native cut differs (``max_native_patches``, a task option).
"""
from __future__ import annotations

from typing import Any, Dict, Sequence

import torch

from ...io import load_image
from ...nn.musiq_tokens import MUSIQTokens, tokenize
from . import register_task
from .base import Task, hflip, rating_histogram, stack_field
from ..options import at_least, one_of

__all__ = ["MUSIQTask"]


@register_task("musiq")
class MUSIQTask(Task):
    """MUSIQ fine-tuning (MODELS.md §4.3).

    Options: ``flip`` (0.5), ``max_native_patches`` (512, the paper's training cut; ``0`` keeps
    every patch), ``labels``, ``target`` (``"mos"`` for L1 on the score; ``"distribution"`` for
    EMD on a rating histogram, e.g. AVA's 10 bins: the head's softmax is the prediction).
    ``init = "musiq.imagenet"`` (or any checkpoint whose head has another size) loads the body and
    starts a zero head, as the official fine-tuning does.
    """

    kind = "NR"
    option_defaults = {"flip": 0.5, "max_native_patches": 512, "labels": "raw", "target": "mos"}
    option_checks = {"max_native_patches": at_least(0), "target": one_of("mos", "distribution")}

    def build_metric(self):
        metric = super().build_metric()
        net = metric.net
        cut = int(self.options["max_native_patches"])
        # plain values only: the workers tokenise with the network's preprocessing options
        self._tokens = dict(
            longer_side_lengths=net.longer_side_lengths,
            patch_size=net.patch_size,
            grid_size=net.grid_size,
            resize=net.resize,
            max_native_patches=cut if cut > 0 else None,
        )
        return metric

    def load_init(self, metric, source: str) -> None:
        from ...convert import convert_for_model
        from ...weights import load_state

        net = metric.net
        raw, entry = load_state(source)
        state = convert_for_model(raw, net.state_dict().keys(), converter=entry.converter if entry else None,
                                  candidates=metric.converters)
        head = state.get("head.weight")
        if head is not None and tuple(head.shape) == tuple(net.head.weight.shape):
            metric._load_converted(state)
        else:  # another task's head (ImageNet's 1000 classes): keep the body, start a new head
            net.load_backbone(state)
            net.reset_head()

    def target(self, record) -> torch.Tensor:
        if self.options["target"] == "distribution":
            return rating_histogram(record, "target='distribution'")
        return super().target(record)

    def load(self, record, generator: torch.Generator) -> Dict[str, Any]:
        (image,) = hflip(generator, self.options["flip"], load_image(record.path))
        return {"tokens": tokenize([image], **self._tokens), "target": self.target(record)}

    def collate(self, items: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
        parts = [item["tokens"] for item in items]
        tokens = MUSIQTokens(
            torch.cat([t.patches for t in parts]),
            torch.cat([t.spatial for t in parts]),
            torch.cat([t.scale for t in parts]),
            [n for t in parts for n in t.lengths],
        )
        return {"tokens": tokens, "target": stack_field(items, "target")}

    def to_device(self, batch, device):
        return {"tokens": batch["tokens"].to(device), "target": batch["target"].to(device, non_blocking=True)}

    def predict(self, metric, batch) -> torch.Tensor:
        outputs = metric.net.forward_tokens(batch["tokens"])
        if self.options["target"] == "distribution":
            return outputs.float().softmax(dim=-1)
        return outputs[:, 0]
