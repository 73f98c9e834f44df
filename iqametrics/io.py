"""Image decoding and file discovery.

Every image becomes a float32 RGB tensor [3, H, W] in [0, 1]:

* EXIF orientation is applied (what a photo viewer shows is what gets scored);
* grey, bilevel and palette images are expanded to RGB;
* images with transparency (RGBA, LA, palette with a transparent colour) are composited on
  **white**: quality metrics were trained on opaque photos, and white is what viewers and
  browsers show behind transparent areas of documents;
* CMYK (and YCbCr, LAB, HSV) are converted by Pillow's conversion to RGB; Adobe JPEGs with
  inverted CMYK are handled by Pillow's decoder;
* 16-bit images are reduced to 8-bit-equivalent levels, as the design contract asks: the
  learned metrics were trained on 8-bit photos and the classic references quantise to 8 bit.
  Grey is rounded (``round(v / 257)``); Pillow reduces 16-bit RGB by its high byte.  Both give
  exactly the 8-bit original for an 8-bit image stored as 16 bit (``v = k × 257``).

One image may hold at most :data:`DEFAULT_MAX_IMAGE_PIXELS` pixels (179 MP, Pillow's
decompression-bomb limit: 2.1 GB once decoded to float32 RGB).  The size is read from the file's
header before anything is decoded; a larger image is refused with :class:`ImageTooLargeError`
naming the file, its size and how to raise the limit: ``IQAMETRICS_MAX_IMAGE_PIXELS`` (e.g.
``300M``) or the ``max_pixels`` argument.  This check replaces Pillow's own warning and error.
"""
from __future__ import annotations

import contextlib
import glob
import os
import threading
import warnings
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Union

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageDecodeError",
    "ImageTooLargeError",
    "DEFAULT_MAX_IMAGE_PIXELS",
    "max_image_pixels",
    "parse_pixel_count",
    "load_image",
    "pil_to_tensor",
    "discover_images",
    "discover_pairs",
]

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pnm", ".jfif"}
)


class ImageDecodeError(OSError):
    """An image file could not be read; ``path`` and ``reason`` say which and why."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


class ImageTooLargeError(ImageDecodeError):
    """An image has more pixels than the per-image limit (see :func:`max_image_pixels`)."""


#: Pillow's decompression-bomb error threshold (2 × ``PIL.Image.MAX_IMAGE_PIXELS``'s default)
DEFAULT_MAX_IMAGE_PIXELS = 2 * 89_478_485
_MAX_PIXELS_ENV = "IQAMETRICS_MAX_IMAGE_PIXELS"
_SUFFIXES = {"k": 10**3, "m": 10**6, "g": 10**9}


def parse_pixel_count(value: Union[int, str]) -> int:
    """A positive pixel count from ``12000000``, ``"12000000"``, ``"12M"``, ``"12MP"``, ``"1.5e8"`` or ``"500k"``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a pixel count, got {value!r}")
    if isinstance(value, int):
        count = value
    else:
        text = str(value).strip().lower().replace("_", "")
        for unit in ("px", "p"):
            if text.endswith(unit) and text[: -len(unit)][-1:] not in ("", "e"):
                text = text[: -len(unit)]
                break
        scale = _SUFFIXES.get(text[-1:], 1)
        try:
            count = int(float(text[:-1] if scale != 1 else text) * scale)
        except ValueError:
            raise ValueError(f"expected a pixel count such as 24000000 or 24M, got {value!r}") from None
    if count < 1:
        raise ValueError(f"a pixel count must be at least 1, got {value!r}")
    return count


def max_image_pixels(max_pixels: Optional[Union[int, str]] = None) -> int:
    """The per-image pixel limit: ``max_pixels`` if given, else ``$IQAMETRICS_MAX_IMAGE_PIXELS``, else 179 MP."""
    if max_pixels is not None:
        return parse_pixel_count(max_pixels)
    text = os.environ.get(_MAX_PIXELS_ENV)
    if not text:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        return parse_pixel_count(text)
    except ValueError as exc:
        raise ValueError(f"{_MAX_PIXELS_ENV}: {exc}") from None


_PILLOW_LIMIT_LOCK = threading.Lock()


