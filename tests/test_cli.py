"""The `iqa` command line through click's runner: listing, scoring, comparing, resuming, failures."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import iqametrics
from iqametrics import cli
from iqametrics.metric import NRMetric
from iqametrics.registry import MetricInfo

from .hub_server import write_manifest


class CountingMean(NRMetric):
    """Toy NR metric (mean level) that records how many images it scored."""

    min_size = (8, 8)
    scored = 0
    batches: list = []

    def _score(self, x):
        CountingMean.scored += x.shape[0]
        CountingMean.batches.append(x.shape[0])
        return x.mean(dim=(1, 2, 3))


@pytest.fixture
def toy(register_toy):
    info = MetricInfo(
        name="toy-mean", kind="NR", higher_is_better=True, score_range=(0, 1), paper="test", licence="test",
        description="mean level (test only)",
    )
    register_toy(CountingMean, info)
    CountingMean.scored = 0
    CountingMean.batches = []
    return info.name


@pytest.fixture
def runner():
    return CliRunner()


def _photo(seed=0, h=24, w=32):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


@pytest.fixture
def messy_folder(tmp_path):
    """The issue's mixed bag: 3 bad files and 3 good ones of unusual kinds."""
    folder = tmp_path / "messy"
    folder.mkdir()
    big = Image.fromarray(np.tile(_photo(1), (6, 6, 1)))
    big.save(folder / "full.jpg", quality=90)
    data = (folder / "full.jpg").read_bytes()
    (folder / "full.jpg").unlink()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "text.png").write_text("this is not a PNG")
    Image.fromarray(_photo(2, 1, 1)).save(folder / "tiny.png")
    Image.fromarray(_photo(3)[..., 0].astype(np.uint16) * 257).save(folder / "sixteen.png")
    Image.fromarray(_photo(4)).convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    Image.fromarray(_photo(5)[..., 0]).save(folder / "grey.png")
    return folder


GOOD = {"sixteen.png", "cmyk.jpg", "grey.png"}
BAD = {"truncated.jpg", "text.png", "tiny.png"}


def test_help_and_version(runner):
    result = runner.invoke(cli.main, ["--help"])
    assert result.exit_code == 0 and "score" in result.output and "compare" in result.output
    assert runner.invoke(cli.main, ["--version"]).exit_code == 0


def test_list_and_info(runner):
    result = runner.invoke(cli.main, ["list"])
    assert result.exit_code == 0 and "psnr" in result.output
    listed = json.loads(runner.invoke(cli.main, ["list", "--json"]).output)
    assert [m["name"] for m in listed] == iqametrics.list_metrics()
    assert all(len(m["score_range"]) == 2 for m in listed)  # strict JSON: unbounded ends are null
    fr = json.loads(runner.invoke(cli.main, ["list", "--kind", "fr", "--json"]).output)
    assert fr and all(m["kind"] == "FR" for m in fr)
    info = runner.invoke(cli.main, ["info", "psnr"])
    assert info.exit_code == 0 and "higher_is_better: True" in info.output
    bad = runner.invoke(cli.main, ["info", "psnrr"])
    assert bad.exit_code == 2 and "Did you mean: psnr" in bad.output


def test_score_messy_folder_reports_and_continues(runner, toy, messy_folder, tmp_path):
    out = tmp_path / "scores.csv"
    result = runner.invoke(cli.main, ["score", "-m", toy, str(messy_folder), "--format", "csv", "-o", str(out)])
    assert result.exit_code == 1, result.output
    for name in BAD:
        assert f"{name}:" in result.stderr, name
    assert "truncated" in result.stderr and "not a recognised image format" in result.stderr and "too small" in result.stderr
    rows = list(csv.DictReader(out.open()))
    assert {r["path"].rsplit("/", 1)[-1] for r in rows} == GOOD
    assert all(0 <= float(r[toy]) <= 1 for r in rows)
    assert "scored 3, failed 3" in result.stderr


