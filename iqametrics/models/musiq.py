"""MUSIQ: Multi-scale Image Quality Transformer (no-reference).

Ke, Wang, Wang, Milanfar, Yang, "MUSIQ: Multi-scale Image Quality Transformer", ICCV 2021,
https://arxiv.org/abs/2108.05997.  Official code (JAX/Flax + TensorFlow preprocessing, Apache-2.0):
https://github.com/google-research/google-research/tree/master/musiq.

The image at its native resolution and aspect-preserving copies whose longer side is 224 and 384
are cut into 32×32 patches; a ResNet root + one bottleneck unit (weight-standardised convolutions,
GroupNorm) embeds each patch; a hashed 10×10 spatial embedding and a scale embedding are added;
a [CLS] token and 14 pre-LN transformer layers (384 wide, 6 heads, MLP 1152) give the score.

The tokenisation (preprocessing) lives in :mod:`iqametrics.nn.musiq_tokens`, shared with the
training code.  Where this port follows the released code rather than the paper (model card
``docs/models/musiq.md`` lists every point):

* scale ids: 0 for 224, 1 for 384, **2 for the native image** (the paper gives native id 0);
* hashed position ``t = floor(i·G/n)`` (TF1 nearest-neighbour resize), not the paper's rounding;
* GELU is the tanh approximation (Flax's ``nn.gelu``), weight standardisation divides by the
  population std + 1e-5 (``jnp.std``), GroupNorm eps 1e-6 in the root and 1e-4 in the unit;
* resized copies use TensorFlow's Gaussian ``ScaleAndTranslate`` kernel without antialiasing
  (``tf.image.resize(method=GAUSSIAN)``: σ = 0.5 input pixels whatever the scale, and a blur
  even when the size does not change); ``resize="bicubic"`` is PyTorch's bicubic, as other ports use;
* TF ``SAME`` padding everywhere (patches padded with 0 = mid-grey in [-1, 1], the odd pixel
  after the data).

Beyond the released code: images of different sizes share one forward pass (sequences padded
to the longest with a key-padding mask, so a score does not depend on the batch); the padding
the official code adds to the resized scales (to 49 / 144 tokens, masked) is not materialised,
which changes nothing but rounding.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import metric_configs
from ..metric import NRMetric
from ..nn.conv import StdConv2d, max_pool_same
from ..nn.musiq_tokens import RESIZE_MODES, MUSIQTokens, autocast_device_type, count_tokens, tokenize
from ..nn.norm import GroupNorm
from ..nn.ops import expected_score
from ..nn.transformer import TransformerEncoder
from ..registry import register_metrics

__all__ = ["MUSIQ", "MUSIQNet", "build_musiq_network", "CONFIGS"]

PAPER = "Ke et al., MUSIQ: Multi-scale Image Quality Transformer, ICCV 2021 (arXiv:2108.05997)"
#: MUSIQNet's ``gelu`` option -> the encoder's MLP activation
_GELU = {"tanh": "gelu_tanh", "none": "gelu"}


# ----------------------------------------------------------------------------- network
class ResNetRootPatchEncoder(nn.Module):
    """ResNet v1 root (StdConv 7×7/2, GroupNorm, ReLU, max-pool 3×3/2) + one bottleneck unit (64 -> 256),
    GroupNorm with 32 groups, TF ``SAME`` padding: 32×32 patch -> 256×8×8.

    :class:`MUSIQNet` feeds it channels-last tensors (measured 1.15× faster on CPU than NCHW)."""

    def __init__(self, width: int = 64, *, ws_correction: int = 0):
        super().__init__()
        out = width * 4
        conv = lambda i, o, k, s=1: StdConv2d(i, o, k, s, correction=ws_correction)  # noqa: E731
        self.conv_root = conv(3, width, 7, 2)
        self.gn_root = GroupNorm(32, width, eps=1e-6)
        self.conv_proj = conv(width, out, 1)
        self.gn_proj = GroupNorm(32, out, eps=1e-4)
        self.conv1 = conv(width, width, 1)
        self.gn1 = GroupNorm(32, width, eps=1e-4)
        self.conv2 = conv(width, width, 3)
        self.gn2 = GroupNorm(32, width, eps=1e-4)
        self.conv3 = conv(width, out, 1)
        self.gn3 = GroupNorm(32, out, eps=1e-4)

    def forward(self, x: Tensor) -> Tensor:
        # in-place ReLUs are safe under autograd here (GroupNorm's backward does not need its output)
        x = F.relu(self.gn_root(self.conv_root(x)), inplace=True)
        x = max_pool_same(x, 3, 2)
        residual = self.gn_proj(self.conv_proj(x))
        y = F.relu(self.gn1(self.conv1(x)), inplace=True)
        y = F.relu(self.gn2(self.conv2(y)), inplace=True)
        y = self.gn3(self.conv3(y))
        return F.relu(residual + y, inplace=True)


class MUSIQNet(nn.Module):
    """The MUSIQ network: images (or their tokens) -> head outputs [B, num_classes].

    Args:
        num_classes: 1 (MOS regression) or 10 (AVA score distribution); 1000 for the ImageNet model.
        longer_side_lengths: the resized scales (``()`` for MUSIQ-single); ids follow sorted order,
            the native image takes the last id.
        resize: ``"gaussian"`` (official, TF's Gaussian ScaleAndTranslate) or ``"bicubic"``
            (PyTorch bicubic, ``align_corners=False``, as other ports use).
        gelu: ``"tanh"`` (official, Flax) or ``"none"`` (exact erf GELU).
        ws_correction: std correction of weight standardisation, 0 (official, ``jnp.std``) or 1.
        max_native_patches: keep at most this many native-resolution patches (raster order: the
            top of the image), like the official ``max_seq_len_from_original_res``; None = all.
        init: ``"official"`` (Flax initialisers: head, [CLS] and the last GroupNorm scale start
            at zero, so an untrained network gives the same output for every image) or
            ``"random"`` (those three drawn N(0, 0.02) so that untrained outputs depend on the
            input: tests, benchmarks).  ``seed`` makes either reproducible.
        patch_chunk: patches embedded per call of the patch encoder; None: 128 on CPU (the encoder's
            activations then stay near the CPU caches: 11 % faster in float32 and 20 % under bf16
            autocast than 1024 on a 2-vCPU Xeon, docs/benchmarks.md), 1024 on other devices.
            It bounds memory on huge images and never changes a score.
        compile: run the patch encoder through ``torch.compile`` (``True``: its default backend,
            Inductor; a string names another backend).  It is compiled on the first call, once per
            device and precision: the chunks are padded to ``patch_chunk`` patches so that one shape
            serves every image.  Scores move by rounding only (other summation orders in fused
            kernels); docs/benchmarks.md has the speed-ups and the compile times.
    """

    def __init__(
        self,
        num_classes: int = 1,
        longer_side_lengths: Sequence[int] = (224, 384),
        *,
        patch_size: int = 32,
        hidden_size: int = 384,
        depth: int = 14,
        num_heads: int = 6,
        mlp_dim: int = 1152,
        grid_size: int = 10,
        resize: str = "gaussian",
        gelu: str = "tanh",
        ws_correction: int = 0,
        max_native_patches: Optional[int] = None,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        init: str = "official",
        seed: Optional[int] = 0,
        patch_chunk: Optional[int] = None,
        compile: Union[bool, str] = False,
    ):
        super().__init__()
        if resize not in RESIZE_MODES:
            raise ValueError(f"resize must be one of {RESIZE_MODES}, got {resize!r}")
        if gelu not in _GELU:
            raise ValueError(f"gelu must be 'tanh' (official, Flax) or 'none' (exact erf GELU), got {gelu!r}")
        if init not in ("official", "random"):
            raise ValueError(f"init must be 'official' or 'random', got {init!r}")
        if patch_size % 4:
            raise ValueError(f"patch_size must be a multiple of 4 (the root downsamples by 4), got {patch_size}")
        if max_native_patches is not None and max_native_patches < 1:
            raise ValueError(f"max_native_patches must be a positive number of patches or None, got {max_native_patches!r}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.num_classes = num_classes
        self.longer_side_lengths = tuple(sorted(int(v) for v in longer_side_lengths))
        self.patch_size = patch_size
        self.grid_size = grid_size
        self.resize = resize
        self.max_native_patches = max_native_patches
        if patch_chunk is not None and patch_chunk < 1:
            raise ValueError(f"patch_chunk must be a positive number of patches or None, got {patch_chunk!r}")
        self.patch_chunk = patch_chunk
        if not isinstance(compile, (bool, str)):
            raise TypeError(f"compile must be True, False or the name of a torch.compile backend, got {compile!r}")
        self.compile = compile
        self.patch_encoder = ResNetRootPatchEncoder(ws_correction=ws_correction)
        self.embedding = nn.Linear(256 * (patch_size // 4) ** 2, hidden_size)
        self.pos_embed = nn.Parameter(torch.zeros(grid_size * grid_size, hidden_size))
        self.scale_embed = nn.Parameter(torch.zeros(self.num_scales, hidden_size))
        self.cls_token = nn.Parameter(torch.zeros(hidden_size))
        self.dropout = nn.Dropout(dropout)
        self.encoder = TransformerEncoder(
            hidden_size, depth, num_heads, mlp_dim, eps=1e-6, act=_GELU[gelu], dropout=dropout,
            attn_dropout=attn_dropout
        )
        self.head = nn.Linear(hidden_size, num_classes)
        self.reset_parameters(init=init, seed=seed)

    # -------------------------------------------------------------- initialisation
    def reset_parameters(self, init: str = "official", seed: Optional[int] = 0) -> None:
        """Flax's initialisers of the official code (see the class docstring for ``init``)."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        with torch.no_grad():
            for m in self.patch_encoder.modules():
                if isinstance(m, nn.Conv2d):
                    _lecun_normal_(m.weight, m.weight[0].numel(), gen)
                elif isinstance(m, nn.GroupNorm):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
            _lecun_normal_(self.embedding.weight, self.embedding.in_features, gen)
            self.embedding.bias.zero_()
            self.pos_embed.normal_(0.0, 0.02, generator=gen)
            self.scale_embed.normal_(0.0, 0.02, generator=gen)
            self.encoder.reset_parameters(gen)
            self.head.bias.zero_()
            zero_init = (self.cls_token, self.head.weight, self.patch_encoder.gn3.weight)
            for p in zero_init:
                if init == "official":
                    p.zero_()
                else:
                    p.normal_(0.0, 0.02, generator=gen)

    def reset_head(self, num_classes: Optional[int] = None) -> None:
        """A new zero-initialised head (what fine-tuning from the ImageNet model starts with)."""
        if num_classes is not None and num_classes != self.num_classes:
            self.head = nn.Linear(self.head.in_features, num_classes).to(self.head.weight.device)
            self.num_classes = num_classes
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.bias.zero_()

    # -------------------------------------------------------------- tokens
    @property
    def num_scales(self) -> int:
        return len(self.longer_side_lengths) + 1

    def tokenize(self, images: Sequence[Tensor]) -> MUSIQTokens:
        """:func:`tokenize` with this network's preprocessing options."""
        return tokenize(
            images,
            longer_side_lengths=self.longer_side_lengths,
            patch_size=self.patch_size,
            grid_size=self.grid_size,
            resize=self.resize,
            max_native_patches=self.max_native_patches,
        )

    def count_tokens(self, height: int, width: int) -> int:
        return count_tokens(height, width, self.longer_side_lengths, self.patch_size, self.max_native_patches)

    # -------------------------------------------------------------- forward
    def embed_patches(self, patches: Tensor) -> Tensor:
        """[P, 3, p, p] -> token embeddings [P, hidden] (patch encoder + linear embedding)."""
        out = []
        chunk_size = self.patch_chunk or (128 if patches.device.type == "cpu" else 1024)
        weight = self.embedding.weight
        device_type = autocast_device_type(patches)
        if torch.is_autocast_enabled(device_type):
            # autocast would cast this 16384×384 kernel again for every chunk (25 MB each time)
            weight = weight.to(torch.get_autocast_dtype(device_type))
        encoder = self._compiled_encoder() if self.compile else self.patch_encoder
        for chunk in patches.split(chunk_size):
            n = chunk.shape[0]
            if self.compile and n < chunk_size:  # one shape for the compiled encoder (patches are independent)
                chunk = torch.cat([chunk, chunk.new_zeros(chunk_size - n, *chunk.shape[1:])])
            # channels-last: faster convolutions and pooling, and the (h, w, c) flattening the
            # embedding expects (TF's order, kept by both upstream layouts) becomes a free view
            features = encoder(chunk.contiguous(memory_format=torch.channels_last))[:n]
            out.append(F.linear(features.permute(0, 2, 3, 1).reshape(n, -1), weight, self.embedding.bias))
        return torch.cat(out) if len(out) > 1 else out[0]

    def _compiled_encoder(self):
        compiled = self.__dict__.get("_compiled_patch_encoder")
        if compiled is None:
            # kept out of the module's children: the state dict stays the patch encoder's own
            backend = "inductor" if self.compile is True else self.compile
            compiled = torch.compile(self.patch_encoder, backend=backend, dynamic=False)
            self.__dict__["_compiled_patch_encoder"] = compiled
        return compiled

    def encode(self, tokens: MUSIQTokens) -> Tensor:
        """The [CLS] output of the encoder for each image [B, hidden]."""
        x = self.embed_patches(tokens.patches)
        x = x + self.pos_embed[tokens.spatial] + self.scale_embed[tokens.scale]
        x, mask = self._pad_with_cls(x, tokens.lengths)
        x = self.dropout(x)
        return self.encoder(x, mask, keep_first=1)[:, 0]

    def _pad_with_cls(self, x: Tensor, lengths: List[int]) -> Tuple[Tensor, Optional[Tensor]]:
        b, longest = len(lengths), max(lengths)
        counts = torch.tensor(lengths)
        rows = torch.repeat_interleave(torch.arange(b), counts)
        starts = torch.cumsum(counts, 0) - counts
        cols = 1 + torch.arange(int(counts.sum())) - torch.repeat_interleave(starts, counts)
        out = x.new_zeros(b, longest + 1, x.shape[-1])
        out[:, 0] = self.cls_token.to(x.dtype)
        out[rows.to(x.device), cols.to(x.device)] = x
        if min(lengths) == longest:
            return out, None
        mask = torch.arange(longest + 1)[None, :] <= counts[:, None]
        return out, mask.to(x.device, non_blocking=True)

    def forward_tokens(self, tokens: MUSIQTokens) -> Tensor:
        """Head outputs [B, num_classes] (the head runs in float32 under autocast)."""
        features = self.encode(tokens)
        with torch.autocast(device_type=features.device.type, enabled=False):
            return self.head(features.float())

    def forward(self, images: Sequence[Tensor]) -> Tensor:
        """Head outputs [B, num_classes] for a list (or batch) of RGB images in [0, 1]."""
        return self.forward_tokens(self.tokenize(list(images)))

    def scores(self, outputs: Tensor) -> Tensor:
        """Head outputs -> quality scores: the value itself, or the mean ``Σ k·p_k`` (k = 1..K) of
        the softmax distribution for a K-bin head (AVA)."""
        if outputs.shape[-1] == 1:
            return outputs[..., 0]
        return expected_score(outputs)

    def load_backbone(self, state: dict) -> None:
        """Load every tensor of a converted state except the head (fine-tuning from another task)."""
        own = self.state_dict()
        body = {k: v for k, v in state.items() if not k.startswith("head.")}
        if body.get("scale_embed") is not None and body["scale_embed"].shape != own["scale_embed"].shape:
            raise ValueError(
                f"the checkpoint has {body['scale_embed'].shape[0]} scale embeddings, this network "
                f"{own['scale_embed'].shape[0]} (longer_side_lengths={self.longer_side_lengths})"
            )
        missing, unexpected = self.load_state_dict(body, strict=False)
        missing = [k for k in missing if not k.startswith("head.")]
        if missing or unexpected:
            raise ValueError(f"backbone state does not match MUSIQNet: missing {missing[:5]}, unexpected {unexpected[:5]}")


def _lecun_normal_(w: Tensor, fan_in: int, gen: Optional[torch.Generator]) -> None:
    # jax.nn.initializers.lecun_normal: truncated normal (±2σ) with variance 1 / fan_in
    std = math.sqrt(1.0 / fan_in) / 0.87962566103423978
    nn.init.trunc_normal_(w, 0.0, std, -2.0 * std, 2.0 * std, generator=gen)


# ----------------------------------------------------------------------------- metric
class MUSIQ(NRMetric):
    """MUSIQ no-reference quality scorer (see the module docstring and ``docs/models/musiq.md``).

    Args (besides those of :class:`MUSIQNet`):
        batch_tokens: largest padded token count (images × longest sequence) per forward pass;
            images are sorted by sequence length and grouped under this budget.
        max_padding: largest fraction of padding tokens a forward pass may carry (images of
            very different sizes then go in separate passes: padding costs compute).
            ``batch_tokens`` and ``max_padding`` change speed and memory only, never a score.
        amp: ``"bf16"`` / ``"fp16"`` autocast on CUDA or CPU (preprocessing and head stay float32).
    """

    accepts_mixed_sizes = True
    supports_amp = True
    converters = ("musiq_pyiqa", "musiq_official")
    kwargs_target = MUSIQNet  # its num_classes is MUSIQ's own

    def __init__(self, num_classes: int = 1, *, batch_tokens: int = 16384, max_padding: float = 0.1,
                 amp: Optional[str] = None, variant: Optional[str] = None, **net_options):
        super().__init__(amp=amp, variant=variant, variant_args={"num_classes": num_classes})
        if batch_tokens < 1:
            raise ValueError(f"batch_tokens must be positive, got {batch_tokens}")
        if not 0 <= max_padding <= 1:
            raise ValueError(f"max_padding must be a fraction in [0, 1], got {max_padding}")
        self.net = MUSIQNet(num_classes, **net_options)
        self.batch_tokens = int(batch_tokens)
        self.max_padding = float(max_padding)

    @classmethod
    def from_config(cls, config, /, *, pretrained: bool, **arguments) -> "MUSIQ":
        if not pretrained:
            # untrained outputs that depend on the input (tests, benchmarks); see MUSIQNet's init
            arguments.setdefault("init", "random")
        return super().from_config(config, pretrained=pretrained, **arguments)

    def weights_module(self) -> nn.Module:
        return self.net

    def _score(self, x: Tensor) -> Tensor:
        return self._score_list(list(x.unbind(0)))

    def _score_list(self, images: List[Tensor]) -> Tensor:
        net = self.net
        lengths = [net.count_tokens(int(im.shape[-2]), int(im.shape[-1])) for im in images]
        scores = torch.empty(len(images), device=self.device)
        for group in _token_budget_groups(lengths, self.batch_tokens, self.max_padding):
            outputs = net(images[i] for i in group)
            scores[group] = net.scores(outputs).to(scores.dtype)
        return scores


def _token_budget_groups(lengths: Sequence[int], budget: int, max_padding: float = 1.0) -> List[List[int]]:
    """Indices sorted by length, cut into groups of at most ``budget`` padded tokens
    (count × (longest + 1)) of which at most a fraction ``max_padding`` is padding."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: List[List[int]] = []
    current: List[int] = []
    real = 0
    for i in order:
        n = lengths[i] + 1  # with [CLS]; sorted, so this image is the group's longest
        padded = (len(current) + 1) * n
        if current and (padded > budget or padded - (real + n) > max_padding * padded):
            groups.append(current)
            current, real = [], 0
        current.append(i)
        real += n
    if current:
        groups.append(current)
    return groups


# ----------------------------------------------------------------------------- registration
def _trained_on(data: str, scale: str) -> str:
    return f"MUSIQ trained on {data}: {scale}"


CONFIGS = metric_configs(
    dict(
        kind="NR",
        higher_is_better=True,
        paper=PAPER,
        licence="Apache-2.0 (official checkpoints: Apache-2.0, google-research)",
        notes="Multi-scale transformer on native-resolution patches; scores images of any size in one batch.",
    ),
    {
        "musiq.koniq": dict(
            weights=("musiq.koniq",), score_range=(0.0, 100.0), variant_args=dict(num_classes=1),
            description=_trained_on("KonIQ-10k", "MOS on KonIQ-10k's 0-100 scale (technical quality)"),
        ),
        "musiq.spaq": dict(
            weights=("musiq.spaq",), score_range=(0.0, 100.0), variant_args=dict(num_classes=1),
            description=_trained_on("SPAQ", "MOS on SPAQ's 0-100 scale (smartphone photos)"),
        ),
        "musiq.paq2piq": dict(
            weights=("musiq.paq2piq",), score_range=(0.0, 100.0), variant_args=dict(num_classes=1),
            description=_trained_on("PaQ-2-PiQ", "MOS on PaQ-2-PiQ's 0-100 scale"),
        ),
        "musiq.ava": dict(
            weights=("musiq.ava",), score_range=(1.0, 10.0), variant_args=dict(num_classes=10),
            description=_trained_on("AVA", "mean of the predicted 10-bin AVA score distribution (aesthetics, 1-10)"),
        ),
    },
)
register_metrics(MUSIQ, CONFIGS)


def build_musiq_network(tag: str = "koniq", *, pretrained: bool = True, weights=None, **options) -> MUSIQNet:
    """A bare :class:`MUSIQNet` for training or feature extraction.

    ``tag``: ``koniq`` / ``spaq`` / ``paq2piq`` / ``ava`` (the fine-tuned models of :data:`CONFIGS`),
    or ``imagenet``: the official ImageNet-pretrained network (the starting point of every
    fine-tuning in the paper) with a new zero-initialised head of ``num_classes`` outputs (default
    1; 10 for AVA's EMD loss).  ``weights`` overrides the manifest file (local path or manifest key).
    """
    from ..convert import convert_for_model
    from ..weights import load_state

    if tag == "imagenet":
        num_classes = options.pop("num_classes", 1)
        net = MUSIQNet(num_classes, **options)
        if pretrained or weights is not None:
            raw, entry = load_state(weights or "musiq.imagenet")
            state = convert_for_model(
                raw, net.state_dict().keys(), converter=entry.converter if entry else None, candidates=MUSIQ.converters
            )
            net.load_backbone(state)
            net.reset_head()
        return net
    config = next((c for c in CONFIGS.values() if f"musiq.{tag}" in c.names), None)
    if config is None:
        tags = [c.names[-1].split(".", 1)[1] for c in CONFIGS.values()]
        raise ValueError(f"unknown MUSIQ tag {tag!r}; choose one of {sorted(tags) + ['imagenet']}")
    metric = MUSIQ.build_variant(config, **config.variant_args, **options)
    if weights is not None or pretrained:
        metric.load_checkpoint(weights or config.weights[0])
    return metric.net
