"""Print our NIQE / BRISQUE / PIQE next to the official scores on the calibration images.

Usage: ``IQAMETRICS_CALIBRATION_DIR=DIR python tools/calibrate_classic_nr.py`` where ``DIR`` holds
``dist_dir/I03.bmp ...`` (pyiqa's ResultsCalibra images).  The official numbers and their
provenance live in ``tests/test_classic_nr.py`` (one source for the test and this table).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    import torch

    import iqametrics

    spec = importlib.util.spec_from_file_location("calib_test", REPO / "tests" / "test_classic_nr.py")
    test = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(test)
    folder = Path(os.environ["IQAMETRICS_CALIBRATION_DIR"]) / "dist_dir"
    x = torch.stack([test._read(folder / name) for name in test.CALIBRATION_IMAGES])
    print("| metric | image | official | iqametrics | rel. diff |")
    print("|---|---|---|---|---|")
    for name in test.NAMES:
        ours = iqametrics.create(name)(x).double().tolist()
        for image, got, want in zip(test.CALIBRATION_IMAGES, ours, test.OFFICIAL[name]):
            print(f"| {name} | {image} | {want:.6g} | {got:.6g} | {100 * abs(got - want) / abs(want):.3f} % |")


if __name__ == "__main__":
    main()