@contextlib.contextmanager
def _pillow_limit_lifted():
    """Pillow's own bomb check off, for a file whose size our limit has already admitted (rare: > 179 MP).

    ``PIL.Image.MAX_IMAGE_PIXELS`` is process-wide, so it is changed under a lock and restored.
    """
    from PIL import Image

    with _PILLOW_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def pixel_count_text(pixels: int) -> str:
    """``"12.2 MP"`` from a million pixels up, ``"3,000 px"`` below."""
    return f"{pixels / 1e6:.1f} MP" if pixels >= 10**6 else f"{pixels:,} px"


def _too_large(path, width: int, height: int, limit: int) -> ImageTooLargeError:
    pixels = width * height
    enough = f"{-(-pixels // 10**6)}M" if pixels >= 10**6 else str(pixels)
    return ImageTooLargeError(
        path,
        f"{width}×{height} = {pixel_count_text(pixels)} is more than the limit of {pixel_count_text(limit)} per "
        f"image (decoded to float32 RGB it would take {pixels * 12 / 2**30:.2f} GiB). If the file is genuine, "
        f"raise the limit: {_MAX_PIXELS_ENV}={enough} (Python: max_pixels= / max_image_pixels=)",
    )


def _composite_on_white(img):
    from PIL import Image

    rgba = img.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _check_dtype(dtype) -> None:
    if dtype not in (torch.float32, torch.uint8):
        raise TypeError(f"dtype must be torch.float32 ([0, 1]) or torch.uint8 (0-255 levels), got {dtype}")


