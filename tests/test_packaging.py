"""The wheel ships the manifest (single source of truth at the repository root) and package data."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_manifest_and_data(tmp_path):
    if not (REPO / "pyproject.toml").is_file():
        pytest.skip("not a source checkout")
    try:
        import setuptools  # noqa: F401  (building without isolation needs it here)
    except ImportError:
        pytest.skip("setuptools not installed")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
        check=True, capture_output=True, cwd=tmp_path,
    )
    wheel = next(tmp_path.glob("iqametrics-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert "iqametrics/weights_manifest.json" in names
        assert z.read("iqametrics/weights_manifest.json") == (REPO / "weights_manifest.json").read_bytes()
        data_files = {p.relative_to(REPO).as_posix() for p in (REPO / "iqametrics" / "data").rglob("*") if p.is_file()}
        assert data_files <= names, sorted(data_files - names)
        recipes = {p.relative_to(REPO).as_posix() for p in (REPO / "iqametrics" / "train" / "recipes").glob("*.toml")}
        assert recipes and recipes <= names, sorted(recipes - names)
        assert any(n.endswith("entry_points.txt") and b"iqa = iqametrics.cli:main" in z.read(n) for n in names)
        assert not any(n.startswith(("tests/", "benchmarks/", "tools/")) for n in names)
        assert "iqametrics/data/liteiqa_clive.safetensors" in names  # the default NR metric works offline
    # README and docs/models/liteiqa.md state the size (9.7 MB at 8a60736): a bound that catches a
    # float32 file or a second model slipping in
    assert wheel.stat().st_size < 12_000_000, wheel.stat().st_size
