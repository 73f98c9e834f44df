# Over ~500 lines on purpose: one module per paper (docs/developing.md); the network, its two heads and their config tables share every constant.
"""TFIQA: CNN + transformer features for full-reference, no-reference and joint quality assessment.

C. Zeng and S. Kwong, "Learning Transformer Features for Image Quality Assessment" (City University
of Hong Kong; manuscript in ``shared/seeds/001``).  No code or weights were released; the gaps are
filled from TRIQ (You & Korhonen, ICIP 2021, ``junyongyou/triq``), whose transformer the paper
follows, and from DISTS (Ding et al. 2020, ``dingkeyan93/DISTS``), whose statistics it extends.
Every choice is tagged in ``docs/models/tfiqa.md`` ([P] paper, [C] TRIQ/DISTS code, [R] ours).

One Siamese encoder: a frozen VGG16 with DISTS's L2 pooling (:class:`~iqametrics.nn.texture_structure.DISTSStages`),
its relu5_3 map projected to D channels by a 1×1 convolution and pooled to tokens, a learned
quality token and positional embeddings, and a shallow post-LN transformer (TRIQ's layers).
Two heads:

* FR (Eq. 8): ``1 - Σ_i Σ_j (w^μ_ij s_μ + w^σ_ij s_σ)`` with DISTS's texture and structure terms
  on the image, the five VGG stages (per channel) and the outputs of every transformer layer (per
  token, statistics over the D embedding values; the quality token excluded).  Lower is better,
  0 for identical images.
* NR: the quality token's output -> Linear -> ReLU -> Dropout -> Linear -> 5 logits; the score is
  the mean ``Σ k p_k`` of the softmax (NIMA), in [1, 5], higher is better; an image's score is the
  mean over 224×224 crops (HyperIQA's patch protocol, which the paper follows in training).

Registered metrics: ``tfiqa.fr`` (FR head, D = 256), ``tfiqa.nr`` (NR head, D = 32), ``tfiqa.uni``
(both heads on one D = 256 encoder; an FR metric, ``m(dist, ref)``, whose :meth:`TFIQAFR.score_nr`
and :meth:`TFIQAFR.as_nr` score images alone) and ``tfiqa.uni.nr`` (the same UNI network and
checkpoint seen as an NR metric, for ``iqa score`` and NR evaluation).  ``config="d256"|"d32"``
switches between the paper's two configurations.

Departures and reconstructions (details in the model card): the FR path pools the projected map
to a fixed 12×16 token grid (``AdaptiveMaxPool2d``: exactly TRIQ's 2×2 max-pool on KADID's
384×512 images, any other size gives the same 192 tokens, so the per-token weights and the
positional table apply to every image); the FR weights are clamped at 0 and normalised by their
sum in the forward pass (DISTS; the paper's Eq. 8 has no normaliser); the reference and the
distorted image go through the encoder as two batches of the same shape, so identical images give
bit-identical features and a distance of exactly 0.
"""
from __future__ import annotations


from typing import Dict, Iterator, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..functional.crops import CropProtocol
from ..metric import FRMetric, NRMetric
from ..nn.ops import expected_score
from ..nn.texture_structure import DISTSStages, normalised_weights, texture_structure_distance
from ..nn.transformer import TransformerEncoder
from ..config import metric_configs
from ..registry import register_metrics
from ._feature_distance import backbone_group, with_untouched_groups

__all__ = ["TFIQANet", "TFIQAFR", "TFIQANR", "ARCHITECTURES", "CONFIGS_FR", "CONFIGS_NR", "RECIPES", "build_tfiqa_network"]

