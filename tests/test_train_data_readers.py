"""Each dataset reader on a tiny fixture in its publisher's exact layout (written by
``tests/train_layouts.py``), and its errors on missing or malformed files."""
from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

pytest.importorskip("scipy")

from iqametrics.train.data import DatasetError, ImageRecord, PairRecord, TripletRecord, list_layouts, read_dataset
from iqametrics.train.data.tables import read_xlsx

from . import train_layouts as lay


def test_every_layout_is_registered():
    assert set(list_layouts()) >= {"koniq10k", "clive", "spaq", "kadid10k", "kadis700k", "pipal", "tid2013", "live",
                                   "csiq", "bapps", "clic", "ava", "generic"}


def test_spec_forms_and_unknown_names(tmp_path):
    lay.write_kadid10k(tmp_path)
    assert len(read_dataset(f"kadid10k:{tmp_path}")) == len(read_dataset("kadid10k", root=tmp_path)) == 4
    with pytest.raises(KeyError, match="unknown dataset layout 'nope'"):
        read_dataset("nope", root=tmp_path)
    with pytest.raises(TypeError, match=r"no option\(s\) \['resolution'\].*split_seed"):
        read_dataset(f"kadid10k:{tmp_path}", resolution="512x384")
    with pytest.raises(ValueError, match="LAYOUT:ROOT"):
        read_dataset(str(tmp_path))


# --------------------------------------------------------------------------- KonIQ-10k
def test_koniq10k_scores_distribution_and_official_sets(tmp_path):
    zscores = lay.write_koniq10k(tmp_path)
    ds = read_dataset(f"koniq10k:{tmp_path}")
    assert ds.kind == "NR" and ds.higher_is_better and ds.score_range == (0.0, 100.0)
    assert [r.key for r in ds.records] == [f"1024x768/{n}" for n in lay.KONIQ_IMAGES]
    assert [r.mos for r in ds.records] == pytest.approx(list(zscores.values()))
    first = ds.records[0]
    assert sum(first.distribution) == pytest.approx(1.0) and len(first.distribution) == 5
    assert first.distribution[0] == 0.0 and first.std is None  # SD is on the 1-5 scale
    names = list(lay.KONIQ_IMAGES)
    split_of = {names[i]: s for s, idx in ds.splits.items() for i in idx}
    assert split_of == {n: {"training": "train", "validation": "val", "test": "test"}[s]
                        for n, s in lay.KONIQ_IMAGES.items()}
    assert any("official" in n for n in ds.notes)


def test_koniq10k_options(tmp_path):
    lay.write_koniq10k(tmp_path)
    small = read_dataset(f"koniq10k:{tmp_path}", resolution="512x384", score="MOS")
    assert small.records[0].path.parent.name == "512x384"
    assert small.score_range == (1.0, 5.0) and 1.0 <= small.records[0].mos <= 5.0
    assert small.records[0].std == pytest.approx(0.5)
    with pytest.raises(ValueError, match="resolution"):
        read_dataset(f"koniq10k:{tmp_path}", resolution="800x600")


def test_koniq10k_sets_file_alone(tmp_path):
    zscores = lay.write_koniq10k(tmp_path, scores_file=False)
    ds = read_dataset(f"koniq10k:{tmp_path}")
    assert [r.mos for r in ds.records] == pytest.approx(list(zscores.values()))
    with pytest.raises(DatasetError, match="koniq10k_scores_and_distributions.csv: file not found"):
        read_dataset(f"koniq10k:{tmp_path}", score="MOS")


def test_koniq10k_errors_name_file_row_and_column(tmp_path):
    lay.write_koniq10k(tmp_path)
    (tmp_path / "1024x768" / "100117038.jpg").unlink()
    with pytest.raises(DatasetError) as err:
        read_dataset(f"koniq10k:{tmp_path}")
    msg = str(err.value)
    assert "koniq10k_scores_and_distributions.csv, row 5, column 'image_name'" in msg and "100117038.jpg" in msg
    skipped = read_dataset(f"koniq10k:{tmp_path}", on_missing="skip")
    assert len(skipped) == 4 and any("skipped 1" in n for n in skipped.notes)

    table = tmp_path / "koniq10k_scores_and_distributions.csv"
    text = table.read_text().replace("MOS_zscore", "zscore")
    table.write_text(text)
    with pytest.raises(DatasetError, match=r"row 1, column 'MOS_zscore': missing column"):
        read_dataset(f"koniq10k:{tmp_path}", on_missing="skip")
    lines = text.replace("zscore", "MOS_zscore").splitlines()
    fields = lines[2].split(",")
    lines[2] = ",".join(fields[:2] + ["many"] + fields[3:])
    table.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"row 3, column 'c2': expected a number, got 'many'"):
        read_dataset(f"koniq10k:{tmp_path}", on_missing="skip")


