"""Writers of tiny datasets in their publishers' exact on-disk layouts, for the reader tests.

Each ``write_<layout>(root)`` creates the files a user gets from the official archive (same file
names, column headers, .mat variable names, folder structure) with a handful of tiny images, and
returns what the reader should find.
"""
from __future__ import annotations

import csv
import zipfile
from pathlib import Path
from typing import Dict, List, Sequence
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image


def image(path: Path, seed: int = 0, size=(24, 32)) -> Path:
    """A small noise image (format from the extension: PNG, JPEG, BMP)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, size=(*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def write_csv(path: Path, header: Sequence[str] = None, rows: Sequence[Sequence] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def savemat(path: Path, **variables) -> Path:
    import scipy.io

    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), variables)
    return path


def cell(strings: Sequence[str], column: bool = False) -> np.ndarray:
    """A MATLAB cell array of strings (1xN, or Nx1 with ``column``)."""
    out = np.empty((len(strings), 1) if column else (1, len(strings)), dtype=object)
    for i, s in enumerate(strings):
        out.flat[i] = s
    return out


# --------------------------------------------------------------------------- .xlsx writer
def _col(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def write_xlsx(path: Path, sheets: Dict[str, List[List]], first_column: int = 0) -> Path:
    """A minimal but complete .xlsx workbook as Excel writes it: strings in the shared-strings
    table, numbers as values, cells addressed by reference (``first_column`` leaves empty columns
    on the left, as CSIQ's sheet has)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shared: List[str] = []
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel_ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {}
    for n, (name, rows) in enumerate(sheets.items(), 1):
        xml_rows = []
        for r, values in enumerate(rows, 1):
            cells = []
            for c, value in enumerate(values):
                ref = f"{_col(first_column + c)}{r}"
                if isinstance(value, str):
                    shared.append(value)
                    cells.append(f'<c r="{ref}" t="s"><v>{len(shared) - 1}</v></c>')
                else:
                    cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            xml_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
        parts[f"xl/worksheets/sheet{n}.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{main}">'
            f'<sheetData>{"".join(xml_rows)}</sheetData></worksheet>')
    names = list(sheets)
    parts["xl/workbook.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{main}" xmlns:r="{rel_ns}"><sheets>'
        + "".join(f'<sheet name="{escape(s)}" sheetId="{i}" r:id="rId{i}"/>' for i, s in enumerate(names, 1))
        + "</sheets></workbook>")
    parts["xl/_rels/workbook.xml.rels"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(f'<Relationship Id="rId{i}" Type="{rel_ns}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                  for i in range(1, len(names) + 1))
        + f'<Relationship Id="rId{len(names) + 1}" Type="{rel_ns}/sharedStrings" Target="sharedStrings.xml"/>'
        + "</Relationships>")
    parts["xl/sharedStrings.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="{main}" count="{len(shared)}">'
        + "".join(f"<si><t>{escape(s)}</t></si>" for s in shared) + "</sst>")
    parts["_rels/.rels"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel_ns}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    parts["[Content_Types].xml"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/></Types>')
    with zipfile.ZipFile(path, "w") as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return path


# --------------------------------------------------------------------------- datasets
KONIQ_IMAGES = {"10004473376.jpg": "training", "10007357496.jpg": "test", "10043785683.jpg": "validation",
                "100117038.jpg": "training", "10020766793.jpg": "test"}


def write_koniq10k(root: Path, scores_file: bool = True) -> Dict[str, float]:
    """KonIQ-10k: the scores CSV (counts, MOS 1-5, SD, MOS_zscore), the sets CSV and both folders."""
    zscores = {}
    score_rows, set_rows = [], []
    for i, (name, split) in enumerate(KONIQ_IMAGES.items()):
        counts = [0, i, 20 + i, 70 - 2 * i, 5 + i]
        total = sum(counts)
        mos = sum((k + 1) * c for k, c in enumerate(counts)) / total
        zscores[name] = round(20 + 10 * i + 0.5, 4)
        score_rows.append([name, *counts, total, round(mos, 6), 0.5 + i / 10, zscores[name]])
        set_rows.append([name, *[round(c / total, 6) for c in counts], total, zscores[name], 0.5 + i / 10, split])
        image(root / "1024x768" / name, seed=i)
        image(root / "512x384" / name, seed=i, size=(12, 16))
    if scores_file:
        write_csv(root / "koniq10k_scores_and_distributions.csv",
                  ["image_name", "c1", "c2", "c3", "c4", "c5", "c_total", "MOS", "SD", "MOS_zscore"], score_rows)
    write_csv(root / "koniq10k_distributions_sets.csv",
              ["image_name", "c1", "c2", "c3", "c4", "c5", "c_total", "MOS", "SD", "set"], set_rows)
    return zscores


CLIVE_NAMES = ["t1.bmp", "t2.bmp", "3.bmp", "4.bmp", "10.JPG", "100.bmp"]


def write_clive_release(root: Path) -> List[float]:
    """ChallengeDB_release: Data/*.mat (cell of names 1169x1 in the release, 1xN scores), Images/."""
    mos = [50.0, 60.0, 32.5, 66.3, 44.6, 39.2]
    savemat(root / "Data" / "AllImages_release.mat", AllImages_release=cell(CLIVE_NAMES, column=True))
    savemat(root / "Data" / "AllMOS_release.mat", AllMOS_release=np.array([mos]))
    savemat(root / "Data" / "AllStdDev_release.mat", AllStdDev_release=np.array([[19.0 + i for i in range(6)]]))
    for i, name in enumerate(CLIVE_NAMES):
        folder = root / "Images" / ("trainingImages" if name.startswith("t") else "")
        image(folder / name, seed=i)
    return mos


def write_spaq(root: Path, export_csv: bool = False) -> Dict[str, float]:
    mos = {"00001.jpg": 42.7, "00002.jpg": 63.1, "00003.jpg": 21.0, "00004.jpg": 80.2}
    header = ["Image name", "MOS", "Brightness", "Colorfulness", "Contrast", "Noisiness", "Sharpness"]
    rows = [[name, value, 50, 51, 52, 53, 54] for name, value in mos.items()]
    table = root / "Annotations" / "MOS and Image attribute scores"
    if export_csv:
        write_csv(table.with_suffix(".csv"), header, rows)
    else:
        write_xlsx(table.with_suffix(".xlsx"), {"Sheet1": [header] + rows})
    for i, name in enumerate(mos):
        image(root / "TestImage" / name, seed=i)
    return mos


def write_ava(root: Path) -> Dict[str, List[int]]:
    votes = {"953619": [0, 1, 5, 17, 38, 36, 15, 6, 5, 1], "953958": [10, 7, 15, 26, 26, 21, 10, 8, 1, 2],
             "954184": [0, 0, 4, 8, 41, 56, 10, 3, 4, 0], "954113": [0, 1, 4, 6, 48, 37, 23, 5, 2, 2]}
    lines = [f"{i} {image_id} {' '.join(map(str, v))} 1 22 1396" for i, (image_id, v) in enumerate(votes.items(), 1)]
    (root / "AVA.txt").parent.mkdir(parents=True, exist_ok=True)
    (root / "AVA.txt").write_text("\n".join(lines) + "\n")
    lists = root / "aesthetics_image_lists"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "generic_ls_train.jpgl").write_text("953619\n953958\n")
    (lists / "generic_test.jpgl").write_text("954184\n")
    for i, image_id in enumerate(votes):
        image(root / "images" / f"{image_id}.jpg", seed=i)
    return votes


def write_kadid10k(root: Path) -> List[list]:
    rows = [["I01_01_01.png", "I01.png", 4.57, 0.496], ["I01_01_05.png", "I01.png", 2.1, 0.8],
            ["I02_07_03.png", "I02.png", 3.3, 1.21], ["I03_25_02.png", "I03.png", 3.9, 0.25]]
    write_csv(root / "dmos.csv", ["dist_img", "ref_img", "dmos", "var"], rows)
    for i, name in enumerate(sorted({r[0] for r in rows} | {r[1] for r in rows})):
        image(root / "images" / name, seed=i)
    return rows


def write_kadis700k(root: Path, generated: int = 5) -> List[str]:
    """KADIS-700k: the reference list, ref_imgs/ and ``generated`` levels per reference in dist_imgs/."""
    refs = [("a-fleshy-plant-1464418.png", 7), ("sea-4031163.png", 12)]
    write_csv(root / "kadis700k_ref_imgs.csv", ["ref_im", "dist_type_1", "dist_type_2"],
              [[name, kind, ""] for name, kind in refs])
    made = []
    for i, (name, kind) in enumerate(refs):
        image(root / "ref_imgs" / name, seed=i)
        for level in range(1, generated + 1):
            made.append(f"{Path(name).stem}_{kind:02d}_{level:02d}.bmp")
            image(root / "dist_imgs" / made[-1], seed=10 * i + level, size=(8, 8))
    return made


def write_tid2013(root: Path) -> List[tuple]:
    rows = [(5.51429, "i01_01_1.bmp"), (5.56757, "i01_01_2.bmp"), (4.94444, "i02_08_4.bmp"), (3.0, "i25_24_5.bmp")]
    (root / "mos_with_names.txt").parent.mkdir(parents=True, exist_ok=True)
    (root / "mos_with_names.txt").write_text("".join(f"{m} {n}\n" for m, n in rows))
    (root / "mos_std.txt").write_text("".join(f"{0.1 * (i + 1):.4f}\n" for i in range(len(rows))))
    for i, ref in enumerate(["I01.BMP", "I02.BMP", "I25.BMP"]):  # the release's upper-case names
        image(root / "reference_images" / ref, seed=i)
    for i, (_, name) in enumerate(rows):
        image(root / "distorted_images" / name, seed=10 + i)
    return rows


def write_live(root: Path) -> List[int]:
    """LIVE release 2: refnames_all.mat, dmos.mat, dmos_realigned.mat and the five folders; all
    but a few entries are marked as references (orgs = 1) so that few images are needed."""
    folders = [("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174)]
    n = sum(c for _, c in folders)
    distorted = {0: "jp2k/img1.bmp", 228: "jpeg/img2.bmp", 460: "wn/img1.bmp", 981: "fastfading/img174.bmp"}
    orgs = np.ones((1, n))
    refnames = [f"ref{i % 3}.bmp" for i in range(n)]
    dmos = np.linspace(0, 90, n).reshape(1, n)
    for entry, path in distorted.items():
        orgs[0, entry] = 0
        image(root / path, seed=entry)
    savemat(root / "refnames_all.mat", refnames_all=cell(refnames))
    savemat(root / "dmos.mat", dmos=dmos, orgs=orgs)
    savemat(root / "dmos_realigned.mat", dmos_new=dmos + 1.0, orgs=orgs, dmos_std=np.full((1, n), 7.5))
    for i in range(3):
        image(root / "refimgs" / f"ref{i}.bmp", seed=100 + i)
    return sorted(distorted)


def write_csiq(root: Path) -> List[list]:
    """CSIQ: csiq.DMOS.xlsx with the 'all_by_image' sheet (after 'all_by_distortion', one empty
    column on the left), src_imgs/ and dst_imgs/<type>/<image>.<TYPE>.<level>.png."""
    header = ["image", "dst_idx", "dst_type", "dst_lev", "dmos_std", "dmos"]
    rows = [[1600, 1, "noise", 1, 0.03, 0.062], [1600, 3, "jpeg 2000", 2, 0.05, 0.31],
            ["aerial_city", 6, "contrast", 4, 0.1, 0.55], ["aerial_city", 2, "jpeg", 5, 0.08, 0.81]]
    write_xlsx(root / "csiq.DMOS.xlsx", {"all_by_distortion": [header] + rows[::-1], "all_by_image": [header] + rows},
               first_column=1)
    files = {"noise": ("awgn", "AWGN"), "jpeg 2000": ("jpeg2000", "jpeg2000"), "contrast": ("contrast", "contrast"),
             "jpeg": ("jpeg", "JPEG")}
    for i, (name, _, kind, level, _, _) in enumerate(rows):
        folder, label = files[kind]
        image(root / "dst_imgs" / folder / f"{name}.{label}.{level}.png", seed=i)
        image(root / "src_imgs" / f"{name}.png", seed=50)
    return rows


def write_pipal(root: Path, with_val: bool = True) -> int:
    parts = {"Train": ["A0001", "A0002"]} | ({"Val": ["A0201"]} if with_val else {})
    count = 0
    for part, refs in parts.items():
        for i, ref in enumerate(refs):
            image(root / f"{part}_Ref" / f"{ref}.bmp", seed=i)
            lines = []
            for j, dist in enumerate([f"{ref}_00_00.bmp", f"{ref}_10_02.bmp"]):
                image(root / f"{part}_Dist" / f"Distortion_{j + 1}" / dist, seed=10 * i + j)
                lines.append(f"{dist},{1400.5 + 100 * j + i}")
                count += 1
            (root / f"{part}_Label").mkdir(parents=True, exist_ok=True)
            (root / f"{part}_Label" / f"{ref}.txt").write_text("\n".join(lines) + "\n")
    return count


def write_bapps(root: Path) -> Dict[str, float]:
    """BAPPS: dataset/2afc/{train,val}/<subset>/{ref,p0,p1,judge}; judge = fraction for p1."""
    judges = {"train/mix/000000": 0.25, "train/mix/000001": 1.0, "val/cnn/000000": 0.0, "val/superres/000000": 0.5}
    for i, (key, judge) in enumerate(judges.items()):
        part, subset, stem = key.split("/")
        folder = root / "dataset" / "2afc" / part / subset
        for k, name in enumerate(("ref", "p0", "p1")):
            image(folder / name / f"{stem}.png", seed=3 * i + k, size=(64, 64))
        (folder / "judge").mkdir(parents=True, exist_ok=True)
        np.save(folder / "judge" / f"{stem}.npy", np.array([judge], dtype=np.float32))
    return judges


def write_clic(root: Path) -> List[list]:
    """CLIC perceptual: oracle.csv without header (O,A,B,T; T = 0 when A is closer) and the PNGs."""
    names = ["be43cc0f85e942d3fdc665762c605290.png", "7254fe35836ce43f2074a279cf701e83.png",
             "2a99c0f0693141dbb89aabff89c76375.png", "ed968093405fff62a86d76f20b848d76.png",
             "6447e3fc9cf2500e7e85b729910970c7.png", "39aac93107da434221295b490e8ca4ea.png"]
    rows = [[names[0], names[1], names[2], 0], [names[0], names[2], names[1], 1], [names[3], names[4], names[5], 1]]
    write_csv(root / "oracle.csv", None, rows)
    for i, name in enumerate(names):
        image(root / name, seed=i)
    return rows
