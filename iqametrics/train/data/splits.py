"""Seeded, stable splits: a key's split depends only on the seed and the key (or its group).

Each group (an NR image's key, an FR record's content id) is hashed with the seed to a number in
[0, 1); cumulative ratios cut [0, 1) into the splits. So the same file always falls in the same
split, whatever else is in the folder, and adding files never moves the existing ones; FR
records that share a reference share a split (content-disjoint splits).
"""
from __future__ import annotations

import hashlib
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = ["stable_split", "kfold", "unit_hash", "split_groups", "DEFAULT_RATIOS"]

#: ratios for datasets without official splits: the papers' 80/20 with a validation share carved
#: out of the training part (recipes override them with ``split_ratios``)
DEFAULT_RATIOS: Mapping[str, float] = {"train": 0.7, "val": 0.1, "test": 0.2}


def unit_hash(seed: int, group: str) -> float:
    """A number in [0, 1) from the first 8 bytes of SHA-256 of ``"seed:group"``."""
    digest = hashlib.sha256(f"{int(seed)}:{group}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_groups(records: Sequence, kind: str) -> Optional[List[str]]:
    """What a split keeps together: nothing for NR records (each file alone); for FR and 2AFC records
    their content (reference) id, so that no content is on both sides."""
    return None if kind == "NR" else [getattr(r, "content", "") or r.key for r in records]


def _groups(keys: Sequence[str], groups: Optional[Sequence[str]]) -> Sequence[str]:
    if groups is None:
        return keys
    if len(groups) != len(keys):
        raise ValueError(f"got {len(groups)} groups for {len(keys)} keys")
    return groups


def _check_ratios(ratios: Mapping[str, float]) -> List[Tuple[str, float]]:
    items = [(str(name), float(r)) for name, r in ratios.items()]
    if not items:
        raise ValueError("ratios name no split")
    if any(not math.isfinite(r) or r < 0 for _, r in items):
        raise ValueError(f"split ratios must be finite and non-negative, got {dict(items)}")
    total = sum(r for _, r in items)
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"split ratios must sum to 1, got {dict(items)} (sum {total:g})")
    return items


def stable_split(keys: Sequence[str], ratios: Mapping[str, float] = None, seed: int = 0,
                 groups: Optional[Sequence[str]] = None) -> Dict[str, Tuple[int, ...]]:
    """Split name -> ascending indices into ``keys``; every split named in ``ratios`` is present."""
    items = _check_ratios({"train": 0.8, "val": 0.2} if ratios is None else ratios)
    bounds, acc = [], 0.0
    for name, r in items:
        acc += r
        bounds.append((name, acc))
    out: Dict[str, List[int]] = {name: [] for name, _ in items}
    cache: Dict[str, str] = {}
    for i, group in enumerate(_groups(keys, groups)):
        name = cache.get(group)
        if name is None:
            u = unit_hash(seed, group)
            # the last split takes the rest, so rounding in the sum of ratios loses nothing
            name = next((n for n, b in bounds if u < b), bounds[-1][0])
            cache[group] = name
        out[name].append(i)
    return {name: tuple(idx) for name, idx in out.items()}


def kfold(keys: Sequence[str], k: int = 5, seed: int = 0,
          groups: Optional[Sequence[str]] = None) -> List[Tuple[Tuple[int, ...], Tuple[int, ...]]]:
    """``k`` (train, val) index pairs; each key (or group) is in exactly one validation fold."""
    if int(k) != k or k < 2:
        raise ValueError(f"k must be an integer of at least 2, got {k!r}")
    folds = [int(unit_hash(seed, g) * k) for g in _groups(keys, groups)]
    return [
        (tuple(i for i, f in enumerate(folds) if f != fold), tuple(i for i, f in enumerate(folds) if f == fold))
        for fold in range(k)
    ]
