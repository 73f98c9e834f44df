"""``torchrun -m iqametrics score|compare``: two gloo processes on the CPU against one process.

A folder with unreadable and too-small files; the merged output must be the single-process one
(same rows in the same order, same values), each bad file reported once, every process exiting 1,
and a job killed on one process (while scoring, then while merging) finished by ``--resume``.
The kills come from a wrapper script that patches the CLI in the child processes (no test hook in
the library).  Each torchrun start costs several seconds of interpreter and torch start-up.
"""
from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageFilter

from iqametrics.cli import main

from .conftest import REPO, subprocess_env, torchrun

pytestmark = pytest.mark.slow

N_GOOD = 11
BAD = ("bad.png", "sub/broken.jpg", "sub/tiny.png")

# Runs the CLI as `python -m iqametrics` would, with two test-only faults, chosen by $CRASH_AT
# ("score:RANK:N": that process dies after writing N rows to its part; "merge:RANK:N": it dies in
# the merge after N rows of the output and half of the next), and leaves each process's exit
# status in $EXIT_DIR (process 0 waits for the others' first, so torchrun does not kill them).
WRAPPER = '''
import os, sys, time
from pathlib import Path
from iqametrics import cli, output, sharding

rank = int(os.environ["RANK"])
where, crash_rank, after = (os.environ.get("CRASH_AT") or "none:-1:0").split(":")
rows = 0

def dies_after(original, half_row):
    def write(self, *args):
        global rows
        if rank == int(crash_rank) and rows == int(after):
            if half_row:
                self.stream.write(half_row)
                self.stream.flush()
            os._exit(3)
        original(self, *args)
        rows += 1
    return write

if where == "score":
    sharding.PartWriter.write = dies_after(sharding.PartWriter.write, None)
elif where == "merge":
    output.ResultWriter.write = dies_after(output.ResultWriter.write, "/half/a/r")

try:
    cli.main(prog_name="iqa")
except SystemExit as exc:
    exit_dir = Path(os.environ["EXIT_DIR"])
    (exit_dir / f"exit-{rank}").write_text(str(exc.code))
    if rank == 0:
        deadline = time.time() + 60
        while time.time() < deadline and len(list(exit_dir.glob("exit-*"))) < int(os.environ["WORLD_SIZE"]):
            time.sleep(0.05)
    raise
'''


def _photo(rng, size=(48, 64)):
    return Image.fromarray((rng.random((*size, 3)) * 255).astype(np.uint8)).filter(ImageFilter.SMOOTH)


@pytest.fixture
def photos(tmp_path):
    """11 photos of one size (so a single process writes them in discovery order) and 3 bad files."""
    rng = np.random.default_rng(0)
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    for i in range(N_GOOD):
        _photo(rng).save(root / ("sub" if i % 4 == 0 else "") / f"p{i:02d}.png")
    (root / BAD[0]).write_bytes(b"not an image")
    (root / BAD[1]).write_bytes(b"\xff\xd8\xff\xe0 cut short")
    _photo(rng, (8, 8)).save(root / BAD[2])
    return root


@pytest.fixture
def pairs(tmp_path):
    rng = np.random.default_rng(1)
    ref, dist = tmp_path / "ref", tmp_path / "dist"
    ref.mkdir()
    dist.mkdir()
    for i in range(N_GOOD):
        image = _photo(rng)
        image.save(ref / f"p{i:02d}.png")
        image.filter(ImageFilter.GaussianBlur(1 + i % 3)).save(dist / f"p{i:02d}.png")
    (dist / "p03.png").write_bytes(b"not an image")  # unreadable distorted image
    _photo(rng, (40, 64)).save(dist / "p05.png")  # not the reference's size
    return ref, dist


