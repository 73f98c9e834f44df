"""How far two code paths that compute the same scores may disagree (see docs/api.md, "Determinism").

float32 rounds every operation to 2**-24 ≈ 6e-8 relative. Two code paths that compute the same
quantity (a batch against one image, padded against unpadded sequences, channels-last against
contiguous, chunked against whole, another thread count, another CPU's kernels: AVX2, AVX-512, AMX,
see ``ATEN_CPU_CAPABILITY``) sum in another order, so they agree to a few roundings of the magnitudes
they sum, not bit for bit. Tests assert exact equality only where the arithmetic is identical by
construction: the same call on the same input, indexing, permutations, integer arithmetic.
"""
from __future__ import annotations

import torch

#: A deep network's score, relative to the magnitude of the scores: tens of layers of float32 dot
#: products of length 10²..10⁴, each rounded in an order that depends on the matrix shapes and the
#: kernel, move a score by up to ~1e-6 of its magnitude (1.9e-6 on a HyperIQA score of 2.6 on an AMD
#: EPYC; 1.4e-6 relative for PyramidIQA with MKL and oneDNN limited to AVX2); 1e-5 leaves room for
#: other kernels and still fails on any real difference in the computation (a patch, crop, mask or
#: weight that differs moves a score by far more).
DEEP_RTOL = 1e-5


def assert_scores_close(actual, expected, rtol: float = DEEP_RTOL, msg=None) -> None:
    """``|actual - expected| <= rtol * max|expected|`` elementwise.

    Relative to the magnitude of the scores, not to each score: a score near 0 is a sum of terms of
    that magnitude, and carries their rounding.
    """
    expected = torch.as_tensor(expected)
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    torch.testing.assert_close(actual, expected, rtol=0, atol=rtol * scale, msg=msg)
