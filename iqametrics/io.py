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
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable, List, Union

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageDecodeError",
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


def _composite_on_white(img):
    from PIL import Image

    rgba = img.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def pil_to_tensor(img) -> Tensor:
    """Convert a PIL image (any common mode) to float RGB [3, H, W] in [0, 1].

    EXIF orientation is *not* applied here (a PIL image in memory is taken as it is);
    :func:`load_image` applies it for files.
    """
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit grey (mode "I" is Pillow's 32-bit int mode, read here on the 16-bit scale)
        arr = np.clip(np.asarray(img, dtype=np.float64), 0, 65535)
        levels = np.rint(arr / 257.0).astype(np.float32) / 255.0
        t = torch.from_numpy(np.ascontiguousarray(levels))[None]
        return t.expand(3, -1, -1).contiguous()
    if mode == "F":
        raise ValueError("32-bit float images (mode 'F') have no defined range; convert them to 8 or 16 bit first")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        img = _composite_on_white(img)
    elif mode != "RGB":
        img = img.convert("RGB")
    t = torch.from_numpy(np.array(img, dtype=np.uint8, copy=True)).float().div_(255.0)
    if t.dim() == 2:
        t = t[..., None].expand(-1, -1, 3)
    return t.permute(2, 0, 1).contiguous()


def load_image(path: Union[str, Path]) -> Tensor:
    """Decode an image file to float RGB [3, H, W] in [0, 1] (see the module docstring).

    Raises :class:`ImageDecodeError` naming the file if it is missing, not an image,
    truncated or otherwise unreadable.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)  # also forces the full decode
            img.load()
            return pil_to_tensor(img)
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


def discover_images(inputs: Iterable[Union[str, Path]], *, recursive: bool = True) -> List[Path]:
    """Expand files, folders (recursively, image extensions only) and glob patterns.

    Explicitly named files are kept whatever their extension; folder contents are filtered by
    extension and sorted; duplicates are dropped (first occurrence wins).  A pattern or path
    that matches nothing raises ``FileNotFoundError``.
    """
    found: List[Path] = []
    seen = set()

    def add(p: Path):
        key = os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            found.append(p)

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
                raise FileNotFoundError(f"no image files match {item!r}")
            for p in files:
                add(p)
        else:
            raise FileNotFoundError(f"no such file, folder or pattern: {item!r}")
    return found


def discover_pairs(ref: Union[str, Path], dist: Union[str, Path]) -> List[tuple]:
    """Pair a reference and a distorted file, or two folders by relative path.

    Returns ``[(ref_path, dist_path), ...]``.  For folders, every image in ``dist`` must have
    a counterpart at the same relative path in ``ref`` (extension may differ when the stem is
    unique); unmatched distorted images raise ``FileNotFoundError`` listing a few of them.
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
                missing.append(rel)
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} distorted image(s) have no reference at the same relative path in {ref}: "
                + ", ".join(missing[:5])
                + (" ..." if len(missing) > 5 else "")
            )
        if not pairs:
            raise FileNotFoundError(f"no images found in {dist}")
        return pairs
    for p in (ref, dist):
        if not p.exists():
            raise FileNotFoundError(f"no such file or folder: {str(p)!r}")
    raise ValueError("compare takes two files or two folders, not a file and a folder")