#: the two configurations of the paper's Sec. 4.2 [P]: the FR (and UNI) model, the NR-only model
#: the paper's two transformer sizes (its table); not to be confused with the metrics' config tables below
ARCHITECTURES: Dict[str, dict] = {
    "d256": dict(dim=256, depth=2, num_heads=4, mlp_dim=1024, head_dim=1024),
    "d32": dict(dim=32, depth=2, num_heads=8, mlp_dim=64, head_dim=64),
}
#: the iqametrics.train recipe of each variant, named in the "no weights" message
RECIPES = {"fr": "tfiqa-fr-kadid", "nr": "tfiqa-nr-koniq", "uni": "tfiqa-uni-koniq-kadid"}
_NO_RELEASE = " (Zeng & Kwong released neither code nor weights)"
#: manifest key of the ImageNet VGG16 (torchvision's weights) the encoder is built on
BACKBONE_WEIGHTS = "backbone.vgg16"
#: token grid of the FR path: TRIQ's 2×2 max-pool of the 24×32 relu5_3 map of a 384×512 KADID image
FR_GRID = (12, 16)
#: rows of the positional table (TRIQ's ``maximum_position_encoding`` default)
MAX_POSITIONS = 257
#: NR crop side (HyperIQA's patches; a 14×14 relu5_3 map, 196 tokens)
PATCH = 224
#: quality levels of the NR head (NIMA-style 5-bin distribution, KonIQ's rating scale)
NUM_LEVELS = 5
#: the NR protocol's resize, (height, width): KonIQ-10k's 512×384 release the NR head is trained on
NR_RESIZE = (384, 512)


