"""Classic metrics as pure tensor functions, and the primitives they share.

Every function takes batches [B, C, H, W] in [0, 1] and returns a tensor [B].
"""
from .color import quantize_8bit, rgb_to_gray, rgb_to_y, rgb_to_ycbcr
from .filters import filter2d, gaussian_kernel1d, gaussian_kernel2d, pad, separable_filter2d
from .resize import imresize, tf_resize

__all__ = [
    "filter2d",
    "gaussian_kernel1d",
    "gaussian_kernel2d",
    "imresize",
    "tf_resize",
    "pad",
    "quantize_8bit",
    "rgb_to_gray",
    "rgb_to_y",
    "rgb_to_ycbcr",
    "separable_filter2d",
]
