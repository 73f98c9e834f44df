"""The 25 KADID-10k distortion types, their five levels, and :func:`distort`.

Numbers, names and per-level parameters are those of ``imdist_generator.m`` in the KADIS-700k /
KADID-10k release (Lin, Hosu & Saupe, "KADID-10k: A Large-scale Artificially Distorted IQA
Database", QoMEX 2019; code read in the copy distributed with CONTRIQUE forks, e.g.
``CaptainEven/SelfSuperviseAidedBlindIQA``, ``matlab_code_imdistort/``).  Where an operation
departs from the MATLAB code, the family module says so; docs/distortions.md lists everything.
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple, Union

import torch
from torch import Tensor

from iqametrics.functional.color import quantize_8bit
from iqametrics.functional.crops import image_seed

from . import blur, color, compression, noise, spatial, tone
from ._common import min_max

__all__ = ["Distortion", "DISTORTIONS", "LEVELS", "get_distortion", "distort"]

LEVELS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Distortion:
    """One KADID-10k distortion type."""

    number: int  # KADID-10k's type number, 1..25
    name: str  # canonical name (KADID-10k's wording, snake case)
    function: str  # the official MATLAB function
    parameter: str  # what the level values mean
    levels: Tuple[float, ...]  # the official parameter of levels 1..5
    random: bool  # whether it draws random numbers
    apply: Callable[..., Tensor] = field(repr=False, compare=False)

    def parameter_of(self, level: int) -> float:
        return self.levels[_check_level(level) - 1]


def _d(number, name, function, parameter, levels, random, apply) -> Distortion:
    return Distortion(number, name, function, parameter, tuple(float(v) for v in levels), random, apply)


DISTORTIONS: Tuple[Distortion, ...] = (
    _d(1, "gaussian_blur", "imblurgauss", "Gaussian sigma (pixels)", (0.1, 0.5, 1, 2, 5), False, blur.gaussian_blur),
    _d(2, "lens_blur", "imblurlens", "disk radius (pixels)", (1, 2, 4, 6, 8), False, blur.lens_blur),
    _d(3, "motion_blur", "imblurmotion", "line length (pixels), random angle", (1, 2, 4, 6, 10), True, blur.motion_blur),
    _d(4, "color_diffusion", "imcolordiffuse", "a*b* blur sigma 1.5x+2 and gain x", (1, 3, 6, 8, 12), False, color.color_diffusion),
    _d(5, "color_shift", "imcolorshift", "green shift (pixels), random direction", (1, 3, 6, 8, 12), True, color.color_shift),
    _d(6, "color_quantization", "imcolorquantize", "palette colours", (64, 48, 32, 16, 8), False, color.color_quantization),
    _d(7, "color_saturation_1", "imcolorsaturate", "HSV saturation factor", (0.4, 0.2, 0.1, 0, -0.4), False, color.color_saturation_hsv),
    _d(8, "color_saturation_2", "imsaturate", "a*b* factor", (1, 2, 3, 6, 9), False, color.color_saturation_lab),
    _d(9, "jpeg2000", "imcompressjp2k", "compression ratio", (16, 32, 45, 120, 400), False, compression.jpeg2000),
    _d(10, "jpeg", "imcompressjpeg", "JPEG quality", (43, 36, 24, 7, 4), False, compression.jpeg),
    _d(11, "white_noise", "imnoisegauss", "noise variance", (0.001, 0.002, 0.003, 0.005, 0.01), True, noise.white_noise),
    _d(
        12, "white_noise_color_component", "imnoisecolorcomp", "YCbCr noise variance",
        (0.0001, 0.0005, 0.001, 0.002, 0.003), True, noise.white_noise_color_component,
    ),
    _d(13, "impulse_noise", "imnoiseimpulse", "salt & pepper density", (0.001, 0.005, 0.01, 0.02, 0.03), True, noise.impulse_noise),
    _d(
        14, "multiplicative_noise", "imnoisemultiplicative", "speckle variance",
        (0.001, 0.005, 0.01, 0.02, 0.05), True, noise.multiplicative_noise,
    ),
    _d(15, "denoise", "imdenoise", "variance of the noise removed", (0.01, 0.03, 0.05, 0.1, 0.15), True, noise.denoise),
    _d(16, "brighten", "imbrighten", "tone-curve amount", (0.1, 0.2, 0.4, 0.7, 1.1), False, tone.brighten),
    _d(17, "darken", "imdarken", "tone-curve amount", (0.05, 0.1, 0.2, 0.4, 0.8), False, tone.darken),
    _d(18, "mean_shift", "immeanshift", "offset added", (0.15, 0.08, 0, -0.08, -0.15), False, tone.mean_shift),
    _d(19, "jitter", "imjitter", "displacement std (pixels), 5 passes", (0.05, 0.1, 0.2, 0.5, 1), True, spatial.jitter),
    _d(
        20, "non_eccentricity_patch", "imnoneccentricity", "16x16 patches moved",
        (20, 40, 60, 80, 100), True, spatial.non_eccentricity_patch,
    ),
    _d(21, "pixelate", "impixelate", "strength s, scale 0.95 - s^0.6", (0.01, 0.05, 0.1, 0.2, 0.5), False, spatial.pixelate),
    _d(22, "quantization", "imnoisequantize", "Otsu thresholds", (20, 16, 13, 10, 7), False, tone.quantization),
    _d(23, "color_block", "imcolorblock", "32x32 blocks", (2, 4, 6, 8, 10), True, spatial.color_block),
    _d(24, "high_sharpen", "imsharpenHi", "unsharp-mask amount (radius 3)", (1, 2, 3, 6, 12), False, blur.high_sharpen),
    _d(25, "contrast_change", "imcontrastc", "tone-curve amount", (0.3, 0.15, 0, -0.4, -0.6), False, tone.contrast_change),
)


def _normalise(name: str) -> str:
    s = re.sub(r"[\s\-]+", "_", name.strip().lower())
    return s.replace("colour", "color").replace("quantisation", "quantization")


_BY_NAME: Dict[str, Distortion] = {}
for _spec in DISTORTIONS:
    _BY_NAME[_spec.name] = _spec
    _BY_NAME[_normalise(_spec.function)] = _spec


def get_distortion(kind: Union[int, str, Distortion]) -> Distortion:
    """The :class:`Distortion` for a KADID-10k number (1..25), a name (``"lens_blur"``, ``"lens blur"``,
    ``"colour_block"``) or the official MATLAB function name (``"imblurlens"``)."""
    if isinstance(kind, Distortion):
        return kind
    if isinstance(kind, str):
        spec = _BY_NAME.get(_normalise(kind))
        if spec is None and kind.strip().isdigit():
            return get_distortion(int(kind))
        if spec is None:
            raise ValueError(f"unknown distortion {kind!r}; known: {', '.join(d.name for d in DISTORTIONS)}")
        return spec
    if isinstance(kind, bool):
        raise TypeError("a distortion is a number 1..25 or a name, not a bool")
    try:
        number = operator.index(kind)
    except TypeError:
        raise TypeError(f"a distortion is a number 1..25 or a name, got {type(kind).__name__}") from None
    if not 1 <= number <= len(DISTORTIONS):
        raise ValueError(f"distortion number must be 1..{len(DISTORTIONS)}, got {number}")
    return DISTORTIONS[number - 1]


def _check_level(level) -> int:
    if isinstance(level, bool):
        raise TypeError("level is an integer 1..5, not a bool")
    try:
        value = operator.index(level)
    except TypeError:
        raise TypeError(f"level is an integer 1..5, got {level!r}") from None
    if value not in LEVELS:
        raise ValueError(f"level must be 1..5, got {value}")
    return value


def _check_image(image) -> Tensor:
    if not isinstance(image, Tensor):
        raise TypeError(f"image must be a torch.Tensor [3, H, W], got {type(image).__name__}")
    if not image.is_floating_point():
        raise TypeError(f"image must be a floating-point tensor in [0, 1], got {image.dtype}")
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be RGB [3, H, W], got shape {tuple(image.shape)}")
    if min(image.shape[-2:]) < 2:
        raise ValueError(f"image must be at least 2x2 pixels, got {tuple(image.shape[-2:])}")
    lo, hi = float(image.amin()), float(image.amax())
    if not (0.0 <= lo and hi <= 1.0):  # also refuses NaN
        raise ValueError(f"image values must lie in [0, 1], got [{lo}, {hi}]")
    return image


def distort(
    image: Tensor,
    kind: Union[int, str, Distortion],
    level: int,
    *,
    generator: Optional[torch.Generator] = None,
    keep_range: bool = True,
) -> Tensor:
    """Apply KADID-10k distortion ``kind`` at ``level`` (1 = mildest) to one RGB image.

    Args:
        image: float tensor [3, H, W] in [0, 1] (any device).
        kind: number 1..25, name or official function name (see :data:`DISTORTIONS`).
        level: 1..5.
        generator: the source of the random types' draws (a CPU ``torch.Generator``).  By default
            one seeded from the image's 8-bit content and the type number, never the global RNG:
            the same image always gets the same distortion, and its five levels share their
            random draws (the same noise field, blocks or direction, only stronger).
        keep_range: the official generator stretches its input to [0, 1] and its output to
            [0, 1] (``mapmm``).  With ``True`` (default) the distortion works on the stretched
            image as there, and its stretched output is mapped back to the input's own range;
            for an image spanning [0, 1] this is the official result exactly, and an image that
            does not (a dark photo) is not brightened by every distortion.  ``False`` returns the
            official output, always spanning [0, 1].

    Returns:
        float32 tensor [3, H, W] in [0, 1], rounded to 8-bit levels (as saved files are).
    """
    spec = get_distortion(kind)
    param = spec.parameter_of(level)
    x = _check_image(image).to(torch.float32)
    if generator is None:
        generator = torch.Generator().manual_seed(image_seed(x, seed=spec.number)) if spec.random else None
    lo, hi = x.amin(), x.amax()
    varies = bool(hi > lo)
    y = spec.apply(min_max(x)[None], param, generator)[0]
    if varies or not keep_range:
        y = min_max(y)
    if varies and keep_range:
        y = y * (hi - lo) + lo
    return quantize_8bit(y)
