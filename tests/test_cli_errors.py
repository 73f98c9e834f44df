"""The CLI's errors lose nothing and say what to do: devices, output paths, Ctrl-C, missing inputs,
the progress bar under error lines, which errors become one-line messages (issue 14)."""
from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import iqametrics
import iqametrics.scoring
from iqametrics import cli
from iqametrics.devices import DeviceError, resolve_device
from iqametrics.metric import NRMetric
from iqametrics.registry import MetricInfo, OptionError, OptionValueError
from iqametrics.scoring import Result


class Mean(NRMetric):
    """Toy NR metric (mean level); raises KeyboardInterrupt at its ``interrupt_at``-th call."""

    min_size = (8, 8)
    calls = 0
    interrupt_at = 0

    def _score(self, x):
        Mean.calls += 1
        if Mean.calls == Mean.interrupt_at:
            raise KeyboardInterrupt
        return x.mean(dim=(1, 2, 3))


def _info(name="toy-mean", **extra):
    return MetricInfo(name=name, kind="NR", higher_is_better=True, score_range=(0, 1), paper="test", licence="test",
                      description="test only", **extra)


@pytest.fixture
def toy(register_toy):
    register_toy(Mean, _info())
    Mean.calls, Mean.interrupt_at = 0, 0
    return "toy-mean"


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def nothing_built(monkeypatch):
    """Fails the test if the command builds a metric (every CLI command builds through iqametrics.create)."""
    def forbid(*args, **kwargs):
        raise AssertionError("a metric was built before the command line was checked")

    monkeypatch.setattr(iqametrics, "create", forbid)


