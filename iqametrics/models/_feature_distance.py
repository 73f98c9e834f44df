"""What LPIPS and DISTS share: a frozen ImageNet backbone, a small calibrated head, one pass.

Both compare the feature maps of the distorted and the reference image layer by layer.  The
pair is concatenated into one batch so the backbone runs once, in channels-last layout (faster
convolutions on CPU and tensor cores), and each tapped map is reduced to per-image numbers as
soon as it is computed, so a large batch never holds every map of every layer at once.

The state dict has two groups, ``backbone.*`` (ImageNet weights, downloaded) and the head
(shipped inside the package); a checkpoint may supply either group or both
(:meth:`FeatureDistanceMetric._load_converted`), so a torchvision backbone file or an upstream
head file loads on its own.
"""
from __future__ import annotations

from typing import Iterator, Mapping, Tuple

import torch
from torch import Tensor

from ..metric import FRMetric
from ..convert.backbones import PREFIX as BACKBONE_PREFIX
from ..nn.backbones import TappedFeatures



class FeatureDistanceMetric(FRMetric):
    """Base class: ``self.backbone`` is a :class:`TappedFeatures`; subclasses define
    :meth:`_feature_maps` (what is compared) and ``_score`` (how)."""

    supports_amp = True

    def __init__(self, backbone: TappedFeatures, *, channels_last: bool = True, amp=None, variant=None,
                 variant_args=None):
        super().__init__(amp=amp, variant=variant, variant_args=variant_args)
        self.backbone = backbone
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.backbone.to(memory_format=torch.channels_last)
            # checkpoints stay in the ordinary layout (safetensors refuses non-contiguous tensors)
            self._register_state_dict_hook(_contiguous_state)

    def freeze(self) -> "FeatureDistanceMetric":
        """No parameter takes gradients, also with ``as_loss=True``: the loss differentiates with
        respect to the images only (as the official packages do for their backbones)."""
        for p in self.parameters():
            p.requires_grad_(False)
        return self

    @classmethod
    def from_config(cls, config, /, *, pretrained: bool, **arguments) -> "FeatureDistanceMetric":
        # the head ships in the package and loads even untrained; only the backbone is a download
        return cls.build_variant(config, **arguments).load_published(backbone=pretrained)

    def load_published(self, backbone: bool = True) -> "FeatureDistanceMetric":
        """Load the shipped head and, if ``backbone``, the ImageNet backbone (a download;
        :class:`~iqametrics.weights.WeightsUnavailableError` says how to supply it offline).
        The manifest keys are the config's ``weights``: (head, backbone)."""
        if self.info is None:
            raise ValueError(f"{type(self).__name__} built outside its registered configurations has no published weights")
        head_key, backbone_key = self.info.weights
        self.load_checkpoint(head_key)
        if backbone:
            self.load_checkpoint(backbone_key)
        return self

    def _feature_maps(self, x: Tensor) -> Iterator[Tensor]:  # pragma: no cover - abstract
        """The maps compared, for the concatenated batch ``x`` = [distorted; reference] in [0, 1]."""
        raise NotImplementedError

    def _feature_pairs(self, dist: Tensor, ref: Tensor) -> Iterator[Tuple[Tensor, Tensor]]:
        """(distorted, reference) float32 maps, layer by layer, from one backbone pass."""
        n = dist.shape[0]
        x = torch.cat([dist, ref])
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        for f in self._feature_maps(x):
            if f.dtype in (torch.float16, torch.bfloat16):
                f = f.float()  # statistics in float32 under autocast
            yield f[:n], f[n:]

    def _load_converted(self, state: dict) -> None:
        """Strict loading per group: the groups the checkpoint touches must be complete; the
        others keep their current weights."""
        if not state:
            raise ValueError(f"checkpoint for {self.name} holds no tensors")
        super()._load_converted(with_untouched_groups(self.weights_module().state_dict(), state))


def backbone_group(key: str) -> str:
    """``"backbone"`` for the ImageNet backbone's tensors (``backbone.*``), ``"head"`` for the others."""
    return "backbone" if key.startswith(BACKBONE_PREFIX) else "head"


def with_untouched_groups(own: Mapping[str, Tensor], state: Mapping[str, Tensor]) -> dict:
    """``state`` completed with the current tensors (``own``) of the groups it does not touch, so
    that a checkpoint holding only the backbone or only the head loads strictly."""
    touched = {backbone_group(k) for k in state}
    return {**{k: v for k, v in own.items() if backbone_group(k) not in touched}, **state}


def _contiguous_state(module, state_dict, prefix, local_metadata):
    for key, value in state_dict.items():
        if key.startswith(prefix) and not value.is_contiguous():
            state_dict[key] = value.contiguous()
