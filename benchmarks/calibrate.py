"""Our scores next to the official implementations' on the five TID2013 calibration pairs.

    IQAMETRICS_CALIBRATION_DIR=/path/to/ResultsCalibra python benchmarks/calibrate.py [metric ...]

The folder (or ``--dir``) holds ``ref_dir/`` and ``dist_dir/`` (I03, I04, I06, I08, I19.bmp of
pyiqa's ResultsCalibra; they also ship in the pyiqa 0.1.16 wheel).  The official scores, their
provenance and tolerances are the single table of ``tests/calibration_references.py``, which the
test suite checks too.  Prints one Markdown table per reference row; rows marked "info" show our
default where it differs from the convention the published score was computed with.  LPIPS and
DISTS need their ImageNet backbones (``IQAMETRICS_CALIBRATION_BACKBONES``, see that module); their
rows say "skipped" without them.  Exits with status 1 if a checked row is outside its tolerance.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's iqametrics and tests.calibration_references
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import command_line, hardware, markdown_table  # noqa: E402

from iqametrics.weights import WeightsUnavailableError  # noqa: E402
from tests.calibration_references import IMAGES, REFERENCES, create_metric, load_pairs, score  # noqa: E402


def _relative(ours: float, official: float) -> str:
    if official == 0:
        return "both 0" if ours == 0 else f"{ours - official:+.1e} (abs.)"
    return f"{(ours - official) / abs(official):+.1e}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics", nargs="*", help="metric names to run (default: every reference row)")
    parser.add_argument("--dir", default=os.environ.get("IQAMETRICS_CALIBRATION_DIR"))
    args = parser.parse_args(argv)
    if not args.dir or not (Path(args.dir) / "dist_dir").is_dir():
        parser.error("give --dir or set IQAMETRICS_CALIBRATION_DIR to a folder with ref_dir/ and dist_dir/")
    folder = Path(args.dir)
    dist, ref = load_pairs(folder)

    print(f"Command: `{command_line()}`  \nHardware: {hardware()}\n")
    failed = []
    for reference in REFERENCES:
        if args.metrics and reference.metric not in args.metrics:
            continue
        try:
            metric = create_metric(reference)
        except WeightsUnavailableError:
            print(f"### `{reference.label()}` vs {reference.source} [skipped: {reference.backbone} not available]\n")
            continue
        with torch.inference_mode():
            ours = score(metric, dist, ref).double().tolist()
        problems = reference.problems(ours)
        status = ("FAIL" if problems else "ok") if reference.checked else "info"
        if reference.checked and reference.exceptions:
            status += "; documented exception: " + ", ".join(f"{k} within {v:.0%}" for k, v in reference.exceptions.items())
        if reference.checked and problems:
            failed.append(reference.label())
        print(f"### `{reference.label()}` vs {reference.source} [{status}]\n")
        rows = [[img, f"{o:.8g}", f"{r:.8g}", _relative(o, r)] for img, o, r in zip(IMAGES, ours, reference.values)]
        print(markdown_table(["image", "iqametrics", "official", "relative difference"], rows) + "\n")
        for problem in problems if reference.checked else ():
            print(f"outside tolerance: {problem}\n")
    if failed:
        print(f"{len(failed)} row(s) outside tolerance: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
