"""JPEG files decoded on a CUDA device (nvJPEG, through ``torchvision.io.decode_jpeg``).

At a thousand 1024×768 photos a second, decoding is the bottleneck of a GPU metric: a CPU core
decodes about a hundred such JPEGs a second, and the decoded float32 images are 9 MB each to move.
With ``decode="gpu"`` (CLI ``--decode gpu``) the DataLoader workers only read the file's bytes and
its header (size, EXIF orientation: the per-image pixel limit and the metrics' size checks apply as
before), and each batch is decoded in one nvJPEG call on the metrics' device.

Only JPEGs in RGB (YCbCr) or grey go to the GPU; CMYK JPEGs and every other format are decoded on
the CPU as usual.  A file nvJPEG refuses is decoded on the CPU instead; one that cannot be decoded at
all is reported like any unreadable file.

What differs from CPU decoding: nvJPEG's inverse DCT and chroma upsampling are not libjpeg-turbo's
(Pillow's), so decoded levels can differ by a few units at some pixels and scores move by as much
as that changes them (measured by ``benchmarks/gpu_suite.py``).  EXIF orientation is applied as
Pillow's ``ImageOps.exif_transpose`` does.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ["EncodedJpeg", "read_encoded", "apply_orientation", "decode_batch"]


@dataclass
class EncodedJpeg:
    """A JPEG file's bytes and what its header says; ``shape`` is that of the decoded, oriented image."""

    path: str
    data: Tensor  # uint8 [n], the file's bytes
    height: int  # after EXIF orientation
    width: int
    orientation: int = 1  # EXIF orientation, 1 (as stored) to 8

    @property
    def shape(self) -> Tuple[int, int, int]:
        return (3, self.height, self.width)


def read_encoded(path, max_pixels=None) -> Optional[EncodedJpeg]:
    """The bytes and header of an RGB or grey JPEG file; None for any other file, and for a file
    whose header cannot be read (the CPU decoder then reports it with its reason).

    Raises :class:`iqametrics.io.ImageTooLargeError` for an image (JPEG or not) above the per-image pixel limit.
    """
    from PIL import Image

    from .io import ImageTooLargeError, max_image_pixels, open_within_limit

    try:
        with open_within_limit(path, max_image_pixels(max_pixels)) as img:
            if img.format != "JPEG" or img.mode not in ("RGB", "L"):
                return None
            width, height = img.size
            orientation = int(img.getexif().get(0x0112, 1) or 1)
    except ImageTooLargeError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    if orientation in (5, 6, 7, 8):  # a quarter turn or a transposition swaps the sides
        width, height = height, width
    data = torch.frombuffer(bytearray(Path(path).read_bytes()), dtype=torch.uint8)
    return EncodedJpeg(str(path), data, height, width, orientation if 1 <= orientation <= 8 else 1)


def apply_orientation(image: Tensor, orientation: int) -> Tensor:
    """``image`` [..., H, W] as Pillow's ``exif_transpose`` turns an image with this EXIF orientation."""
    if orientation == 2:  # mirrored
        return image.flip(-1)
    if orientation == 3:  # upside down
        return image.flip(-2, -1)
    if orientation == 4:
        return image.flip(-2)
    if orientation == 5:  # transposed
        return image.transpose(-2, -1)
    if orientation == 6:  # turned a quarter clockwise to be upright
        return torch.rot90(image, -1, (-2, -1))
    if orientation == 7:  # transverse
        return image.transpose(-2, -1).flip(-2, -1)
    if orientation == 8:
        return torch.rot90(image, 1, (-2, -1))
    return image


def _decode(data: Sequence[Tensor], device) -> List[Tensor]:
    from torchvision.io import ImageReadMode, decode_jpeg

    with warnings.catch_warnings():
        # torchvision 0.29 deprecates its codecs in favour of TorchCodec; nvJPEG through it is what we use
        warnings.simplefilter("ignore", DeprecationWarning)
        return decode_jpeg(list(data), mode=ImageReadMode.RGB, device=device)


def decode_batch(items: Sequence[EncodedJpeg], device) -> List[Tuple[Optional[Tensor], Optional[str]]]:
    """Decode ``items`` on ``device`` in one call: ``(uint8 [3, H, W] image, None)`` per item, or
    ``(None, reason)`` for a file that neither nvJPEG nor the CPU decoder can read.

    When the batched call fails, every item is decoded alone, falling back to the CPU decoder.
    """
    from .io import ImageDecodeError, load_image

    def finish(image: Tensor, item: EncodedJpeg) -> Tensor:
        return apply_orientation(image, item.orientation).contiguous()

    try:
        return [(finish(image, item), None) for image, item in zip(_decode([i.data for i in items], device), items)]
    except RuntimeError:
        pass
    out: List[Tuple[Optional[Tensor], Optional[str]]] = []
    for item in items:
        try:
            out.append((finish(_decode([item.data], device)[0], item), None))
            continue
        except RuntimeError:
            pass
        try:
            # read_encoded admitted this size under the caller's pixel limit: the CPU decoder must too
            admitted = item.width * item.height
            out.append((load_image(item.path, dtype=torch.uint8, max_pixels=admitted).to(device), None))
        except ImageDecodeError as exc:
            out.append((None, exc.reason))
    return out
