"""Stable splits and k-fold: hash-based, seeded, content-disjoint; the LabelledSet API."""
from __future__ import annotations

from pathlib import Path

import pytest

from iqametrics.train.data import ImageRecord, LabelledSet, PairRecord, kfold, stable_split
from iqametrics.train.data.splits import unit_hash

KEYS = [f"images/{i:04d}.png" for i in range(400)]
RATIOS = {"train": 0.7, "val": 0.1, "test": 0.2}


def _split_of(splits, keys):
    return {keys[i]: name for name, idx in splits.items() for i in idx}


def test_every_key_in_exactly_one_split_with_about_the_ratios():
    splits = stable_split(KEYS, RATIOS, seed=0)
    assert sorted(i for idx in splits.values() for i in idx) == list(range(len(KEYS)))
    assert all(list(idx) == sorted(idx) for idx in splits.values())
    for name, share in RATIOS.items():  # 400 draws: within 4 binomial standard deviations
        assert abs(len(splits[name]) - 400 * share) <= 4 * (400 * share * (1 - share)) ** 0.5


def test_adding_files_moves_no_existing_file():
    before = _split_of(stable_split(KEYS[:300], RATIOS, seed=3), KEYS[:300])
    after = _split_of(stable_split(KEYS[::-1] + ["images/new.png"], RATIOS, seed=3), KEYS[::-1] + ["images/new.png"])
    assert all(after[k] == s for k, s in before.items())


def test_same_seed_same_split_other_seed_other_split():
    assert stable_split(KEYS, RATIOS, seed=7) == stable_split(KEYS, RATIOS, seed=7)
    assert stable_split(KEYS, RATIOS, seed=7) != stable_split(KEYS, RATIOS, seed=8)
    assert 0.0 <= unit_hash(0, "x") < 1.0 and unit_hash(0, "x") != unit_hash(1, "x")


def test_groups_keep_fr_content_disjoint():
    keys = [f"dist/{ref}_{d:02d}.png" for ref in range(30) for d in range(12)]
    groups = [k.split("/")[1].split("_")[0] for k in keys]
    splits = stable_split(keys, RATIOS, seed=1, groups=groups)
    contents = {name: {groups[i] for i in idx} for name, idx in splits.items()}
    assert contents["train"].isdisjoint(contents["val"]) and contents["train"].isdisjoint(contents["test"])
    assert contents["val"].isdisjoint(contents["test"])
    assert all(len(idx) % 12 == 0 for idx in splits.values())


def test_ratios_are_checked():
    with pytest.raises(ValueError, match="sum to 1"):
        stable_split(KEYS, {"train": 0.8, "test": 0.3})
    with pytest.raises(ValueError, match="non-negative"):
        stable_split(KEYS, {"train": 1.5, "test": -0.5})
    with pytest.raises(ValueError, match="3 groups for 400 keys"):
        stable_split(KEYS, groups=["a", "b", "c"])
    assert stable_split(KEYS, {"all": 1.0}) == {"all": tuple(range(400))}


@pytest.mark.parametrize("groups", [None, [k[-6] for k in KEYS]])
def test_kfold_partitions(groups):
    folds = kfold(KEYS, k=5, seed=2, groups=groups)
    assert len(folds) == 5
    seen = sorted(i for _, val in folds for i in val)
    assert seen == list(range(len(KEYS)))  # each key validates exactly once
    for train, val in folds:
        assert sorted(train + val) == list(range(len(KEYS))) and not set(train) & set(val)
        if groups is not None:
            assert not {groups[i] for i in train} & {groups[i] for i in val}
    assert kfold(KEYS, k=5, seed=2, groups=groups) == folds
    with pytest.raises(ValueError, match="at least 2"):
        kfold(KEYS, k=1)


def _set():
    records = tuple(ImageRecord(key=f"{i}.png", path=Path(f"{i}.png"), mos=float(i)) for i in range(5))
    return LabelledSet(name="toy", kind="NR", records=records, splits={"train": (0, 1, 2), "test": (3, 4)},
                       higher_is_better=True, score_range=(0, 10), root=Path("."))


def test_labelled_set_subset_and_select():
    ds = _set()
    test = ds.subset("test")
    assert [r.key for r in test] == ["3.png", "4.png"] and test.splits == {"test": (0, 1)} and len(test) == 2
    assert ds.select([4, 0]).labels == (4.0, 0.0) and ds.select([1]).splits == {}
    with pytest.raises(KeyError, match=r"toy has no split 'val' \(splits: test, train\)"):
        ds.subset("val")


def test_labelled_set_checks_its_records():
    pair = PairRecord(key="d.png", dist=Path("d.png"), ref=Path("r.png"), mos=1.0, content="r")
    with pytest.raises(TypeError, match="a NR set holds ImageRecords, got PairRecord"):
        LabelledSet("x", "NR", (pair,), {}, True, (0, 1), Path("."))
    with pytest.raises(ValueError, match=r"split 'a' has indices outside 0..0"):
        LabelledSet("x", "FR", (pair,), {"a": (3,)}, True, (0, 1), Path("."))
    with pytest.raises(ValueError, match="kind must be one of"):
        LabelledSet("x", "XX", (), {}, True, (0, 1), Path("."))
