"""VTAMIQ: Vision Transformer for Attention-Modulated Image Quality (full reference).

A. Chubarau and J. Clark, "VTAMIQ: Transformers for Attention Modulated Image Quality
Assessment", arXiv:2110.01655 (2021).  Authors' code: github.com/ch-andrei/VTAMIQ, commit
c67f036 (2021-10-08, the paper's configuration) and the 2022 code of the published checkpoint
(README of 055a4e3; model, sampling and configuration read at dc7411d / b3fd9d2).

N aligned 16×16 patches are drawn from the reference and the distorted image by context-aware
patch sampling (:mod:`iqametrics.nn.patch_sampling`); each set is encoded by the first 6 blocks
of a ViT-B/16 (timm's ``vit_base_patch16_384``) whose positional embedding is looked up at each
patch's cell of the 24×24 grid; the difference of the two [CLS] outputs goes through DiffNet
(4 residual groups × 4 residual channel-attention blocks, vector form) and an MLP head.
The output is a **distortion level** (trained targets: normalised distortion in [0, 1], 0 = no
visible distortion): lower is better.

Variants:

* ``vtamiq`` (alias ``vtamiq.kadis``): the architecture of the published checkpoint (2022 code):
  5-scale patch pyramid, scale embeddings, +1 positional offset, positions from patch centres.
* ``vtamiq.paper``: the paper's configuration (57,306,274 parameters), single scale, positions
  from patch corners; no published weights.

Departures from the paper and the authors' code (details in ``docs/models/vtamiq.md``): a
Gaussian centre bias instead of the DeepGaze II template; a three-box blur of the difference
map in exact integer arithmetic; sampling seeded by the image content (deterministic); the
+1 positional offset by default in the paper variant (``legacy_pos_index=True`` restores the
paper-era indexing); the 2022 code's stratified Halton sampler replaced by systematic sampling.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..metric import FRMetric, group_by_size
from ..nn.backbones import IMAGENET_MEAN, IMAGENET_STD
from ..nn.patch_sampling import PATCH_SIZE, CAPSampler, PatchSample, average_pyramid, extract_patches
from ..nn.rcab import residual_group_vector
from ..config import metric_configs
from ..registry import register_metrics

__all__ = ["VTAMIQ", "CONFIGS", "PAPER_CONFIG", "KADIS_CONFIG", "BACKBONE_WEIGHTS"]

#: cells per side of the ViT-B/16-384 positional table (576 + 1 [CLS] rows)
GRID = 24
#: manifest key of the ImageNet-21k → 1k ViT-B/16 (384 px) used to initialise training
BACKBONE_WEIGHTS = "backbone.vit_base_patch16_384"
_POSITIONS = ("corner", "center")

class VTAMIQ(FRMetric):
    """VTAMIQ distortion level (lower is better); see the module docstring and the model card.

    Args:
        n_patches: patches per image (paper: 1024 at test, 256 in training).
        sampling: ``"random"`` (i.i.d., as the paper's code) or ``"systematic"`` (stratified).
        center_weight, diff_weight, uniform_weight, center_sigma: CAPS map
            (:class:`~iqametrics.nn.patch_sampling.CAPSampler`); 0 / 0 / 1 is uniform sampling.
        num_scales: pyramid levels of the sampling; > 1 adds scale embeddings (2022 code).
        scale_ratio: patch-count ratio between pyramid levels.
        position: ``"corner"`` (paper-era: u = i / (H − 16)) or ``"center"`` (2022:
            u = (i + 8) / (H − 8)) normalised patch coordinates for the positional lookup.
        legacy_pos_index: paper-era indexing (no +1 offset: patches read rows 0…575 of the
            table, [CLS] gets no positional embedding); only with ``position="corner"``.
        seed: mixed into the per-pair content seed; other values give other (deterministic)
            samplings, e.g. to measure sampling variance.
        n_repeats: average the score over this many independent samplings.
        dropout: dropout of the MLP head (training only).
        amp: ``"bf16"`` / ``"fp16"`` autocast of the ViT (CUDA or CPU); DiffNet and head stay fp32.
    """

    accepts_mixed_sizes = True
    min_size = (PATCH_SIZE, PATCH_SIZE)
    supports_amp = True
    converters = ("vtamiq_2022",)

    @classmethod
    def training_hint(cls, config, key: str) -> str:
        return ("`vtamiq` is the authors' KADIS-700k checkpoint (2022 code); train the paper configuration with "
                "`iqa train vtamiq-kadis` then `iqa train vtamiq-kadid` (docs/training.md)")

    def __init__(
        self,
        *,
        n_patches: int = 1024,
        sampling: str = "random",
        center_weight: float = 2.0,
        diff_weight: float = 5.0,
        uniform_weight: float = 0.25,
        center_sigma: float = 0.25,
        num_scales: int = 1,
        scale_ratio: float = 1.5,
        position: str = "corner",
        legacy_pos_index: bool = False,
        seed: int = 0,
        n_repeats: int = 1,
        depth: int = 6,
        diffnet_groups: int = 4,
        diffnet_blocks: int = 4,
        reduction: int = 16,
        dropout: float = 0.2,
        amp: Optional[str] = None,
        variant: Optional[str] = None,
    ):
        super().__init__(amp=amp, variant=variant, variant_args={"num_scales": num_scales, "position": position})
        if position not in _POSITIONS:
            raise ValueError(f"position must be one of {_POSITIONS}, got {position!r}")
        if legacy_pos_index and position != "corner":
            raise ValueError("legacy_pos_index reproduces the paper-era code and needs position='corner'")
        if not isinstance(n_repeats, int) or n_repeats < 1:
            raise ValueError(f"n_repeats must be a positive integer, got {n_repeats!r}")
        self.sampler = CAPSampler(
            n_patches,
            center_weight=center_weight,
            diff_weight=diff_weight,
            uniform_weight=uniform_weight,
            center_sigma=center_sigma,
            mode=sampling,
            num_scales=num_scales,
            scale_ratio=scale_ratio,
            seed=seed,
        )
        self.position = position
        self.legacy_pos_index = bool(legacy_pos_index)
        self.n_repeats = n_repeats

        import timm  # heavy: imported when a model is built, never with the package

        # timm's definition of Google's ImageNet-21k -> 1k ViT-B/16 at 384 px, first `depth` blocks.
        # Dropouts of the authors' code (training only): embeddings 0.2, MLP 0.1, attention 0.
        self.vit = timm.create_model(
            "vit_base_patch16_384.orig_in21k_ft_in1k",
            pretrained=False,
            depth=depth,
            num_classes=0,
            pos_drop_rate=0.2,
            proj_drop_rate=0.1,
            attn_drop_rate=0.0,
        )
        for block in self.vit.blocks:
            block.attn.proj_drop.p = 0.0  # timm shares proj_drop_rate with the MLP; upstream uses 0 here
        width = self.vit.embed_dim
        if self.vit.pos_embed.shape[1] != GRID * GRID + 1:
            raise RuntimeError("unexpected positional table in timm's vit_base_patch16_384")
        self.scale_embed = nn.Parameter(torch.zeros(1, num_scales + 1, width)) if num_scales > 1 else None
        self.diffnet = nn.Sequential(
            *[residual_group_vector(width, diffnet_blocks, reduction) for _ in range(diffnet_groups)],
            nn.Linear(width, width),
        )
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(width, width // 4),
            nn.PReLU(),
            nn.Dropout(dropout),
            nn.Linear(width // 4, 1),
        )
        self.register_buffer("_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    # ------------------------------------------------------------------ positions
    def position_index(self, sample: PatchSample) -> Tensor:
        """Row of the positional table for every patch of ``sample`` (CPU long [N]).

        Reproduces the float32 arithmetic of the authors' code so that boundary cases fall in
        the same cell: ``"corner"`` (c67f036) maps ``i / (H − 16)`` to [−1, 1] and back with
        ``(p + 1) / (2 + 1e-6)``; ``"center"`` (2022) uses ``(i + 8) / (H − 8)`` clipped to
        ``1 − 1e-6``.  ``floor(24 u) · 24 + floor(24 v)``, plus 1 unless ``legacy_pos_index``.
        """
        sizes = torch.tensor(sample.level_sizes, dtype=torch.float64)[sample.levels]  # [N, 2]
        corners = sample.corners.to(torch.float64)
        if self.position == "corner":
            span = (sizes - PATCH_SIZE).clamp(min=1.0)  # an image exactly 16 px tall has one row: u = 0
            p = (corners / span * 2 - 1).to(torch.float32)
            u = (p + 1.0) / (2.0 + 1e-6)
        else:
            half = PATCH_SIZE // 2
            u = ((corners + half) / (sizes - half)).clamp(0.0, 1.0 - 1e-6).to(torch.float32)
        cell = torch.floor(u * GRID).to(torch.long)
        return cell[:, 0] * GRID + cell[:, 1] + (0 if self.legacy_pos_index else 1)

    # ------------------------------------------------------------------ network
    def encode(self, patches: Tensor, position: Tensor, scale: Optional[Tensor] = None) -> Tensor:
        """[CLS] features [B, 768] of patch sets [B, N, 3, 16, 16] (ImageNet-normalised).

        ``position`` [B, N] rows of the positional table; ``scale`` [B, N] pyramid levels
        (used when the model has scale embeddings).
        """
        vit = self.vit
        b = patches.shape[0]
        proj = vit.patch_embed.proj  # a 16×16/16 convolution on one patch is a linear map
        tokens = F.linear(patches.flatten(2), proj.weight.flatten(1), proj.bias)
        tokens = tokens + vit.pos_embed[0, position]
        cls = vit.cls_token.expand(b, -1, -1)
        if not self.legacy_pos_index:
            cls = cls + vit.pos_embed[:, :1]
        if self.scale_embed is not None:
            if scale is None:
                raise ValueError("this VTAMIQ has scale embeddings: pass the pyramid level of every patch")
            tokens = tokens + self.scale_embed[0, scale + 1]
            cls = cls + self.scale_embed[:, :1]
        x = vit.pos_drop(torch.cat([cls, tokens], dim=1))
        for block in vit.blocks:
            x = block(x)
        return vit.norm(x[:, 0])

    def feature_difference(
        self, ref_patches: Tensor, dist_patches: Tensor, position: Tensor, scale: Optional[Tensor] = None
    ) -> Tensor:
        """ViT [CLS] features of the reference minus those of the distorted patches, float32 (float64 for a float64
        model) [B, D]
        (``scale`` is ignored by a VTAMIQ without scale embeddings)."""
        b = ref_patches.shape[0]
        both = lambda t: None if t is None else torch.cat([t, t])  # noqa: E731
        scale = scale if self.scale_embed is not None else None
        features = self.encode(torch.cat([ref_patches, dist_patches]), both(position), both(scale))
        # the difference of two close feature vectors loses precision in 16 bits: it is taken in fp32
        # (or in fp64 for a float64 model)
        features = features.to(torch.promote_types(features.dtype, torch.float32))
        return features[:b] - features[b:]

    def forward_patches(
        self, ref_patches: Tensor, dist_patches: Tensor, position: Tensor, scale: Optional[Tensor] = None
    ) -> Tensor:
        """Raw VTAMIQ output [B] from aligned patch sets (the training entry point)."""
        diff = self.feature_difference(ref_patches, dist_patches, position, scale)
        # DiffNet and the head run in fp32 whatever the autocast state
        with torch.autocast(device_type=diff.device.type, enabled=False):
            return self.head(self.diffnet(diff)).squeeze(1)

    # ------------------------------------------------------------------ sampling
    def _normalise(self, x: Tensor) -> Tensor:
        return (x - self._mean) / self._std

    def sample_patches(self, ref: Tensor, *dists: Tensor, generator: torch.Generator = None, repeat: int = 0,
                       sampler: Optional[CAPSampler] = None):
        """Aligned patches of a same-size batch: ``(ref_patches, [dist_patches...], position, scale)``.

        ``ref``/``dists`` [B, 3, H, W] in [0, 1].  Without ``generator`` the corners are seeded by
        each pair's content (inference); pass one to draw fresh patches (training; several
        distorted batches, e.g. PieAPP triplets, share the corners).  ``sampler`` replaces the
        metric's own (training draws 256 patches where inference draws 1024).
        """
        return self._sample_patches(ref, dists, generator, (repeat,), sampler or self.sampler)

    def _sample_patches(self, ref: Tensor, dists: Sequence[Tensor], generator, repeats: Sequence[int],
                        sampler: Optional[CAPSampler] = None):
        # every repeat shares the difference maps and the pyramids; outputs are repeat-major [R·B, ...]
        sampler = sampler or self.sampler
        per_repeat = sampler.sample_repeats(ref, *dists, generator=generator, repeats=repeats)
        samples = [s for row in per_repeat for s in row]
        device = ref.device
        corners = torch.stack([s.corners for s in samples]).to(device, non_blocking=True)
        position = torch.stack([self.position_index(s) for s in samples]).to(device, non_blocking=True)
        scale = torch.stack([s.levels for s in samples]).to(device, non_blocking=True)
        counts = sampler.level_counts(*ref.shape[-2:])

        def gather(images: Tensor) -> Tensor:
            return extract_patches(average_pyramid(self._normalise(images), len(counts)), corners, counts)

        return gather(ref), [gather(d) for d in dists], position, scale

    def _score(self, dist: Tensor, ref: Tensor) -> Tensor:
        return self._score_groups([(list(range(dist.shape[0])), dist, ref)], dist.shape[0])

    def _score_list(self, dists: List[Tensor], refs: List[Tensor]) -> Tensor:
        groups = [
            (idx, torch.stack([dists[i] for i in idx]), torch.stack([refs[i] for i in idx]))
            for idx in group_by_size(dists).values()
        ]
        return self._score_groups(groups, len(dists))

    def _score_groups(self, groups, n_pairs: int) -> Tensor:
        # every pair has n_patches patches whatever its size: all same-size groups go through one ViT pass
        # patches of each same-size group for every repeat, stacked repeat-major
        batches = [self._sample_patches(ref, (dist,), None, range(self.n_repeats)) for _, dist, ref in groups]
        ref_p, dist_p, position, scale = (torch.cat(t) for t in zip(*[(r, d, p, s) for r, (d,), p, s in batches]))
        q = self.forward_patches(ref_p, dist_p, position, scale)
        scores = torch.empty(n_pairs, device=q.device, dtype=q.dtype)
        start = 0
        for idx, _, _ in groups:
            n = len(idx) * self.n_repeats
            scores[idx] = q[start : start + n].view(self.n_repeats, len(idx)).mean(0)
            start += n
        return scores

    # ------------------------------------------------------------------ weights
    def load_backbone(self, source: str = BACKBONE_WEIGHTS) -> "VTAMIQ":
        """Initialise the ViT from timm's ImageNet-21k → 1k ViT-B/16-384 (a file or manifest key).

        Blocks beyond the kept depth and the classifier are not used by VTAMIQ and are skipped;
        any other unexpected or missing tensor is an error.
        """
        from ..weights import load_state

        state, _ = load_state(source)
        depth = len(self.vit.blocks)
        own = set(self.vit.state_dict())
        kept, unknown = {}, []
        for key, value in state.items():
            if key in own:
                kept[key] = value
            elif not (key.startswith("head.") or (key.startswith("blocks.") and int(key.split(".")[1]) >= depth)):
                unknown.append(key)  # the classifier and the blocks beyond `depth` are skipped by name
        missing = sorted(own - set(kept))
        if unknown or missing:
            raise ValueError(f"not a timm ViT-B/16 state dict: unexpected {unknown[:5]}, missing {missing[:5]}")
        self.vit.load_state_dict(kept)
        return self


# ---------------------------------------------------------------------- registration
_NOMINAL_RANGE = "Nominal range [0, 1]; the regressor is unbounded."

# variant_args: the architecture the weights were trained with (scale embeddings, how positions are
# read); defaults: the patch sampling of the code that trained them.
CONFIGS = metric_configs(
    dict(
        kind="FR",
        higher_is_better=False,
        score_range=(0.0, 1.0),
        paper="A. Chubarau, J. Clark, VTAMIQ: Transformers for Attention Modulated Image Quality Assessment, "
        "arXiv:2110.01655 (2021)",
        licence="Apache-2.0 (iqametrics implementation); published weights: the authors state no licence",
    ),
    {
        # the published checkpoint's configuration (2022 code): 5 scales (count ratio 1.5), scale
        # embeddings, positions from patch centres, sampling weights 2 / 2 / 0.5, stratified draws
        "vtamiq.kadis": dict(
            weights=("vtamiq.kadis",),
            variant_args=dict(num_scales=5, position="center"),
            defaults=dict(scale_ratio=1.5, center_weight=2.0, diff_weight=2.0, uniform_weight=0.5,
                          sampling="systematic"),
            description="VTAMIQ as built by the authors' 2022 code (5-scale patch pyramid, scale embeddings) for "
            "their KADIS-700k checkpoint; distortion level, lower is better.",
            notes="Authors' checkpoint pretrained on KADIS-700k (2022 code: 5-scale sampling, scale embeddings), "
            "hosted on Google Drive: it downloads by itself with the drive extra (pip install \"iqametrics[drive]\"), "
            "otherwise `iqa info vtamiq` says how to fetch it by hand. The paper's configuration is vtamiq.paper. The 2022 sampler's patch-count ratio between scales is uncertain "
            "(option scale_ratio, see the model card). " + _NOMINAL_RANGE,
        ),
        # the paper's configuration (c67f036): sampling weights 2 / 5 / 0.25, i.i.d. draws, one scale
        "vtamiq.paper": dict(
            weights=("vtamiq.paper",),
            variant_args=dict(num_scales=1, position="corner"),
            defaults=dict(center_weight=2.0, diff_weight=5.0, uniform_weight=0.25, sampling="random"),
            description="Transformer FR metric: ViT-B/16 (6 blocks) on sampled patches + channel-attention DiffNet; "
            "distortion level, lower is better. Paper configuration (57.3 M parameters).",
            notes="The paper's configuration (c67f036 code). No weights were published for it: train it "
            "(iqa train vtamiq-kadis, then vtamiq-kadid), pass weights=PATH, or put vtamiq_paper.pth in "
            "IQAMETRICS_WEIGHTS_DIR. The authors' published checkpoint (KADIS-700k, 2022 code) is vtamiq. "
            "Nominal range: trained on normalised distortion in [0, 1]; the regressor is unbounded. Scores are deterministic (patch sampling seeded by "
            "the image content).",
        ),
    },
)
register_metrics(VTAMIQ, CONFIGS)

#: constructor arguments of the paper's configuration and of the published checkpoint's
PAPER_CONFIG = {**CONFIGS["vtamiq.paper"].variant_args, **CONFIGS["vtamiq.paper"].defaults}
KADIS_CONFIG = {**CONFIGS["vtamiq"].variant_args, **CONFIGS["vtamiq"].defaults}