def test_koniq10k_bad_set_value(tmp_path):
    lay.write_koniq10k(tmp_path)
    sets = tmp_path / "koniq10k_distributions_sets.csv"
    sets.write_text(sets.read_text().replace(",validation", ",holdout"))
    with pytest.raises(DatasetError, match=r"_sets.csv, row \d, column 'set': unknown set 'holdout'"):
        read_dataset(f"koniq10k:{tmp_path}")


# --------------------------------------------------------------------------- CLIVE
def test_clive_release_mat_files(tmp_path):
    mos = lay.write_clive_release(tmp_path)
    ds = read_dataset(f"clive:{tmp_path}")
    assert [r.key for r in ds.records] == ["Images/3.bmp", "Images/4.bmp", "Images/10.JPG", "Images/100.bmp"]
    assert [r.mos for r in ds.records] == pytest.approx(mos[2:])
    assert [r.std for r in ds.records] == pytest.approx([21.0, 22.0, 23.0, 24.0])
    with_training = read_dataset(f"clive:{tmp_path}", include_training_images=True)
    assert with_training.records[0].key == "Images/trainingImages/t1.bmp" and len(with_training) == 6


def test_clive_release_errors(tmp_path):
    lay.write_clive_release(tmp_path)
    lay.savemat(tmp_path / "Data" / "AllMOS_release.mat", AllMOS_release=np.array([[1.0, 2.0]]))
    with pytest.raises(DatasetError, match=r"AllMOS_release.mat, column 'AllMOS_release': has 2 entries"):
        read_dataset(f"clive:{tmp_path}")
    lay.savemat(tmp_path / "Data" / "AllMOS_release.mat", wrong_name=np.array([[1.0]]))
    with pytest.raises(DatasetError, match=r"has no variable 'AllMOS_release' \(variables: \['wrong_name'\]\)"):
        read_dataset(f"clive:{tmp_path}")
    shutil.rmtree(tmp_path / "Data")
    with pytest.raises(DatasetError, match="AllImages_release.mat: file not found"):
        read_dataset(f"clive:{tmp_path}")


def test_clive_csv_layout(tmp_path):
    lay.write_csv(tmp_path / "scores.csv", ["image", "original_name", "mos", "mos_std"],
                  [["100.png", "100.bmp", 32.5611, 19.1247], ["1000.JPG", "1000.JPG", 60.0, 18.0]])
    lay.image(tmp_path / "images" / "100.png")
    lay.image(tmp_path / "images" / "1000.JPG")
    ds = read_dataset(f"clive:{tmp_path}")
    assert [(r.key, r.mos, r.std) for r in ds.records] == [("images/100.png", 32.5611, 19.1247),
                                                             ("images/1000.JPG", 60.0, 18.0)]


@pytest.mark.needs_data
def test_clive_shared_data(shared_data):
    ds = read_dataset(f"clive:{shared_data / 'clive'}")
    assert len(ds) == 938 and ds.kind == "NR" and ds.higher_is_better
    mos = np.array(ds.labels)
    assert 0 < mos.min() and mos.max() < 100 and 45 < mos.mean() < 65 and 12 < mos.std() < 25
    assert all(r.path.is_file() and r.std is not None for r in ds.records)
    assert sorted(i for idx in ds.splits.values() for i in idx) == list(range(938))


# --------------------------------------------------------------------------- SPAQ
@pytest.mark.parametrize("export_csv", [False, True])
def test_spaq_xlsx_and_csv_export(tmp_path, export_csv):
    mos = lay.write_spaq(tmp_path, export_csv=export_csv)
    ds = read_dataset(f"spaq:{tmp_path}")
    assert [r.key for r in ds.records] == [f"TestImage/{n}" for n in mos]
    assert [r.mos for r in ds.records] == pytest.approx(list(mos.values()))


def test_spaq_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"MOS and Image attribute scores.xlsx: file not found"):
        read_dataset(f"spaq:{tmp_path}")
    lay.write_xlsx(tmp_path / "Annotations" / "MOS and Image attribute scores.xlsx",
                   {"Sheet1": [["Image name", "MOS"], ["00001.jpg", "good"]]})
    lay.image(tmp_path / "TestImage" / "00001.jpg")
    with pytest.raises(DatasetError, match=r"\.xlsx, row 2, column 'MOS': expected a number, got 'good'"):
        read_dataset(f"spaq:{tmp_path}")


