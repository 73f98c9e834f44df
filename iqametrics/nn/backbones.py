"""ImageNet feature extractors in torchvision's layout, tapped at named layers.

The convolutional parts (``features``) of VGG16, AlexNet and SqueezeNet 1.1 are rebuilt here with
exactly torchvision's module indices and parameter names, so a torchvision (or timm ``*.tv_in1k``)
checkpoint loads after dropping the classifier, and the perceptual metrics built on them (LPIPS,
DISTS, TFIQA) share one implementation.  Building them needs neither torchvision nor timm.

``TappedFeatures`` runs the layers up to the deepest tap and yields the tapped activations one
at a time (:meth:`TappedFeatures.iter_taps`), so a metric can reduce each map as soon as it is
computed instead of holding every map of a large batch in memory.

DISTS (Ding et al., TPAMI 2020) replaces VGG16's max-pooling by :class:`L2Pool2d`.
"""
from __future__ import annotations

from typing import Dict, Iterator, List, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: ImageNet normalisation of torchvision/timm backbones (RGB in [0, 1])
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: the input scaling layer of LPIPS (x - shift) / scale, for inputs in [-1, 1]
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)

__all__ = [
    "TappedFeatures",
    "L2Pool2d",
    "Fire",
    "VGG16_TAPS",
    "ALEXNET_TAPS",
    "SQUEEZENET1_1_TAPS",
    "vgg16_layers",
    "alexnet_layers",
    "squeezenet1_1_layers",
    "vgg16_features",
    "alexnet_features",
    "squeezenet1_1_features",
]

# torchvision index of the module whose output is tapped -> (name, channels)
VGG16_TAPS: Dict[str, int] = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22, "relu5_3": 29}
ALEXNET_TAPS: Dict[str, int] = {"relu1": 1, "relu2": 4, "relu3": 7, "relu4": 9, "relu5": 11}
# SqueezeNet 1.1: conv1 and the Fire modules fire3, fire5..fire9 (the taps LPIPS uses)
SQUEEZENET1_1_TAPS: Dict[str, int] = {
    "relu1": 1, "fire3": 4, "fire5": 7, "fire6": 9, "fire7": 10, "fire8": 11, "fire9": 12,
}

_VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class L2Pool2d(nn.Module):
    """L2 pooling of DISTS: ``sqrt(g * x**2 + 1e-12)``, stride 2, depthwise.

    ``g`` is the 3×3 outer product of the inner taps of a 5-point Hann window
    (``[0.5, 1, 0.5]``) normalised to sum 1, with zero padding 1, as in the official
    ``DISTS_pytorch.L2pooling``.  Unlike max-pooling it is smooth and alias-reducing, which
    is why DISTS uses it (Ding et al. 2020, Sec. 3.1).  The 1e-12 keeps the square root
    differentiable at 0.
    """

    def __init__(self, channels: int):
        super().__init__()
        hann = torch.tensor([0.5, 1.0, 0.5], dtype=torch.float64)
        g = torch.outer(hann, hann)
        g = (g / g.sum()).to(torch.float32)
        # a constant, not a parameter: kept out of the state dict
        self.register_buffer("kernel", g.expand(channels, 1, 3, 3).clone(), persistent=False)
        self.channels = channels

    def forward(self, x: Tensor) -> Tensor:
        if x.dtype == torch.float16:
            # squared activations overflow float16 (max 65504): pool in float32, outside autocast
            with torch.autocast(x.device.type, enabled=False):
                return self.forward(x.float()).half()
        out = F.conv2d(x * x, self.kernel.to(x.dtype), stride=2, padding=1, groups=x.shape[1])
        return (out + 1e-12).sqrt()

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


class Fire(nn.Module):
    """SqueezeNet's Fire module with torchvision's parameter names (squeeze, expand1x1, expand3x3)."""

    def __init__(self, in_channels: int, squeeze: int, expand1x1: int, expand3x3: int):
        super().__init__()
        self.squeeze = nn.Conv2d(in_channels, squeeze, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x))], 1
        )