def test_jsonl_output_and_resume_does_not_rescore(runner, toy, messy_folder, tmp_path):
    out = tmp_path / "scores.jsonl"
    args = ["score", "-m", toy, str(messy_folder), "--format", "jsonl", "-o", str(out)]
    runner.invoke(cli.main, args)
    first = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["path"].rsplit("/", 1)[-1] for r in first} == GOOD
    CountingMean.scored = 0
    again = runner.invoke(cli.main, args + ["--resume"])
    assert CountingMean.scored == 0, "resume rescored images already in the output"
    assert len(out.read_text().splitlines()) == 3
    assert again.exit_code == 1  # the bad files are still bad
    # an interrupted run: drop the last row and leave half a line behind
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:2]) + lines[2][:10])
    runner.invoke(cli.main, args + ["--resume"])
    assert CountingMean.scored == 1
    assert sorted(json.loads(line)["path"] for line in out.read_text().splitlines()) == sorted(r["path"] for r in first)


def test_output_format_follows_the_suffix_unless_given(runner, toy, tmp_path):
    img = tmp_path / "a.png"
    Image.fromarray(_photo()).save(img)
    for name, given, first_line in [("s.csv", [], f"path,{toy}"), ("s.JSONL", [], '{"path": '),
                                    ("s.txt", [], f"{toy}  path"), ("t.csv", ["--format", "jsonl"], '{"path": ')]:
        out = tmp_path / name
        result = runner.invoke(cli.main, ["score", "-q", "-m", toy, str(img), "-o", str(out), *given])
        assert result.exit_code == 0, result.output
        assert out.read_text().splitlines()[0].strip().startswith(first_line), name
    resumed = runner.invoke(cli.main, ["score", "-q", "-m", toy, str(img), "-o", str(tmp_path / "s.csv"), "--resume"])
    assert resumed.exit_code == 0 and len((tmp_path / "s.csv").read_text().splitlines()) == 2


def test_existing_output_needs_resume_or_overwrite(runner, toy, tmp_path):
    img = tmp_path / "a.png"
    Image.fromarray(_photo()).save(img)
    out = tmp_path / "o.csv"
    out.write_text("something\n")
    result = runner.invoke(cli.main, ["score", "-m", toy, str(img), "--format", "csv", "-o", str(out)])
    assert result.exit_code == 2 and "--resume" in result.output and out.read_text() == "something\n"
    result = runner.invoke(cli.main, ["score", "-m", toy, str(img), "--format", "csv", "-o", str(out), "--resume"])
    assert result.exit_code == 2 and "has columns" in result.output
    result = runner.invoke(cli.main, ["score", "-m", toy, str(img), "--format", "csv", "-o", str(out), "--overwrite"])
    assert result.exit_code == 0 and out.read_text().startswith("path,toy-mean\n")


def test_score_file_glob_and_progress(runner, toy, tmp_path):
    for i in range(7):
        Image.fromarray(_photo(i)).save(tmp_path / f"p{i}.png")
    single = runner.invoke(cli.main, ["score", "-m", toy, str(tmp_path / "p0.png"), "--format", "csv"])
    assert single.exit_code == 0 and len(single.stdout.splitlines()) == 2
    globbed = runner.invoke(cli.main, ["score", "-m", toy, str(tmp_path / "p*.png"), "--format", "jsonl", "-j", "2", "-b", "3"])
    assert globbed.exit_code == 0, globbed.output
    assert len(globbed.stdout.splitlines()) == 7
    assert "scoring" in globbed.stderr  # progress bar for more than a handful of images
    quiet = runner.invoke(cli.main, ["score", "-m", toy, str(tmp_path / "p*.png"), "-q"])
    assert quiet.stderr == ""


def test_max_batch_pixels_splits_batches(runner, toy, tmp_path):
    for i in range(6):
        Image.fromarray(_photo(i)).save(tmp_path / f"p{i}.png")  # 24×32 = 768 px each
    result = runner.invoke(cli.main, ["score", "-m", toy, str(tmp_path), "-j", "0", "--max-batch-pixels", "1.6k"])
    assert result.exit_code == 0, result.output
    assert CountingMean.batches == [2, 2, 2]
    bad = runner.invoke(cli.main, ["score", "-m", toy, str(tmp_path), "--max-batch-pixels", "many"])
    assert bad.exit_code == 2 and "--max-batch-pixels" in bad.output


