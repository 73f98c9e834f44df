"""Classic metrics as pure tensor functions, and the primitives they share.

Every function takes batches [B, C, H, W] in [0, 1] and returns a tensor [B].
"""
from .color import quantize_8bit, rgb_to_gray, rgb_to_y, rgb_to_ycbcr
from .crops import crop_offsets, extract_crops, image_seed, image_seeds
from .filters import filter2d, gaussian_kernel1d, gaussian_kernel2d, pad, separable_filter2d
from .pil_resize import pil_resize
from .resize import imresize, tf_resize

# --- classic FR metrics, part B (VIF, VIFp, NLPD, MAD) and their pyramids
from .mad import mad
from .nlpd import nlpd
from .pyramids import laplacian_pyramid, steerable_pyramid
from .vif import vif, vifp

__all__ = [
    "crop_offsets",
    "extract_crops",
    "filter2d",
    "gaussian_kernel1d",
    "gaussian_kernel2d",
    "image_seed",
    "image_seeds",
    "imresize",
    "tf_resize",
    "pad",
    "pil_resize",
    "quantize_8bit",
    "rgb_to_gray",
    "rgb_to_y",
    "rgb_to_ycbcr",
    "separable_filter2d",
    # classic FR metrics, part B
    "laplacian_pyramid",
    "mad",
    "nlpd",
    "steerable_pyramid",
    "vif",
    "vifp",
]
