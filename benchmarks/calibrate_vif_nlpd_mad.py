"""Calibration of VIF, NLPD and MAD on the five TID2013 pairs of pyiqa's ResultsCalibra.

    IQAMETRICS_CALIBRATION_DIR=/path/to/ResultsCalibra python benchmarks/calibrate_vif_nlpd_mad.py

Prints a Markdown table per metric: our score (float32, as the metric returns it), the reference
value, the relative difference.
The reference values (and their provenance) are those of ``tests/test_classic_fr_b.py``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command_line, markdown_table  # noqa: E402
from test_classic_fr_b import NAMES, OCTAVE_MAD, OFFICIAL_NLPD, OFFICIAL_VIF  # noqa: E402

import iqametrics  # noqa: E402

# pyiqa 0.1.16's own MAD (its results_official.csv "mad" row), for comparison only
PYIQA_MAD = (195.2796, 80.8379, 30.3918, 84.3542, 202.2371)


def main() -> None:
    root = Path(os.environ.get("IQAMETRICS_CALIBRATION_DIR", ""))
    if not (root / "ref_dir").is_dir():
        sys.exit("set IQAMETRICS_CALIBRATION_DIR to the folder holding ref_dir/ and dist_dir/")
    ref = torch.stack([iqametrics.load_image(root / "ref_dir" / f"{n}.bmp") for n in NAMES])
    dist = torch.stack([iqametrics.load_image(root / "dist_dir" / f"{n}.bmp") for n in NAMES])
    print(f"Command: `{command_line()}`\n")
    table = {
        "vif": [("official (results_official.csv, 4 decimals)", OFFICIAL_VIF)],
        "nlpd": [("official (results_official.csv)", OFFICIAL_NLPD)],
        "mad": [("official MAD_index.m in GNU Octave", OCTAVE_MAD), ("pyiqa's port (results_official.csv row)", PYIQA_MAD)],
    }
    for name, references in table.items():
        scores = iqametrics.create(name)(dist, ref).double().tolist()
        rows = []
        for i, pair in enumerate(NAMES):
            row = [f"{pair}.bmp", f"{scores[i]:.10g}"]
            for _, values in references:
                v = values[i]
                if v == 0:
                    rel = "both 0" if scores[i] == 0 else "–"
                else:
                    rel = f"{(scores[i] - v) / v:+.1e}"
                row += [f"{v:.10g}", rel]
            rows.append(row)
        header = ["pair", "iqametrics"]
        for label, _ in references:
            header += [label, "relative difference"]
        print(f"### {name}\n")
        print(markdown_table(header, rows) + "\n")


if __name__ == "__main__":
    main()