def _photos(folder, n, size=(24, 32)):
    folder.mkdir(exist_ok=True)
    for i in range(n):
        pixels = np.random.default_rng(i).integers(0, 256, size=(*size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"p{i}.png")
    return sorted(folder.glob("p*.png"))


def _one_error_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    return lines[0][len("Error: "):]


# ----------------------------------------------------------------------------- devices
def test_an_unknown_device_is_one_line_naming_the_devices_here(runner, toy, tmp_path, nothing_built):
    (photo,) = _photos(tmp_path, 1)
    result = runner.invoke(cli.main, ["score", "-m", toy, str(photo), "--device", "gpu"])
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "'gpu' is not a device name torch knows" in line and "devices available here: cpu" in line
    with pytest.raises(DeviceError) as raised:
        resolve_device("gpu")
    assert line == str(raised.value)  # the same words from Python


def test_cuda_on_a_machine_without_cuda(runner, toy, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    (photo,) = _photos(tmp_path, 1)
    with pytest.raises(ValueError, match=r"'cuda' is not available: this machine has no CUDA device") as raised:
        iqametrics.create(toy, device="cuda")
    for command in (["score", "-m", toy, str(photo)], ["compare", "-m", "psnr", str(photo), str(photo)],
                    ["prefer", str(photo), str(photo), str(photo)]):
        result = runner.invoke(cli.main, command + ["--device", "cuda"])
        assert result.exit_code == 2 and _one_error_line(result) == str(raised.value), command
    assert iqametrics.create(toy, device="auto").device == torch.device("cpu")


def test_a_cuda_index_beyond_the_machines_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(DeviceError, match=r"'cuda:5' is not available: this machine has 2 CUDA.*cpu, cuda:0, cuda:1"):
        resolve_device("cuda:5")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


def test_the_torchrun_context_and_the_trainer_check_the_device_too(runner, monkeypatch, tmp_path):
    from iqametrics import distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="no CUDA device"):
        distributed.init("cuda")
    with pytest.raises(DeviceError, match="not a device name"):
        distributed.init("gpu")
    assert distributed.init("auto").device == torch.device("cpu")
    from iqametrics.train.recipes import list_recipes

    recipe = list_recipes()[0]
    result = runner.invoke(cli.main, ["train", recipe, "--data", str(tmp_path), "--out", str(tmp_path / "run"),
                                      "--device", "gpu"])
    assert result.exit_code == 2 and "devices available here" in _one_error_line(result)
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- output paths
def _unwritable_outputs(tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    cases = [(str(folder), "it is a folder"), (str(a_file / "out.csv"), "is a file, not a folder"),
             (str(a_file / "deeper" / "out.csv"), "is a file, not a folder")]
    if os.geteuid() != 0:  # root writes anywhere: permissions cannot be tested as root
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        cases += [(str(locked / "out.csv"), "Permission denied"), (str(locked / "new" / "out.csv"), "Permission denied")]
    return cases


def test_an_unwritable_output_fails_before_any_model_is_built(runner, tmp_path, nothing_built):
    (photo,) = _photos(tmp_path, 1)
    (tmp_path / "triplets.csv").write_text(f"{photo},{photo},{photo}\n")
    for output, reason in _unwritable_outputs(tmp_path):
        for command in (["score", str(photo)], ["compare", str(photo), str(photo)], ["prefer", str(photo), str(photo), str(photo)],
                        ["prefer", "--triplets", str(tmp_path / "triplets.csv")]):
            result = runner.invoke(cli.main, command + ["-o", output])
            assert result.exit_code == 2, (command, output, result.output)
            line = _one_error_line(result)
            assert line.startswith(f"cannot write {output}: ") and reason in line, line


def test_evaluate_checks_its_report_paths_first(runner, tmp_path, nothing_built):
    for output, reason in _unwritable_outputs(tmp_path):
        for flag in ("--json", "--plot"):
            result = runner.invoke(cli.main, ["evaluate", "-m", "ssim", "--data", f"generic:{tmp_path / 'absent'}", flag, output])
            assert result.exit_code == 2 and reason in _one_error_line(result), (flag, output, result.output)


def test_an_existing_output_is_refused_before_the_model_is_built(runner, tmp_path, nothing_built):
    (photo,) = _photos(tmp_path, 1)
    out = tmp_path / "o.csv"
    out.write_text("something\n")
    result = runner.invoke(cli.main, ["score", str(photo), "-o", str(out)])
    assert result.exit_code == 2 and "--resume" in result.output and out.read_text() == "something\n"
    assert runner.invoke(cli.main, ["score", str(photo), "--resume"]).exit_code == 2  # --resume needs --output


# ----------------------------------------------------------------------------- Ctrl-C
def _continue_with(stderr: str) -> list:
    (line,) = [line for line in stderr.splitlines() if line.startswith("continue with: ")]
    words = shlex.split(line[len("continue with: "):])
    assert words[0] == "iqa"
    return words[1:]


def test_ctrl_c_during_score_keeps_the_rows_and_says_how_to_resume(runner, toy, tmp_path):
    _photos(tmp_path / "photos", 7)
    out = tmp_path / "with space" / "scores.csv"
    args = ["score", "-m", toy, str(tmp_path / "photos"), "-o", str(out), "--format", "csv", "-b", "1", "-j", "0",
            "--overwrite"]
    Mean.interrupt_at = 3  # the third image: two rows are written
    result = runner.invoke(cli.main, args)
    assert result.exit_code == 130, result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, KeyboardInterrupt)
    assert f"interrupted: 2 row(s) kept in {out}" in result.stderr
    again = _continue_with(result.stderr)
    assert again == [a for a in args if a != "--overwrite"] + ["--resume"]  # every original argument, shell-quoted
    assert len(list(csv.DictReader(out.open()))) == 2
    Mean.calls, Mean.interrupt_at = 0, 0
    resumed = runner.invoke(cli.main, again)
    assert resumed.exit_code == 0, resumed.output
    assert Mean.calls == 5 and "2 already in" in resumed.stderr
    rows = list(csv.DictReader(out.open()))
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in (tmp_path / "photos").glob("*.png"))


def _interrupting_after(n: int, value=0.25):
    """A record stream (compare_files / prefer_files) that yields ``n`` results, then Ctrl-C."""
    def stream(metrics, inputs, keys=None, **kwargs):
        for i, item in enumerate(inputs):
            if i == n:
                raise KeyboardInterrupt
            key = keys[i] if keys is not None else tuple(str(p) for p in item)
            yield Result(i, key, {m.name: value for m in metrics})
    return stream


