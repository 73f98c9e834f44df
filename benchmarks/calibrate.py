"""Our scores against the official implementations' published scores on the calibration pairs.

    python benchmarks/calibrate.py [--dir DIR] [--csv results_official.csv] [--markdown] [metric ...]

DIR (or ``$IQAMETRICS_CALIBRATION_DIR``) holds ``ref_dir/`` and ``dist_dir/`` with the same file
names (the five TID2013 pairs of pyiqa's ResultsCalibra); the CSV of official scores (rows:
metric, columns: image) is ``--csv``, else ``results_official.csv`` in DIR or its parent.  Each
entry of ``CALIBRATIONS`` names a CSV row, our registered metric and the options that reproduce
the convention the published score was computed with; entries marked ``checked=False`` are
shown for information (our default where it differs from the published convention).  Exits
with status 1 if a checked entry is further than ``--tolerance`` (relative) from the official
score on any image.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's iqametrics


@dataclass
class Calibration:
    row: str  # row of results_official.csv
    metric: str  # registered iqametrics name
    options: dict = field(default_factory=dict)
    checked: bool = True
    note: str = ""


CALIBRATIONS: List[Calibration] = [
    Calibration("psnr", "psnr", note="skimage peak_signal_noise_ratio on RGB"),
    Calibration("ssim", "ssim", {"downsample": False}, note="ssim.m without its automatic downsampling, on rgb2gray"),
    Calibration("ssim", "ssim", checked=False, note="our default: ssim.m as released (downsampling)"),
    Calibration("ms_ssim", "ms_ssim", {"method": "wtd_sum"}, note="msssim.m, 'wtd_sum' pooling, on rgb2gray"),
    Calibration("ms_ssim", "ms_ssim", checked=False, note="our default: msssim.m's 'product' pooling"),
    Calibration("gmsd", "gmsd", note="GMSD.m on rgb2gray"),
    Calibration("fsim", "fsimc", note="FeatureSIM.m, second output (FSIMc)"),
    Calibration("fsim", "fsim", checked=False, note="FeatureSIM.m, first output (FSIM)"),
    Calibration("vsi", "vsi", {"convention": "iqa-optimization"}, note="IQA-optimization's PyTorch VSI"),
    Calibration("vsi", "vsi", checked=False, note="our default: VSI.m (no published score on these pairs)"),
]


def _official(path: Path) -> Dict[str, Dict[str, float]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    images = rows[0][1:]
    return {r[0]: {img: float(v) for img, v in zip(images, r[1:])} for r in rows[1:] if r}


def _find_csv(folder: Path) -> Path:
    for candidate in (folder / "results_official.csv", folder.parent / "results_official.csv"):
        if candidate.is_file():
            return candidate
    raise SystemExit(f"no results_official.csv in {folder} or its parent; pass --csv")


def score(entry: Calibration, folder: Path, images: List[str]) -> List[float]:
    import iqametrics

    metric = iqametrics.create(entry.metric, pretrained=False, **entry.options)
    dists = [folder / "dist_dir" / name for name in images]
    refs = [folder / "ref_dir" / name for name in images]
    with torch.inference_mode():
        return metric(dists, refs).tolist()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics", nargs="*", help="CSV rows or metric names to run (default: all entries)")
    parser.add_argument("--dir", default=os.environ.get("IQAMETRICS_CALIBRATION_DIR"))
    parser.add_argument("--csv")
    parser.add_argument("--tolerance", type=float, default=0.005)
    parser.add_argument("--markdown", action="store_true", help="one Markdown table per metric")
    args = parser.parse_args(argv)
    if not args.dir:
        parser.error("give --dir or set IQAMETRICS_CALIBRATION_DIR")
    folder = Path(args.dir)
    official = _official(Path(args.csv) if args.csv else _find_csv(folder))
    entries = [e for e in CALIBRATIONS if not args.metrics or e.row in args.metrics or e.metric in args.metrics]
    failed = []
    for entry in entries:
        if entry.row not in official:
            print(f"{entry.row}: no official row, skipped", file=sys.stderr)
            continue
        images = sorted(official[entry.row])
        ours = score(entry, folder, images)
        ref = [official[entry.row][img] for img in images]
        rel = [abs(o - r) / abs(r) for o, r in zip(ours, ref)]
        ok = max(rel) <= args.tolerance
        status = ("ok" if ok else "FAIL") if entry.checked else "info"
        if entry.checked and not ok:
            failed.append(entry)
        opts = ", ".join(f"{k}={v!r}" for k, v in entry.options.items())
        label = f"{entry.metric}({opts})" if opts else entry.metric
        if args.markdown:
            print(f"\n`{label}` vs official `{entry.row}` ({entry.note}); max relative difference {max(rel):.2e} [{status}]\n")
            print("| image | ours | official | relative difference |\n|---|---|---|---|")
            for img, o, r, d in zip(images, ours, ref, rel):
                print(f"| {img} | {o:.6g} | {r:.6g} | {d:.1e} |")
        else:
            print(f"{label:42s} vs {entry.row:8s} max rel {max(rel):.2e} [{status}]  {entry.note}")
            print("    ours:     " + "  ".join(f"{v:.6g}" for v in ours))
            print("    official: " + "  ".join(f"{v:.6g}" for v in ref))
    if failed:
        print(f"{len(failed)} metric(s) outside {args.tolerance:.1%}: {', '.join(e.metric for e in failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
