"""Training PRFNet (reconstruction) on 2AFC triplets: aligned crops, shared flips, A/B swaps.

MODELS.md §6.3 [R]: aligned random 384×384 crops of the three images, the same horizontal and
vertical flips and 90° rotations on all of them (as IQA-TMFM does), and A and B swapped with
probability ½ with the label flipped; step 1 trains a 2-way classifier with cross-entropy, step 2
the 1-logit head (initialised from step 1's logit difference) with the squared error of σ(z).
The crop corner comes from the draw's generator through the library's
:func:`~iqametrics.functional.crops.crop_offsets`; validation runs the metric's own 3×3 tiled,
symmetrised ``prefer``.
"""
from __future__ import annotations

from typing import Dict, List

import torch

from ...functional.crops import crop_offsets, extract_crops
from ...io import load_image
from . import register_task
from .base import Task, random_seed
from ..options import at_least, flag, probability

__all__ = ["PRFNetTask"]

#: name of the head's last linear layer in PRFNetwork's state dict
_LAST = "head.3"


def _same_geometry(generator: torch.Generator, *images: torch.Tensor):
    """One random flip/rotation (the 8 symmetries of the square) applied to every image."""
    k, flip = (int(v) for v in torch.randint(0, 4, (1,), generator=generator).tolist() + torch.randint(0, 2, (1,), generator=generator).tolist())
    out = []
    for img in images:
        img = torch.rot90(img, k, dims=(-2, -1))
        out.append(img.flip(-1) if flip else img)
    return out


@register_task("prfnet")
class PRFNetTask(Task):
    """PRFNet on ``(O, A, B, p_a)`` triplets (2AFC).

    Options: ``crop`` (384), ``geometry`` (random flips and 90° rotations, shared), ``swap``
    (probability of exchanging A and B, label flipped: 0.5), ``imagenet_backbone`` (start from
    timm's ImageNet Res2Net-50 when ``model.init`` is empty).  Groups: ``backbone`` (the Res2Net
    trunk; its SE gates included) and ``head`` (cross-subtract, fusion, head).  A step-1 checkpoint
    (2-way head) given as ``model.init`` to a regression network becomes its ``z = l_A − l_B`` head.
    """

    kind = "2AFC"
    option_defaults = {"crop": 384, "geometry": True, "swap": 0.5, "imagenet_backbone": False}
    option_checks = {"crop": at_least(32), "geometry": flag, "swap": probability, "imagenet_backbone": flag}

    def build_metric(self):
        metric = super().build_metric()
        if self.options["imagenet_backbone"] and not self.recipe.model.init:
            metric.net.load_backbone()
        return metric

    def load_init(self, metric, source: str) -> None:
        from ...weights import load_state

        state, _ = load_state(source)
        state = dict(state)
        weight = state.get(f"{_LAST}.weight")
        if weight is not None and weight.shape[0] == 2 and metric.net.head_kind == "regression":
            # the step-1 classifier's two logits become one, z = l_A - l_B (to_regression_head's rule)
            state[f"{_LAST}.weight"] = weight[0:1] - weight[1:2]
            bias = state[f"{_LAST}.bias"]
            state[f"{_LAST}.bias"] = bias[0:1] - bias[1:2]
        metric._load_converted(state)

    def fit_labels(self, train_set):
        from ..labels import LabelTransform

        self.labels = LabelTransform("raw", (0.0, 1.0), True)  # p_a is already a probability
        return self.labels

    def target(self, record) -> torch.Tensor:
        return torch.tensor(float(record.p_a), dtype=torch.float32)

    def load(self, record, generator: torch.Generator) -> Dict[str, torch.Tensor]:
        ref, a, b = (load_image(p) for p in (record.ref, record.a, record.b))
        if not ref.shape == a.shape == b.shape:
            raise ValueError(f"{record.key}: O, A and B differ in size")
        size = int(self.options["crop"])
        (top, left), = crop_offsets(ref.shape[-2], ref.shape[-1], size, 1, mode="random", seed=random_seed(generator))
        ref, a, b = (extract_crops(t, [(top, left)], size)[0] for t in (ref, a, b))
        if self.options["geometry"]:
            ref, a, b = _same_geometry(generator, ref, a, b)
        p_a = float(record.p_a)
        if float(torch.rand((), generator=generator)) < self.options["swap"]:
            a, b, p_a = b, a, 1.0 - p_a
        return {"ref": ref.contiguous(), "a": a.contiguous(), "b": b.contiguous(),
                "target": torch.tensor(p_a, dtype=torch.float32)}

    def param_groups(self, metric) -> Dict[str, List[torch.nn.Parameter]]:
        backbone = [p for p in metric.net.backbone.parameters() if p.requires_grad]
        ids = {id(p) for p in backbone}
        return {"backbone": backbone, "head": [p for p in metric.net.parameters() if p.requires_grad and id(p) not in ids]}

    def predict(self, metric, batch) -> torch.Tensor:
        return metric.net(batch["ref"], batch["a"], batch["b"])
