"""Regenerate the metrics table in docs/metrics.md from the registry: python tools/gen_docs.py"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from iqametrics._docs import metrics_doc_path, render  # noqa: E402

path = metrics_doc_path()
path.write_text(render(path.read_text()))
print(f"updated {path}")