def pil_to_tensor(img, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """Convert a PIL image (any common mode) to RGB [3, H, W]: float32 in [0, 1], or with
    ``dtype=torch.uint8`` the 8-bit levels themselves (``float32 == uint8 / 255`` exactly, as every
    decoded image is on the 8-bit scale: a quarter of the bytes to move to a GPU).

    EXIF orientation is *not* applied here (a PIL image in memory is taken as it is);
    :func:`load_image` applies it for files.
    """
    _check_dtype(dtype)
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit grey (mode "I" is Pillow's 32-bit int mode, read here on the 16-bit scale)
        arr = np.clip(np.asarray(img, dtype=np.float64), 0, 65535)
        levels = np.rint(arr / 257.0)
        levels = levels.astype(np.uint8) if dtype == torch.uint8 else levels.astype(np.float32) / 255.0
        t = torch.from_numpy(np.ascontiguousarray(levels))[None]
        return t.expand(3, -1, -1).contiguous()
    if mode == "F":
        raise ValueError("32-bit float images (mode 'F') have no defined range; convert them to 8 or 16 bit first")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        img = _composite_on_white(img)
    elif mode != "RGB":
        img = img.convert("RGB")
    t = torch.from_numpy(np.array(img, dtype=np.uint8, copy=True))
    if dtype == torch.float32:
        t = t.float().div_(255.0)
    if t.dim() == 2:
        t = t[..., None].expand(-1, -1, 3)
    return t.permute(2, 0, 1).contiguous()


@contextlib.contextmanager
def open_within_limit(path, limit: int):
    """Pillow's image of ``path`` with only its header read, refused with :class:`ImageTooLargeError`
    above ``limit`` pixels.  Our limit replaces Pillow's: no DecompressionBombWarning or error for an
    image it admits (inside the ``with`` block too)."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(path)
        except Image.DecompressionBombError:  # over Pillow's limit: read the size without it
            with _pillow_limit_lifted():
                img = Image.open(path)
        with img:
            width, height = img.size
            if width * height > limit:
                raise _too_large(path, width, height, limit)
            yield img


def _decode(path: Path, limit: int, dtype: torch.dtype) -> Tensor:
    from PIL import Image, ImageOps

    with open_within_limit(path, limit) as img:
        width, height = img.size
        pillow_limit = Image.MAX_IMAGE_PIXELS
        over_pillow = pillow_limit is not None and width * height > 2 * pillow_limit
        with _pillow_limit_lifted() if over_pillow else contextlib.nullcontext():  # plugins check again
            img = ImageOps.exif_transpose(img)  # also forces the full decode
            img.load()
        return pil_to_tensor(img, dtype=dtype)


def load_image(path: Union[str, Path], *, max_pixels: Optional[Union[int, str]] = None,
               dtype: torch.dtype = torch.float32) -> Tensor:
    """Decode an image file to float RGB [3, H, W] in [0, 1] (see the module docstring).

    ``max_pixels`` limits the size of one image (default: :func:`max_image_pixels`).
    ``dtype=torch.uint8`` gives the 8-bit levels instead (see :func:`pil_to_tensor`).
    Raises :class:`ImageDecodeError` naming the file if it is missing, not an image,
    truncated, larger than the limit (:class:`ImageTooLargeError`) or otherwise unreadable.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    limit = max_image_pixels(max_pixels)
    _check_dtype(dtype)
    try:
        return _decode(path, limit, dtype)
    except ImageDecodeError:
        raise
    except FileNotFoundError:
        raise ImageDecodeError(path, "no such file") from None
    except IsADirectoryError:
        raise ImageDecodeError(path, "is a directory") from None
    except UnidentifiedImageError:
        raise ImageDecodeError(path, "not a recognised image format") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageDecodeError(path, str(exc) or type(exc).__name__) from None


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def discover_images(inputs: Iterable[Union[str, Path]], *, recursive: bool = True,
                    on_missing: Optional[Callable[[str, str], None]] = None) -> List[Path]:
    """Expand files, folders (recursively, image extensions only) and glob patterns.

    Explicitly named files are kept whatever their extension; folder contents are filtered by
    extension and sorted; duplicates are dropped (first occurrence wins).  A pattern or path
    that matches nothing raises ``FileNotFoundError``; with ``on_missing``, it is reported as
    ``on_missing(input, reason)`` instead and discovery goes on with the other inputs (what
    ``iqa score`` does without ``--strict``).
    """
    found: List[Path] = []
    seen = set()

    def add(p: Path):
        key = os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            found.append(p)

    def missing(item: str, reason: str):
        if on_missing is None:
            raise FileNotFoundError(f"{reason}: {item!r}")
        on_missing(item, reason)

    for item in inputs:
        item = str(item)
        path = Path(item)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            for p in sorted(path.glob(pattern), key=lambda q: q.as_posix()):
                if p.is_file() and _is_image(p):
                    add(p)
        elif path.is_file():
            add(path)
        elif glob.has_magic(item):
            matches = sorted(glob.glob(item, recursive=True))
            files = [Path(m) for m in matches if Path(m).is_file() and _is_image(Path(m))]
            if not files:
                missing(item, "no image files match")
            for p in files:
                add(p)
        else:
            missing(item, "no such file, folder or pattern")
    return found


def discover_pairs(ref: Union[str, Path], dist: Union[str, Path], *,
                   on_unmatched: Optional[Callable[[str, str], None]] = None) -> List[tuple]:
    """Pair a reference and a distorted file, or two folders by relative path.

    Returns ``[(ref_path, dist_path), ...]``.  For folders, every image in ``dist`` must have
    a counterpart at the same relative path in ``ref`` (extension may differ when the stem is
    unique); unmatched distorted images raise ``FileNotFoundError`` listing a few of them.  With
    ``on_unmatched``, each is reported as ``on_unmatched(path, reason)`` instead and the matched
    pairs are returned (what ``iqa compare`` does without ``--strict``).  References without a
    distorted image are not an error.
    """
    ref, dist = Path(ref), Path(dist)
    if ref.is_file() and dist.is_file():
        return [(ref, dist)]
    if ref.is_dir() and dist.is_dir():
        refs = {p.relative_to(ref).as_posix(): p for p in discover_images([ref])}
        by_stem: dict = {}
        for rel, p in refs.items():
            by_stem.setdefault(rel.rsplit(".", 1)[0], []).append(p)
        pairs, missing = [], []
        for p in discover_images([dist]):
            rel = p.relative_to(dist).as_posix()
            if rel in refs:
                pairs.append((refs[rel], p))
            elif len(by_stem.get(rel.rsplit(".", 1)[0], [])) == 1:
                pairs.append((by_stem[rel.rsplit(".", 1)[0]][0], p))
            else:
                missing.append(p)
        if missing and on_unmatched is not None:
            for p in missing:
                on_unmatched(str(p), f"no reference at the same relative path in {ref}")
        elif missing:
            rels = [p.relative_to(dist).as_posix() for p in missing]
            raise FileNotFoundError(
                f"{len(missing)} distorted image(s) have no reference at the same relative path in {ref}: "
                + ", ".join(rels[:5])
                + (" ..." if len(rels) > 5 else "")
            )
        if not pairs and not missing:
            raise FileNotFoundError(f"no images found in {dist}")
        return pairs
    for p in (ref, dist):
        if not p.exists():
            raise FileNotFoundError(f"no such file or folder: {str(p)!r}")
    raise ValueError("compare takes two files or two folders, not a file and a folder")
