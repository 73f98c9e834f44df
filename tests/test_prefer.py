"""2AFC for every full-reference metric: ``prefer``, the triplet stream and ``iqa prefer``."""
from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import iqametrics
from iqametrics import cli
from iqametrics.batching import Batch, Failure, iter_triplet_batches
from iqametrics.config import metric_configs
from iqametrics.metric import FRMetric
from iqametrics.preference import clic_decision, label_agreement, preference_from_scores, symmetric_probability
from iqametrics.scoring import Result, prefer_files
from iqametrics.weights import get_entry

#: full-reference metrics that need no download (their weights, if any, ship in the package)
CLASSIC_FR = [
    n for n in iqametrics.list_metrics("FR") if all(get_entry(k).bundled for k in iqametrics.get_info(n).weights)
]


def _triplets(n=3, size=48, seed=0):
    """References and two noisy versions of each: A mildly, B strongly (and one swapped)."""
    g = torch.Generator().manual_seed(seed)
    ref = torch.rand(n, 3, size, size, generator=g)
    a = (ref + 0.03 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
    b = (ref + 0.15 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
    a[-1], b[-1] = b[-1].clone(), a[-1].clone()
    return ref, a, b


# ----------------------------------------------------------------------------- the arithmetic
def test_hard_preference_orientation_ties_and_nan():
    sa = torch.tensor([1.0, 2.0, 3.0, math.inf, float("nan")])
    sb = torch.tensor([2.0, 2.0, 1.0, math.inf, 1.0])
    higher = preference_from_scores(sa, sb, True)
    lower = preference_from_scores(sa, sb, False)
    assert higher[:4].tolist() == [0.0, 0.5, 1.0, 0.5]  # two infinite PSNRs are a tie
    assert lower[:4].tolist() == [1.0, 0.5, 0.0, 0.5]
    assert math.isnan(higher[4]) and math.isnan(lower[4])


def test_preference_is_exactly_antisymmetric():
    g = torch.Generator().manual_seed(1)
    sa, sb = torch.randn(1000, generator=g), torch.randn(1000, generator=g)
    sa[:10] = sb[:10]
    for scale in (None, 0.01, 0.3, 7.0):
        p = preference_from_scores(sa, sb, True, scale=scale)
        q = preference_from_scores(sb, sa, True, scale=scale)
        assert torch.equal(p, 1 - q), scale
        assert ((p >= 0) & (p <= 1)).all()
    soft = preference_from_scores(sa, sb, False, scale=0.5)
    assert torch.allclose(soft, torch.sigmoid((sb - sa) / 0.5), atol=1e-6)
    with pytest.raises(ValueError, match="scale"):
        preference_from_scores(sa, sb, True, scale=0.0)
    with pytest.raises(ValueError, match="shapes"):
        preference_from_scores(sa, sb[:3], True)


def test_symmetric_probability_complements_bit_for_bit():
    margin = torch.linspace(-1, 1, 20001)
    p, q = symmetric_probability(margin), symmetric_probability(-margin)
    assert torch.equal(p, 1 - q)
    assert torch.allclose(p, 0.5 + 0.5 * margin, atol=1e-7)


def test_clic_decision_and_agreement():
    p = torch.tensor([0.9, 0.5, 0.1, float("nan")])
    t = clic_decision(p)
    assert t[:3].tolist() == [0.0, 0.0, 1.0]  # T = 0: A is closer; a tie goes to A, as the devkit's psnr.py
    assert math.isnan(t[3])
    labels = torch.tensor([0.0, 1.0, 0.75])
    assert label_agreement(t[:3], labels).tolist() == [1.0, 0.0, 0.75]


# ----------------------------------------------------------------------------- FRMetric.prefer
@pytest.mark.parametrize("name", ["ssim", "psnr", "lpips"])
def test_prefer_agrees_with_comparing_scores(name):
    m = iqametrics.create(name, pretrained=False)
    ref, a, b = _triplets()
    p = m.prefer(ref, a, b)
    sa, sb = m(a, ref), m(b, ref)
    better_a = sa > sb if m.info.higher_is_better else sa < sb
    assert p.shape == (3,) and p.dtype == torch.float32
    assert torch.equal(p, better_a.float())
    assert torch.equal(p, 1 - m.prefer(ref, b, a))
    assert p.tolist() == [1.0, 1.0, 0.0]  # the milder noise is closer (the last triplet is swapped)
    assert m.prefer(ref, a, a).tolist() == [0.5] * 3


def test_prefer_of_a_loss_metric_still_picks_the_closer_image():
    """as_loss=True turns SSIM into 1 - SSIM (lower is better): prefer must follow the outputs' own
    direction, not the score's (it used to answer the opposite)."""
    ref, a, b = _triplets()
    expected = iqametrics.create("ssim").prefer(ref, a, b)
    assert torch.equal(iqametrics.create("ssim", as_loss=True).prefer(ref, a, b), expected)


def test_prefer_runs_one_batched_forward_per_side():
    calls = []

    class Counting(FRMetric):
        def _score(self, dist, ref):
            calls.append(dist.shape[0])
            return (dist - ref).abs().mean(dim=(1, 2, 3))

    m = Counting()
    ref, a, b = _triplets(n=5)
    with pytest.raises(ValueError, match="create"):
        m.prefer(ref, a, b)  # no MetricInfo: the orientation is unknown
    Counting.configs = metric_configs(  # a table never registered: the class declares its direction
        dict(kind="FR", higher_is_better=False, score_range=(0, 1), paper="t", licence="t"), {"toy-l1": {}})
    m = Counting()
    assert m.prefer(ref, a, b, scale=0.01).shape == (5,)
    assert calls == [5, 5]


# ----------------------------------------------------------------------------- triplet stream
def _save(path, array):
    Image.fromarray(array).save(path)
    return path


@pytest.fixture
def triplet_files(tmp_path):
    """Two triplets of 176×176 PNGs (A mild noise, B strong noise; the second swapped), plus a
    third with B of another size."""
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, size=(176, 176, 3), dtype=np.uint8)
    ref = np.asarray(Image.fromarray(ref).resize((44, 44)).resize((176, 176), Image.BILINEAR))
    noisy = lambda s: np.clip(ref + rng.normal(0, s, ref.shape), 0, 255).astype(np.uint8)  # noqa: E731
    _save(tmp_path / "ref.png", ref)
    _save(tmp_path / "mild.png", noisy(3))
    _save(tmp_path / "strong.png", noisy(30))
    _save(tmp_path / "small.png", ref[:100, :100])
    return tmp_path


def test_triplet_batches_share_the_pair_machinery(triplet_files):
    d = triplet_files
    triplets = [(d / "ref.png", d / "mild.png", d / "strong.png"), (d / "ref.png", d / "strong.png", d / "mild.png"),
                (d / "ref.png", d / "mild.png", d / "missing.png")]
    out = list(iter_triplet_batches(triplets, keys=["t0", "t1", "t2"], batch_size=4, workers=0))
    batches = [x for x in out if isinstance(x, Batch)]
    failures = [x for x in out if isinstance(x, Failure)]
    assert [f.key for f in failures] == ["t2"] and "missing.png" in failures[0].reason
    (batch,) = batches
    assert batch.keys == ["t0", "t1"] and batch.indices == [0, 1]
    assert batch.images.shape == batch.images_b.shape == batch.refs.shape == (2, 3, 176, 176)
    assert torch.equal(batch.images[0], batch.images_b[1]) and torch.equal(batch.refs[0], batch.refs[1])
    mixed = list(iter_triplet_batches([triplets[0], (d / "small.png",) * 3], batch_size=4, workers=0, mixed_sizes=True))
    assert isinstance(mixed[0].images, list) and len(mixed[0].images) == 2
    with pytest.raises(ValueError, match="keys"):
        iter_triplet_batches(triplets, keys=["only one"])


def test_prefer_files_matches_the_tensor_api(triplet_files):
    d = triplet_files
    m = iqametrics.create("ssim")
    triplets = [(d / "ref.png", d / "mild.png", d / "strong.png"), (d / "ref.png", d / "strong.png", d / "mild.png"),
                (d / "ref.png", d / "mild.png", d / "small.png")]
    records = list(prefer_files([m], triplets, batch_size=2, workers=0))
    results = {r.index: r.scores["ssim"] for r in records if isinstance(r, Result)}
    failures = [r for r in records if isinstance(r, Failure)]
    assert results == {0: 1.0, 1: 0.0}
    assert len(failures) == 1 and failures[0].index == 2 and "size" in failures[0].reason


# ----------------------------------------------------------------------------- iqa prefer
@pytest.fixture
def runner():
    return CliRunner()


def _invoke(runner, args):
    return runner.invoke(cli.main, args)


def _write_csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_cli_single_triplet(runner, triplet_files):
    d = triplet_files
    result = _invoke(runner, ["prefer", str(d / "ref.png"), str(d / "mild.png"), str(d / "strong.png")])
    assert result.exit_code == 0, result.output
    header, row = result.stdout.strip().splitlines()
    assert header.split()[:3] == ["T", "p_a", "closer"]
    assert row.split()[:3] == ["0", "1", "A"]
    result = _invoke(runner, ["prefer", "-m", "psnr", "--format", "jsonl",
                              str(d / "ref.png"), str(d / "strong.png"), str(d / "mild.png")])
    assert json.loads(result.stdout) == {"O": str(d / "ref.png"), "A": str(d / "strong.png"), "B": str(d / "mild.png"),
                                         "T": 1, "p_a": 0.0, "closer": "B"}


def test_cli_triplets_csv_in_clic_layout(runner, triplet_files, tmp_path):
    d = triplet_files
    rows = [["ref.png", "mild.png", "strong.png", "0"], ["ref.png", "strong.png", "mild.png", "0"],
            ["ref.png", "mild.png", "mild.png", "1"]]
    table = _write_csv(d / "oracle.csv", rows)
    out = tmp_path / "submission.csv"
    result = _invoke(runner, ["prefer", "--triplets", str(table), "--format", "clic", "-o", str(out)])
    assert result.exit_code == 0, result.output
    # exactly the devkit's O,A,B,T rows, paths as the CSV spells them, no header
    assert out.read_text().splitlines() == ["ref.png,mild.png,strong.png,0", "ref.png,strong.png,mild.png,1",
                                            "ref.png,mild.png,mild.png,0"]
    assert "agreement with the labels: 0.3333 over 3 triplets" in result.stderr
    # a header row is recognised; the csv format adds p_a and the closer image
    with_header = _write_csv(d / "named.csv", [["O", "A", "B"]] + [r[:3] for r in rows])
    result = _invoke(runner, ["prefer", "-m", "psnr", "--triplets", str(with_header), "--format", "csv"])
    assert result.exit_code == 0, result.output
    parsed = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["T"] for r in parsed] == ["0", "1", "0"] and [r["closer"] for r in parsed] == ["A", "B", "tie"]
    assert list(parsed[0]) == ["O", "A", "B", "T", "p_a", "closer"]
    assert "agreement" not in result.stderr


