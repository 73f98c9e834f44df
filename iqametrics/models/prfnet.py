"""PRFNet, RECONSTRUCTED: a 2AFC comparator (which of A, B is closer to the reference O?).

K. Wu, X. Jiang, R. Yu, Y. Luo, T. Jiang, X. Wu, P. Wei, "Progressive Feature Fusion Network for
Enhancing Image Quality Assessment", arXiv:2401.06992 (2024); 2nd place, CLIC 2022 perceptual
track (accuracy 0.781 on the CLIC validation set).  No code and no weights were published.

**This is a reconstruction, not the authors' network.**  Only the paper's abstract and the
opening of its introduction could be read (see ``docs/models/prfnet.md`` for every search);
they name the components, not their internals:

* an SE-Res2Net-50 shared by O, A and B, multi-scale features of its four stages;
* a *cross subtract block* that compares the positive and negative pairs in feature space;
* a *progressive feature fusion block* that merges the stages step by step;
* two-step training, first as classification, then as regression.

Everything else follows the reconstruction of ``MODELS.md`` §6.2–6.3, every alternative it names
being a constructor option: SE gates on/off (``se``), fusion direction (``fusion``), the head of
either training step (``head``), signed or absolute differences (``signed_differences``), and the
deterministic 3×3 crop tiling of the inference (``crop_size``, ``n_crops``).  Its parameters
are counted in the model card.  Departures from ``MODELS.md``: convolutions followed by batch
normalisation have no bias (``MODELS.md``'s arithmetic counts 3,200 redundant ones); the
Res2Net is timm's ``res2net50_26w_4s`` (plain stem, the network ``MODELS.md``'s parameter count
describes, not a "v1b" deep stem); the untrained backbone does not zero its last batch-norm
scales (so that gradients reach every layer before training).
"""
from __future__ import annotations


from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..functional.crops import crop_offsets
from ..metric import FRMetric, group_by_size
from ..nn.backbones import IMAGENET_MEAN, IMAGENET_STD
from ..preference import symmetric_probability
from ..config import metric_configs
from ..registry import register_metrics

__all__ = [
    "PRFNet",
    "PRFNetwork",
    "CrossSubtract",
    "ProgressiveFusion",
    "BACKBONE_WEIGHTS",
    "STAGE_CHANNELS",
    "FUSED_CHANNELS",
    "FUSION_DIRECTIONS",
    "HEADS",
]

#: manifest key of timm's ImageNet-1k Res2Net-50 26w×4s, the initialisation of the trunk
BACKBONE_WEIGHTS = "backbone.res2net50_26w_4s"
#: output channels of the four Res2Net-50 stages (strides 4, 8, 16, 32)
STAGE_CHANNELS = (256, 512, 1024, 2048)
#: channels of the compared (and fused) features of each stage [R]
FUSED_CHANNELS = (64, 128, 256, 512)
FUSION_DIRECTIONS = ("shallow_to_deep", "deep_to_shallow")
#: "classification": 2 logits (class 0 = A closer, as CLIC's T = 0); "regression": 1 logit of p(A closer)
HEADS = ("classification", "regression")
#: initial bias of the SE excitation: every gate starts at σ(5) ≈ 0.993, near identity [R]
SE_GATE_BIAS = 5.0


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class CrossSubtract(nn.Module):
    """Cross subtract block of one stage [R]: ``ReLU(BN(Conv1×1([|O − A|, |O − B|, A − B])))``.

    The positive and negative differences (reference minus each candidate) and the cross
    difference of the candidates, concatenated on channels; ``signed=True`` keeps the signs of
    the first two.  Swapping A and B swaps the first two groups and negates the third.
    """

    def __init__(self, in_channels: int, out_channels: int, *, signed: bool = False):
        super().__init__()
        self.signed = signed
        self.project = conv_bn_relu(3 * in_channels, out_channels, 1)

    def forward(self, ref: Tensor, a: Tensor, b: Tensor) -> Tensor:
        positive, negative = ref - a, ref - b
        if not self.signed:
            positive, negative = positive.abs(), negative.abs()
        return self.project(torch.cat([positive, negative, a - b], dim=1))


