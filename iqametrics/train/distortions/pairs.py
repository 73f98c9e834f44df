"""Seeded full-reference training pairs from pristine photos (the KADIS-700k recipe).

KADIS-700k gives each of its 140,000 pristine photos one randomly chosen distortion type at all
five levels (``kadis700k_ref_imgs.csv`` lists the type; ``generate_kadis700k.m`` loops over the
levels).  :func:`make_pairs` does the same with ``per_image=1``, or every type with the default.

Every random choice is a function of ``(seed, reference key, type)``: the types a reference gets,
and the draws of a random distortion (shared by its five levels, so that they differ only in
strength).  The same arguments give the same images, whatever the order of the references or
types, and whichever other references are in the list.
"""
from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from iqametrics.functional.color import quantize_8bit
from iqametrics.functional.resize import imresize

from ._common import to_pil
from .table import DISTORTIONS, LEVELS, _check_level, distort, get_distortion

__all__ = ["SyntheticPair", "make_pairs", "write_pairs", "pair_seed", "load_reference", "LABELS"]

#: how :func:`write_pairs` fills the ``mos`` column
LABELS = ("vsi", "level")

PathLike = Union[str, os.PathLike]


class SyntheticPair(NamedTuple):
    ref: Tensor  # [3, H, W] in [0, 1], 8-bit levels
    dist: Tensor  # [3, H, W] in [0, 1], 8-bit levels
    kind: int  # KADID-10k type number
    level: int  # 1..5
    key: str  # the reference's key


