"""No-reference datasets of authentic photos: KonIQ-10k, LIVE In-the-Wild Challenge, SPAQ, AVA.

Each reader takes the dataset folder as its publisher's archives unpack, reads the label files
under their own names and columns, and returns a :class:`LabelledSet` of :class:`ImageRecord`.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .assemble import Images, SplitOptions, finish, relkey
from .layouts import register_layout
from .records import DatasetError, ImageRecord
from .tables import load_mat_vector, number, read_csv, read_table, read_text_table, require_file

UT_AUSTIN = ("UT Austin LIVE licence: free use with the copyright notice kept and the LIVE lab acknowledged; "
             "cite the papers named in the release")


def _first_existing(candidates: Sequence[Path]) -> Optional[Path]:
    return next((p for p in candidates if p.is_file()), None)


def _normalised(counts: Sequence[float], path: Path, row: int, column: str) -> Tuple[float, ...]:
    total = sum(counts)
    if total <= 0:
        raise DatasetError(path, "the rating histogram is empty (all counts are 0)", row=row, column=column)
    return tuple(c / total for c in counts)


def _histogram_moments(dist: Sequence[float], scores: Sequence[float]) -> Tuple[float, float]:
    mean = sum(p * s for p, s in zip(dist, scores))
    return mean, math.sqrt(max(0.0, sum(p * (s - mean) ** 2 for p, s in zip(dist, scores))))


# --------------------------------------------------------------------------- KonIQ-10k
KONIQ_SCORES = "koniq10k_scores_and_distributions.csv"
KONIQ_SETS = "koniq10k_distributions_sets.csv"
KONIQ_SET_NAMES = {"training": "train", "validation": "val", "test": "test"}
KONIQ_BINS = ("c1", "c2", "c3", "c4", "c5")


@register_layout("koniq10k", kind="NR")
def read_koniq10k(root: Path, *, resolution: str = "1024x768", score: str = "MOS_zscore", split_seed: int = 0,
                  split_ratios=None, on_missing: str = "error"):
    """KonIQ-10k (Hosu et al. 2020): 10,073 photos, 5-point ratings, official train/val/test sets.

    Labels from ``koniq10k_scores_and_distributions.csv`` (columns image_name, c1..c5 rating
    counts, c_total, MOS (1-5), SD, MOS_zscore (0-100)); ``score`` picks MOS_zscore (default,
    the 0-100 scale the papers train on) or MOS. The official sets come from
    ``koniq10k_distributions_sets.csv`` (column ``set``: training 7,058 / validation 1,000 /
    test 2,015; published in the authors' repository subpic/koniq, ``metadata/``), which alone
    also serves as the label file (its MOS column is the 0-100 scale). Images from the
    ``1024x768/`` or ``512x384/`` folder (``resolution``).
    """
    if resolution not in ("1024x768", "512x384"):
        raise ValueError(f"resolution must be '1024x768' or '512x384', got {resolution!r}")
    if score not in ("MOS_zscore", "MOS"):
        raise ValueError(f"score must be 'MOS_zscore' (0-100) or 'MOS' (1-5), got {score!r}")
    opts = SplitOptions(split_seed, split_ratios, on_missing)
    scores_file = _first_existing([root / KONIQ_SCORES, root / "koniq10k_scores_and_distributions" / KONIQ_SCORES])
    sets_file = _first_existing([root / KONIQ_SETS, root / "metadata" / KONIQ_SETS])
    if scores_file is None and sets_file is None:
        raise DatasetError(root / KONIQ_SCORES, f"file not found (nor {KONIQ_SETS})")
    if scores_file is not None:
        label_file, column = scores_file, score
    elif score == "MOS":
        raise DatasetError(root / KONIQ_SCORES, f"file not found: score='MOS' (1-5) needs it ({KONIQ_SETS} has only "
                                                "the 0-100 scale)")
    else:  # the sets file's MOS is the 0-100 scale of MOS_zscore
        label_file, column = sets_file, "MOS"
    rows = read_csv(label_file, ("image_name", column, "SD") + KONIQ_BINS)
    images = Images(root / resolution, on_missing=on_missing)
    records, names = [], []
    for line, row in rows:
        path = images.get(row["image_name"], label_file, line, "image_name")
        if path is None:
            continue
        counts = [number(row[c], label_file, line, c) for c in KONIQ_BINS]
        records.append(ImageRecord(
            key=relkey(path, root), path=path, mos=number(row[column], label_file, line, column),
            # SD is on the 1-5 scale; the 0-100 z-score scale has no published spread
            std=number(row["SD"], label_file, line, "SD") if score == "MOS" else None,
            distribution=_normalised(counts, label_file, line, "c1"),
        ))
        names.append(row["image_name"])
    official = _koniq_sets(sets_file, names) if sets_file is not None else None
    notes = [f"labels: {column} of {label_file.name}", f"images: {resolution}/"]
    return finish("koniq10k", "NR", records, root=root, higher_is_better=True,
                  score_range=(1.0, 5.0) if score == "MOS" else (0.0, 100.0),
                  licence="KonIQ-10k: terms on database.mmsp-kn.de; images from YFCC100M under Creative Commons "
                          "licences; cite Hosu et al., TIP 2020",
                  options=opts, official=official, notes=notes, skipped=images.skipped)


def _koniq_sets(sets_file: Path, names: List[str]) -> Dict[str, List[int]]:
    assigned: Dict[str, str] = {}
    for line, row in read_csv(sets_file, ("image_name", "set")):
        if row["set"] not in KONIQ_SET_NAMES:
            raise DatasetError(sets_file, f"unknown set {row['set']!r} (expected {sorted(KONIQ_SET_NAMES)})",
                               row=line, column="set")
        assigned[row["image_name"]] = KONIQ_SET_NAMES[row["set"]]
    splits: Dict[str, List[int]] = {s: [] for s in KONIQ_SET_NAMES.values()}
    for i, name in enumerate(names):
        if name not in assigned:
            raise DatasetError(sets_file, f"image {name!r} of the label file has no row here", column="image_name")
        splits[assigned[name]].append(i)
    return splits


# --------------------------------------------------------------------------- LIVE In-the-Wild Challenge
@register_layout("clive", kind="NR")
def read_clive(root: Path, *, include_training_images: bool = False, split_seed: int = 0, split_ratios=None,
               on_missing: str = "error"):
    """LIVE In-the-Wild Image Quality Challenge (Ghadiyaram & Bovik 2016): 1,162 photos, MOS 0-100.

    The release (``ChallengeDB_release/``): ``Data/AllImages_release.mat``,
    ``Data/AllMOS_release.mat``, ``Data/AllStdDev_release.mat`` (1,169 entries each, in the same
    order) and ``Images/``; the first 7 entries are the raters' training images
    (``Images/trainingImages/t1.bmp``...), left out as in the literature unless
    ``include_training_images``. Or a folder with ``scores.csv`` (columns image, mos and
    optionally mos_std) and ``images/``, like ``../shared/data/clive``. No official split.
    """
    opts = SplitOptions(split_seed, split_ratios, on_missing)
    data = root / "Data"
    if (data / "AllImages_release.mat").is_file():
        records, skipped = _clive_release(root, include_training_images, on_missing)
        notes = ["labels: Data/AllMOS_release.mat"]
    elif (root / "scores.csv").is_file():
        records, skipped = _clive_csv(root, on_missing)
        notes = ["labels: scores.csv"]
    else:
        raise DatasetError(data / "AllImages_release.mat", "file not found (nor scores.csv with images/)")
    return finish("clive", "NR", records, root=root, higher_is_better=True, score_range=(0.0, 100.0),
                  licence=UT_AUSTIN + " (Ghadiyaram & Bovik, TIP 2016)", options=opts, notes=notes, skipped=skipped)


def _clive_release(root: Path, include_training: bool, on_missing: str):
    data = root / "Data"
    names = load_mat_vector(data / "AllImages_release.mat", "AllImages_release")
    columns = {"mos": ("AllMOS_release.mat", "AllMOS_release"), "std": ("AllStdDev_release.mat", "AllStdDev_release")}
    values = {}
    for field, (file, variable) in columns.items():
        if field == "std" and not (data / file).is_file():
            continue  # the standard deviations are optional
        values[field] = load_mat_vector(data / file, variable)
        if len(values[field]) != len(names):
            raise DatasetError(data / file, f"has {len(values[field])} entries but AllImages_release.mat has "
                                            f"{len(names)}", column=variable)
    images = Images(root / "Images", on_missing=on_missing)
    records = []
    for i, name in enumerate(names):
        training = str(name).startswith("t")  # t1.bmp ... t7.bmp
        if training and not include_training:
            continue
        path = images.get(("trainingImages/" if training else "") + str(name), data / "AllImages_release.mat", i + 1,
                          "AllImages_release")
        if path is None:
            continue
        mos = number(values["mos"][i], data / "AllMOS_release.mat", i + 1, "AllMOS_release")
        std = number(values["std"][i], data / "AllStdDev_release.mat", i + 1, "AllStdDev_release") \
            if "std" in values else None
        records.append(ImageRecord(key=relkey(path, root), path=path, mos=mos, std=std))
    return records, images.skipped


def _clive_csv(root: Path, on_missing: str):
    table = root / "scores.csv"
    rows = read_csv(table, ("image", "mos"))
    images = Images(root / "images", on_missing=on_missing)
    records = []
    for line, row in rows:
        path = images.get(row["image"], table, line, "image")
        if path is None:
            continue
        std_column = next((c for c in ("mos_std", "std") if row.get(c)), None)
        std = number(row[std_column], table, line, std_column) if std_column else None
        records.append(ImageRecord(key=relkey(path, root), path=path, mos=number(row["mos"], table, line, "mos"),
                                   std=std))
    return records, images.skipped


# --------------------------------------------------------------------------- SPAQ
SPAQ_TABLE = "MOS and Image attribute scores"


@register_layout("spaq", kind="NR")
def read_spaq(root: Path, *, split_seed: int = 0, split_ratios=None, on_missing: str = "error"):
    """SPAQ (Fang et al. 2020): 11,125 smartphone photos, MOS 0-100.

    Labels from ``Annotations/MOS and Image attribute scores.xlsx`` (columns "Image name",
    "MOS", then the attribute scores), read without openpyxl; a CSV export of it with the same
    name and columns is read as well. Images from ``TestImage/`` (full resolution; the papers
    resize them, which is the model's preprocessing, not the reader's). No official split.
    """
    opts = SplitOptions(split_seed, split_ratios, on_missing)
    annotations = root / "Annotations"
    table = _first_existing([annotations / f"{SPAQ_TABLE}.xlsx", annotations / f"{SPAQ_TABLE}.csv"])
    if table is None:
        raise DatasetError(annotations / f"{SPAQ_TABLE}.xlsx", "file not found (nor a .csv export of it)")
    images = Images(root / "TestImage", on_missing=on_missing)
    records = []
    for line, row in read_table(table, ("Image name", "MOS")):
        path = images.get(row["Image name"], table, line, "Image name")
        if path is not None:
            records.append(ImageRecord(key=relkey(path, root), path=path, mos=number(row["MOS"], table, line, "MOS")))
    return finish("spaq", "NR", records, root=root, higher_is_better=True, score_range=(0.0, 100.0),
                  licence="SPAQ: terms on github.com/h4nwei/SPAQ; cite Fang et al., CVPR 2020",
                  options=opts, notes=[f"labels: Annotations/{table.name}"], skipped=images.skipped)


# --------------------------------------------------------------------------- AVA
AVA_FIELDS = ("index", "image_id") + tuple(f"n{s}" for s in range(1, 11)) + ("tag1", "tag2", "challenge")
AVA_LISTS = {"train": "generic_ls_train.jpgl", "test": "generic_test.jpgl"}


@register_layout("ava", kind="NR")
def read_ava(root: Path, *, split_seed: int = 0, split_ratios=None, on_missing: str = "error"):
    """AVA (Murray et al. 2012): ~255k photos from DPChallenge with 10-bin aesthetic vote counts.

    ``AVA.txt`` (space-separated: index, image id, counts of scores 1..10, two semantic tags,
    challenge id), images ``images/<id>.jpg``. The label is the mean score (1-10) of the vote
    histogram, ``std`` its spread and ``distribution`` the normalised histogram. Official
    generic split when ``aesthetics_image_lists/generic_ls_train.jpgl`` and
    ``generic_test.jpgl`` are there (images in neither list are in no split).
    """
    opts = SplitOptions(split_seed, split_ratios, on_missing)
    table = root / "AVA.txt"
    images = Images(root / "images", on_missing=on_missing)
    records, ids = [], []
    bins = AVA_FIELDS[2:12]
    for line, row in read_text_table(table, AVA_FIELDS, min_fields=12):
        counts = [number(row[c], table, line, c) for c in bins]
        dist = _normalised(counts, table, line, "n1")
        path = images.get(f"{row['image_id']}.jpg", table, line, "image_id")
        if path is None:
            continue
        mean, std = _histogram_moments(dist, range(1, 11))
        records.append(ImageRecord(key=relkey(path, root), path=path, mos=mean, std=std, distribution=dist))
        ids.append(row["image_id"])
    lists = root / "aesthetics_image_lists"
    official = None
    if all((lists / f).is_file() for f in AVA_LISTS.values()):
        position = {image_id: i for i, image_id in enumerate(ids)}
        official = {}
        for split, file in AVA_LISTS.items():
            listed = [t for t in require_file(lists / file).read_text().split()]
            official[split] = sorted(position[t] for t in listed if t in position)
    return finish("ava", "NR", records, root=root, higher_is_better=True, score_range=(1.0, 10.0),
                  licence="AVA: images by dpchallenge.com photographers, terms of the AVA release; cite Murray et al., "
                          "CVPR 2012",
                  options=opts, official=official, notes=["labels: mean of the AVA.txt vote histogram"],
                  skipped=images.skipped)