class ProgressiveFusion(nn.Module):
    """Progressive feature fusion block [R]: the stages' compared features merged one at a time.

    ``"shallow_to_deep"``: ``G1 = E1``, ``G_s = CB_s([E_s, Down(G_{s−1})])`` with ``Down`` a 3×3
    stride-2 conv-BN-ReLU and ``CB_s`` two 3×3 conv-BN-ReLU to ``c_s`` channels; the output is
    ``G4`` (``c_4`` channels, stride 32).  ``"deep_to_shallow"``: from ``E4`` up, bilinear
    upsampling to the next stage's size instead of ``Down``; the output is ``G1`` (``c_1``
    channels, stride 4).
    """

    def __init__(self, channels: Sequence[int] = FUSED_CHANNELS, direction: str = "shallow_to_deep"):
        super().__init__()
        if direction not in FUSION_DIRECTIONS:
            raise ValueError(f"fusion direction must be one of {FUSION_DIRECTIONS}, got {direction!r}")
        self.direction = direction
        order = list(channels) if direction == "shallow_to_deep" else list(channels)[::-1]
        self.down = nn.ModuleList(
            [conv_bn_relu(c, c, 3, stride=2) for c in order[:-1]] if direction == "shallow_to_deep" else []
        )
        self.merge = nn.ModuleList(
            nn.Sequential(conv_bn_relu(c + previous, c, 3), conv_bn_relu(c, c, 3))
            for previous, c in zip(order[:-1], order[1:])
        )
        self.out_channels = order[-1]

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        order = list(features) if self.direction == "shallow_to_deep" else list(features)[::-1]
        fused = order[0]
        for step, (current, merge) in enumerate(zip(order[1:], self.merge)):
            if self.direction == "shallow_to_deep":
                carried = self.down[step](fused)
            else:
                carried = F.interpolate(fused, size=current.shape[-2:], mode="bilinear", align_corners=False)
            fused = merge(torch.cat([current, carried], dim=1))
        return fused