def test_xlsx_reader_sheets_and_bad_files(tmp_path):
    path = lay.write_xlsx(tmp_path / "t.xlsx", {"a": [["x", "y"], [1, "u"]], "b": [["x"], [2.5]]}, first_column=2)
    assert read_xlsx(path) == [(2, {"x": "1", "y": "u"})]
    assert read_xlsx(path, sheet="b") == [(2, {"x": "2.5"})]
    with pytest.raises(DatasetError, match=r"no sheet 'c' \(sheets: \['a', 'b'\]\)"):
        read_xlsx(path, sheet="c")
    (tmp_path / "bad.xlsx").write_text("not a zip")
    with pytest.raises(DatasetError, match="bad.xlsx: not a readable .xlsx workbook"):
        read_xlsx(tmp_path / "bad.xlsx")


# --------------------------------------------------------------------------- AVA
def test_ava_votes_and_generic_split(tmp_path):
    votes = lay.write_ava(tmp_path)
    ds = read_dataset(f"ava:{tmp_path}")
    first = ds.records[0]
    counts = np.array(votes["953619"], dtype=float)
    mean = (counts * np.arange(1, 11)).sum() / counts.sum()
    assert first.key == "images/953619.jpg" and first.mos == pytest.approx(mean)
    assert first.std == pytest.approx(math.sqrt((counts * (np.arange(1, 11) - mean) ** 2).sum() / counts.sum()))
    assert first.distribution == pytest.approx(tuple(counts / counts.sum()))
    assert ds.splits == {"train": (0, 1), "test": (2,)}  # 954113 is in neither list


def test_ava_malformed_row(tmp_path):
    lay.write_ava(tmp_path)
    (tmp_path / "AVA.txt").write_text("1 953619 0 1 5\n")
    with pytest.raises(DatasetError, match=r"AVA.txt, row 1, column 'n4': has 5 fields, expected 12"):
        read_dataset(f"ava:{tmp_path}")


# --------------------------------------------------------------------------- KADID-10k / KADIS-700k
def test_kadid10k(tmp_path):
    rows = lay.write_kadid10k(tmp_path)
    ds = read_dataset(f"kadid10k:{tmp_path}")
    assert ds.kind == "FR" and ds.higher_is_better and ds.score_range == (1.0, 5.0)
    r = ds.records[2]
    assert isinstance(r, PairRecord) and r.key == "images/I02_07_03.png" and r.ref.name == "I02.png"
    assert (r.content, r.distortion, r.level, r.mos) == ("I02.png", "07", 3, 3.3)
    assert r.std == pytest.approx(1.1)
    assert [x.mos for x in ds.records] == [row[2] for row in rows]


def test_kadid10k_bad_name_and_missing_reference(tmp_path):
    lay.write_kadid10k(tmp_path)
    (tmp_path / "images" / "I03.png").unlink()
    with pytest.raises(DatasetError, match=r"dmos.csv, row 5, column 'ref_img': image 'I03.png' not found"):
        read_dataset(f"kadid10k:{tmp_path}")
    lay.write_csv(tmp_path / "dmos.csv", ["dist_img", "ref_img", "dmos", "var"], [["I01.png", "I01.png", 5, 0]])
    with pytest.raises(DatasetError, match=r"row 2, column 'dist_img': file name 'I01.png' does not follow"):
        read_dataset(f"kadid10k:{tmp_path}")