class TFIQANet(nn.Module):
    """The TFIQA network: frozen VGG16 + trainable projection, tokens, post-LN transformer and heads.

    Inputs are RGB in [0, 1] (the ImageNet normalisation happens inside, after stage 0).

    Args:
        config: ``"d256"`` (the paper's FR/UNI configuration: 2 layers, D = 256, 4 heads, MLP 1024,
            head MLP 1024) or ``"d32"`` (its NR configuration: D = 32, 8 heads, MLP 64, head 64);
            ``dim``, ``depth``, ``num_heads``, ``mlp_dim``, ``head_dim`` override single values.
        fr_head, nr_head: build the FR weights (``alpha``/``beta``) and/or the NR classifier
            (``head``); UNI has both.
        dropout: after the positional embeddings, on both sub-layer outputs and in the NR head (0.1).
        fr_grid: token grid of the FR path (height, width); ``(12, 16)`` gives 192 tokens.
        dists_init: start the CNN-stage FR weights from the released DISTS ``alpha``/``beta``
            (shipped with iqametrics; no download; rescaled to mean 0.1) [R]; else N(0.1, 0.01)
            like the token weights.
        seed: seed of the initialisation (all of it, the VGG placeholder included), so an untrained
            network is reproducible without touching the global RNG.
        channels_last: run VGG16 in channels-last memory format (faster on CPU and tensor cores).

    Trainable: everything except ``backbone`` (whose parameters never require gradients).  After
    each optimiser step call :meth:`clamp_fr_weights_` (the paper clips the FR weights at 0).
    """

    def __init__(
        self,
        config: str = "d256",
        *,
        fr_head: bool = True,
        nr_head: bool = False,
        dim: Optional[int] = None,
        depth: Optional[int] = None,
        num_heads: Optional[int] = None,
        mlp_dim: Optional[int] = None,
        head_dim: Optional[int] = None,
        dropout: float = 0.1,
        fr_grid: Tuple[int, int] = FR_GRID,
        dists_init: bool = True,
        seed: Optional[int] = 0,
        channels_last: bool = True,
    ):
        super().__init__()
        if config not in ARCHITECTURES:
            raise ValueError(f"config must be one of {sorted(ARCHITECTURES)}, got {config!r}")
        if not (fr_head or nr_head):
            raise ValueError("TFIQANet needs at least one head (fr_head and/or nr_head)")
        given = dict(dim=dim, depth=depth, num_heads=num_heads, mlp_dim=mlp_dim, head_dim=head_dim)
        cfg = {**ARCHITECTURES[config], **{k: int(v) for k, v in given.items() if v is not None}}
        grid = tuple(int(v) for v in fr_grid)
        if len(grid) != 2 or min(grid) < 1 or grid[0] * grid[1] + 1 > MAX_POSITIONS:
            raise ValueError(f"fr_grid must be (height, width) with at most {MAX_POSITIONS - 1} cells, got {fr_grid!r}")
        self.config = config
        self.dim, self.depth = cfg["dim"], cfg["depth"]
        self.fr_grid = grid
        self.dists_init = bool(dists_init)
        self.channels_last = bool(channels_last)

        self.backbone = DISTSStages()
        self.backbone.requires_grad_(False)
        if self.channels_last:
            self.backbone.to(memory_format=torch.channels_last)
        #: where the backbone's weights came from (None: the random placeholder)
        self.backbone_source: Optional[str] = None

        self.projection = nn.Conv2d(self.backbone.channels[-1], self.dim, kernel_size=1)
        self.quality_token = nn.Parameter(torch.zeros(self.dim))
        self.pos_embed = nn.Parameter(torch.zeros(MAX_POSITIONS, self.dim))
        self.dropout = nn.Dropout(dropout)
        self.encoder = TransformerEncoder(
            self.dim, self.depth, cfg["num_heads"], cfg["mlp_dim"], eps=1e-6, act="relu", dropout=dropout,
            norm_first=False,
        )
        self.cnn_stage_sizes = tuple(self.backbone.stage_channels)
        n_tokens = grid[0] * grid[1]
        self.fr_stage_sizes = self.cnn_stage_sizes + (n_tokens,) * self.depth
        if fr_head:
            self.alpha = nn.Parameter(torch.zeros(sum(self.fr_stage_sizes)))
            self.beta = nn.Parameter(torch.zeros(sum(self.fr_stage_sizes)))
        if nr_head:
            self.head = nn.Sequential(
                nn.Linear(self.dim, cfg["head_dim"]), nn.ReLU(), nn.Dropout(dropout), nn.Linear(cfg["head_dim"], NUM_LEVELS)
            )
        self.reset_parameters(seed)

    @property
    def has_fr_head(self) -> bool:
        return hasattr(self, "alpha")

    @property
    def has_nr_head(self) -> bool:
        return hasattr(self, "head")

    # ------------------------------------------------------------------ initialisation
    def reset_parameters(self, seed: Optional[int] = 0) -> None:
        """The initialisation (from ``seed``; the global RNG if None).

        VGG16 placeholder: torchvision's Kaiming-normal (replaced by ImageNet weights); projection,
        transformer and NR head: Keras' defaults as in TRIQ (Glorot-uniform kernels, q, k and v
        each on its own, zero biases) [C]; positional table: Glorot-uniform as TRIQ's ``add_weight``
        [C]; quality token: truncated normal, std 0.02 [R]; FR weights: DISTS's released alpha/beta
        on the CNN stages, rescaled to mean 0.1, N(0.1, 0.01) (DISTS's own initialisation) on the
        tokens [R]: at initialisation the CNN stages carry 2,950 / 3,718 of the weight, in DISTS's
        proportions.
        """
        g = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        with torch.no_grad():
            for m in self.backbone.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=g)
                    m.bias.zero_()
            self.backbone_source = None
            nn.init.xavier_uniform_(self.projection.weight, generator=g)
            self.projection.bias.zero_()
            nn.init.xavier_uniform_(self.pos_embed, generator=g)
            nn.init.trunc_normal_(self.quality_token, std=0.02, a=-0.04, b=0.04, generator=g)
            self.encoder.reset_parameters(g)
            for block in self.encoder.blocks:
                block.mlp.fc1.bias.zero_()
                block.mlp.fc2.bias.zero_()
            if self.has_nr_head:
                for layer in (self.head[0], self.head[3]):
                    nn.init.xavier_uniform_(layer.weight, generator=g)
                    layer.bias.zero_()
            if self.has_fr_head:
                self.alpha.normal_(0.1, 0.01, generator=g)
                self.beta.normal_(0.1, 0.01, generator=g)
                if self.dists_init:
                    # DISTS released its weights normalised (Σα + Σβ = 1); the score only depends on
                    # their ratios, so they are put back on the scale DISTS trains at (mean 0.1, its
                    # N(0.1, 0.01) init), the scale of the token weights and of the optimiser's steps
                    released = _released_dists_weights()
                    n = sum(self.cnn_stage_sizes)
                    scale = 0.1 * 2 * n / float(released["alpha"].sum() + released["beta"].sum())
                    self.alpha[:n] = released["alpha"] * scale
                    self.beta[:n] = released["beta"] * scale

    def load_backbone(self, source: str = BACKBONE_WEIGHTS) -> "TFIQANet":
        """Load ImageNet VGG16 (a manifest key, or a torchvision / timm / DISTS_pytorch file)."""
        from ..convert import convert_for_model
        from ..weights import load_state

        raw, entry = load_state(source)
        own = {k for k in self.state_dict() if backbone_group(k) == "backbone"}
        state = convert_for_model(
            raw, own, converter=entry.converter if entry is not None else None,
            candidates=("vgg16_features", "dists_official"),
        )
        tensors = {k[len("backbone."):]: v for k, v in state.items() if k in own}
        missing = sorted(own - {"backbone." + k for k in tensors})
        if missing:
            raise ValueError(f"{source} is not a VGG16 checkpoint: missing {missing[:4]}")
        self.backbone.load_state_dict(tensors)
        self.backbone_source = str(source)
        return self

    # ------------------------------------------------------------------ weights of the trainable part
    def trainable_state_dict(self) -> Dict[str, Tensor]:
        """Every tensor except the frozen VGG16: what a TFIQA checkpoint holds."""
        return {k: v for k, v in self.state_dict().items() if backbone_group(k) != "backbone"}

    def trainable_parameters(self) -> List[nn.Parameter]:
        return [p for name, p in self.named_parameters() if backbone_group(name) != "backbone"]

    def fr_weights(self) -> Tuple[Tensor, Tensor]:
        """The FR weights as the forward pass uses them: clamped at 0, divided by their joint sum
        (so they are non-negative and sum to 1).  Two tensors [1,475 + depth × tokens]."""
        self._require("fr")
        return normalised_weights(self.alpha.clamp_min(0), self.beta.clamp_min(0))

    @torch.no_grad()
    def clamp_fr_weights_(self) -> None:
        """Project the FR weights onto w ≥ 0 in place (call after every optimiser step, as the
        paper and DISTS's training code do; the forward pass clamps too, so a checkpoint with
        negative values still gives non-negative effective weights)."""
        self._require("fr")
        self.alpha.clamp_(min=0)
        self.beta.clamp_(min=0)

    def _require(self, head: str) -> None:
        if not (self.has_fr_head if head == "fr" else self.has_nr_head):
            raise ValueError(f"this TFIQA network has no {head.upper()} head (build it with {head}_head=True)")

    # ------------------------------------------------------------------ encoder
    def cnn_stages(self, x: Tensor) -> Iterator[Tensor]:
        """The six DISTS stages of ``x`` [B, 3, H, W] in [0, 1], shallowest first."""
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.backbone.iter_stages(x)

    def tokens(self, stage5: Tensor, grid: Optional[Tuple[int, int]] = None) -> Tensor:
        """relu5_3 [B, 512, h, w] -> [B, 1 + N, D]: 1×1 projection, pooling, quality token,
        positional embeddings (the first N + 1 rows of the table, as TRIQ), dropout.

        ``grid``: adaptive max-pool to that grid (FR path); None: TRIQ's rule, a 2×2 max-pool
        when the map is at least 16 high (NR path: 224 crops give 14×14, no pooling)."""
        x = self.projection(stage5)
        if grid is not None:
            x = F.adaptive_max_pool2d(x, grid)
        elif x.shape[-2] >= 16:
            x = F.max_pool2d(x, 2)
        x = x.flatten(2).transpose(1, 2)  # [B, N, D], row-major over the grid
        n = x.shape[1]
        if n + 1 > MAX_POSITIONS:
            raise ValueError(
                f"{n} tokens do not fit the {MAX_POSITIONS}-row positional table; the NR path takes "
                f"{PATCH}×{PATCH} crops"
            )
        token = self.quality_token.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([token, x], dim=1) + self.pos_embed[: n + 1].to(x.dtype)
        return self.dropout(x)

    # ------------------------------------------------------------------ FR head
    def fr_stage_pairs(self, dist: Tensor, ref: Tensor) -> Iterator[Tuple[Tensor, Tensor]]:
        """(distorted, reference) float32 features of every compared stage: the six CNN stages
        [B, C, H, W], then the output of each transformer layer without the quality token [B, N, D].

        The two images run as two batches of the same shape, so a pair of identical images gets
        bit-identical features whatever the kernels do (one concatenated batch could round the
        two halves differently)."""
        for fd, fr in zip(self.cnn_stages(dist), self.cnn_stages(ref)):
            yield _float32(fd), _float32(fr)
        layers_d = self.encoder.layer_outputs(self.tokens(fd, self.fr_grid))
        layers_r = self.encoder.layer_outputs(self.tokens(fr, self.fr_grid))
        for yd, yr in zip(layers_d, layers_r):
            yield _float32(yd[:, 1:]), _float32(yr[:, 1:])

    def fr_distance(self, dist: Tensor, ref: Tensor) -> Tensor:
        """Eq. (8): the FR distance [B] of each (distorted, reference) pair; 0 for identical images."""
        self._require("fr")
        alpha, beta = (w.clamp_min(0).to(dist.dtype) for w in (self.alpha, self.beta))
        return texture_structure_distance(self.fr_stage_pairs(dist, ref), alpha, beta, self.fr_stage_sizes)

    # ------------------------------------------------------------------ NR head
    def nr_logits(self, patches: Tensor) -> Tensor:
        """The 5 quality-level logits [B, 5] of patches [B, 3, 224, 224] in [0, 1]."""
        self._require("nr")
        for stage5 in self.cnn_stages(patches):
            pass
        token = self.encoder(self.tokens(stage5), keep_first=1)[:, 0]
        return self.head(token)

    def nr_score(self, patches: Tensor) -> Tensor:
        """Expected quality level Σ k p_k in [1, 5] of each patch [B] (float32)."""
        return expected_score(self.nr_logits(patches))

    def extra_repr(self) -> str:
        heads = "+".join(h for h, on in (("fr", self.has_fr_head), ("nr", self.has_nr_head)) if on)
        return f"config={self.config!r}, heads={heads}, fr_grid={self.fr_grid}, channels_last={self.channels_last}"