def _hash63(*parts) -> int:
    digest = hashlib.sha256("\0".join(str(p) for p in ("iqametrics.distortions",) + parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def pair_seed(seed: int, key: str, kind: int) -> int:
    """The seed of the generator that distorts reference ``key`` with type ``kind`` (any level)."""
    return _hash63("draws", int(seed), key, int(kind))


def _types_for(key: str, kinds: Sequence[int], per_image: Optional[int], seed: int) -> List[int]:
    if per_image is None:
        return list(kinds)
    # rank the types by a hash of (seed, key, type): a fixed random choice per reference, and a
    # larger per_image only adds types
    ranked = sorted(kinds, key=lambda k: _hash63("types", int(seed), key, k))
    return sorted(ranked[:per_image])


def load_reference(path: PathLike, max_side: Optional[int] = 512) -> Tensor:
    """Read a photo as [3, H, W] in [0, 1], shrunk so its longer side is at most ``max_side``.

    KADID-10k's images are 512×384, the size its pixel-based parameters (blur radii, 16- and
    32-pixel patches, shifts) were set for.  Shrinking uses MATLAB's antialiased bicubic
    ``imresize``; the result is rounded to 8 bit, as a saved reference is.
    """
    from iqametrics.io import load_image

    x = load_image(path)
    h, w = x.shape[-2:]
    if max_side is not None and max(h, w) > max_side:
        scale = max_side / max(h, w)
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        x = imresize(x[None], size=size, kernel="bicubic", antialias=True)[0]
    return quantize_8bit(x)


def _key_of(path: Path, root: Optional[Path]) -> str:
    if root is None:
        return path.name
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise ValueError(f"{path} is not inside root {root}") from None


def _check_options(kinds, levels, per_image, max_side) -> Tuple[List[int], List[int]]:
    numbers = sorted({get_distortion(k).number for k in (kinds if kinds is not None else DISTORTIONS)})
    levels = sorted({_check_level(level) for level in levels})
    if not numbers or not levels:
        raise ValueError("kinds and levels must not be empty")
    if per_image is not None and (isinstance(per_image, bool) or not 1 <= int(per_image) <= len(numbers)):
        raise ValueError(f"per_image must be None or 1..{len(numbers)} (the number of kinds), got {per_image!r}")
    if max_side is not None and (isinstance(max_side, bool) or int(max_side) < 48):
        raise ValueError(f"max_side must be None or at least 48 pixels, got {max_side!r}")
    return numbers, levels


def make_pairs(
    reference_paths: Iterable[PathLike],
    *,
    kinds: Optional[Iterable[Union[int, str]]] = None,
    levels: Iterable[int] = LEVELS,
    seed: int = 0,
    per_image: Optional[int] = None,
    max_side: Optional[int] = 512,
    root: Optional[PathLike] = None,
    keep_range: bool = True,
) -> Iterator[SyntheticPair]:
    """Yield ``SyntheticPair(ref, dist, kind, level, key)`` for every reference photo.

    Args:
        reference_paths: photo files.
        kinds: distortion types (numbers or names); all 25 by default.
        levels: the levels to make of each chosen type.
        seed: changes every random choice.
        per_image: how many of ``kinds`` each reference gets, chosen at random per reference
            (KADIS-700k: 1); ``None`` gives every reference all of them.
        max_side: references are shrunk to at most this longer side (:func:`load_reference`);
            ``None`` keeps their size.
        root: keys are the references' POSIX paths relative to ``root``; by default their file
            names (which must then be unique).
        keep_range: see :func:`~iqametrics.train.distortions.distort`.

    The pairs come reference by reference, types in number order, levels ascending.  The key,
    not the path or the position in the list, seeds the random choices.
    """
    numbers, levels = _check_options(kinds, levels, per_image, max_side)
    root_path = Path(root) if root is not None else None
    paths = [Path(p) for p in reference_paths]
    seen = {}
    for path in paths:
        key = _key_of(path, root_path)
        if key in seen:
            raise ValueError(f"two references have the key {key!r} ({seen[key]} and {path}); pass root= to key them by path")
        seen[key] = path
    for key, path in seen.items():
        ref = load_reference(path, max_side)
        for number in _types_for(key, numbers, per_image, seed):
            draws = pair_seed(seed, key, number)
            for level in levels:
                generator = torch.Generator().manual_seed(draws)
                dist = distort(ref, number, level, generator=generator, keep_range=keep_range)
                yield SyntheticPair(ref, dist, number, level, key)


def _label(pair: SyntheticPair, label: str) -> float:
    if label == "level":
        return float(6 - pair.level)
    from iqametrics.functional.vsi import vsi

    return float(vsi(pair.dist[None], pair.ref[None])[0])


def write_pairs(pairs: Iterable[SyntheticPair], out_dir: PathLike, *, label: str = "vsi", csv_name: str = "pairs.csv") -> Path:
    """Save pairs as PNG files under ``out_dir`` with a CSV ``dist,ref,mos,kind,level``; return its path.

    References go to ``refs/<key>.png`` (once each), distorted images to
    ``dist/<key>_<type>_<level>.png`` (KADIS-700k's naming, e.g. ``dist/Kite_09_03.png``); CSV
    paths are relative to ``out_dir``, so the folder reads as the generic FR layout.

    ``mos`` (higher is better) is, with ``label="vsi"``, the VSI of the pair: the label
    KADIS-700k pre-training uses in VTAMIQ (MODELS.md §5.4), which rank-normalises it and
    trains on ``1 - VSI``; with ``label="level"``, ``6 - level`` (5 for level 1 .. 1 for level 5).
    """
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / csv_name
    saved_refs = set()
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("dist", "ref", "mos", "kind", "level"))
        for pair in pairs:
            stem = PurePosixPath(pair.key).with_suffix("")
            ref_rel = PurePosixPath("refs") / f"{stem}.png"
            dist_rel = PurePosixPath("dist") / f"{stem}_{pair.kind:02d}_{pair.level:02d}.png"
            for rel, image in ((ref_rel, pair.ref), (dist_rel, pair.dist)):
                if rel == ref_rel and rel in saved_refs:
                    continue
                target = out / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                to_pil(image[None]).save(target)
            saved_refs.add(ref_rel)
            writer.writerow((dist_rel.as_posix(), ref_rel.as_posix(), f"{_label(pair, label):.6g}", pair.kind, pair.level))
    return csv_path
