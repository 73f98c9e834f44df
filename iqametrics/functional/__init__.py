"""Classic metrics as pure tensor functions, and the primitives they share.

Every function takes batches [B, C, H, W] in [0, 1] and returns a tensor [B].
"""
from .color import quantize_8bit, rgb_to_gray, rgb_to_y, rgb_to_ycbcr
from .filters import filter2d, gaussian_kernel1d, gaussian_kernel2d, pad, separable_filter2d
from .resize import imresize

# classic full-reference metrics, part A (SSIM family, GMSD, FSIM, VSI)
from .fsim import fsim
from .gmsd import gmsd
from .ms_ssim import ms_ssim
from .phase_congruency import phase_congruency
from .psnr import psnr
from .ssim import ssim
from .vsi import sdsp_saliency, vsi

__all__ = [
    # classic full-reference metrics, part A
    "fsim",
    "gmsd",
    "ms_ssim",
    "phase_congruency",
    "psnr",
    "sdsp_saliency",
    "ssim",
    "vsi",
    # shared primitives
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