class PRFNetwork(nn.Module):
    """The trainable network: ``forward(ref, a, b)`` → logits of one ordering (no symmetrisation).

    Inputs are RGB in [0, 1] (ImageNet normalisation inside).  ``head="classification"`` gives
    [B, 2] logits (class 0: A is closer), ``head="regression"`` [B] logits with ``σ(z)`` the
    probability that A is closer; :meth:`to_regression_head` turns a step-1 network into a step-2
    one with identical probabilities.  A checkpoint of this module's ``state_dict`` (safetensors)
    is what :class:`PRFNet` loads.

    Args (each an [R] choice of ``MODELS.md`` §6.2):
        se: SE gates (reduction 16) in every Res2Net bottleneck, initialised near identity;
            ``False`` gives the plain Res2Net-50.
        fusion: ``"shallow_to_deep"`` or ``"deep_to_shallow"`` (:class:`ProgressiveFusion`).
        head: ``"regression"`` (step 2, inference) or ``"classification"`` (step 1).
        signed_differences: keep the signs of ``O − A`` and ``O − B`` (:class:`CrossSubtract`).
        hidden, dropout: the head's hidden width and dropout (GAP → 128 → ReLU → Dropout 0.1 → k).
    """

    def __init__(
        self,
        *,
        se: bool = True,
        fusion: str = "shallow_to_deep",
        head: str = "regression",
        signed_differences: bool = False,
        hidden: int = 128,
        dropout: float = 0.1,
    ):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        import timm  # heavy: imported when a model is built, never with the package
        from timm.layers import SEModule

        # timm's Res2Net-50 26w×4s; SE (reduction 16) after each block's last batch norm, before
        # the residual sum, as the SE-Res2Net of Gao et al. (TPAMI 2021) and timm's SE-ResNets
        block_args = dict(scale=4, attn_layer=SEModule) if se else dict(scale=4)
        self.backbone = timm.create_model(
            "res2net50_26w_4s", pretrained=False, num_classes=0, global_pool="", zero_init_last=False,
            block_args=block_args,
        )
        if se:
            for module in self.backbone.modules():
                if isinstance(module, SEModule):
                    nn.init.zeros_(module.fc2.weight)
                    nn.init.constant_(module.fc2.bias, SE_GATE_BIAS)
        self.cross_subtract = nn.ModuleList(
            CrossSubtract(c_in, c_out, signed=signed_differences) for c_in, c_out in zip(STAGE_CHANNELS, FUSED_CHANNELS)
        )
        self.fusion = ProgressiveFusion(FUSED_CHANNELS, fusion)
        self.head_kind = head
        self.head = nn.Sequential(
            nn.Linear(self.fusion.out_channels, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, 2 if head == "classification" else 1),
        )
        self.register_buffer("_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def features(self, x: Tensor) -> List[Tensor]:
        """The four stage outputs of the backbone for images [N, 3, H, W] in [0, 1]."""
        net = self.backbone
        x = (x - self._mean) / self._std
        x = net.maxpool(net.act1(net.bn1(net.conv1(x))))
        out = []
        for stage in (net.layer1, net.layer2, net.layer3, net.layer4):
            x = stage(x)
            out.append(x)
        return out

    def compare(self, ref: Sequence[Tensor], a: Sequence[Tensor], b: Sequence[Tensor]) -> Tensor:
        """Logits from the stage features of the reference and the two candidates."""
        compared = [block(o, x, y) for block, o, x, y in zip(self.cross_subtract, ref, a, b)]
        pooled = self.fusion(compared).mean(dim=(-2, -1))
        logits = self.head(pooled)
        return logits.squeeze(1) if self.head_kind == "regression" else logits

    def probability(self, logits: Tensor) -> Tensor:
        """Probability that A is closer, from :meth:`compare`'s logits (float32)."""
        logits = logits.float()
        if self.head_kind == "regression":
            return torch.sigmoid(logits)
        return torch.softmax(logits, dim=1)[:, 0]

    def forward(self, ref: Tensor, a: Tensor, b: Tensor) -> Tensor:
        n = ref.shape[0]
        stages = self.features(torch.cat([ref, a, b]))
        f_ref, f_a, f_b = zip(*(s.split(n) for s in stages))
        return self.compare(f_ref, f_a, f_b)

    @torch.no_grad()
    def to_regression_head(self) -> "PRFNetwork":
        """Step 1 → step 2: the 2-way classifier becomes one logit ``z = l_A − l_B`` (so that
        ``σ(z)`` equals the classifier's softmax probability of class A), in place."""
        if self.head_kind == "regression":
            return self
        last = self.head[-1]
        single = nn.Linear(last.in_features, 1).to(last.weight.device, last.weight.dtype)
        single.weight.copy_(last.weight[0:1] - last.weight[1:2])
        single.bias.copy_(last.bias[0:1] - last.bias[1:2])
        self.head[-1] = single
        self.head_kind = "regression"
        return self

    def load_backbone(self, source: str = BACKBONE_WEIGHTS) -> "PRFNetwork":
        """Initialise the Res2Net trunk from timm's ImageNet checkpoint (a file or manifest key).

        The classifier is skipped; the SE gates, absent from the checkpoint, keep their
        near-identity initialisation.  Any other unexpected or missing tensor is an error.
        """
        from ..weights import load_state

        state, _ = load_state(source)
        own = self.backbone.state_dict()
        kept = {k: v for k, v in state.items() if k in own}
        unknown = [k for k in state if k not in own and not k.startswith("fc.")]
        missing = [k for k in own if k not in kept and ".se." not in k]
        if unknown or missing:
            raise ValueError(f"not a timm res2net50_26w_4s state dict: unexpected {unknown[:5]}, missing {missing[:5]}")
        self.backbone.load_state_dict(kept, strict=False)
        return self


def canonical_swap(a: Tensor, b: Tensor) -> Tensor:
    """[B] bool: whether B comes before A in a fixed order of image pairs (sign of the first
    differing value), so that (A, B) and (B, A) put the same tensors through the network."""
    diff = (a - b).flatten(1)
    first = (diff != 0).to(torch.uint8).argmax(dim=1, keepdim=True)
    return diff.gather(1, first).squeeze(1) < 0


class PRFNet(FRMetric):
    """PRFNet (reconstruction): probability that A is closer to the reference than B.

    A 2AFC comparator, not a score: use ``prefer(ref, a, b)``; ``m(dist, ref)`` is an error.
    Inference (``MODELS.md`` §6.3 [R]): the triplet is tiled into up to ``n_crops`` aligned
    ``crop_size`` crops on a regular grid (3×3 with stride 192 on CLIC's 768×768 images; repeated
    positions on smaller images are used once), the network's probability is averaged over crops
    for both orderings, and ``p = ½ (f(O, A, B) + 1 − f(O, B, A))``, computed so that
    ``p(O, A, B) == 1 − p(O, B, A)`` exactly (both calls put the same tensors through the network).

    Args:
        crop_size: side of the square crops (images must be at least this large); ``None``
            compares whole images in one pass.
        n_crops: crops per triplet, a square number (grid of ``√n × √n``).
        **network_options: ``se``, ``fusion``, ``head``, ``signed_differences``, ``hidden``,
            ``dropout`` of :class:`PRFNetwork`.
    """

    scores_pairs = False
    kwargs_target = PRFNetwork
    unpublished_reason = " (the authors released none, and this model is a reconstruction of their design)"

    def __init__(
        self,
        *,
        crop_size: Optional[int] = 384,
        n_crops: int = 9,
        **network_options,
    ):
        super().__init__()
        if crop_size is not None:
            if not isinstance(crop_size, int) or crop_size < 32:
                raise ValueError(f"crop_size must be an integer of at least 32 (or None for whole images), got {crop_size!r}")
            crop_offsets(crop_size, crop_size, crop_size, n_crops)  # refuses a count that is not a square
        self.crop_size = crop_size
        self.n_crops = n_crops
        self.min_size = (crop_size, crop_size) if crop_size else (32, 32)
        self.net = PRFNetwork(**network_options)

    @classmethod
    def training_hint(cls, config, key: str) -> str:
        return ("train it on CLIC perceptual triplets: `iqa train prfnet-clic-step1 --data clic:ROOT --out runs/prfnet1`, "
                "then `iqa train prfnet-clic-step2 --data clic:ROOT --out runs/prfnet2 "
                "--set 'model.init=\"runs/prfnet1/model.safetensors\"'` (docs/training.md)")

    def weights_module(self) -> nn.Module:
        return self.net

    def forward(self, dist, ref=None) -> Tensor:
        raise TypeError(
            f"{self.name} compares two images with a reference and cannot score a single pair: "
            "use m.prefer(ref, a, b) (CLI: iqa prefer)"
        )

    def crop_positions(self, height: int, width: int) -> List[Tuple[int, int]]:
        """Top-left corners of the crops of an image of ``height × width`` (each position once)."""
        if self.crop_size is None:
            return [(0, 0)]
        return list(dict.fromkeys(crop_offsets(height, width, self.crop_size, self.n_crops, mode="grid")))

    def prefer(self, ref, a, b, *, scale: Optional[float] = None) -> Tensor:
        if scale is not None:
            raise ValueError(f"{self.name} outputs a probability: scale applies only to score-based metrics")
        with self._grad_context():
            refs = self._prepare(ref, "reference images")
            cands_a = self._prepare(a, "images A")
            cands_b = self._prepare(b, "images B")
            if not len(refs) == len(cands_a) == len(cands_b):
                raise ValueError(f"got {len(refs)} references, {len(cands_a)} images A and {len(cands_b)} images B")
            for i, (o, x, y) in enumerate(zip(refs, cands_a, cands_b)):
                if not o.shape == x.shape == y.shape:
                    sizes = " / ".join(f"{t.shape[-1]}×{t.shape[-2]}" for t in (o, x, y))
                    raise ValueError(f"triplet {i}: reference, A and B must have the same size, got {sizes}")
            if all(isinstance(t, Tensor) for t in (refs, cands_a, cands_b)):
                p = self._prefer_batch(refs, cands_a, cands_b)
            else:
                p = torch.empty(len(refs), device=self.device)
                for idx in group_by_size(list(refs)).values():
                    stack = lambda images: torch.stack([images[i] for i in idx])  # noqa: E731
                    p[idx] = self._prefer_batch(stack(refs), stack(cands_a), stack(cands_b))
            return self._finish(p, len(refs))

    def _prefer_batch(self, ref: Tensor, a: Tensor, b: Tensor) -> Tensor:
        swap = canonical_swap(a, b)
        pick = swap.view(-1, 1, 1, 1)
        first, second = torch.where(pick, b, a), torch.where(pick, a, b)
        f_first, f_second = self._crop_average(ref, first, second)
        margin = f_first - f_second  # evidence that `first` is closer, in [−1, 1]
        return symmetric_probability(torch.where(swap, -margin, margin))

    def _crop_average(self, ref: Tensor, x: Tensor, y: Tensor) -> Tuple[Tensor, Tensor]:
        """Crop-averaged probabilities of (O, x, y) and of (O, y, x); one backbone pass per crop."""
        n = ref.shape[0]
        positions = self.crop_positions(*ref.shape[-2:])
        total = torch.zeros(2 * n, device=ref.device)
        size = self.crop_size
        for top, left in positions:
            crops = [t if size is None else t[..., top : top + size, left : left + size] for t in (ref, x, y)]
            stages = self.net.features(torch.cat(crops))
            f_ref, f_x, f_y = zip(*(stage.split(n) for stage in stages))
            both = lambda u, v: [torch.cat(pair) for pair in zip(u, v)]  # noqa: E731
            logits = self.net.compare(both(f_ref, f_ref), both(f_x, f_y), both(f_y, f_x))
            total += self.net.probability(logits)
        mean = total / len(positions)
        return mean[:n], mean[n:]


# ---------------------------------------------------------------------- registration
_PAPER_REF = (
    "K. Wu, X. Jiang, R. Yu, Y. Luo, T. Jiang, X. Wu, P. Wei, Progressive Feature Fusion Network for Enhancing "
    "Image Quality Assessment, arXiv:2401.06992 (2024)"
)

CONFIGS = metric_configs(
    dict(kind="FR", higher_is_better=True, score_range=(0.0, 1.0), paper=_PAPER_REF,
         licence="Apache-2.0 (iqametrics implementation); no weights published"),
    {
        "prfnet": dict(
            weights=("prfnet",),
            description="RECONSTRUCTION of PRFNet (2AFC, CLIC 2022): SE-Res2Net-50 features of O, A, B, cross-subtract "
            "block, progressive fusion; probability that A is closer to O (prefer / `iqa prefer` only).",
            notes="A reconstruction from the paper's abstract (its method section, code and weights could not be "
            "found): the design of MODELS.md §6.2-6.3, not the authors' network, and its numbers are not the paper's. "
            "No weights exist: train it on CLIC triplets (iqa train prfnet-clic-step1, then prfnet-clic-step2) and pass "
            "weights=PATH (--weights), or put prfnet.safetensors in IQAMETRICS_WEIGHTS_DIR. Answers only "
            "prefer(ref, a, b): it scores no single pair. Deterministic 3x3 crop tiling (384 px) and symmetrised: "
            "p(O,A,B) = 1 - p(O,B,A) exactly.",
        ),
    },
)
register_metrics(PRFNet, CONFIGS)