def _float32(x: Tensor) -> Tensor:
    # statistics in float32 under autocast (float64 stays float64)
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _released_dists_weights() -> Dict[str, Tensor]:
    """DISTS's alpha/beta (shipped with iqametrics, manifest key ``dists``), flattened to [1475]."""
    from ..convert import get_converter
    from ..weights import load_state

    raw, entry = load_state("dists")
    return get_converter(entry.converter).convert(raw)


# ---------------------------------------------------------------------------- metrics
class _TFIQAMetric:
    """What the FR and NR metrics share: the network, its checkpoints and the frozen backbone."""

    supports_amp = True
    kwargs_target = TFIQANet
    kwargs_fixed = frozenset({"fr_head", "nr_head"})  # set by the registered name
    net: TFIQANet

    def weights_module(self) -> nn.Module:
        return self.net

    unpublished_reason = _NO_RELEASE

    @classmethod
    def training_hint(cls, config, key: str) -> str:
        return _training_hint(key)

    def load_backbone(self, source: str = BACKBONE_WEIGHTS):
        self.net.load_backbone(source)
        return self

    def load_checkpoint(self, source):
        """Load a TFIQA checkpoint: the state dict of the trainable network (our layout, as
        :meth:`TFIQANet.trainable_state_dict` and the trainer save it), optionally with the
        backbone's ``backbone.*`` tensors.  Without them, ImageNet VGG16 is loaded from the
        manifest's ``backbone.vgg16`` unless it was loaded before."""
        from ..weights import load_state

        raw, _ = load_state(source)
        state = {k: v for k, v in raw.items() if isinstance(v, Tensor)}
        if not state:
            raise ValueError(f"{source} holds no tensors: not a TFIQA checkpoint")
        own = self.net.state_dict()
        if all(backbone_group(k) == "backbone" for k in state):
            raise ValueError(
                f"{source} holds only VGG16 tensors, not a TFIQA checkpoint; load a backbone with load_backbone()"
            )
        self._load_converted(with_untouched_groups(own, state))
        if any(backbone_group(k) == "backbone" for k in state):
            self.net.backbone_source = str(source)
        elif self.net.backbone_source is None:
            self.net.load_backbone()
        return self