def test_ctrl_c_during_compare_and_prefer(runner, tmp_path, monkeypatch):
    refs = _photos(tmp_path / "ref", 4, size=(32, 32))
    dists = _photos(tmp_path / "dist", 4, size=(32, 32))
    rows = "\n".join(f"{r},{d},{d}" for r, d in zip(refs, dists))
    (tmp_path / "t.csv").write_text(rows + "\n")
    for command, patched in ((["compare", "-m", "psnr", str(tmp_path / "ref"), str(tmp_path / "dist")], "compare_files"),
                             (["prefer", "--triplets", str(tmp_path / "t.csv")], "prefer_files")):
        out = tmp_path / f"{patched}.csv"
        with monkeypatch.context() as patch:
            patch.setattr(iqametrics.scoring, patched, _interrupting_after(3))
            result = runner.invoke(cli.main, command + ["-o", str(out), "--format", "csv"])
        assert result.exit_code == 130 and "Traceback" not in result.output, result.output
        assert f"interrupted: 3 row(s) kept in {out}" in result.stderr
        assert len(out.read_text().splitlines()) == 1 + 3
        resumed = runner.invoke(cli.main, _continue_with(result.stderr))
        assert resumed.exit_code == 0 and "scored 1, failed 0, 3 already in" in resumed.stderr, resumed.output
        assert len(out.read_text().splitlines()) == 1 + 4


def test_ctrl_c_says_when_a_run_cannot_be_resumed(runner, tmp_path, monkeypatch):
    _photos(tmp_path / "ref", 3)
    _photos(tmp_path / "dist", 3)
    monkeypatch.setattr(iqametrics.scoring, "compare_files", _interrupting_after(1))
    args = ["compare", "-m", "psnr", str(tmp_path / "ref"), str(tmp_path / "dist")]
    result = runner.invoke(cli.main, args)  # to stdout
    assert result.exit_code == 130 and "interrupted: 1 row(s) written to stdout" in result.stderr
    assert "-o FILE" in result.stderr and "continue with" not in result.stderr
    result = runner.invoke(cli.main, args + ["-o", str(tmp_path / "scores.txt")])  # the default table format
    assert result.exit_code == 130 and "the table format cannot be resumed (--format csv or jsonl can)" in result.stderr
    assert "continue with" not in result.stderr


# ----------------------------------------------------------------------------- missing inputs
def test_one_missing_path_does_not_abort_the_run(runner, toy, tmp_path):
    a, b = _photos(tmp_path, 2)
    missing = str(tmp_path / "missing.png")
    pattern = str(tmp_path / "nothing-*.jpg")
    result = runner.invoke(cli.main, ["score", "-m", toy, str(a), missing, str(b), pattern, "--format", "csv"])
    assert result.exit_code == 1, result.output
    assert f"error: {missing}: no such file, folder or pattern" in result.stderr
    assert f"error: {pattern}: no image files match" in result.stderr
    assert [r["path"] for r in csv.DictReader(result.stdout.splitlines())] == [str(a), str(b)]
    assert "scored 2, failed 0, not found 2" in result.stderr
    calls = Mean.calls
    strict = runner.invoke(cli.main, ["score", "-m", toy, str(a), missing, str(b), "--strict"])
    assert strict.exit_code == 2 and "no such file, folder or pattern" in strict.output and Mean.calls == calls
    nothing = runner.invoke(cli.main, ["score", "-m", toy, missing])
    assert nothing.exit_code == 2 and f"no such file, folder or pattern: {missing!r}" in nothing.output


