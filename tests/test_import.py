"""`import iqametrics` stays light: no timm, torchvision or training code until a metric needs them."""
from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True,
    )
    return set(out.stdout.split())


def test_import_is_light():
    loaded = _modules_after("import iqametrics")
    assert not {"timm", "torchvision", "iqametrics.train", "huggingface_hub", "scipy"} & loaded


def test_listing_metrics_imports_no_heavy_dependency():
    loaded = _modules_after("import iqametrics; iqametrics.list_metrics(); iqametrics.get_info('psnr')")
    assert not {"timm", "torchvision", "iqametrics.train"} & loaded


def test_optional_drive_client_is_never_imported_up_front():
    """gdown (extra `drive`) is imported only when a Google Drive file is actually downloaded."""
    code = ("import iqametrics, iqametrics.weights as w; from iqametrics import cli; iqametrics.list_metrics(); "
            "w.availability_note(iqametrics.get_info('vtamiq.kadis').weights)")
    assert "gdown" not in _modules_after(code)


def test_cli_help_is_light():
    loaded = _modules_after("from iqametrics import cli")
    assert not {"timm", "torchvision", "iqametrics.train"} & loaded