def _torchrun(args, tmp_path, wrapper=False, crash=None, timeout=300):
    target = ["-m", "iqametrics"]
    if wrapper:
        script = tmp_path / "iqa_wrapper.py"
        script.write_text(WRAPPER)
        target = [str(script)]
    (tmp_path / "exits").mkdir(exist_ok=True)
    env = subprocess_env(EXIT_DIR=str(tmp_path / "exits"), CRASH_AT=crash or "")
    for old in (tmp_path / "exits").glob("exit-*"):
        old.unlink()
    return subprocess.run([*torchrun(2), *target, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _one_process(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output  # the bad files
    return result


def _csv_rows(path):
    with open(path, newline="") as f:
        header, *rows = list(csv.reader(f))
    return header, [(row[0], float(row[1])) for row in rows]


def _assert_same_csv(a, b):
    """Same columns, same paths in the same order; scores equal up to float32 batching (the shards
    batch each image with other neighbours than one process does)."""
    (header_a, rows_a), (header_b, rows_b) = _csv_rows(a), _csv_rows(b)
    assert header_a == header_b
    assert [k for k, _ in rows_a] == [k for k, _ in rows_b]
    for (key, x), (_, y) in zip(rows_a, rows_b):
        assert math.isclose(x, y, rel_tol=1e-6), (key, x, y)


def _error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def test_two_processes_write_the_one_process_csv_report_bad_files_once_and_all_exit_1(photos, tmp_path):
    common = ["score", str(photos), "-m", "brisque", "--format", "csv", "--device", "cpu", "-j", "0", "-b", "4"]
    _one_process([*common, "-o", str(tmp_path / "one.csv")])
    two = _torchrun([*common, "-o", str(tmp_path / "two.csv")], tmp_path, wrapper=True)
    assert two.returncode != 0
    assert {p.name: p.read_text() for p in (tmp_path / "exits").iterdir()} == {"exit-0": "1", "exit-1": "1"}
    errors = _error_lines(two.stderr)
    assert len(errors) == len(BAD), errors
    for bad in BAD:
        assert sum(e.startswith(f"error: {photos / bad}: ") for e in errors) == 1, (bad, errors)
    assert f"scored {N_GOOD}, failed {len(BAD)}" in two.stderr
    _assert_same_csv(tmp_path / "one.csv", tmp_path / "two.csv")
    assert not list(tmp_path.glob("two.csv.part-*"))


def test_two_processes_compare_folders_into_the_one_process_jsonl(pairs, tmp_path):
    ref, dist = pairs
    common = ["compare", str(ref), str(dist), "-m", "psnr", "-m", "ssim", "--format", "jsonl", "--device", "cpu",
              "-j", "0"]
    _one_process([*common, "-o", str(tmp_path / "one.jsonl")])
    two = _torchrun([*common, "-o", str(tmp_path / "two.jsonl")], tmp_path)
    assert two.returncode != 0
    errors = _error_lines(two.stderr)
    assert len(errors) == 2 and any("p03.png" in e for e in errors) and any("p05.png" in e for e in errors)
    one_rows = [json.loads(line) for line in open(tmp_path / "one.jsonl")]
    two_rows = [json.loads(line) for line in open(tmp_path / "two.jsonl")]
    assert [(r["ref"], r["dist"]) for r in two_rows] == [(r["ref"], r["dist"]) for r in one_rows]
    assert len(two_rows) == N_GOOD - 2
    for a, b in zip(one_rows, two_rows):
        for m in ("psnr", "ssim"):
            assert math.isclose(a[m], b[m], rel_tol=1e-6), (a, b)


def test_a_job_killed_while_scoring_then_while_merging_is_finished_by_resume(photos, tmp_path):
    common = ["score", str(photos), "-m", "brisque", "--format", "csv", "--device", "cpu", "-j", "0", "-b", "1"]
    _one_process([*common, "-o", str(tmp_path / "one.csv")])
    out = tmp_path / "two.csv"
    args = [*common, "-o", str(out)]

    killed = _torchrun(args, tmp_path, wrapper=True, crash="score:1:2")  # process 1 dies after 2 rows
    assert killed.returncode != 0
    part0, part1 = (out.parent / f"two.csv.part-{r}" for r in (0, 1))
    assert not out.exists() and len(part1.read_text().splitlines()) == 2
    with open(part0, "a") as f:
        f.write('{"index": 99, "key": "cut sho')  # as if process 0 had been killed mid-row too

    again = _torchrun(args, tmp_path)  # without --resume: refused, nothing touched
    assert again.returncode != 0 and "--resume" in again.stderr and part1.exists()

    merging = _torchrun([*args, "--resume"], tmp_path, wrapper=True, crash="merge:0:3")  # dies in the merge
    assert merging.returncode != 0
    keys = [json.loads(line)["key"] for part in (part0, part1) for line in part.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == N_GOOD  # each photo scored once over both runs
    assert out.read_text().endswith("/half/a/r") and len(out.read_text().splitlines()) == 1 + 3 + 1

    finished = _torchrun([*args, "--resume"], tmp_path)
    assert finished.returncode != 0  # the bad files are retried, and fail again
    assert f"scored 0, failed {len(BAD)}, {N_GOOD} already in {out}" in finished.stderr
    _assert_same_csv(tmp_path / "one.csv", out)
    assert not list(tmp_path.glob("two.csv.part-*"))