def test_an_extra_distorted_file_does_not_abort_compare(runner, tmp_path):
    _photos(tmp_path / "ref", 3)
    _photos(tmp_path / "dist", 3)
    extra = tmp_path / "dist" / "sub" / "extra.png"
    extra.parent.mkdir()
    (tmp_path / "dist" / "p0.png").rename(extra)
    (tmp_path / "dist" / "p0.png").write_bytes((tmp_path / "ref" / "p0.png").read_bytes())
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(tmp_path / "dist" / "other.png")
    args = ["compare", "-m", "psnr", str(tmp_path / "ref"), str(tmp_path / "dist"), "--format", "jsonl"]
    result = runner.invoke(cli.main, args)
    assert result.exit_code == 1, result.output
    for name in ("other.png", "extra.png"):
        assert re.search(rf"error: \S*{name}: no reference at the same relative path in", result.stderr), name
    assert sorted(json.loads(line)["dist"].rsplit("/", 1)[-1] for line in result.stdout.splitlines()) == ["p0.png", "p1.png", "p2.png"]
    assert "not found 2" in result.stderr
    strict = runner.invoke(cli.main, args + ["--strict"])
    assert strict.exit_code == 2 and "2 distorted image(s) have no reference" in strict.output and not strict.stdout.strip()


def test_strict_pairs_list_checks_every_file_first(runner, tmp_path, nothing_built):
    (photo,) = _photos(tmp_path, 1)
    (tmp_path / "pairs.csv").write_text(f"ref,dist\n{photo},{tmp_path / 'gone.png'}\n")
    result = runner.invoke(cli.main, ["compare", "--pairs", str(tmp_path / "pairs.csv"), "--strict"])
    assert result.exit_code == 2 and "1 file(s) that do not exist" in result.output and "gone.png" in result.output


def test_discovery_raises_in_python_unless_asked_to_report():
    from iqametrics.io import discover_images, discover_pairs

    with pytest.raises(FileNotFoundError, match="no such file, folder or pattern: 'nowhere.png'"):
        discover_images(["nowhere.png"])
    reported = []
    assert discover_images(["nowhere.png"], on_missing=lambda item, reason: reported.append((item, reason))) == []
    assert reported == [("nowhere.png", "no such file, folder or pattern")]
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        discover_pairs("nowhere", "nowhere", on_unmatched=print)  # the two inputs themselves are not optional