def test_kadis700k_levels_partial_generation_and_scores(tmp_path):
    made = lay.write_kadis700k(tmp_path)
    ds = read_dataset(f"kadis700k:{tmp_path}")
    assert len(ds) == 10 and not ds.higher_is_better and [r.level for r in ds.records[:5]] == [1, 2, 3, 4, 5]
    assert ds.records[0].dist.name == made[0] == "a-fleshy-plant-1464418_07_01.bmp"
    assert [r.mos for r in ds.records[:5]] == [1.0, 2.0, 3.0, 4.0, 5.0] and ds.records[5].distortion == "12"
    # content-disjoint stable splits: the five levels of a reference stay together
    for idx in ds.splits.values():
        assert len({ds.records[i].content for i in idx}) * 5 == len(idx)
    lay.write_csv(tmp_path / "vsi.csv", ["dist_img", "ref_img", "VSI"],
                  [[m, "x", 0.9 - 0.01 * i] for i, m in enumerate(made)])
    scored = read_dataset(f"kadis700k:{tmp_path}", scores="vsi.csv", score_column="VSI")
    assert scored.higher_is_better and scored.records[1].mos == pytest.approx(0.89)
    # the CSV of `iqa compare -m vsi --format csv` (ref, dist paths, one column per metric) as it is
    lay.write_csv(tmp_path / "compared.csv", ["ref", "dist", "vsi"],
                  [[f"{tmp_path}/ref_imgs/x.png", f"{tmp_path}/dist_imgs/{m}", 0.9 - 0.01 * i] for i, m in enumerate(made)])
    compared = read_dataset(f"kadis700k:{tmp_path}", scores="compared.csv", score_column="vsi")
    assert [r.mos for r in compared.records] == [r.mos for r in scored.records]
    lay.write_csv(tmp_path / "bad.csv", ["dist_img", "vsi"], [[m, 0.5] for m in made])
    with pytest.raises(DatasetError, match="ref_img"):
        read_dataset(f"kadis700k:{tmp_path}", scores="bad.csv", score_column="vsi")


def test_kadis700k_missing_generated_images(tmp_path):
    lay.write_kadis700k(tmp_path)
    (tmp_path / "dist_imgs" / "sea-4031163_12_04.bmp").unlink()
    with pytest.raises(DatasetError, match=r"kadis700k_ref_imgs.csv, row 3, .*'sea-4031163_12_04.bmp' not found"):
        read_dataset(f"kadis700k:{tmp_path}")
    assert len(read_dataset(f"kadis700k:{tmp_path}", on_missing="skip")) == 9
    lay.write_csv(tmp_path / "kadis700k_ref_imgs.csv", ["ref_im", "dist_type_1"], [["sea-4031163.png", 26]])
    with pytest.raises(DatasetError, match=r"row 2, column 'dist_type_1': distortion type 26"):
        read_dataset(f"kadis700k:{tmp_path}")


# --------------------------------------------------------------------------- TID2013
def test_tid2013_names_case_and_std(tmp_path):
    rows = lay.write_tid2013(tmp_path)
    ds = read_dataset(f"tid2013:{tmp_path}")
    assert [r.mos for r in ds.records] == [m for m, _ in rows]
    last = ds.records[-1]
    assert last.ref.name == "I25.BMP" and last.content == "i25" and (last.distortion, last.level) == ("24", 5)
    assert last.std == pytest.approx(0.4) and ds.score_range == (0.0, 9.0)


def test_tid2013_std_count_mismatch(tmp_path):
    lay.write_tid2013(tmp_path)
    (tmp_path / "mos_std.txt").write_text("0.1\n")
    with pytest.raises(DatasetError, match=r"mos_std.txt: has 1 values but mos_with_names.txt has 4 rows"):
        read_dataset(f"tid2013:{tmp_path}")
    (tmp_path / "mos_std.txt").unlink()
    (tmp_path / "mos_with_names.txt").write_text("5.1 i01_01_1.bmp\nfive i01_01_2.bmp\n")
    with pytest.raises(DatasetError, match=r"mos_with_names.txt, row 2, column 'mos': expected a number"):
        read_dataset(f"tid2013:{tmp_path}")


# --------------------------------------------------------------------------- LIVE
def test_live_release2(tmp_path):
    entries = lay.write_live(tmp_path)
    ds = read_dataset(f"live:{tmp_path}")
    assert [r.key for r in ds.records] == ["jp2k/img1.bmp", "jpeg/img2.bmp", "wn/img1.bmp", "fastfading/img174.bmp"]
    dmos = np.linspace(0, 90, 982)
    assert [r.mos for r in ds.records] == pytest.approx([dmos[e] + 1.0 for e in entries])  # realigned
    assert not ds.higher_is_better and ds.records[0].std == 7.5 and ds.records[0].ref.name == "ref0.bmp"
    assert [r.distortion for r in ds.records] == ["jp2k", "jpeg", "wn", "fastfading"]
    original = read_dataset(f"live:{tmp_path}", dmos="original")
    assert [r.mos for r in original.records] == pytest.approx([dmos[e] for e in entries])


def test_live_wrong_length(tmp_path):
    lay.write_live(tmp_path)
    lay.savemat(tmp_path / "refnames_all.mat", refnames_all=lay.cell(["a.bmp"] * 10))
    with pytest.raises(DatasetError, match=r"refnames_all.mat, column 'refnames_all': has 10 entries, expected 982"):
        read_dataset(f"live:{tmp_path}")