def vgg16_layers(pool: str = "max") -> List[nn.Module]:
    """torchvision's ``vgg16().features`` (31 modules); ``pool="l2"`` puts :class:`L2Pool2d` in place
    of every max-pool (DISTS)."""
    if pool not in ("max", "l2"):
        raise ValueError(f"pool must be 'max' or 'l2', got {pool!r}")
    layers: List[nn.Module] = []
    channels = 3
    for v in _VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2) if pool == "max" else L2Pool2d(channels))
        else:
            layers += [nn.Conv2d(channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = v
    return layers


def alexnet_layers() -> List[nn.Module]:
    """torchvision's ``alexnet().features`` (the one-weird-trick variant with 64 first filters)."""
    return [
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    ]


def squeezenet1_1_layers() -> List[nn.Module]:
    """torchvision's ``squeezenet1_1().features``."""
    return [
        nn.Conv2d(3, 64, kernel_size=3, stride=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        Fire(64, 16, 64, 64), Fire(128, 16, 64, 64),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        Fire(128, 32, 128, 128), Fire(256, 32, 128, 128),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
    ]


def _out_channels(layer: nn.Module, channels: int) -> int:
    if isinstance(layer, nn.Conv2d):
        return layer.out_channels
    if isinstance(layer, Fire):
        return layer.expand1x1.out_channels + layer.expand3x3.out_channels
    return channels


class TappedFeatures(nn.Module):
    """A torchvision-layout ``features`` stack cut after its deepest tap.

    Args:
        layers: the modules, indexed as in torchvision (their state-dict keys are
            ``features.{index}.{weight,bias}``).
        taps: name -> index of the module whose output is returned.

    The parameters are initialised as torchvision initialises VGG (Kaiming-normal fan-out,
    zero bias): a placeholder until ImageNet weights are loaded.
    """

    def __init__(self, layers: Sequence[nn.Module], taps: Mapping[str, int]):
        super().__init__()
        if not taps:
            raise ValueError("at least one tap is needed")
        order = sorted(taps.items(), key=lambda kv: kv[1])
        last = order[-1][1]
        if last >= len(layers):
            raise ValueError(f"tap index {last} is beyond the {len(layers)} layers")
        self.features = nn.Sequential(*layers[: last + 1])
        self._tap_index: Dict[int, str] = {index: name for name, index in order}
        channels, self.channels = 3, []
        for i, layer in enumerate(self.features):
            channels = _out_channels(layer, channels)
            if i in self._tap_index:
                self.channels.append(channels)
        self.channels = tuple(self.channels)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def iter_taps(self, x: Tensor) -> Iterator[Tensor]:
        """The tapped activations, shallowest first, each as soon as it is computed.

        Every tapped module is followed by one that does not modify its input in place, so a
        yielded tensor stays valid while the next layers run.
        """
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._tap_index:
                yield x

    def forward(self, x: Tensor) -> List[Tensor]:
        return list(self.iter_taps(x))


def vgg16_features(taps: Mapping[str, int] = VGG16_TAPS, pool: str = "max") -> TappedFeatures:
    """VGG16 (Simonyan & Zisserman 2015) convolutional stack tapped at ``taps`` (default: relu1_2 ... relu5_3)."""
    return TappedFeatures(vgg16_layers(pool), taps)


def alexnet_features(taps: Mapping[str, int] = ALEXNET_TAPS) -> TappedFeatures:
    """AlexNet (Krizhevsky 2014 "one weird trick" variant, as in torchvision) tapped at its five ReLUs."""
    return TappedFeatures(alexnet_layers(), taps)


def squeezenet1_1_features(taps: Mapping[str, int] = SQUEEZENET1_1_TAPS) -> TappedFeatures:
    """SqueezeNet 1.1 (Iandola et al. 2016) tapped at conv1's ReLU and Fire modules 3, 5-9."""
    return TappedFeatures(squeezenet1_1_layers(), taps)