class TFIQAFR(_TFIQAMetric, FRMetric):
    """TFIQA's FR distance (lower is better, 0 for identical images); see the module docstring.

    Args:
        net: an existing :class:`TFIQANet` (with an FR head) to wrap; else one is built from
            ``config`` and ``net_options`` (see :class:`TFIQANet`).
        amp: ``"bf16"`` / ``"fp16"`` autocast (CUDA or CPU); the statistics stay float32.

    With an NR head too (UNI), :meth:`score_nr` scores images alone and :meth:`as_nr` gives the
    NR metric that shares this network.
    """

    def __init__(self, net: Optional[TFIQANet] = None, *, config: str = "d256", nr_head: bool = False,
                 amp: Optional[str] = None, variant: Optional[str] = None, **net_options):
        if net is not None:
            nr_head = net.has_nr_head
        super().__init__(amp=amp, variant=variant, variant_args={"nr_head": nr_head})
        self.net = net if net is not None else TFIQANet(config, fr_head=True, nr_head=nr_head, **net_options)
        self.net._require("fr")

    def _score(self, dist: Tensor, ref: Tensor) -> Tensor:
        return self.net.fr_distance(dist, ref)

    def as_nr(self, **protocol) -> "TFIQANR":
        """The NR metric on this network's NR head (UNI), sharing its weights and device."""
        self.net._require("nr")
        view = TFIQANR(self.net, amp=self.amp_dtype, **protocol).to(self.device)
        view.as_loss = self.as_loss
        return view.train(self.training)

    def score_nr(self, images, **protocol) -> Tensor:
        """NR scores (1-5, higher is better) of ``images`` with the UNI model's NR head."""
        return self.as_nr(**protocol)(images)