def test_score_usage_errors(runner, toy, tmp_path):
    assert "no such file" in runner.invoke(cli.main, ["score", "-m", toy, str(tmp_path / "x.png")]).output
    result = runner.invoke(cli.main, ["score", "-m", "psnr", str(tmp_path)])
    assert result.exit_code == 2
    Image.fromarray(_photo()).save(tmp_path / "a.png")
    result = runner.invoke(cli.main, ["score", "-m", "psnr", str(tmp_path / "a.png")])
    assert result.exit_code == 2 and "use `iqa compare`" in result.output
    result = runner.invoke(cli.main, ["score", "-m", toy, "-m", toy, str(tmp_path / "a.png"), "--weights", "w.pth"])
    assert result.exit_code == 2
    # invalid metric options are usage errors with the metric's message, not tracebacks
    result = runner.invoke(cli.main, ["score", "-m", "brisque", str(tmp_path / "a.png"), "--option", "amp=bf16"])
    assert result.exit_code == 2 and "does not support AMP" in result.output and "quantize" in result.output
    result = runner.invoke(cli.main, ["score", "-m", "brisque", str(tmp_path / "a.png"), "--option", "nonsense=1"])
    assert result.exit_code == 2 and "nonsense" in result.output
    # an untrained network's "score" is never printed as a metric's
    result = runner.invoke(cli.main, ["score", "-m", "musiq", str(tmp_path / "a.png"), "--option", "pretrained=false"])
    assert result.exit_code == 2 and "not a metric option" in result.output


def _pairs(tmp_path, n=3, mismatch=False):
    ref, dist = tmp_path / "ref", tmp_path / "dist"
    ref.mkdir()
    dist.mkdir()
    for i in range(n):
        clean = _photo(i)
        Image.fromarray(clean).save(ref / f"{i}.png")
        noisy = np.clip(clean.astype(int) + (i + 1) * 4, 0, 255).astype(np.uint8)
        Image.fromarray(noisy if not (mismatch and i == 0) else noisy[:-2]).save(dist / f"{i}.png")
    return ref, dist


def test_compare_files_folders_and_pairs_csv(runner, tmp_path):
    ref, dist = _pairs(tmp_path)
    one = runner.invoke(cli.main, ["compare", "-m", "psnr", str(ref / "0.png"), str(dist / "0.png"), "--format", "jsonl"])
    assert one.exit_code == 0, one.output
    row = json.loads(one.stdout)
    assert row["ref"].endswith("0.png") and row["dist"].endswith("0.png") and np.isfinite(row["psnr"])
    folders = runner.invoke(cli.main, ["compare", "-m", "psnr", str(ref), str(dist), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(folders.stdout)))
    assert len(rows) == 3
    values = {r["dist"].rsplit("/", 1)[-1]: float(r["psnr"]) for r in rows}
    assert values["0.png"] > values["1.png"] > values["2.png"]  # more noise, lower PSNR
    (tmp_path / "pairs.csv").write_text("ref,dist\nref/1.png,dist/1.png\n")
    listed = runner.invoke(cli.main, ["compare", "-m", "psnr", "--pairs", str(tmp_path / "pairs.csv"), "--format", "csv"])
    assert listed.exit_code == 0 and float(list(csv.DictReader(io.StringIO(listed.stdout)))[0]["psnr"]) == values["1.png"]


def test_compare_size_mismatch_is_reported(runner, tmp_path):
    ref, dist = _pairs(tmp_path, mismatch=True)
    result = runner.invoke(cli.main, ["compare", "-m", "psnr", str(ref), str(dist), "--format", "csv"])
    assert result.exit_code == 1
    assert "0.png" in result.stderr and "same size" in result.stderr
    assert len(result.stdout.splitlines()) == 3  # header + the two good pairs


