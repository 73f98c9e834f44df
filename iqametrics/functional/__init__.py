"""Classic metrics as pure tensor functions, and the primitives they share.

Every metric function takes batches [B, C, H, W] in [0, 1] and returns a tensor [B].
Note: names of functions shadow their modules here (``iqametrics.functional.vif`` is the
function); import helpers from the module path (``from iqametrics.functional.vif import ...``).
"""
from types import ModuleType as _ModuleType

# shared primitives
from ._cache import constant_cache_bytes, set_constant_cache_budget
from .color import quantize_8bit, rgb_to_gray, rgb_to_y, rgb_to_ycbcr
from .crops import crop_offsets, extract_crops, image_seed, image_seeds
from .filters import filter2d, gaussian_kernel1d, gaussian_kernel2d, pad, separable_filter2d
from .pil_resize import pil_resize
from .pyramids import laplacian_pyramid, steerable_pyramid
from .resize import imresize, tf_resize

# full-reference metrics
from .fsim import fsim
from .gmsd import gmsd
from .mad import mad
from .nlpd import nlpd
from .ms_ssim import ms_ssim
from .phase_congruency import phase_congruency
from .psnr import psnr
from .ssim import ssim
from .vif import vif, vifp
from .vsi import sdsp_saliency, vsi

# no-reference metrics
from .brisque import brisque, brisque_features
from .niqe import niqe, niqe_features
from .piqe import piqe, piqe_blocks

__all__ = sorted(n for n, v in globals().items() if not n.startswith("_") and not isinstance(v, _ModuleType))