# --------------------------------------------------------------------------- CSIQ
def test_csiq_sheet_types_and_numeric_names(tmp_path):
    rows = lay.write_csiq(tmp_path)
    ds = read_dataset(f"csiq:{tmp_path}")
    assert [r.dist.name for r in ds.records] == ["1600.AWGN.1.png", "1600.jpeg2000.2.png",
                                                 "aerial_city.contrast.4.png", "aerial_city.JPEG.5.png"]
    assert [r.mos for r in ds.records] == [row[5] for row in rows] and not ds.higher_is_better
    assert ds.records[0].content == "1600" and ds.records[0].ref.name == "1600.png"
    assert [r.distortion for r in ds.records] == ["awgn", "jpeg2000", "contrast", "jpeg"]


def test_csiq_unknown_type(tmp_path):
    lay.write_csiq(tmp_path)
    header = ["image", "dst_idx", "dst_type", "dst_lev", "dmos_std", "dmos"]
    lay.write_xlsx(tmp_path / "csiq.DMOS.xlsx", {"all_by_image": [header, [1600, 1, "ringing", 1, 0.1, 0.2]]})
    with pytest.raises(DatasetError, match=r"csiq.DMOS.xlsx, row 2, column 'dst_type': unknown distortion type"):
        read_dataset(f"csiq:{tmp_path}")


# --------------------------------------------------------------------------- PIPAL
def test_pipal_parts_and_recursive_dist_folders(tmp_path):
    count = lay.write_pipal(tmp_path)
    ds = read_dataset(f"pipal:{tmp_path}")
    assert len(ds) == count == 6 and ds.higher_is_better
    assert ds.splits == {"train": (0, 1, 2, 3), "val": (4, 5)}
    r = ds.records[1]
    assert r.dist.parent.name == "Distortion_2" and r.ref.name == "A0001.bmp" and r.mos == 1500.5
    assert ds.score_range == (1400.5, 1501.5)


def test_pipal_train_only_gets_stable_splits(tmp_path):
    lay.write_pipal(tmp_path, with_val=False)
    ds = read_dataset(f"pipal:{tmp_path}")
    assert set(ds.splits) == {"train", "val", "test"} and any("stable by content" in n for n in ds.notes)


# --------------------------------------------------------------------------- BAPPS / CLIC
def test_bapps_judge_is_the_fraction_for_p1(tmp_path):
    judges = lay.write_bapps(tmp_path)
    ds = read_dataset(f"bapps:{tmp_path / 'dataset'}")
    assert ds.kind == "2AFC" and all(isinstance(r, TripletRecord) for r in ds.records)
    assert {r.key: r.p_a for r in ds.records} == {k: 1.0 - v for k, v in judges.items()}
    assert ds.splits["train"] == (0, 1) and ds.splits["val"] == (2, 3) and ds.splits["val/superres"] == (3,)
    assert ds.records[0].a.parent.name == "p0" and ds.records[0].b.parent.name == "p1"
    assert len(read_dataset(f"bapps:{tmp_path / 'dataset' / '2afc'}")) == 4


def test_bapps_missing_patch_names_the_judgement(tmp_path):
    lay.write_bapps(tmp_path)
    (tmp_path / "dataset" / "2afc" / "val" / "cnn" / "p1" / "000000.png").unlink()
    with pytest.raises(DatasetError, match=r"judge/000000.npy, column 'p1': image '000000.png' not found"):
        read_dataset(f"bapps:{tmp_path / 'dataset'}")


def test_clic_oracle(tmp_path):
    rows = lay.write_clic(tmp_path)
    ds = read_dataset(f"clic:{tmp_path}")
    assert [r.p_a for r in ds.records] == [1.0, 0.0, 0.0]
    assert ds.records[0].key == ",".join(rows[0][:3]) and ds.records[0].content == rows[0][0]
    # triplets of one original stay in one split
    split_of = {i: s for s, idx in ds.splits.items() for i in idx}
    assert split_of[0] == split_of[1]