def test_compare_resume(runner, tmp_path):
    ref, dist = _pairs(tmp_path)
    out = tmp_path / "o.csv"
    args = ["compare", "-m", "psnr", str(ref), str(dist), "--format", "csv", "-o", str(out)]
    assert runner.invoke(cli.main, args).exit_code == 0
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:-1]) + "\n")
    again = runner.invoke(cli.main, args + ["--resume"])
    assert again.exit_code == 0 and "scored 1" in again.stderr and "2 already in" in again.stderr
    assert sorted(out.read_text().splitlines()) == sorted(lines)


def test_download_through_local_hub(runner, hub, monkeypatch, register_toy):
    from safetensors.torch import save

    data = save({"w": torch.ones(2)})
    hub.add("org/repo", "toy.safetensors", data)
    write_manifest(hub, {"toy.weights": {
        "hf": {"repo_id": "org/repo", "filename": "toy.safetensors", "revision": "main"},
        "sha256": hashlib.sha256(data).hexdigest(), "format": "safetensors"}})
    info = MetricInfo(name="toy-weighted", kind="NR", higher_is_better=True, score_range=(0, 1), paper="t", licence="t",
                      weights=("toy.weights",))
    register_toy(type("WeightedMean", (CountingMean,), {}), info)
    result = runner.invoke(cli.main, ["download", "toy-weighted"])
    assert result.exit_code == 0, result.output
    assert "toy.weights:" in result.stdout and "toy.safetensors" in result.stdout
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    hub.requests.clear()
    assert runner.invoke(cli.main, ["download", "toy-weighted"]).exit_code == 0  # cached: no network
    assert runner.invoke(cli.main, ["download"]).exit_code == 2
    assert "need no weight files" in runner.invoke(cli.main, ["download", "psnr"]).stderr


# ------------------------------------------------------------------------- weights: honest availability
def test_list_and_info_say_whether_weights_can_be_had(runner):
    rows = {line.split()[0]: line.split(maxsplit=3)[3] for line in runner.invoke(cli.main, ["list"]).output.splitlines()[1:]}
    assert rows["vtamiq.paper"].startswith("unpublished") and rows["pyramidiqa"].startswith("unpublished")
    assert rows["vtamiq"].startswith("drive") and rows["hyperiqa.official"].startswith("drive")
    assert rows["musiq"].startswith("download") and rows["lpips"].startswith("download")
    assert rows["psnr"].startswith("none needed")
    info = runner.invoke(cli.main, ["info", "vtamiq.paper"]).output
    assert "no published weights: train with `iqa train` or pass `--weights`" in info
    listed = {m["name"]: m["availability"] for m in json.loads(runner.invoke(cli.main, ["list", "--json"]).output)}
    assert listed["vtamiq.paper"] == "unpublished" and listed["musiq"] == "download" and listed["ssim"] == "none needed"
    kadis = json.loads(runner.invoke(cli.main, ["info", "vtamiq.kadis", "--json"]).output)
    assert "Google Drive" in kadis["availability"] and "gdown" in kadis["availability"]


def test_download_of_unpublished_weights_says_so(runner, monkeypatch, tmp_path):
    monkeypatch.setenv("IQAMETRICS_CACHE", str(tmp_path))
    monkeypatch.delenv("IQAMETRICS_WEIGHTS_DIR", raising=False)
    result = runner.invoke(cli.main, ["download", "vtamiq.paper"])
    assert result.exit_code == 1
    assert "no published weights" in result.stderr and "vtamiq_paper.pth" in result.stderr
    assert "github.com" not in result.stderr  # no code page offered as a download


def _toy_weighted(register_toy, name="toy-weighted", weights=("toy.weights",)):
    info = MetricInfo(name=name, kind="NR", higher_is_better=True, score_range=(0, 1), paper="t", licence="t",
                      weights=weights)
    register_toy(type(f"Toy_{name.replace('-', '_')}", (CountingMean,), {}), info)


