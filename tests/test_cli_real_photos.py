"""`iqa score` / `iqa compare` with the default (offline) metrics on real photos from ../shared/data."""
from __future__ import annotations

import csv
import io
import math
import shutil

import pytest
from click.testing import CliRunner
from PIL import Image, ImageFilter

from iqametrics import cli

from .tolerances import assert_scores_close


@pytest.fixture(scope="module")
def photos(tmp_path_factory, clive_paths):
    """Eight LIVE Challenge photos (linked, not copied into the repository)."""
    folder = tmp_path_factory.mktemp("clive")
    for p in clive_paths[:8]:
        (folder / p.name).symlink_to(p)
    return folder


def _scores(output: str, column: str):
    return [float(r[column]) for r in csv.DictReader(io.StringIO(output))]


def test_score_folder_glob_and_file_offline(photos, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("IQAMETRICS_OFFLINE", "1")
    runner = CliRunner()
    name = cli.DEFAULT_NR_METRIC
    folder = runner.invoke(cli.main, ["score", str(photos), "--format", "csv", "-q"])
    assert folder.exit_code == 0, folder.output
    values = _scores(folder.stdout, name)
    assert len(values) == 8 and all(math.isfinite(v) for v in values)
    globbed = runner.invoke(cli.main, ["score", str(photos / "*"), "--format", "csv", "-q"])
    assert _scores(globbed.stdout, name) == values  # the same files in the same batches: the same arithmetic
    first = sorted(photos.iterdir())[0]
    single = runner.invoke(cli.main, ["score", str(first), "--format", "csv", "-q"])
    # alone rather than in a batch of 8: float64 rounding, then one float32 rounding (1.2e-7) printed to 8 digits
    assert _scores(single.stdout, name) == pytest.approx(values[:1], rel=1e-6)


def test_compare_image_with_degraded_copy_offline(clive_paths, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("IQAMETRICS_OFFLINE", "1")
    ref = tmp_path / "ref.png"
    shutil.copyfile(clive_paths[0], ref) if clive_paths[0].suffix == ".png" else Image.open(clive_paths[0]).save(ref)
    Image.open(ref).convert("RGB").filter(ImageFilter.GaussianBlur(2)).save(tmp_path / "dist.png")
    result = CliRunner().invoke(cli.main, ["compare", str(ref), str(tmp_path / "dist.png"), "--format", "csv", "-q"])
    assert result.exit_code == 0, result.output
    [value] = _scores(result.stdout, cli.DEFAULT_FR_METRIC)
    assert math.isfinite(value)
    same = CliRunner().invoke(cli.main, ["compare", str(ref), str(ref), "--format", "csv", "-q"])
    [identical] = _scores(same.stdout, cli.DEFAULT_FR_METRIC)
    assert identical > value  # the default FR metric (SSIM) is higher-better


@pytest.mark.slow
def test_compare_vtamiq_folders_with_weights_dir(clive_paths, tmp_path, monkeypatch):
    """`iqa compare --metric vtamiq REF_DIR DIST_DIR` with a weights file made here (random weights:
    this checks the mechanics of loading, batching and output, not the quality of the scores)."""
    import torch

    import iqametrics
    from iqametrics.weights import get_entry

    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    torch.manual_seed(0)
    source = iqametrics.create("vtamiq.paper", pretrained=False)
    torch.save(source.state_dict(), weights_dir / get_entry("vtamiq.paper").filename)
    monkeypatch.setenv("IQAMETRICS_WEIGHTS_DIR", str(weights_dir))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ref_dir, dist_dir = tmp_path / "ref", tmp_path / "dist"
    ref_dir.mkdir()
    dist_dir.mkdir()
    for i, path in enumerate(clive_paths[:6]):
        image = Image.open(path).convert("RGB").resize((160, 120))
        image.save(ref_dir / f"{i}.png")
        image.filter(ImageFilter.GaussianBlur(1 + i)).save(dist_dir / f"{i}.png")
    args = ["compare", "--metric", "vtamiq.paper", str(ref_dir), str(dist_dir), "--format", "csv", "-b", "4",
            "--option", "n_patches=64"]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 0, result.output
    assert "scoring" in result.stderr  # progress bar for more than five pairs
    values = _scores(result.stdout, "vtamiq.paper")
    assert len(values) == 6 and all(math.isfinite(v) for v in values)
    # the CLI loaded the file: the same weights through the API give the same scores
    metric = iqametrics.create("vtamiq.paper", weights=str(weights_dir / "vtamiq_paper.pth"), n_patches=64)
    pairs = [(str(dist_dir / f"{i}.png"), str(ref_dir / f"{i}.png")) for i in range(6)]
    direct = metric([d for d, _ in pairs], [r for _, r in pairs])
    # batches of 4 and 2 against one of 6: float32 rounding of the network, printed to 8 digits
    assert_scores_close(torch.tensor(values), direct)