@pytest.mark.parametrize("name", CLASSIC_FR)
def test_cli_prefer_agrees_with_compare_for_every_classic_metric(runner, triplet_files, name):
    d = triplet_files
    table = _write_csv(d / "t.csv", [["ref.png", "mild.png", "strong.png"], ["ref.png", "strong.png", "mild.png"]])
    pairs = _write_csv(d / "pairs.csv", [["ref", "dist"], ["ref.png", "mild.png"], ["ref.png", "strong.png"]])
    preferred = _invoke(runner, ["prefer", "-m", name, "--triplets", str(table), "--format", "csv", "-q"])
    compared = _invoke(runner, ["compare", "-m", name, "--pairs", str(pairs), "--format", "csv", "-q"])
    assert preferred.exit_code == 0 and compared.exit_code == 0, preferred.output + compared.output
    scores = {r["dist"].rsplit("/", 1)[-1]: float(r[iqametrics.get_info(name).name]) for r in csv.DictReader(io.StringIO(compared.stdout))}
    mild_wins = scores["mild.png"] > scores["strong.png"]
    if not iqametrics.get_info(name).higher_is_better:
        mild_wins = scores["mild.png"] < scores["strong.png"]
    expected = ["0", "1"] if mild_wins else ["1", "0"]
    assert [r["T"] for r in csv.DictReader(io.StringIO(preferred.stdout))] == expected, (name, scores)


