"""Full-reference datasets of synthetically distorted images: KADID-10k, KADIS-700k, TID2013,
LIVE (release 2), CSIQ and PIPAL.

Records are :class:`PairRecord` whose ``content`` is the reference image, so stable splits are
content-disjoint; ``distortion`` and ``level`` carry the dataset's own type names/numbers.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Optional

from .assemble import Images, SplitOptions, finish, relkey
from .inthewild import UT_AUSTIN, _first_existing
from .layouts import register_layout
from .records import DatasetError, PairRecord
from .tables import integer, load_mat_vector, number, read_csv, read_table, read_text_table


def _pair(root: Path, dist: Path, ref: Path, mos: float, content: str, **extra) -> PairRecord:
    return PairRecord(key=relkey(dist, root), dist=dist, ref=ref, mos=mos, content=content, **extra)


def _name_fields(name: str, label_file: Path, row: int, column: str, count: int) -> List[int]:
    """The trailing ``_NN`` numbers of a file name stem, e.g. ``I01_05_03.png`` -> [5, 3]."""
    parts = Path(name).stem.split("_")
    if len(parts) > count and all(p.isdigit() for p in parts[-count:]):
        return [int(p) for p in parts[-count:]]
    raise DatasetError(label_file, f"file name {name!r} does not follow the dataset's naming "
                                   "(<reference>_<type>_<level>)", row=row, column=column)


# --------------------------------------------------------------------------- KADID-10k
KADID_LICENCE = "KADID-10k/KADIS-700k: Pixabay images (Pixabay licence); cite Lin, Hosu & Saupe, QoMEX 2019"


@register_layout("kadid10k", kind="FR")
def read_kadid10k(root: Path, *, split_seed: int = 0, split_ratios=None, on_missing: str = "error"):
    """KADID-10k (Lin et al. 2019): 81 references x 25 distortion types x 5 levels = 10,125 pairs.

    ``dmos.csv`` (columns dist_img, ref_img, dmos, var) and ``images/`` holding references
    (``I01.png``) and distorted images (``I01_<type>_<level>.png``). Despite its name the
    ``dmos`` column is a degradation category rating from 1 (very annoying) to 5
    (imperceptible): higher is better. ``std`` is the square root of ``var``. No official split.
    """
    opts = SplitOptions(split_seed, split_ratios, on_missing)
    table = root / "dmos.csv"
    images = Images(root / "images", on_missing=on_missing)
    records = []
    for line, row in read_csv(table, ("dist_img", "ref_img", "dmos", "var")):
        dist = images.get(row["dist_img"], table, line, "dist_img")
        ref = images.get(row["ref_img"], table, line, "ref_img")
        if dist is None or ref is None:
            continue
        kind, level = _name_fields(row["dist_img"], table, line, "dist_img", 2)
        var = number(row["var"], table, line, "var")
        records.append(_pair(root, dist, ref, number(row["dmos"], table, line, "dmos"), row["ref_img"],
                             std=math.sqrt(max(var, 0.0)), distortion=f"{kind:02d}", level=level))
    return finish("kadid10k", "FR", records, root=root, higher_is_better=True, score_range=(1.0, 5.0),
                  licence=KADID_LICENCE, options=opts, notes=["labels: dmos.csv (1-5, higher is better)"],
                  skipped=images.skipped)


# --------------------------------------------------------------------------- KADIS-700k
@register_layout("kadis700k", kind="FR")
def read_kadis700k(root: Path, *, scores: Optional[str] = None, score_column: str = "score",
                   score_higher_is_better: bool = True, split_seed: int = 0, split_ratios=None,
                   on_missing: str = "error"):
    """KADIS-700k (Lin et al. 2019): 140,000 pristine Pixabay photos and the recipe for 700,000
    distorted ones; it has NO opinion scores.

    ``kadis700k_ref_imgs.csv`` (columns ref_im, dist_type_1, ...) assigns each reference in
    ``ref_imgs/`` one of KADID-10k's 25 distortion types; the release's MATLAB script (or
    :mod:`iqametrics.train.distortions`) writes ``dist_imgs/<stem>_<type>_<level>.bmp`` for
    levels 1-5. Labels: by default the distortion level (1-5, lower is better) - a ranking
    signal, not an opinion score; with ``scores=FILE`` a CSV with columns dist_img, ref_img and
    ``score_column`` (e.g. FR-IQA pseudo-labels, as VTAMIQ pre-trains on), or the output of
    ``iqa compare -m vsi --format csv`` with ``score_column="vsi"``, whose orientation is
    ``score_higher_is_better``. Distorted images that were not generated are missing files
    (``on_missing="skip"`` reads the generated part).
    """
    opts = SplitOptions(split_seed, split_ratios, on_missing)
    table = root / "kadis700k_ref_imgs.csv"
    refs = Images(root / "ref_imgs", on_missing=on_missing)
    dists = Images(root / "dist_imgs", on_missing=on_missing)
    labels = _kadis_scores(root, scores, score_column) if scores is not None else None
    records = []
    for line, row in read_csv(table, ("ref_im", "dist_type_1")):
        ref = refs.get(row["ref_im"], table, line, "ref_im")
        kind = integer(row["dist_type_1"], table, line, "dist_type_1")
        if not 1 <= kind <= 25:
            raise DatasetError(table, f"distortion type {kind} is not one of KADID-10k's 1..25", row=line,
                               column="dist_type_1")
        for level in range(1, 6):
            name = f"{Path(row['ref_im']).stem}_{kind:02d}_{level:02d}.bmp"
            dist = dists.get(name, table, line, "dist_type_1")
            if ref is None or dist is None:
                continue
            if labels is None:
                mos = float(level)
            elif name in labels:
                mos = labels[name]
            else:
                raise DatasetError(Path(scores), f"no score for {name!r}", column="dist_img")
            records.append(_pair(root, dist, ref, mos, row["ref_im"], distortion=f"{kind:02d}", level=level))
    if labels is None:
        hib, score_range, note = False, (1.0, 5.0), "labels: distortion level 1-5 (no opinion scores)"
    else:
        values = list(labels.values())
        hib, score_range = score_higher_is_better, (min(values), max(values))
        note = f"labels: {score_column} of {scores}"
    return finish("kadis700k", "FR", records, root=root, higher_is_better=hib, score_range=score_range,
                  licence=KADID_LICENCE, options=opts, notes=[note], skipped=refs.skipped + dists.skipped)


def _kadis_scores(root: Path, scores: str, column: str) -> Dict[str, float]:
    """Scores by distorted file name: a CSV with dist_img, ref_img and ``column``, or the CSV of
    ``iqa compare --format csv`` (ref, dist paths and one column per metric, e.g. ``vsi``)."""
    path = Path(scores) if Path(scores).is_absolute() else root / scores
    rows = read_csv(path, (column,))
    if rows and "dist_img" not in rows[0][1] and {"ref", "dist"} <= set(rows[0][1]):
        return {Path(row["dist"]).name: number(row[column], path, line, column) for line, row in rows}
    if rows and "ref_img" not in rows[0][1]:
        rows = read_csv(path, ("dist_img", "ref_img", column))  # the error names the missing columns
    return {row["dist_img"]: number(row[column], path, line, column) for line, row in rows}


# --------------------------------------------------------------------------- TID2013
@register_layout("tid2013", kind="FR")
def read_tid2013(root: Path, *, split_seed: int = 0, split_ratios=None, on_missing: str = "error"):
    """TID2013 (Ponomarenko et al. 2015): 25 references x 24 types x 5 levels = 3,000 pairs, MOS 0-9.

    ``mos_with_names.txt`` (lines "MOS name", e.g. ``5.51429 i01_01_1.bmp``), optional
    ``mos_std.txt`` (one value per line, same order), ``reference_images/I01.BMP``...,
    ``distorted_images/i01_01_1.bmp``... (names match case-insensitively). No official split.
    """
    opts = SplitOptions(split_seed, split_ratios, on_missing)
    table = root / "mos_with_names.txt"
    rows = read_text_table(table, ("mos", "name"))
    std_file = root / "mos_std.txt"
    stds = None
    if std_file.is_file():
        stds = [number(r["std"], std_file, line, "std") for line, r in read_text_table(std_file, ("std",))]
        if len(stds) != len(rows):
            raise DatasetError(std_file, f"has {len(stds)} values but {table.name} has {len(rows)} rows")
    refs = Images(root / "reference_images", on_missing=on_missing)
    dists = Images(root / "distorted_images", on_missing=on_missing)
    records = []
    for i, (line, row) in enumerate(rows):
        name = row["name"]
        content = name[:3].lower()  # i01
        dist = dists.get(name, table, line, "name")
        ref = refs.get(f"{content}.bmp", table, line, "name")
        if dist is None or ref is None:
            continue
        kind, level = _name_fields(name, table, line, "name", 2)
        records.append(_pair(root, dist, ref, number(row["mos"], table, line, "mos"), content,
                             std=stds[i] if stds else None, distortion=f"{kind:02d}", level=level))
    return finish("tid2013", "FR", records, root=root, higher_is_better=True, score_range=(0.0, 9.0),
                  licence="TID2013: free for research, see ponomarenko.info/tid2013.htm; cite Ponomarenko et al., "
                          "Signal Process. Image Commun. 2015",
                  options=opts, notes=["labels: mos_with_names.txt (0-9)"], skipped=refs.skipped + dists.skipped)


# --------------------------------------------------------------------------- LIVE release 2
#: LIVE's .mat files list the 982 images in this order of folders, each numbered img1.bmp, img2.bmp...
LIVE_FOLDERS = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))
LIVE_DMOS = {"realigned": ("dmos_realigned.mat", "dmos_new", "dmos_std"), "original": ("dmos.mat", "dmos", None)}


@register_layout("live", kind="FR")
def read_live(root: Path, *, dmos: str = "realigned", split_seed: int = 0, split_ratios=None,
              on_missing: str = "error"):
    """LIVE IQA release 2 (Sheikh et al. 2006): 29 references, 779 distorted images, DMOS.

    ``refnames_all.mat`` (``refnames_all``: the reference of each of the 982 entries),
    ``dmos_realigned.mat`` (``dmos_new``, ``dmos_std``, ``orgs``; the realigned scores the
    release recommends, default) or ``dmos.mat`` (``dmos``, ``orgs``; ``dmos="original"``);
    images ``refimgs/`` and ``jp2k/ jpeg/ wn/ gblur/ fastfading/img<N>.bmp`` in that order.
    Entries with ``orgs == 1`` are references scored against themselves and are left out.
    Lower DMOS is better. No official split.
    """
    if dmos not in LIVE_DMOS:
        raise ValueError(f"dmos must be one of {sorted(LIVE_DMOS)}, got {dmos!r}")
    opts = SplitOptions(split_seed, split_ratios, on_missing)
    file, variable, std_variable = LIVE_DMOS[dmos]
    names_file, dmos_file = root / "refnames_all.mat", root / file
    refnames = load_mat_vector(names_file, "refnames_all")
    values = load_mat_vector(dmos_file, variable)
    orgs = load_mat_vector(dmos_file, "orgs")
    stds = load_mat_vector(dmos_file, std_variable) if std_variable else None
    expected = sum(n for _, n in LIVE_FOLDERS)
    for path, var, vector in ((names_file, "refnames_all", refnames), (dmos_file, variable, values),
                              (dmos_file, "orgs", orgs)):
        if len(vector) != expected:
            raise DatasetError(path, f"has {len(vector)} entries, expected {expected} "
                                     f"({' + '.join(f'{n} {f}' for f, n in LIVE_FOLDERS)})", column=var)
    refs = Images(root / "refimgs", on_missing=on_missing)
    folders = {f: Images(root / f, on_missing=on_missing) for f, _ in LIVE_FOLDERS}
    records, i = [], 0
    for folder, count in LIVE_FOLDERS:
        for n in range(1, count + 1):
            entry, i = i, i + 1
            if number(orgs[entry], dmos_file, entry + 1, "orgs"):
                continue
            dist = folders[folder].get(f"img{n}.bmp", dmos_file, entry + 1, variable)
            ref = refs.get(str(refnames[entry]), names_file, entry + 1, "refnames_all")
            if dist is None or ref is None:
                continue
            records.append(_pair(root, dist, ref, number(values[entry], dmos_file, entry + 1, variable),
                                 str(refnames[entry]), distortion=folder,
                                 std=number(stds[entry], dmos_file, entry + 1, std_variable) if stds else None))
    skipped = refs.skipped + [s for f in folders.values() for s in f.skipped]
    return finish("live", "FR", records, root=root, higher_is_better=False, score_range=(0.0, 100.0),
                  licence=UT_AUSTIN + " (Sheikh, Sabir & Bovik, TIP 2006)", options=opts,
                  notes=[f"labels: {variable} of {file} (DMOS, lower is better)"], skipped=skipped)


# --------------------------------------------------------------------------- CSIQ
CSIQ_TABLE = "csiq.DMOS"
#: dst_type in the DMOS sheet -> folder (and file-name part) under dst_imgs/
CSIQ_FOLDERS = {"noise": "awgn", "jpeg": "jpeg", "jpeg 2000": "jpeg2000", "fnoise": "fnoise", "blur": "blur",
                "contrast": "contrast"}


@register_layout("csiq", kind="FR")
def read_csiq(root: Path, *, split_seed: int = 0, split_ratios=None, on_missing: str = "error"):
    """CSIQ (Larson & Chandler 2010): 30 references, 866 distorted images, DMOS 0-1.

    ``csiq.DMOS.xlsx``, sheet ``all_by_image`` (columns image, dst_idx, dst_type, dst_lev,
    dmos_std, dmos; read without openpyxl; a CSV export ``csiq.DMOS.csv`` of that sheet reads the
    same), ``src_imgs/<image>.png`` and ``dst_imgs/<type>/<image>.<TYPE>.<level>.png`` (types
    awgn, jpeg, jpeg2000, fnoise, blur, contrast). Lower DMOS is better. No official split.
    """
    opts = SplitOptions(split_seed, split_ratios, on_missing)
    table = _first_existing([root / f"{CSIQ_TABLE}.xlsx", root / f"{CSIQ_TABLE}.csv"])
    if table is None:
        raise DatasetError(root / f"{CSIQ_TABLE}.xlsx", "file not found (nor a .csv export of it)")
    sheet = "all_by_image" if table.suffix == ".xlsx" else None
    refs = Images(root / "src_imgs", on_missing=on_missing)
    dists = Images(root / "dst_imgs", on_missing=on_missing)
    records = []
    for line, row in read_table(table, ("image", "dst_type", "dst_lev", "dmos_std", "dmos"), sheet=sheet):
        folder = CSIQ_FOLDERS.get(row["dst_type"].strip().lower())
        if folder is None:
            raise DatasetError(table, f"unknown distortion type {row['dst_type']!r} (expected one of "
                                      f"{sorted(CSIQ_FOLDERS)})", row=line, column="dst_type")
        image = _integral_text(row["image"])
        level = integer(row["dst_lev"], table, line, "dst_lev")
        dist = dists.get(f"{folder}/{image}.{folder}.{level}.png", table, line, "image")
        ref = refs.get(f"{image}.png", table, line, "image")
        if dist is None or ref is None:
            continue
        records.append(_pair(root, dist, ref, number(row["dmos"], table, line, "dmos"), image,
                             std=number(row["dmos_std"], table, line, "dmos_std"), distortion=folder, level=level))
    return finish("csiq", "FR", records, root=root, higher_is_better=False, score_range=(0.0, 1.0),
                  licence="CSIQ: terms of the release (Computational Perception and Image Quality Lab, Oklahoma "
                          "State University); cite Larson & Chandler, J. Electron. Imaging 2010",
                  options=opts, notes=[f"labels: dmos of {table.name} (lower is better)"],
                  skipped=refs.skipped + dists.skipped)


def _integral_text(text: str) -> str:
    # spreadsheets store the image called 1600 as the number 1600 (or 1600.0 in a CSV export)
    try:
        value = float(text)
    except ValueError:
        return text.strip()
    return str(int(value)) if value == int(value) else text.strip()


# --------------------------------------------------------------------------- PIPAL
PIPAL_PARTS = {"train": "Train", "val": "Val", "test": "Test"}


@register_layout("pipal", kind="FR")
def read_pipal(root: Path, *, split_seed: int = 0, split_ratios=None, on_missing: str = "error"):
    """PIPAL (Gu et al. 2020; NTIRE 2021/2022 perceptual IQA challenges): 250 references, Elo scores.

    For each released part (``Train``; ``Val`` and ``Test`` once their labels are out):
    ``<Part>_Label/*.txt`` (lines ``A0001_00_00.bmp,1499.91``: distorted image, Elo score),
    ``<Part>_Ref/A0001.bmp`` (reference = first five characters) and ``<Part>_Dist/`` (searched
    recursively: the training images come split over ``Distortion_1..4``). Higher is better.
    Splits: the released parts when there are several, else stable content-disjoint splits.
    """
    opts = SplitOptions(split_seed, split_ratios, on_missing)
    parts = {s: p for s, p in PIPAL_PARTS.items() if (root / f"{p}_Label").is_dir()}
    if not parts:
        raise DatasetError(root / "Train_Label", "folder not found (PIPAL's labels: Train_Label/*.txt)")
    records, official, skipped = [], {}, []
    for split, part in parts.items():
        refs = Images(root / f"{part}_Ref", on_missing=on_missing)
        dists = Images(root / f"{part}_Dist", on_missing=on_missing, recursive=True)
        start = len(records)
        for label_file in sorted((root / f"{part}_Label").glob("*.txt")):
            for line, row in read_csv(label_file, fieldnames=("dist", "elo")):
                content = row["dist"][:5]
                dist = dists.get(row["dist"], label_file, line, "dist")
                ref = refs.get(f"{content}.bmp", label_file, line, "dist")
                if dist is None or ref is None:
                    continue
                kind, _ = _name_fields(row["dist"], label_file, line, "dist", 2)
                records.append(_pair(root, dist, ref, number(row["elo"], label_file, line, "elo"), content,
                                     distortion=f"{kind:02d}"))
        official[split] = list(range(start, len(records)))
        skipped += refs.skipped + dists.skipped
    if not records:
        raise DatasetError(root / "Train_Label", "holds no label files (*.txt)")
    elo = [r.mos for r in records]
    return finish("pipal", "FR", records, root=root, higher_is_better=True, score_range=(min(elo), max(elo)),
                  licence="PIPAL: terms on the project page (jasongt.com/projectpages/pipal.html); cite Gu et al., "
                          "ECCV 2020",
                  options=opts, official=official if len(official) > 1 else None,
                  notes=["labels: Elo scores of <Part>_Label/*.txt (range: observed)"], skipped=skipped)
