"""How much VTAMIQ's score moves with the patch sampling: the spread over sampling seeds.

Real photo pairs (pristine photos at 512×384 with a blurred and a noisy copy) are scored with
several values of the ``seed`` option (each a different, deterministic set of patches).  The
summary gives, per configuration, the seed standard deviation of the score (root mean square over
the pairs), the standard deviation of the pairs' mean scores (how far apart the pairs are), their
ratio, and the cosine similarity of the feature differences ``f_ref − f_dist`` between seeds (the
quantity of the paper's Fig. 5, right).

By default the weights are random (``pretrained=False``, ``torch.manual_seed(0)``): the numbers measure the
sampling mechanics (how far two samplings of the same pair are apart for a network that has
not learned to ignore it).  With the published weights they must be measured again.

    python benchmarks/vtamiq_seed_variance.py --seeds 6
    python benchmarks/vtamiq_seed_variance.py --seeds 6 --pretrained --configs vtamiq:systematic:1024 vtamiq:random:1024
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import iqametrics  # noqa: E402
from benchmarks.common import DATA, command_line, hardware, markdown_table, photos  # noqa: E402

PRISTINE = DATA / "pristine"


def _pairs(n_photos: int):
    paths = photos(PRISTINE)
    if not paths:
        raise SystemExit(f"no photos in {PRISTINE}")
    g = torch.Generator().manual_seed(0)
    refs, dists, names = [], [], []
    for path in paths[:n_photos]:
        x = iqametrics.load_image(path)[None]
        x = F.interpolate(x, size=(384, 512), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
        k = torch.exp(-((torch.arange(9.0) - 4) ** 2) / (2 * 1.5**2))
        k = (k / k.sum()).view(1, 1, 1, 9).expand(3, 1, 1, 9)
        blur = F.conv2d(F.conv2d(F.pad(x, (4, 4, 4, 4), mode="reflect"), k, groups=3), k.transpose(2, 3), groups=3)
        noise = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
        for tag, d in (("blur σ=1.5", blur), ("noise σ=0.05", noise)):
            refs.append(x)
            dists.append(d.clamp(0, 1))
            names.append(f"{path.stem} / {tag}")
    return torch.cat(refs), torch.cat(dists), names


@torch.inference_mode()
def _features_and_scores(m, ref, dist):
    ref_p, (dist_p,), pos, scale = m.sample_patches(ref, dist)
    diff = m.feature_difference(ref_p, dist_p, pos, scale)
    return diff, m.head(m.diffnet(diff)).squeeze(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--photos", type=int, default=2)
    parser.add_argument("--pretrained", action="store_true", help="published weights (IQAMETRICS_WEIGHTS_DIR)")
    parser.add_argument("--configs", nargs="+", default=[
        "vtamiq.paper:random:1024", "vtamiq.paper:systematic:1024", "vtamiq.paper:random:256",
        "vtamiq.paper:systematic:256", "vtamiq:systematic:1024", "vtamiq:random:1024",
    ], help="METRIC:SAMPLING:PATCHES")
    args = parser.parse_args()
    ref, dist, names = _pairs(args.photos)

    rows, detail = [], []
    models = {}
    for config in args.configs:
        name, mode, n = config.split(":")
        if name not in models:
            torch.manual_seed(0)
            models[name] = iqametrics.create(name, pretrained=args.pretrained)
        m = models[name]
        m.sampler.mode, m.sampler.n_patches = mode, int(n)
        diffs, scores = [], []
        for seed in range(args.seeds):
            m.sampler.seed = seed
            d, q = _features_and_scores(m, ref, dist)
            diffs.append(d)
            scores.append(q)
        diffs, scores = torch.stack(diffs), torch.stack(scores)  # [S, P, D], [S, P]
        cosines = []
        for p, pair in enumerate(names):
            seeds = itertools.combinations(range(args.seeds), 2)
            cos = statistics.mean(F.cosine_similarity(diffs[a, p], diffs[b, p], dim=0).item() for a, b in seeds)
            cosines.append(cos)
            detail.append((config, pair, scores[:, p].mean().item(), scores[:, p].std().item(), cos))
        within = scores.std(dim=0).pow(2).mean().sqrt().item()
        between = scores.mean(dim=0).std().item()
        rows.append((name, mode, int(n), within, between, within / between, statistics.mean(cosines), min(cosines)))

    print(f"`{command_line()}`\n")
    weights = "published weights" if args.pretrained else "random weights (torch.manual_seed(0))"
    print(f"{hardware()}; {weights}; {args.seeds} seeds; {len(names)} pairs at 512×384\n")
    header = ("metric", "sampling", "patches", "seed std (RMS over pairs)", "std of the pairs' means", "ratio",
              "mean cosine(f_ref − f_dist)", "min cosine")
    print(markdown_table(header, rows))
    print()
    print(markdown_table(("config", "pair", "mean score", "std over seeds", "mean cosine"), detail))


if __name__ == "__main__":
    main()
