"""Synthetic distortions: KADID-10k's 25 distortion types at 5 levels, and seeded FR training
pairs made from pristine photos (the KADIS-700k recipe).

    from iqametrics.train.distortions import distort, DISTORTIONS, make_pairs
    dist = distort(ref, "lens_blur", 3)

See docs/distortions.md for the types, their parameters, their sources and the departures from
the official MATLAB code.
"""
from .pairs import SyntheticPair, make_pairs, pair_seed, write_pairs
from .table import DISTORTIONS, LEVELS, Distortion, distort, get_distortion

__all__ = [
    "DISTORTIONS",
    "LEVELS",
    "Distortion",
    "SyntheticPair",
    "distort",
    "get_distortion",
    "make_pairs",
    "pair_seed",
    "write_pairs",
]