class TFIQANR(_TFIQAMetric, NRMetric):
    """TFIQA's NR score (expected quality level in [1, 5], higher is better).

    Args:
        net: an existing :class:`TFIQANet` (with an NR head) to wrap; else one is built from
            ``config`` (default ``"d32"``, the paper's NR configuration) and ``net_options``.
        num_crops, crop_mode, seed, resize: the crop protocol
            (:class:`~iqametrics.functional.crops.CropProtocol`): by default every image is
            resized to 384×512 (height × width, KonIQ-10k's 512×384 release the head is trained on)
            and scored as the mean over 25 crops of 224×224 on a 5×5 grid; ``resize=None`` keeps
            the native size.
        crop_batch: crops per forward pass (memory only; never changes a score beyond float rounding).
        amp: ``"bf16"`` / ``"fp16"`` autocast (CUDA or CPU).
    """

    accepts_mixed_sizes = True

    def __init__(self, net: Optional[TFIQANet] = None, *, config: str = "d32", fr_head: bool = False,
                 num_crops: int = 25, crop_mode: str = "grid", seed: int = 0,
                 resize: Optional[Tuple[int, int]] = NR_RESIZE, crop_batch: int = 32, amp: Optional[str] = None,
                 variant: Optional[str] = None, **net_options):
        if net is not None:
            fr_head = net.has_fr_head
        super().__init__(amp=amp, variant=variant, variant_args={"fr_head": fr_head})
        if isinstance(crop_batch, bool) or not isinstance(crop_batch, int) or crop_batch < 1:
            raise ValueError(f"crop_batch must be a positive integer, got {crop_batch!r}")
        self.net = net if net is not None else TFIQANet(config, fr_head=fr_head, nr_head=True, **net_options)
        self.net._require("nr")
        self.protocol = CropProtocol(num_crops, crop_mode, int(seed), resize, PATCH)
        self.crop_batch = crop_batch

    def _score_crops(self, crops: Tensor, n_images: int) -> Tensor:
        scores = torch.cat([self.net.nr_score(chunk) for chunk in crops.split(self.crop_batch)])
        return scores.view(n_images, self.protocol.num_crops).mean(dim=1)

    def _score(self, x: Tensor) -> Tensor:
        return self._score_crops(self.protocol(x), x.shape[0])

    def _score_list(self, images: List[Tensor]) -> Tensor:
        # every image gives num_crops crops of 224×224: all of them share the forward passes
        return self._score_crops(torch.cat([self.protocol(img.unsqueeze(0)) for img in images]), len(images))

    def extra_repr(self) -> str:
        return f"{self.protocol}, crop_batch={self.crop_batch}"


