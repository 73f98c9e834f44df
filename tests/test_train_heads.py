"""iqametrics.train.heads: ridge regression against an independent least-squares formulation, the
cross-validation shortcut against one fit per fold, feature extraction in file order, and the head
installed into LiteIQANet."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from iqametrics.train.heads import (
    cross_validate,
    extract_features,
    fit_ridge,
    labelled_items,
    plcc,
    srcc,
    summarise,
)


def _problem(n: int, p: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, p, generator=g, dtype=torch.float64) * torch.linspace(0.1, 10, p, dtype=torch.float64) + 3
    w = torch.randn(p, generator=g, dtype=torch.float64)
    y = 50 + 10 * (x - x.mean(0)) / x.std(0) @ w / p ** 0.5 + torch.randn(n, generator=g, dtype=torch.float64)
    return x, y


def _reference_ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Predictions on x by ridge as augmented least squares: min ||Z w - t||² + α ||w||²."""
    mean, std = x.mean(0), x.std(0)
    z = (x - mean) / std
    t = (y - y.mean()) / y.std()
    aug_z = np.vstack([z, np.sqrt(alpha) * np.eye(z.shape[1])])
    aug_t = np.concatenate([t, np.zeros(z.shape[1])])
    w = np.linalg.lstsq(aug_z, aug_t, rcond=None)[0]
    return z @ w * y.std() + y.mean()


@pytest.mark.parametrize("n, p", [(40, 120), (120, 40)])  # dual and primal branches
def test_ridge_matches_augmented_least_squares(n, p):
    x, y = _problem(n, p)
    head = fit_ridge(x, y, alpha=7.0)
    np.testing.assert_allclose(head.predict(x).numpy(), _reference_ridge(x.numpy(), y.numpy(), 7.0), rtol=1e-9, atol=1e-9)
    assert head.alpha == 7.0 and head.weight.dtype == torch.float64


def test_ridge_validation():
    x, y = _problem(10, 3)
    with pytest.raises(ValueError, match="alpha"):
        fit_ridge(x, y, 0.0)
    with pytest.raises(ValueError, match=r"\[N, F\]"):
        fit_ridge(x, y[:5], 1.0)
    with pytest.raises(ValueError, match="constant"):
        fit_ridge(x, torch.ones(10, dtype=torch.float64), 1.0)


def test_cross_validation_equals_one_fit_per_fold():
    x, y = _problem(60, 90, seed=1)
    idx = torch.randperm(60, generator=torch.Generator().manual_seed(0)).tolist()
    folds = [(sorted(set(idx) - set(idx[k::3])), sorted(idx[k::3])) for k in range(3)]
    results = cross_validate(x, y, folds, alphas=[1.0, 100.0])
    for alpha, res in results.items():
        for (train, val), s, r in zip(folds, res["srcc"], res["plcc"]):
            pred = fit_ridge(x[train], y[train], alpha).predict(x[val])
            torch.testing.assert_close(res["pred"][val], pred, rtol=1e-8, atol=1e-8)
            assert s == pytest.approx(srcc(pred, y[val]), abs=1e-9) and r == pytest.approx(plcc(pred, y[val]), abs=1e-9)
        summary = summarise(res)
        assert summary["srcc_mean"] == pytest.approx(float(np.mean(res["srcc"])))
        assert summary["srcc_std"] == pytest.approx(float(np.std(res["srcc"], ddof=1)))
    assert not torch.isnan(results[1.0]["pred"]).any()


def test_correlations_against_scipy():
    from scipy.stats import pearsonr, spearmanr

    a = torch.tensor([1.0, 2.0, 2.0, 5.0, 3.0, 9.0], dtype=torch.float64)
    b = torch.tensor([2.0, 1.0, 4.0, 4.0, 6.0, 7.0], dtype=torch.float64)
    assert srcc(a, b) == pytest.approx(spearmanr(a.numpy(), b.numpy())[0], abs=1e-12)
    assert plcc(a, b) == pytest.approx(pearsonr(a.numpy(), b.numpy())[0], abs=1e-12)


@dataclass(frozen=True)
class _Record:  # the fields of iqametrics.train.data.records.ImageRecord that heads use
    key: str
    path: Path
    mos: float


def test_labelled_items_takes_records_and_pairs(tmp_path):
    paths, mos = labelled_items([_Record("a.png", tmp_path / "a.png", 3.5), (str(tmp_path / "b.png"), 7)])
    assert paths == [tmp_path / "a.png", tmp_path / "b.png"]
    assert mos.dtype == torch.float64 and mos.tolist() == [3.5, 7.0]


def test_extract_features_keeps_file_order_over_mixed_sizes(tmp_path):
    from iqametrics.io import load_image

    rng = np.random.default_rng(0)
    paths = []
    for i, (h, w) in enumerate([(20, 30), (24, 16), (20, 30), (24, 16), (18, 18)]):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        paths.append(path)

    def features(x):  # per-image statistics that identify the image
        return torch.stack([x.mean((1, 2, 3)), x.std((1, 2, 3)), torch.full((x.shape[0],), float(x.shape[-1]))], 1)

    seen = []
    got = extract_features(features, paths, batch_size=2, progress=lambda done, total: seen.append((done, total)))
    expected = torch.cat([features(load_image(p)[None]) for p in paths]).double()
    torch.testing.assert_close(got, expected)
    assert seen[-1] == (5, 5)
    with pytest.raises(ValueError, match="missing.png"):
        extract_features(features, [tmp_path / "missing.png"])


def test_installed_head_reproduces_the_ridge_predictions():
    from iqametrics.models.liteiqa import LiteIQANet

    torch.manual_seed(0)
    net = LiteIQANet(scales=(1.0,)).eval()
    x, y = _problem(30, net.num_features, seed=2)
    head = fit_ridge(x, y, alpha=50.0)
    head.install(net)
    with torch.no_grad():
        got = net.regress(x.float())
    # float32 standardisation and dot product over 4,272 features; scores ~50
    torch.testing.assert_close(got.double(), head.predict(x), rtol=1e-4, atol=1e-3)
