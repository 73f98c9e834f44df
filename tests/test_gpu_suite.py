"""benchmarks/gpu_suite.py cannot rot: its dry run (the whole suite on the CPU, tiny sizes) runs here,
and the section it keeps in docs/benchmarks.md is the one it writes."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

import iqametrics

from .conftest import REPO, subprocess_env

SUITE = REPO / "benchmarks" / "gpu_suite.py"
BEGIN, END = "<!-- gpu-suite:begin -->", "<!-- gpu-suite:end -->"


def _run(*args, timeout=900):
    return subprocess.run([sys.executable, str(SUITE), *args], cwd=REPO, env=subprocess_env(), capture_output=True,
                          text=True, timeout=timeout)


def _split(text):
    before, rest = text.split(BEGIN, 1)
    section, after = rest.split(END, 1)
    return before, BEGIN + section + END, after


@pytest.mark.slow
def test_the_dry_run_runs_every_part_and_rewrites_only_its_section(tmp_path):
    docs = tmp_path / "benchmarks.md"
    original = (REPO / "docs" / "benchmarks.md").read_text()
    docs.write_text(original)
    result = _run("--dry-run", "--docs", str(docs), "--json", str(tmp_path / "r.json"), "--work-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    before, section, after = _split(docs.read_text())
    assert (before, after) == _split(original)[::2]
    assert "dry run" in section and "unmeasured" not in section
    found = json.loads((tmp_path / "r.json").read_text())
    assert [row[0] for row in found["device"]] == iqametrics.list_metrics()  # (a): every metric, checked
    assert all(row[-1] == "ok" for row in found["device"])
    assert {row[0] for row in found["amp"]} == {"musiq", "hyperiqa", "hyperiqa.official", "pyramidiqa", "vtamiq.paper",
                                                "vtamiq", "lpips", "dists", "liteiqa"}  # (b)
    timed = found["throughput"]  # (c): every pipeline row measured something, compiled or not
    assert {r["metric"] for r in timed} >= {"musiq", "hyperiqa", "vtamiq", "lpips", "dists", "liteiqa", "psnr", "ssim", "mad"}
    assert {r["compile"] for r in timed if r["metric"] == "musiq"} == {False, "eager"}
    assert all(r["images_per_s"] > 0 and r["failures"] == 0 for r in timed), timed
    assert all("CUDA device" in r["note"] for r in timed if r["decode"] == "gpu")  # no CUDA here: CPU decoding, said


def test_the_committed_section_is_what_the_suite_writes():
    """Until a GPU run fills it, docs/benchmarks.md holds the suite's plan (`--plan`): every row the
    suite will measure, each figure unmeasured.  Regenerate with `python benchmarks/gpu_suite.py --plan`."""
    _, committed, _ = _split((REPO / "docs" / "benchmarks.md").read_text())
    if "Status: **unmeasured" not in committed:
        pytest.skip("the section holds measured figures")
    result = _run("--plan", "--no-docs", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    planned = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), result.stdout, re.S).group(0)
    assert committed == planned
