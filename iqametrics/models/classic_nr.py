"""Classic no-reference metrics: NIQE, BRISQUE, PIQE, as the official MATLAB code (docs/models/classic_nr.md).

Thin registered wrappers of :mod:`iqametrics.functional` (``niqe``, ``brisque``, ``piqe``); the
fixed models of NIQE and BRISQUE ship inside the package (manifest entries marked ``bundled``).
"""
from __future__ import annotations

from ..config import metric_configs
from ..functional._bundled import bundled_params
from ..functional.brisque import BRISQUE_WEIGHTS_KEY, brisque
from ..functional.niqe import NIQE_BLOCK, NIQE_WEIGHTS_KEY, niqe
from ..functional.piqe import PIQE_BLOCK, piqe
from ..metric import NRMetric
from ..registry import register_metrics

__all__ = ["NIQE", "BRISQUE", "PIQE"]

_NR_NOTES = (
    "Faithful to the official MATLAB code (uint8 rgb2gray, MATLAB imresize, the reference's padding); "
    "computed in float64. Model parameters ship inside the package: no download."
)


class _BundledNR(NRMetric):
    """An NR metric whose fixed model (a manifest entry bundled in the package) lives in buffers."""

    weights_key = ""

    def __init__(self, quantize: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.quantize = bool(quantize)
        for name, value in bundled_params(self.weights_key).items():
            # not persistent: the model is part of the metric's definition, not a checkpoint
            self.register_buffer(name, value.clone(), persistent=False)


class NIQE(_BundledNR):
    """NIQE (Mittal, Soundararajan & Bovik, "Making a 'completely blind' image quality analyzer",
    IEEE SPL 2013) with the official pristine model; see :func:`iqametrics.functional.niqe`.

    Departure: none in the computation; with exactly one 96×96 block the official ``nancov``
    sees a row vector, a quirk reproduced (and documented in the model card).
    """

    min_size = (NIQE_BLOCK, NIQE_BLOCK)  # the official code needs one whole 96×96 block
    weights_key = NIQE_WEIGHTS_KEY

    def _score(self, x):
        return niqe(x, self.mu_pris_param, self.cov_pris_param, quantize=self.quantize)


class BRISQUE(_BundledNR):
    """BRISQUE (Mittal, Moorthy & Bovik, "No-reference image quality assessment in the spatial
    domain", IEEE TIP 2012) with the official LIVE SVR; see :func:`iqametrics.functional.brisque`.

    Departure: the SVR is evaluated in float64 tensor maths instead of LIBSVM (same formula).
    """

    # The 7×7 local window must fit in the half-scale image (the official code runs on smaller
    # images, but their statistics are then dominated by the zero padding).
    min_size = (14, 14)
    weights_key = BRISQUE_WEIGHTS_KEY

    def __init__(self, quantize: bool = True, libsvm_rounding: bool = True, **kwargs):
        super().__init__(quantize=quantize, **kwargs)
        self.libsvm_rounding = bool(libsvm_rounding)

    def _score(self, x):
        model = {k: getattr(self, k) for k in ("sv", "sv_coef", "rho", "gamma", "feature_min", "feature_max")}
        return brisque(x, model, quantize=self.quantize, libsvm_rounding=self.libsvm_rounding)


class PIQE(NRMetric):
    """PIQE (Venkatanath et al., "Blind image quality evaluation using perception based
    features", NCC 2015), as MATLAB's ``piqe``; see :func:`iqametrics.functional.piqe`.

    Departure: MATLAB pads any image to whole 16×16 blocks; we refuse images smaller than one
    block (a block would then be mostly padding).
    """

    min_size = (PIQE_BLOCK, PIQE_BLOCK)

    def __init__(self, quantize: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.quantize = bool(quantize)

    def _score(self, x):
        return piqe(x, quantize=self.quantize)


# ----------------------------------------------------------------------------- registration
_NR = dict(kind="NR", higher_is_better=False, score_range=(0.0, 100.0))

register_metrics(NIQE, metric_configs(_NR, {"niqe": dict(
    score_range=(0.0, float("inf")),
    paper="Mittal, Soundararajan & Bovik, Making a 'Completely Blind' Image Quality Analyzer, IEEE SPL 2013",
    licence="Apache-2.0 (implementation); pristine model: UT Austin NIQE release notice, via BasicSR (Apache-2.0)",
    description="Natural Image Quality Evaluator: distance of 96×96-block NSS features to a pristine MVG model.",
    notes=_NR_NOTES + " Unbounded above; typical photos score 2-10.",
)}))
register_metrics(BRISQUE, metric_configs(_NR, {"brisque": dict(
    paper="Mittal, Moorthy & Bovik, No-Reference Image Quality Assessment in the Spatial Domain, IEEE TIP 2012",
    licence="Apache-2.0 (implementation); SVR model: UT Austin BRISQUE release notice",
    description="Blind/Referenceless Image Spatial Quality Evaluator: NSS features + the official LIVE SVR.",
    notes=_NR_NOTES + " Nominal range 0-100; the SVR can return values slightly outside it.",
)}))
register_metrics(PIQE, metric_configs(_NR, {"piqe": dict(
    paper="Venkatanath et al., Blind Image Quality Evaluation Using Perception Based Features, NCC 2015",
    licence="Apache-2.0 (implementation; no learned parameters)",
    description="Perception-based Image Quality Evaluator: blockiness and noise of spatially active 16×16 blocks.",
    notes="Matches MATLAB's piqe (uint8 rgb2gray, replicate padding); computed in float64; needs no model.",
)}))
