"""``iqa train`` and ``iqa export`` end to end, torchrun with two processes, publishing to a local Hub."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import iqametrics
from iqametrics.cli import main

from .conftest import REPO, subprocess_env, torchrun
from .train_helpers import TinyNR, write_scores_csv

RECIPE = """
name = "tiny"
[model]
task = "tests.train_helpers:TinyTask"
metric = "tiny"
[optim]
name = "adam"
lr = 0.03
[schedule]
name = "cosine"
[loss]
name = "l1"
[train]
epochs = 2
batch_size = 4
workers = 0
"""


def _data(tmp_path, n=24):
    table = write_scores_csv(tmp_path, n)
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(RECIPE)
    return recipe, table


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def test_train_list_and_show():
    runner = CliRunner()
    out = runner.invoke(main, ["train", "--list"])
    assert out.exit_code == 0
    for name in ("hyperiqa-koniq", "pyramidiqa-koniq", "musiq-koniq", "vtamiq-kadis", "vtamiq-kadid"):
        assert name in out.output
    shown = runner.invoke(main, ["train", "pyramidiqa-koniq", "--show", "--set", "train.epochs=2"])
    assert shown.exit_code == 0 and json.loads(shown.output)["train"]["epochs"] == 2
    bad = runner.invoke(main, ["train", "pyramidiqa-koniq", "--show", "--set", "train.epoch=2"])
    assert bad.exit_code == 2 and "unknown key 'epoch'" in bad.output
    bad_option = runner.invoke(main, ["train", "liteiqa-clive", "--show", "--set", "model.task_options.flip=2"])
    assert bad_option.exit_code == 2 and "model.task_options.flip takes a probability" in bad_option.output
    missing = runner.invoke(main, ["train", "pyramidiqa-konik", "--show"])
    assert missing.exit_code == 2 and "pyramidiqa-koniq" in missing.output


def test_train_export_load_back_and_publish(tmp_path, hub):
    recipe, table = _data(tmp_path)
    runner = CliRunner()
    run = tmp_path / "run"
    out = runner.invoke(main, ["train", str(recipe), "--data", f"generic:{table}", "--out", str(run), "-q", "--device", "cpu"])
    assert out.exit_code == 0, out.output
    assert "validation: srcc" in out.output
    again = runner.invoke(main, ["train", str(recipe), "--data", f"generic:{table}", "--out", str(run), "-q"])
    assert again.exit_code == 2 and "--resume" in again.output

    exported = runner.invoke(main, ["export", str(run), "--out", str(tmp_path / "export"), "--key", "tiny.test",
                                    "--publish", "me/tiny-iqa"])
    assert exported.exit_code == 0, exported.output
    weights = tmp_path / "export" / "tiny.test.safetensors"
    entry = json.loads((tmp_path / "export" / "manifest_entry.json").read_text())["tiny.test"]
    from iqametrics.weights import sha256_file

    assert entry["sha256"] == sha256_file(weights) and entry["size"] == weights.stat().st_size
    assert entry["hf"] == {"repo_id": "me/tiny-iqa", "filename": "tiny.test.safetensors", "revision": "main"}
    assert "tiny" in (tmp_path / "export" / "MODEL_CARD.md").read_text()
    # the published bytes are the exported file, and the card became the repository's README
    assert hub.files[("me/tiny-iqa", "tiny.test.safetensors")] == weights.read_bytes()
    assert b"tiny" in hub.files[("me/tiny-iqa", "README.md")]

    # the export scores exactly as the run's model did
    images = sorted((tmp_path / "images").glob("*.png"))[:5]
    from_run, from_export = TinyNR(), TinyNR()
    from_run.load_checkpoint(str(run / "model.safetensors"))
    from_export.load_checkpoint(str(weights))
    assert torch.equal(from_run.eval()(images), from_export.eval()(images))


def test_interrupt_message_names_the_resume_command(tmp_path, monkeypatch):
    from iqametrics.train import trainer as trainer_module

    recipe, table = _data(tmp_path)
    original = trainer_module.Trainer.__init__

    def interrupting(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.step_callback = lambda trainer, step: step == 2

    monkeypatch.setattr(trainer_module.Trainer, "__init__", interrupting)
    run = tmp_path / "run"
    out = CliRunner().invoke(main, ["train", str(recipe), "--data", f"generic:{table}", "--out", str(run), "-q"])
    assert out.exit_code == 130
    assert "resume with: iqa train" in out.output and "--resume" in out.output
    assert (run / "last.pt").is_file() and not (run / "model.safetensors").exists()


@pytest.mark.slow
def test_torchrun_two_processes_match_one_with_the_same_global_batch(tmp_path):
    recipe, table = _data(tmp_path)
    env = subprocess_env()
    common = ["train", str(recipe), "--data", f"generic:{table}", "--device", "cpu", "-q"]
    one = subprocess.run([sys.executable, "-m", "iqametrics", *common, "--out", str(tmp_path / "one")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([*torchrun(2), "-m", "iqametrics", *common, "--out", str(tmp_path / "two")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr
    summary = json.loads((tmp_path / "two" / "run.json").read_text())
    assert summary["processes"] == 2 and summary["steps"] == json.loads((tmp_path / "one" / "run.json").read_text())["steps"]
    a, b = _weights(tmp_path / "one" / "model.safetensors"), _weights(tmp_path / "two" / "model.safetensors")
    for k in a:
        # the same draws per step; DDP averages two half-batch gradients where one process sums the
        # whole batch: float32 summation order differs, so close, not equal
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


def test_cross_validate_from_the_cli(tmp_path):
    recipe, table = _data(tmp_path, n=12)
    runner = CliRunner()
    base = ["train", str(recipe), "--data", f"generic:{table}", "--out", str(tmp_path / "cv"), "--device", "cpu", "-q",
            "--set", "train.epochs=1", "--set", 'train.select="last"', "--set", 'data.train_split="all"']
    out = runner.invoke(main, base + ["--cross-validate", "3"])
    assert out.exit_code == 0, out.output
    assert "| mean ± sd |" in out.output and "fold-2: training" in out.output
    report = json.loads((tmp_path / "cv" / "cv.json").read_text())
    assert report["folds"] == 3 and report["pooled"]["n"] == 12
    again = runner.invoke(main, base + ["--cross-validate", "3"])
    assert again.exit_code == 0 and again.output.count("trained already, reused") == 3
    refused = runner.invoke(main, base + ["--cross-validate", "3", "--resume"])
    assert refused.exit_code == 2 and "--cross-validate" in refused.output
    too_few = runner.invoke(main, base + ["--cross-validate", "1"])
    assert too_few.exit_code == 2


@pytest.mark.parametrize("setting, message", [
    ("model.task=\"nosuch\"", "model.task: unknown training task 'nosuch'"),
    ("model.task_options.crop=8", "model.task_options.crop takes an integer >= 32, got 8"),
    ("model.task_options.flip=\"yes\"", "model.task_options.flip takes a probability from 0 to 1"),
    ("model.task_options.labels=\"zzz\"", "model.task_options.labels takes one of 'raw'"),
    ("optim.group_lr={nosuch=1e-4}", "optim.group_lr names groups the task does not have: ['nosuch']"),
    ("loss.options.l1_scal=20.0", "loss.options: 'l1_plcc' takes no option 'l1_scal'"),
    ("model.options.foo=1", "model.options: liteiqa has no option 'foo'; its options are: amp, batch_pixels"),
    ("model.options.channels_last=\"yes\"", "model.options: liteiqa (channels_last='yes'): channels_last takes true"),
    ("model.options.batch_pixels=0", "model: liteiqa (batch_pixels=0): a pixel count must be at least 1"),
    ("model.metric=\"nosuch\"", "model: Unknown metric 'nosuch'"),
])
def test_a_bad_recipe_value_is_one_line_and_leaves_no_folder(tmp_path, setting, message):
    # LiteIQA's packaged recipe, started from no backbone: the checks run before any photo is read
    # (the parameter groups' once the untrained model is built)
    table = write_scores_csv(tmp_path, 8)
    run = tmp_path / "run"
    out = CliRunner().invoke(main, ["train", "liteiqa-clive", "--data", f"generic:{table}", "--out", str(run), "-q",
                                    "--set", "model.task_options.imagenet_backbone=false", "--set", "train.soup_seeds=[]",
                                    "--set", "model.task_options.ridge_alpha=0", "--set", setting])
    assert out.exit_code == 2, out.output
    assert message in out.output and "Traceback" not in out.output
    assert not run.exists()


def test_a_missing_start_is_one_line_and_leaves_no_folder(tmp_path):
    # the soup's first member stops at its ImageNet backbone: no seed-0 folder is left behind
    table = write_scores_csv(tmp_path, 8)
    run = tmp_path / "run"
    missing = tmp_path / "no_backbone.safetensors"
    out = CliRunner().invoke(main, ["train", "liteiqa-clive", "--data", f"generic:{table}", "--out", str(run), "-q",
                                    "--set", f"model.task_options.imagenet_backbone=\"{missing}\""])
    assert out.exit_code == 1, out.output
    assert out.output.startswith("Error: ") and str(missing) in out.output and "Traceback" not in out.output
    assert not run.exists()
