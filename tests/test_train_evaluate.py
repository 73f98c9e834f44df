"""Evaluation statistics against scipy and the reference formulas, and evaluate_metric end to end
on tiny datasets in the generic layout."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

scipy_stats = pytest.importorskip("scipy.stats")

import iqametrics
from iqametrics.metric import FRMetric
from iqametrics.train.data import read_dataset
from iqametrics.train.evaluate import (
    Evaluation, bapps_agreement, bootstrap_ci, correlations, evaluate_metric, fit_logistic, krcc, logistic4,
    logistic5, plcc, preference, rmse, srcc, twoafc_accuracy,
)
from iqametrics.train.stats import rankdata

from . import train_layouts as lay


def _samples(n, ties, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = x + rng.normal(size=n)
    return (np.round(x * 2), np.round(y)) if ties else (x, y)


# --------------------------------------------------------------------------- against scipy.stats
@pytest.mark.parametrize("n", [2, 3, 7, 64, 1500])
@pytest.mark.parametrize("ties", [False, True])
def test_correlations_match_scipy(n, ties):
    x, y = _samples(n, ties, seed=n)
    # float64 sums over at most 1500 terms: agreement to a few ulps of 1
    assert srcc(x, y) == pytest.approx(scipy_stats.spearmanr(x, y)[0], abs=1e-12)
    assert krcc(x, y) == pytest.approx(scipy_stats.kendalltau(x, y)[0], abs=1e-12)
    assert plcc(x, y) == pytest.approx(scipy_stats.pearsonr(x, y)[0], abs=1e-12)
    assert rankdata(x) == pytest.approx(scipy_stats.rankdata(x))
    assert rmse(x, y) == pytest.approx(math.sqrt(np.mean((x - y) ** 2)), rel=1e-12)


def test_degenerate_and_bad_inputs():
    assert math.isnan(srcc([1, 1, 1], [1, 2, 3])) and math.isnan(krcc([1, 2, 3], [4, 4, 4]))
    assert math.isnan(plcc([2, 2], [1, 3]))
    with pytest.raises(ValueError, match="at least 2"):
        srcc([1], [1])
    with pytest.raises(ValueError, match="differ in length"):
        plcc([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        krcc([1, float("nan")], [1, 2])


# --------------------------------------------------------------------------- logistic fits
def test_fit_recovers_a_4_parameter_logistic():
    x = np.linspace(-20, 60, 200)
    y = logistic4(x, 90.0, 10.0, 25.0, 8.0)
    fit = fit_logistic(x, y, 4)
    assert fit.ok and fit.params == pytest.approx((90.0, 10.0, 25.0, 8.0), rel=1e-4)
    assert fit_logistic(x, y, 4) == fit  # deterministic


def test_fit_recovers_a_5_parameter_logistic():
    x = np.linspace(0, 1, 300)
    truth = (40.0, 12.0, 0.45, 5.0, 30.0)
    fit = fit_logistic(x, logistic5(x, *truth), 5)
    assert fit.ok and np.max(np.abs(fit(x) - logistic5(x, *truth))) < 1e-3


def test_fit_is_monotone_increasing_and_flags_failures():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    y = 50 + 15 * np.tanh(x) + rng.normal(size=300) * 3
    for parameters in (4, 5):
        fit = fit_logistic(x, y, parameters)
        grid = np.linspace(x.min(), x.max(), 500)
        assert fit.ok and np.all(np.diff(fit(grid)) >= -1e-9)
        # the fitted mapping never hurts PLCC on a monotone relation
        assert plcc(fit(x), y) >= plcc(x, y) - 1e-9
    assert not fit_logistic(x, np.full(300, 3.0)).ok
    anti = fit_logistic(x, -y, 4)  # increasing curves cannot follow a decreasing relation
    assert not anti.ok and "degenerate" in anti.message
    assert not fit_logistic([1, 2, 3, 4], [1, 2, 3, 5], 4).ok  # 4 samples, 4 parameters
    with pytest.raises(ValueError, match="failed"):
        anti(x)


def test_correlations_report_and_orientation():
    x, y = _samples(400, False, seed=1)
    r = correlations(x, y, bootstrap=200, seed=3)
    assert r["srcc"] == pytest.approx(scipy_stats.spearmanr(x, y)[0], abs=1e-12)
    assert r["fit_4"]["ok"] and r["plcc"] >= r["plcc_raw"] - 1e-9 and r["rmse"] > 0
    for name in ("srcc", "krcc", "plcc", "rmse", "plcc_5", "rmse_5", "plcc_raw"):
        lo, hi = r[f"{name}_ci95"]
        assert lo <= r[name] <= hi
    # a distance (or DMOS) is negated first: the same numbers come out
    flipped = correlations(-x, y, higher_is_better=False, bootstrap=200, seed=3)
    assert flipped["negated"] and flipped["srcc"] == r["srcc"] and flipped["srcc_ci95"] == r["srcc_ci95"]
    assert correlations(x, y, bootstrap=0).get("srcc_ci95") is None


def test_bootstrap_is_seeded_and_the_vectorised_one_matches_the_loop():
    x, y = _samples(300, True, seed=2)
    loop = bootstrap_ci(srcc, x, y, n=120, seed=4)
    assert correlations(x, y, bootstrap=120, seed=4)["srcc_ci95"] == pytest.approx(loop, abs=1e-12)
    assert correlations(x, y, bootstrap=120, seed=4)["krcc_ci95"] == pytest.approx(
        bootstrap_ci(krcc, x, y, n=120, seed=4), abs=1e-12)
    assert bootstrap_ci(srcc, x, y, n=120, seed=5) != loop
    wide = bootstrap_ci(srcc, x[:40], y[:40], n=300, seed=0)
    assert wide[1] - wide[0] > loop[1] - loop[0]


# --------------------------------------------------------------------------- 2AFC
def test_bapps_agreement_is_the_lpips_score():
    rng = np.random.default_rng(0)
    d0, d1 = rng.integers(0, 4, 200).astype(float), rng.integers(0, 4, 200).astype(float)  # with ties
    gts = rng.uniform(size=200)  # fraction of humans for p1
    lpips_score = np.mean((d0 < d1) * (1.0 - gts) + (d1 < d0) * gts + (d1 == d0) * 0.5)
    h = preference(d0, d1, higher_is_better=False)  # distances: smaller is closer
    assert bapps_agreement(h, 1.0 - gts) == pytest.approx(lpips_score, abs=1e-12)


def test_twoafc_accuracy_is_the_clic_accuracy():
    rng = np.random.default_rng(1)
    truth, guess = rng.integers(0, 2, 100), rng.integers(0, 2, 100)  # CLIC's T: 0 when A is closer
    accuracy = np.mean(truth == guess)
    assert twoafc_accuracy(1.0 - guess, 1.0 - truth) == pytest.approx(accuracy)
    assert twoafc_accuracy([0.5, 1.0], [1.0, 1.0]) == 0.75  # a tie counts one half
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bapps_agreement([2.0], [0.5])


# --------------------------------------------------------------------------- evaluate_metric
def _noisy(root: Path, n: int, size=(48, 48)):
    """A reference and ``n`` versions with growing noise; labels fall with the noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size[0], 0:size[1]]
    clean = np.stack([(xx * 5) % 256, (yy * 3) % 256, ((xx + yy) * 2) % 256], -1).astype(float)
    lay.image(root / "ref.png")
    from PIL import Image

    Image.fromarray(clean.astype(np.uint8)).save(root / "ref.png")
    for i in range(n):
        noisy = np.clip(clean + rng.normal(size=clean.shape) * (4 + 12 * i), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(root / f"d{i}.png")
    return [f"d{i}.png" for i in range(n)]


def test_evaluate_nr_metric_with_a_failure(tmp_path):
    names = _noisy(tmp_path, 6)
    (tmp_path / "broken.png").write_text("not an image")
    table = lay.write_csv(tmp_path / "labels.csv", ["image", "mos"],
                          [[n, 90 - 10 * i] for i, n in enumerate(names)] + [["broken.png", 50]])
    ds = read_dataset(f"generic:{table}")
    metric = iqametrics.create("brisque")
    ev = evaluate_metric(metric, ds, bootstrap=50, workers=0)
    assert ev.n_scored == 6 and [k for k, _ in ev.failures] == ["broken.png"]
    direct = metric([tmp_path / n for n in names]).tolist()
    assert ev.scores == pytest.approx(direct, rel=1e-5)
    assert ev.negated and ev.stats["srcc"] == pytest.approx(srcc(-np.array(direct), ev.labels), abs=1e-12)
    report = json.loads(ev.to_json(tmp_path / "out" / "report.json"))
    assert report["n_failed"] == 1 and report["records"][0]["key"] == "d0.png"
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == report
    text = ev.table()
    assert "SRCC" in text and "scores negated" in text and "failed: broken.png" in text
    png = ev.plot(tmp_path / "plot.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size < 100_000


def test_evaluate_fr_metric_on_dmos_is_positive(tmp_path):
    names = _noisy(tmp_path, 5)
    table = lay.write_csv(tmp_path / "pairs.csv", ["dist", "ref", "dmos"],
                          [[n, "ref.png", 10 * i] for i, n in enumerate(names)])
    ev = evaluate_metric("psnr", read_dataset(f"generic:{table}"), bootstrap=0, workers=0)
    # PSNR falls as the noise grows, DMOS rises: both higher-is-better flags differ, agreement positive
    assert ev.negated and ev.stats["srcc"] == pytest.approx(1.0) and ev.stats["krcc"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="psnr is an FR metric, but the generic dataset is NR"):
        lay.write_csv(tmp_path / "nr.csv", ["image", "mos"], [[n, 1] for n in names])
        evaluate_metric("psnr", read_dataset(f"generic:{tmp_path / 'nr.csv'}"))


def test_evaluate_2afc_from_two_compare_passes(tmp_path):
    names = _noisy(tmp_path, 4)
    rows = [["ref.png", names[0], names[3], 0.9], ["ref.png", names[2], names[1], 0.2],
            ["ref.png", names[1], names[1], 0.5]]
    table = lay.write_csv(tmp_path / "t.csv", ["ref", "a", "b", "label"], rows)
    ev = evaluate_metric("psnr", read_dataset(f"generic:{table}"), bootstrap=20, workers=0)
    assert ev.scores == [1.0, 0.0, 0.5]  # psnr prefers the less noisy image; identical images tie
    assert ev.stats["accuracy"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert ev.stats["agreement"] == pytest.approx(np.mean([0.9, 0.8, 0.5]))
    assert len(ev.score_pairs) == 3 and "two compare passes" in ev.notes[-1]
    assert "2AFC accuracy" in ev.table() and ev.plot(tmp_path / "afc.png").is_file()


class _PreferLess(FRMetric):
    """Toy native comparator (like PRFNet): probability for A from the mean absolute errors."""

    scores_pairs = False

    def _score(self, dist, ref):
        return (dist - ref).abs().mean(dim=(1, 2, 3))

    def prefer(self, ref, a, b):
        return torch.sigmoid(50 * (self._score(b, ref) - self._score(a, ref)))


def test_evaluate_2afc_through_prefer(tmp_path):
    names = _noisy(tmp_path, 3)
    table = lay.write_csv(tmp_path / "t.csv", ["ref", "a", "b", "label"],
                          [["ref.png", names[0], names[2], 1.0], ["ref.png", names[2], names[1], 0.0],
                           ["ref.png", names[0], "missing-later.png", 1.0]])
    lay.image(tmp_path / "missing-later.png")
    ds = read_dataset(f"generic:{table}")
    (tmp_path / "missing-later.png").write_text("broken")
    ev = evaluate_metric(_PreferLess(), ds, bootstrap=0, higher_is_better=False)
    assert ev.n_scored == 2 and len(ev.failures) == 1 and "missing-later.png" in ev.failures[0][1]
    assert ev.scores[0] > 0.5 > ev.scores[1] and ev.stats["accuracy"] == 1.0
    assert "agreement_soft" in ev.stats and "prefer" in ev.notes[-1]
    with pytest.raises(ValueError, match="pass higher_is_better"):
        evaluate_metric(_PreferLess(), ds)


def test_evaluation_json_has_no_nan(tmp_path):
    ev = Evaluation(metric="m", dataset="d", split="test", kind="NR", keys=["a", "b"], scores=[1.0, 1.0],
                    labels=[1.0, 2.0], stats={"srcc": float("nan"), "srcc_ci95": (float("nan"), 1.0)})
    data = json.loads(ev.to_json())
    assert data["stats"]["srcc"] is None and data["stats"]["srcc_ci95"] == [None, 1.0]
    assert "SRCC            n/a" in ev.table()
