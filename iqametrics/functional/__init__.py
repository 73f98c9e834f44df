"""Classic metrics as pure tensor functions, and the primitives they share.

Every function takes batches [B, C, H, W] in [0, 1] and returns a tensor [B].
"""
from .color import quantize_8bit, rgb_to_gray, rgb_to_y, rgb_to_ycbcr
from .filters import filter2d, gaussian_kernel1d, gaussian_kernel2d, pad, separable_filter2d
from .resize import imresize
from .brisque import brisque, brisque_features
from .niqe import niqe, niqe_features
from .piqe import piqe, piqe_blocks

__all__ = [
    "brisque",
    "brisque_features",
    "niqe",
    "niqe_features",
    "piqe",
    "piqe_blocks",
    "filter2d",
    "gaussian_kernel1d",
    "gaussian_kernel2d",
    "imresize",
    "pad",
    "quantize_8bit",
    "rgb_to_gray",
    "rgb_to_y",
    "rgb_to_ycbcr",
    "separable_filter2d",
]