def test_clic_errors(tmp_path):
    rows = lay.write_clic(tmp_path)
    lay.write_csv(tmp_path / "oracle.csv", None, [rows[0][:3]])
    with pytest.raises(DatasetError, match=r"oracle.csv, row 1, column 'T': has 3 fields, expected 4"):
        read_dataset(f"clic:{tmp_path}")
    lay.write_csv(tmp_path / "oracle.csv", None, [rows[0][:3] + [2]])
    with pytest.raises(DatasetError, match=r"row 1, column 'T': expected 0 \(A preferred\) or 1"):
        read_dataset(f"clic:{tmp_path}")
    with pytest.raises(DatasetError, match="test.csv: file not found"):
        read_dataset(f"clic:{tmp_path}", csv="test.csv")


# --------------------------------------------------------------------------- generic
def test_generic_nr_fr_and_2afc(tmp_path):
    for i in range(4):
        lay.image(tmp_path / "img" / f"{i}.png", seed=i)
    nr = lay.write_csv(tmp_path / "nr" / "labels.csv", ["image", "mos", "std", "split"],
                       [[f"../img/{i}.png", i, 0.5, "train" if i < 3 else "test"] for i in range(4)])
    ds = read_dataset(f"generic:{nr}")
    assert ds.kind == "NR" and isinstance(ds.records[0], ImageRecord) and ds.records[0].key == "../img/0.png"
    assert ds.splits == {"train": (0, 1, 2), "test": (3,)} and ds.score_range == (0.0, 3.0)

    fr = lay.write_csv(tmp_path / "fr.csv", ["dist", "ref", "dmos"],
                       [[f"img/{i}.png", "img/0.png", 10 * i] for i in range(1, 4)])
    ds = read_dataset(f"generic:{fr}")
    assert ds.kind == "FR" and not ds.higher_is_better and {r.content for r in ds.records} == {"img/0.png"}
    assert read_dataset(f"generic:{fr}", higher_is_better=True).higher_is_better

    lay.write_csv(tmp_path / "afc" / "t.csv", ["ref", "a", "b", "label"],
                  [[str(tmp_path / "img" / "0.png"), str(tmp_path / "img" / "1.png"),
                    str(tmp_path / "img" / "2.png"), 0.75]])
    ds = read_dataset(f"generic:{tmp_path / 'afc'}")  # a folder holding one CSV
    assert ds.kind == "2AFC" and ds.records[0].p_a == 0.75


def test_generic_errors(tmp_path):
    lay.image(tmp_path / "a.png")
    bad = lay.write_csv(tmp_path / "x.csv", ["picture", "score"], [["a.png", 1]])
    with pytest.raises(DatasetError, match=r"x.csv, row 1: cannot tell what the CSV holds"):
        read_dataset(f"generic:{bad}")
    bad = lay.write_csv(tmp_path / "x.csv", ["image", "quality"], [["a.png", 1]])
    with pytest.raises(DatasetError, match=r"row 1, column 'mos': a NR CSV \(image\) needs a label column"):
        read_dataset(f"generic:{bad}")
    bad = lay.write_csv(tmp_path / "x.csv", ["image", "mos"], [["a.png", 1], ["b.png", 2]])
    with pytest.raises(DatasetError, match=r"x.csv, row 3, column 'image': image 'b.png' not found"):
        read_dataset(f"generic:{bad}")
    bad = lay.write_csv(tmp_path / "x.csv", ["ref", "a", "b", "label"], [["a.png", "a.png", "a.png", 2]])
    with pytest.raises(DatasetError, match=r"row 2, column 'label': expected the fraction for A"):
        read_dataset(f"generic:{bad}")
    lay.write_csv(tmp_path / "y.csv", ["image", "mos"], [])
    with pytest.raises(DatasetError, match="2 CSV files here"):
        read_dataset(f"generic:{tmp_path}")


@pytest.mark.parametrize("header, rows, key", [
    (["image", "mos"], [["a.png", 1], ["b.png", 2], ["./a.png", 1]], "a.png"),  # the same file, spelt another way
    (["dist", "ref", "mos"], [["b.png", "a.png", 1], ["b.png", "a.png", 3]], "b.png"),
    (["ref", "a", "b", "label"], [["a.png", "b.png", "c.png", 0.5], ["a.png", "b.png", "c.png", 1]], "a.png,b.png,c.png"),
])
def test_generic_refuses_an_image_listed_twice(tmp_path, header, rows, key):
    for name in ("a", "b", "c"):
        lay.image(tmp_path / f"{name}.png")
    table = lay.write_csv(tmp_path / "x.csv", header, rows)
    line = len(rows) + 1  # the header is row 1
    with pytest.raises(DatasetError, match=rf"x.csv, row {line}: '{key}' is listed twice \(first at row 2\)"):
        read_dataset(f"generic:{table}")