def test_cli_prefer_resume_and_usage_errors(runner, triplet_files, tmp_path):
    d = triplet_files
    table = _write_csv(d / "t.csv", [["ref.png", "mild.png", "strong.png"], ["ref.png", "strong.png", "mild.png"]])
    out = tmp_path / "out.csv"
    first = _invoke(runner, ["prefer", "--triplets", str(table), "--format", "csv", "-o", str(out)])
    assert first.exit_code == 0
    again = _invoke(runner, ["prefer", "--triplets", str(table), "--format", "csv", "-o", str(out), "--resume"])
    assert again.exit_code == 0 and "scored 0" in again.stderr and "2 already" in again.stderr
    assert len(out.read_text().splitlines()) == 3

    ref, a, b = (str(d / n) for n in ("ref.png", "mild.png", "strong.png"))
    bad_width = _write_csv(d / "bad.csv", [["ref.png", "mild.png", "strong.png", "0"], ["ref.png", "mild.png", "strong.png"]])
    bad_label = _write_csv(d / "label.csv", [["ref.png", "mild.png", "strong.png", "yes"]])
    cases = [
        (["prefer", ref, a], "REF A B"),
        (["prefer", ref, a, b, "--triplets", str(table)], "not both"),
        (["prefer", ref, a, str(d / "nope.png")], "no such file"),
        (["prefer", "-m", "ssim", "-m", "psnr", ref, a, b], "one --metric"),
        (["prefer", "-m", "brisque", ref, a, b], "iqa score"),
        (["prefer", "--triplets", str(bad_width)], "bad.csv:2 has 3 columns"),
        (["prefer", "--triplets", str(bad_label)], "label 'yes'"),
        (["prefer", "--triplets", str(table), "--format", "clic", "-o", str(out), "--resume"], "--resume needs"),
    ]
    for args, message in cases:
        result = _invoke(runner, args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)
