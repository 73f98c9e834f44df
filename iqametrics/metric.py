"""Metric base classes: input normalisation, FR/NR dispatch, size grouping, inference mode.

Subclasses implement one method on a validated float32 batch already on the metric's device:

* :class:`NRMetric` -> ``_score(x)`` with ``x`` of shape [B, 3, H, W] in [0, 1];
* :class:`FRMetric` -> ``_score(dist, ref)`` with two such batches of the same size.

Metrics that can take images of different sizes in one forward pass (transformers with padding
masks, patch samplers) set ``accepts_mixed_sizes = True`` and implement ``_score_list`` on a list
of [3, H, W] tensors; the others receive one same-size group at a time and the scores are put
back in input order.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from .registry import MetricInfo

__all__ = ["Metric", "NRMetric", "FRMetric", "RANGE_TOLERANCE", "to_image_list", "ImageTooSmallError"]

#: how far outside [0, 1] an input may stray (rounding of resamplers) before it is refused
RANGE_TOLERANCE = 1e-3

ImageLike = Union[Tensor, "PIL.Image.Image", str, Path]  # noqa: F821


class ImageTooSmallError(ValueError):
    """An image is smaller than the metric can score."""


def _normalise_tensor(x: Tensor) -> Tensor:
    """[B,C,H,W] / [C,H,W] / [H,W] float or uint8 -> float [B,3,H,W] (grey replicated)."""
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    elif not torch.is_floating_point(x):
        raise TypeError(f"image tensors must be float in [0, 1] (or uint8), got dtype {x.dtype}")
    if x.dim() == 2:
        x = x.unsqueeze(0)
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise ValueError(f"image tensors must be [B,3,H,W], [3,H,W] or [H,W]; got shape {tuple(x.shape)}")
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] != 3:
        raise ValueError(
            f"images must have 1 (grey) or 3 (RGB) channels in dimension 1; got shape {tuple(x.shape)}"
        )
    if x.shape[0] == 0:
        raise ValueError("no images given (empty batch)")
    return x


def _tensor_to_list(x: Tensor) -> List[Tensor]:
    return list(_normalise_tensor(x).unbind(0))


def to_image_list(images) -> List[Tensor]:
    """Normalise any accepted input into a list of float [3, H, W] tensors (not yet range-checked).

    Accepts a tensor [B,C,H,W] / [C,H,W] / [H,W] (float in [0,1] or uint8, C = 1 or 3), a
    PIL image, a path, a numpy array (H×W or H×W×C, as PIL and OpenCV lay them out), or a
    list/tuple mixing these.
    """
    if isinstance(images, Tensor):
        return _tensor_to_list(images)
    if isinstance(images, (list, tuple)):
        out: List[Tensor] = []
        for item in images:
            out.extend(to_image_list(item))
        if not out:
            raise ValueError("no images given (empty list)")
        return out
    if isinstance(images, (str, Path)):
        from .io import load_image

        return [load_image(images)]
    try:
        import numpy as np

        if isinstance(images, np.ndarray):
            arr = images
            if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
                if arr.shape[2] == 4:
                    raise ValueError("RGBA arrays are ambiguous; convert to RGB first (iqametrics.load_image composites on white)")
                arr = arr.transpose(2, 0, 1)
            elif arr.ndim != 2:
                raise ValueError(f"numpy images must be H×W or H×W×3, got shape {arr.shape}")
            return _tensor_to_list(torch.from_numpy(np.ascontiguousarray(arr)))
    except ImportError:  # pragma: no cover
        pass
    from PIL import Image

    if isinstance(images, Image.Image):
        from .io import pil_to_tensor

        return [pil_to_tensor(images)]
    raise TypeError(
        f"cannot interpret {type(images).__name__} as images; pass tensors in [0,1], PIL images, paths or lists of them"
    )


def check_min_size(name: str, min_size: Tuple[int, int], height: int, width: int) -> None:
    """Raise :class:`ImageTooSmallError` if ``height`` × ``width`` is below ``min_size`` (h, w) of metric ``name``."""
    mh, mw = min_size
    if height < mh or width < mw:
        raise ImageTooSmallError(f"image of {width}×{height} px is too small for {name} (needs at least {mw}×{mh})")


def _check_range(x: Tensor, what: str = "images") -> None:
    lo, hi = torch.aminmax(x.detach()) if x.numel() else (torch.tensor(0.0), torch.tensor(0.0))
    lo, hi = float(lo), float(hi)
    if lo != lo or hi != hi:  # NaN
        raise ValueError(f"{what} contain NaN values")
    if lo < -RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        hint = " (looks like 0-255 data: divide by 255)" if hi > 1.5 else ""
        raise ValueError(f"{what} must be in [0, 1]; got values in [{lo:.4g}, {hi:.4g}]{hint}")


def group_by_size(images: Sequence[Tensor]):
    groups: dict = {}
    for i, img in enumerate(images):
        groups.setdefault(tuple(img.shape[-2:]), []).append(i)
    return groups


class Metric(nn.Module):
    """Base class of every metric.  See :class:`NRMetric` and :class:`FRMetric`.

    Class attributes a subclass may set:
        kind: ``"NR"`` or ``"FR"``.
        accepts_mixed_sizes: ``_score_list`` scores differently sized images in one pass.
        min_size: smallest (height, width) the metric can score.
        resamples_reference: FR only; reference and distorted may differ in size.
        supports_amp: autocast is allowed (``create(..., amp="bf16")``), on CUDA and on CPU.
    """

    kind: str = "NR"
    accepts_mixed_sizes: bool = False
    min_size: tuple = (1, 1)
    resamples_reference: bool = False
    supports_amp: bool = False

    def __init__(self, *, amp: Optional[str] = None):
        super().__init__()
        # an empty buffer so that .to(device) is tracked by metrics without parameters
        self.register_buffer("_device_anchor", torch.empty(0), persistent=False)
        self.info: Optional[MetricInfo] = None
        self.as_loss = False
        self.amp_dtype = _parse_amp(amp) if amp else None
        if self.amp_dtype is not None and not self.supports_amp:
            raise ValueError(f"{type(self).__name__} does not support AMP (amp={amp!r})")

    # ------------------------------------------------------------------ helpers
    @property
    def device(self) -> torch.device:
        return self._device_anchor.device

    @property
    def name(self) -> str:
        return self.info.name if self.info is not None else type(self).__name__

    def check_size(self, height: int, width: int) -> None:
        """Raise :class:`ImageTooSmallError` if an image of this size cannot be scored."""
        check_min_size(self.name, self.min_size, height, width)

    def _prepare(self, images, what: str) -> Union[Tensor, List[Tensor]]:
        """A validated float32 batch on the metric's device, or a list if sizes differ."""
        if isinstance(images, Tensor):
            x = _normalise_tensor(images)
            self.check_size(int(x.shape[-2]), int(x.shape[-1]))
            x = x.to(self.device, torch.float32, non_blocking=True)
            _check_range(x, what)
            return x
        tensors = to_image_list(images)
        out = []
        for t in tensors:
            self.check_size(int(t.shape[-2]), int(t.shape[-1]))
            t = t.to(self.device, torch.float32, non_blocking=True)
            _check_range(t, what)
            out.append(t)
        if len({tuple(t.shape) for t in out}) == 1:
            return torch.stack(out)
        return out

    def _grad_context(self):
        if self.as_loss:
            return contextlib.nullcontext()
        return torch.inference_mode()

    def _amp_context(self):
        # CPU autocast pays off with bfloat16 on CPUs with AVX512-BF16/AMX (docs/benchmarks.md)
        if self.amp_dtype is not None and self.device.type in ("cuda", "cpu"):
            return torch.autocast(self.device.type, dtype=self.amp_dtype)
        return contextlib.nullcontext()

    #: names of converters (``iqametrics.convert``) that can produce this metric's layout
    converters: tuple = ()

    def load_checkpoint(self, source) -> "Metric":
        """Load weights from a local file or a manifest key, converting upstream layouts.

        A manifest entry's ``converter`` is applied as recorded; for a local file our own
        layout is recognised by its keys, else ``self.converters`` are tried in order.  Loading
        is strict: a missing or unexpected tensor is an error.
        """
        from .convert import convert_for_model
        from .weights import load_state

        raw, entry = load_state(source)
        state = convert_for_model(
            raw,
            self.weights_module().state_dict().keys(),
            converter=entry.converter if entry is not None else None,
            candidates=self.converters,
        )
        self._load_converted(state)
        return self

    def weights_module(self) -> nn.Module:
        """The module whose state dict checkpoints hold: the metric itself unless a subclass
        wraps a network (``self.net``) that training code also uses on its own."""
        return self

    def _load_converted(self, state: dict) -> None:
        own = self.weights_module().state_dict()
        wrong = [
            f"{k} {tuple(v.shape)} (expects {tuple(own[k].shape)})"
            for k, v in state.items()
            if k in own and hasattr(v, "shape") and tuple(v.shape) != tuple(own[k].shape)
        ]
        if wrong:
            raise ValueError(
                f"checkpoint does not match {self.name}: {len(wrong)} tensors have other shapes: "
                f"{', '.join(wrong[:3])}{'...' if len(wrong) > 3 else ''}"
            )
        missing, unexpected = self.weights_module().load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"checkpoint does not match {self.name}: {len(missing)} missing keys "
                f"({', '.join(missing[:5])}{'...' if len(missing) > 5 else ''}), {len(unexpected)} unexpected "
                f"({', '.join(unexpected[:5])}{'...' if len(unexpected) > 5 else ''})"
            )

    @staticmethod
    def _finish(scores: Tensor, n: int) -> Tensor:
        scores = scores.reshape(-1).float()
        if scores.numel() != n:
            raise RuntimeError(f"metric returned {scores.numel()} scores for {n} images")
        return scores

    def extra_repr(self) -> str:
        return f"name={self.name!r}" if self.info is not None else ""