# ----------------------------------------------------------------------------- progress
def _screen(text: str) -> list:
    """The lines a terminal shows after printing ``text``: ``\\r`` returns to the start of the line and
    later characters overwrite earlier ones; escape sequences (cursor on/off) draw nothing."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    lines, line, col = [], [], 0
    for ch in text:
        if ch == "\n":
            lines.append("".join(line))
            line, col = [], 0
        elif ch == "\r":
            col = 0
        else:
            line[col:col + 1] = [ch]
            col += 1
    if line:
        lines.append("".join(line))
    return [shown.rstrip() for shown in lines]


def test_the_bar_shows_positions_and_error_lines_leave_no_copy_of_it(runner, toy, tmp_path, monkeypatch):
    import click.testing

    monkeypatch.setattr(click.testing._NamedTextIOWrapper, "isatty", lambda self: True)  # a terminal
    _photos(tmp_path, 6)
    (tmp_path / "p3-broken.png").write_text("not a PNG")
    result = runner.invoke(cli.main, ["score", "-m", toy, str(tmp_path), "-b", "1", "-j", "0"])
    assert result.exit_code == 1, result.output
    positions = [int(n) for n in re.findall(r"\b(\d)/7\b", result.stderr)]
    assert positions and positions[-1] == 7 and positions == sorted(positions)
    screen = _screen(result.stderr)
    bars = [line for line in screen if "scoring" in line]
    assert len(bars) == 1 and bars[0].endswith("7/7"), screen  # the bar, drawn once, at its end
    (error,) = [line for line in screen if "p3-broken.png" in line]
    assert error.startswith("error: ") and error.endswith("not a recognised image format"), screen
    assert screen[-1] == "scored 6, failed 1"


def test_without_a_terminal_errors_are_plain_lines(runner, toy, tmp_path):
    _photos(tmp_path, 6)
    (tmp_path / "p3-broken.png").write_text("not a PNG")
    result = runner.invoke(cli.main, ["score", "-m", toy, str(tmp_path), "-b", "1", "-j", "0"])
    assert result.stderr.splitlines()[:2] == ["scoring", f"error: {tmp_path / 'p3-broken.png'}: not a recognised image format"]


# ----------------------------------------------------------------------------- which errors are the user's
class Broken(NRMetric):
    """Its constructor fails whatever it is given (a bug), and refuses a negative ``level``."""

    def __init__(self, level: int = 0, *, broken: bool = True):
        if level < 0:
            raise ValueError(f"level must be >= 0, got {level}")
        super().__init__()
        if broken:
            raise ValueError("an internal error")

    def _score(self, x):
        return x.mean(dim=(1, 2, 3))


def test_only_the_users_errors_become_one_line_messages(runner, register_toy, tmp_path):
    register_toy(Broken, _info("toy-broken"))
    (photo,) = _photos(tmp_path, 1)
    bug = runner.invoke(cli.main, ["score", "-m", "toy-broken", str(photo)])
    assert isinstance(bug.exception, ValueError) and str(bug.exception) == "an internal error"  # its traceback kept
    refused = runner.invoke(cli.main, ["score", "-m", "toy-broken", str(photo), "--option", "level=-1"])
    assert refused.exit_code == 2 and "level=-1" in refused.output and "level must be >= 0" in refused.output
    with pytest.raises(OptionValueError, match="level must be >= 0") as raised:
        iqametrics.create("toy-broken", level=-1)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, OptionError)
    assert isinstance(raised.value.__cause__, ValueError)  # the metric's own error, kept


class Scaled(NRMetric):
    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))

    def _score(self, x):
        return self.scale * x.mean(dim=(1, 2, 3))


def test_a_checkpoint_that_does_not_fit_is_an_error_not_a_usage_error(runner, register_toy, tmp_path):
    from safetensors.torch import save_file

    register_toy(Scaled, _info("toy-weighted", weights=("toy.weights",)))
    (photo,) = _photos(tmp_path, 1)
    save_file({"something.else": torch.ones(2)}, str(tmp_path / "w.safetensors"))
    result = runner.invoke(cli.main, ["score", "-m", "toy-weighted", str(photo), "--weights", str(tmp_path / "w.safetensors")])
    assert result.exit_code == 1 and "checkpoint layout not recognised" in _one_error_line(result)


# ----------------------------------------------------------------------------- the package's shape
def _modules_after(code: str) -> set:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("args", [["--help"], ["score", "--help"], ["evaluate", "--help"], ["train", "--help"]])
def test_help_imports_no_training_code(args):
    loaded = _modules_after(f"from iqametrics.cli import main\nmain({args!r}, standalone_mode=False)")
    assert not {"iqametrics.train", "scipy", "matplotlib", "timm", "torchvision"} & loaded


def test_every_public_name_is_where_it_was():
    from iqametrics import weights

    for name in ("main", "DEFAULT_NR_METRIC", "DEFAULT_FR_METRIC", "SHARD_WAIT", "score_command", "compare_command",
                 "prefer_command", "evaluate_command", "train_command", "export_command", "list_command",
                 "info_command", "download_command"):
        assert hasattr(cli, name), name
    old = ["WeightEntry", "WeightsError", "WeightsUnavailableError", "WeightsConfigError", "ChecksumMismatchError",
           "LockMismatchError", "CorruptWeightsError", "UnsafeWeightsError", "manifest_path", "load_manifest",
           "get_entry", "fetch", "load_state_file", "load_state", "sha256_file", "lock_path", "availability",
           "availability_note", "can_download", "check_cached", "CheckResult", "load_unpublished",
           "verify", "bundled_path", "cache_dir", "entries_for", "LOCK_NAME", "FORMATS", "MANIFEST_NAME"]
    assert [name for name in old if not hasattr(weights, name)] == []
    assert issubclass(weights.CheckpointMismatchError, ValueError)  # what a checkpoint mismatch always was
