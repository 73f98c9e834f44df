"""Two-alternative forced choice (2AFC) datasets: BAPPS (LPIPS) and the CLIC perceptual triplets.

Records are :class:`TripletRecord` with ``p_a`` = the fraction of judges who found ``a`` closer
to the reference (1 - the published label where the dataset counts votes for the other image).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

from .assemble import Images, SplitOptions, finish
from .layouts import register_layout
from .records import DatasetError, TripletRecord
from .tables import integer, read_csv, require_file


def _fraction(value: float, path: Path, row: Optional[int], column: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise DatasetError(path, f"expected a fraction in [0, 1], got {value!r}", row=row, column=column)
    return value


# --------------------------------------------------------------------------- BAPPS
@register_layout("bapps", kind="2AFC")
def read_bapps(root: Path, *, split_seed: int = 0, split_ratios=None, on_missing: str = "error"):
    """BAPPS 2AFC (Zhang et al. 2018, the LPIPS dataset): 64x64 patch triplets with human votes.

    ``2afc/{train,val}/<subset>/{ref,p0,p1}/<n>.png`` and ``judge/<n>.npy`` (``root`` is the
    folder holding ``2afc/``, or ``2afc/`` itself). ``judge`` is the fraction of judges who found
    ``p1`` closer (the LPIPS code's ``gts``), so ``p_a = 1 - judge`` with A = p0. Splits: the
    official ``train`` and ``val`` and one per subset (``val/cnn``, ``val/superres``...).
    """
    import numpy as np

    opts = SplitOptions(split_seed, split_ratios, on_missing)
    base = root / "2afc" if (root / "2afc").is_dir() else root
    parts = [p for p in ("train", "val") if (base / p).is_dir()]
    if not parts:
        raise DatasetError(base / "val", "folder not found (BAPPS: 2afc/train/<subset>/, 2afc/val/<subset>/)")
    records: List[TripletRecord] = []
    official: Dict[str, List[int]] = {}
    skipped: List[str] = []
    for part in parts:
        for subset_dir in sorted(d for d in (base / part).iterdir() if d.is_dir()):
            judges = sorted((subset_dir / "judge").glob("*.npy"))
            if not judges:
                raise DatasetError(subset_dir / "judge", "holds no .npy judgements")
            images = {name: Images(subset_dir / name, on_missing=on_missing) for name in ("ref", "p0", "p1")}
            start = len(records)
            for judge in judges:
                paths = {name: img.get(f"{judge.stem}.png", judge, None, name) for name, img in images.items()}
                if None in paths.values():
                    continue
                try:
                    values = np.load(judge).reshape(-1)
                except (ValueError, OSError) as exc:
                    raise DatasetError(judge, f"not a readable .npy file ({exc})") from None
                if values.size != 1:
                    raise DatasetError(judge, f"expected one value, got {values.size}")
                p_b = _fraction(float(values[0]), judge, None, "judge")
                key = f"{part}/{subset_dir.name}/{judge.stem}"
                records.append(TripletRecord(key=key, ref=paths["ref"], a=paths["p0"], b=paths["p1"], p_a=1.0 - p_b,
                                             content=key))
            indices = list(range(start, len(records)))
            official.setdefault(part, []).extend(indices)
            official[f"{part}/{subset_dir.name}"] = indices
            skipped += [s for img in images.values() for s in img.skipped]
    return finish("bapps", "2AFC", records, root=root, higher_is_better=True, score_range=(0.0, 1.0),
                  licence="BAPPS: released with LPIPS (github.com/richzhang/PerceptualSimilarity); cite Zhang et al., "
                          "CVPR 2018",
                  options=opts, official=official, notes=["labels: p_a = 1 - judge (fraction for p0)"],
                  skipped=skipped)


# --------------------------------------------------------------------------- CLIC perceptual
CLIC_FIELDS = ("O", "A", "B", "T")


@register_layout("clic", kind="2AFC")
def read_clic(root: Path, *, csv: str = "oracle.csv", split_seed: int = 0, split_ratios=None,
              on_missing: str = "error"):
    """CLIC perceptual-track triplets (CLIC 2021/2022; devkit fab-jul/clic2021-devkit).

    An oracle CSV without header, columns ``O,A,B,T``: the original, two compressed versions and
    ``T = 0`` when the pair (O, A) was preferred (A closer to O), else 1; image paths are relative
    to the CSV's folder. ``csv`` names the file (default ``oracle.csv``, the validation oracle; the
    2021 test oracle was released in January 2022). Hard labels: ``p_a = 1 - T``. No official
    split inside one oracle file: stable splits by original image.
    """
    opts = SplitOptions(split_seed, split_ratios, on_missing)
    table = require_file(root / csv, "the CLIC oracle CSV: O,A,B,T")
    images = Images(table.parent, on_missing=on_missing)
    records = []
    for line, row in read_csv(table, fieldnames=CLIC_FIELDS):
        paths = {c: images.get(row[c], table, line, c) for c in "OAB"}
        if None in paths.values():
            continue
        label = integer(row["T"], table, line, "T")
        if label not in (0, 1):
            raise DatasetError(table, f"expected 0 (A preferred) or 1 (B preferred), got {row['T']!r}", row=line,
                               column="T")
        records.append(TripletRecord(key=",".join(row[c] for c in "OAB"), ref=paths["O"], a=paths["A"], b=paths["B"],
                                     p_a=float(1 - label), content=row["O"]))
    return finish("clic", "2AFC", records, root=root, higher_is_better=True, score_range=(0.0, 1.0),
                  licence="CLIC: Challenge on Learned Image Compression data, terms on compression.cc",
                  options=opts, notes=[f"labels: T of {csv} (p_a = 1 - T)"], skipped=images.skipped)