def _parse_amp(amp) -> torch.dtype:
    table = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}
    if isinstance(amp, torch.dtype) and amp in table.values():
        return amp
    if isinstance(amp, str) and amp.lower() in table:
        return table[amp.lower()]
    raise ValueError(f"amp must be 'bf16' or 'fp16', got {amp!r}")


class NRMetric(Metric):
    """No-reference metric: ``m(images) -> scores [B]``."""

    kind = "NR"

    def _score(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score_list(self, images: List[Tensor]) -> Tensor:
        """Scores for differently sized images; default: one pass per same-size group."""
        scores = torch.empty(len(images), device=self.device)
        for (_, _), idx in group_by_size(images).items():
            batch = torch.stack([images[i] for i in idx])
            scores[idx] = self._score(batch).reshape(-1).to(scores.dtype)
        return scores

    def forward(self, images) -> Tensor:
        with self._grad_context():
            x = self._prepare(images, "images")
            with self._amp_context():
                scores = self._score(x) if isinstance(x, Tensor) else self._score_list(x)
            return self._finish(scores, len(x))


class FRMetric(Metric):
    """Full-reference metric: ``m(dist, ref) -> scores [B]`` (distorted first; ``ref=`` also works)."""

    kind = "FR"
    #: False for a metric that only answers 2AFC questions (:meth:`prefer`), e.g. PRFNet
    scores_pairs: bool = True

    def _score(self, dist: Tensor, ref: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def prefer(self, ref, a, b, *, scale: Optional[float] = None) -> Tensor:
        """Probability [B] that ``a`` is closer to ``ref`` than ``b`` (two-alternative forced choice).

        Scores both sides (one batched forward each) and maps the two scores with
        :func:`iqametrics.preference.preference_from_scores`: 1 when A scores better, 0 when B
        does, 0.5 on a tie, oriented by ``info.higher_is_better``; ``scale`` gives a logistic of
        the score difference instead.  ``prefer(ref, a, b) == 1 - prefer(ref, b, a)`` exactly.
        """
        from .preference import preference_from_scores

        if self.info is None:
            raise ValueError(
                f"{self.name}.prefer() needs to know whether higher scores are better: build the metric "
                "with iqametrics.create(name)"
            )
        return preference_from_scores(self(a, ref), self(b, ref), self.info.higher_is_better, scale=scale)

    def _score_list(self, dists: List[Tensor], refs: List[Tensor]) -> Tensor:
        scores = torch.empty(len(dists), device=self.device)
        groups: dict = {}
        for i, (d, r) in enumerate(zip(dists, refs)):
            groups.setdefault((tuple(d.shape), tuple(r.shape)), []).append(i)
        for idx in groups.values():
            scores[idx] = self._score(
                torch.stack([dists[i] for i in idx]), torch.stack([refs[i] for i in idx])
            ).reshape(-1).to(scores.dtype)
        return scores

    def forward(self, dist, ref=None) -> Tensor:
        if ref is None:
            raise TypeError(f"{self.name} is a full-reference metric: call it as m(dist, ref)")
        with self._grad_context():
            dists = self._prepare(dist, "distorted images")
            refs = self._prepare(ref, "reference images")
            if len(dists) != len(refs):
                raise ValueError(f"got {len(dists)} distorted images but {len(refs)} references")
            if not self.resamples_reference:
                for i, (d, r) in enumerate(zip(dists, refs)):
                    if d.shape != r.shape:
                        raise ValueError(
                            f"pair {i}: distorted image is {d.shape[-1]}×{d.shape[-2]} but its reference is "
                            f"{r.shape[-1]}×{r.shape[-2]}; {self.name} needs images of the same size"
                        )
            with self._amp_context():
                if isinstance(dists, Tensor) and isinstance(refs, Tensor) and dists.shape == refs.shape:
                    scores = self._score(dists, refs)
                else:
                    scores = self._score_list(list(dists), list(refs))
            return self._finish(scores, len(dists))