def test_download_verify_rechecks_what_is_here(runner, hub, monkeypatch, register_toy):
    from pathlib import Path

    from safetensors.torch import save

    data = save({"w": torch.ones(2)})
    hub.add("org/repo", "toy.safetensors", data)
    write_manifest(hub, {"toy.weights": {"hf": {"repo_id": "org/repo", "filename": "toy.safetensors"}, "format": "safetensors"}})
    _toy_weighted(register_toy)
    before = runner.invoke(cli.main, ["download", "--verify", "toy-weighted"])
    assert before.exit_code == 0 and "toy.weights: not downloaded" in before.stdout
    fetched = runner.invoke(cli.main, ["download", "toy.weights"])  # a manifest key works too
    assert fetched.exit_code == 0, fetched.output
    path = Path(fetched.stdout.split(": ", 1)[1].strip())
    good = runner.invoke(cli.main, ["download", "--verify", "toy-weighted"])
    assert good.exit_code == 0 and "toy.weights: ok" in good.stdout and "matches the lock" in good.stdout
    path.write_bytes(data + b"tampered")
    bad = runner.invoke(cli.main, ["download", "--verify", "toy-weighted"])
    assert bad.exit_code == 1 and "toy.weights: FAILED" in bad.stderr and "differs from the file first used" in bad.stderr
    assert hub.downloads() == [("GET", "/org/repo/resolve/main/toy.safetensors")]


def test_download_all_skips_what_cannot_be_fetched_automatically(runner, hub, monkeypatch, register_toy):
    from safetensors.torch import save

    monkeypatch.setitem(sys.modules, "gdown", None)  # no Drive client
    data = save({"w": torch.ones(2)})
    hub.add("org/repo", "toy.safetensors", data)
    write_manifest(hub, {
        "toy.weights": {"hf": {"repo_id": "org/repo", "filename": "toy.safetensors"}, "format": "safetensors"},
        "toy.drive": {"url": "https://drive.google.com/file/d/XYZ/view", "filename": "d.pth", "format": "pth"},
        "toy.mine": {"published": False, "filename": "mine.pth", "format": "pth"},
    })
    for name, keys in (("toy-a", ("toy.weights",)), ("toy-b", ("toy.drive",)), ("toy-c", ("toy.mine",))):
        _toy_weighted(register_toy, name, keys)
    monkeypatch.setattr(iqametrics, "list_metrics", lambda kind=None: ["toy-a", "toy-b", "toy-c"])
    result = runner.invoke(cli.main, ["download", "--all"])
    assert result.exit_code == 0, result.output
    assert "toy.weights:" in result.stdout and result.stderr.count("skipped:") == 2
    assert runner.invoke(cli.main, ["download", "toy-b"]).exit_code == 1  # asked for by name: an error


def test_download_with_a_mistyped_weights_dir_fails_once(runner, hub, monkeypatch, tmp_path, register_toy):
    write_manifest(hub, {"toy.weights": {"hf": {"repo_id": "org/repo", "filename": "t.safetensors"}, "format": "safetensors"}})
    _toy_weighted(register_toy)
    monkeypatch.setenv("IQAMETRICS_WEIGHTS_DIR", str(tmp_path / "nowhere"))
    for args in (["download", "toy-weighted"], ["download", "--verify", "toy-weighted"]):
        result = runner.invoke(cli.main, args)
        assert result.exit_code == 1 and result.output.count("does not exist") == 1, result.output


def test_default_score_is_liteiqa_offline(tmp_path):
    """The README's first command: `iqa score examples/example.jpg` on a fresh install, no network,
    nothing cached, prints LiteIQA's score (its weights ship in the package)."""
    import subprocess

    from .conftest import REPO, subprocess_env

    env = subprocess_env(HF_HUB_OFFLINE="1", IQAMETRICS_CACHE=str(tmp_path / "cache"), HF_HOME=str(tmp_path / "hf"))
    env.pop("IQAMETRICS_WEIGHTS_DIR", None)
    example = REPO / "examples" / "example.jpg"
    out = subprocess.run([sys.executable, "-m", "iqametrics", "score", str(example), "--format", "csv"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.strip().splitlines()
    assert header == "path,liteiqa"
    expected = float(iqametrics.create("liteiqa")([example])[0])
    assert float(row.split(",")[1]) == pytest.approx(expected, abs=1e-3 * max(1.0, abs(expected)))