def build_tfiqa_network(variant: str = "fr", *, imagenet_backbone: bool = True, weights=None, **options) -> TFIQANet:
    """A bare :class:`TFIQANet` for training: ``variant`` ``"fr"`` (d256, FR head), ``"nr"`` (d32,
    NR head) or ``"uni"`` (d256, both), ImageNet VGG16 loaded (a download; ``backbone.vgg16``)
    unless ``imagenet_backbone=False``, and ``weights`` (a TFIQA checkpoint) if given."""
    if variant not in _VARIANTS:
        raise ValueError(f"variant must be one of {sorted(_VARIANTS)}, got {variant!r}")
    heads, config = _VARIANTS[variant]
    net = TFIQANet(options.pop("config", config), **{**heads, **options})
    if imagenet_backbone:
        net.load_backbone()
    if weights is not None:
        wrapper = TFIQANR(net) if net.has_nr_head and not net.has_fr_head else TFIQAFR(net)
        wrapper.load_checkpoint(weights)
    return net


# ---------------------------------------------------------------------------- registration
# variant -> (heads, default configuration)
_VARIANTS = {
    "fr": (dict(fr_head=True, nr_head=False), "d256"),
    "nr": (dict(fr_head=False, nr_head=True), "d32"),
    "uni": (dict(fr_head=True, nr_head=True), "d256"),
}
_COMMON = dict(
    paper="Zeng & Kwong, Learning Transformer Features for Image Quality Assessment (manuscript, CityU Hong Kong)",
    licence="Apache-2.0 (iqametrics implementation); no published weights; backbone: torchvision VGG16 (BSD-3-Clause)",
)
_NR = dict(kind="NR", higher_is_better=True, score_range=(1.0, float(NUM_LEVELS)))
_FR = dict(kind="FR", higher_is_better=False, score_range=(0.0, 1.0))
_NR_NOTES = "Options: config=d32|d256, num_crops, crop_mode, resize (height, width or None), crop_batch, amp."


def _training_hint(key: str) -> str:
    return (f"train it with `iqa train {RECIPES[key.split('.')[1]]} --data ... --out RUN` (docs/training.md; "
            f"PATH: RUN/model.safetensors; ImageNet VGG16, {BACKBONE_WEIGHTS}, is loaded with it)")


def _unpublished(key: str) -> str:
    return f"No published weights{_NO_RELEASE}: {_training_hint(key)}, then pass --weights PATH."


# every tag is its own model (FR, NR, joint): no bare `tfiqa`
CONFIGS_FR = metric_configs(_COMMON, {
    "tfiqa.fr": dict(
        **_FR, weights=("tfiqa.fr",), variant_args=dict(nr_head=False),
        description="TFIQA FR: DISTS statistics on VGG16 stages and per token on a 2-layer post-LN transformer "
        "(D = 256); distance, lower is better.",
        notes=_unpublished("tfiqa.fr") + " Options: config=d256|d32, fr_grid, channels_last, amp.",
    ),
    "tfiqa.uni": dict(
        **_FR, weights=("tfiqa.uni",), variant_args=dict(nr_head=True),
        description="TFIQA UNI (FR and NR heads on one encoder, D = 256) comparing a pair: FR distance, lower is "
        "better. m.score_nr(images), or tfiqa.uni.nr, scores images alone.",
        notes=_unpublished("tfiqa.uni") + " The same checkpoint serves tfiqa.uni.nr.",
    ),
}, default_tag=False)
CONFIGS_NR = metric_configs(_COMMON, {
    "tfiqa.nr": dict(
        **_NR, weights=("tfiqa.nr",), variant_args=dict(fr_head=False),
        description="TFIQA NR: quality token of a 2-layer post-LN transformer (D = 32) on VGG16 relu5_3, 5-level "
        "NIMA head; expected level (1-5), mean over 25 crops; higher is better.",
        notes=_unpublished("tfiqa.nr") + " " + _NR_NOTES,
    ),
    "tfiqa.uni.nr": dict(
        **_NR, weights=("tfiqa.uni",), variant_args=dict(fr_head=True), defaults=dict(config="d256"),
        description="TFIQA UNI scoring images alone: expected level (1-5) of its NR head, mean over 25 crops; "
        "higher is better.",
        notes="The NR side of tfiqa.uni (same checkpoint). " + _unpublished("tfiqa.uni") + " " + _NR_NOTES,
    ),
}, default_tag=False)

register_metrics(TFIQAFR, CONFIGS_FR)
register_metrics(TFIQANR, CONFIGS_NR)
