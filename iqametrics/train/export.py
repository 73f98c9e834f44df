"""From a finished run to files others can use: weights, a manifest entry, a model-card stub.

``export_run(run_dir, out_dir)`` reads the run's ``model.safetensors`` (the weights the trainer
kept, in the layout of the metric's ``weights_module()``) and writes:

* ``<key>.safetensors``: the weights (float32, or float16 with ``half=True``) with the recipe, the
  label transform and the metric options in the file's metadata;
* ``manifest_entry.json``: ``{key: entry}`` in the schema of ``weights_manifest.json`` (sha256,
  size, licence of the training data, the recipe and the commit that trained it, validation
  figures), ready to be merged into the manifest;
* ``MODEL_CARD.md``: a stub to complete, saying what the scores mean and how to load them.

The export loads back through ``iqametrics.create(metric, weights=PATH, **metric_options)`` and
scores exactly as the run's model did.  :func:`publish` uploads the folder to a Hugging Face Hub
repository through ``huggingface_hub`` (``HF_ENDPOINT`` and tokens as that library reads them).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import torch

from .checkpoint import save_weights

__all__ = ["Export", "export_run", "publish", "read_run"]


@dataclass(frozen=True)
class Export:
    key: str
    weights: Path
    manifest_entry: Path
    card: Path
    sha256: str
    size: int
    metric: str
    metric_options: Dict


def read_run(run_dir) -> Dict:
    """The run's summary (``run.json``) and the metadata stored with its ``model.safetensors``."""
    from safetensors import safe_open

    run_dir = Path(run_dir)
    model = run_dir / "model.safetensors"
    if not model.is_file():
        raise FileNotFoundError(f"{model} does not exist: the run has not finished (resume it with --resume)")
    with safe_open(str(model), "pt") as f:
        metadata = dict(f.metadata() or {})
    summary_path = run_dir / "run.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    return {"summary": summary, "metadata": metadata, "model": model}


def _card(key: str, metric: str, options: Dict, summary: Dict, labels: Dict, entry: Dict) -> str:
    lo, hi = labels.get("score_range", (None, None))
    meaning = {
        "raw": f"the training data's own scale ({lo} to {hi}), higher is better" if labels.get("higher_is_better", True)
        else f"the training data's own scale ({lo} to {hi}), lower is better",
        "unit": "the training scores min-max normalised to [0, 1]",
        "distortion": "normalised distortion in [0, 1], 0 = no visible distortion (lower is better)",
        "equalised_distortion": "histogram-equalised normalised distortion in [0, 1] (lower is better)",
    }.get(labels.get("mode", "raw"), labels.get("mode"))
    final = summary.get("final") or {}
    figures = ", ".join(f"{k.upper()} {v:.4f}" for k, v in final.items() if isinstance(v, float))
    options_text = ", ".join(f"{k}={v!r}" for k, v in options.items())
    return f"""# {key}

`{metric}` trained with the `iqametrics.train` recipe `{summary.get('recipe', '?')}` on {summary.get('dataset', '?')}.

- Scores: {meaning}.
- Training: {summary.get('steps', '?')} steps, {summary.get('epochs', '?')} epochs, {summary.get('train_items', '?')} training items,
  {summary.get('processes', 1)} process(es) on {summary.get('device', '?')}, {summary.get('seconds', '?')} s.
- Validation ({summary.get('val_items', 0)} items): {figures or 'none'}.
- Training data licence: {entry.get('licence', '')}
- Code: iqametrics {entry.get('source', '')}.

```python
import iqametrics
m = iqametrics.create("{metric}", weights="{key}.safetensors"{', ' + options_text if options_text else ''})
```

TODO before publishing: what the model is for, its limits (content and distortions it never saw),
the test-set figures (`iqa evaluate --metric {metric} --weights {key}.safetensors --data LAYOUT:ROOT --split test`).
"""


def export_run(run_dir, out_dir, *, key: Optional[str] = None, half: bool = False,
               repo_id: Optional[str] = None, revision: str = "main") -> Export:
    """Write the export of ``run_dir`` into ``out_dir`` (see the module docstring).

    ``key``: the manifest key (default ``<metric>.<dataset>``); ``half``: store float16 weights
    (half the size; scores then differ from the run's by float16 rounding); ``repo_id`` /
    ``revision``: where :func:`publish` will put the file, recorded in the manifest entry.
    """
    from safetensors.torch import load_file

    from ..weights import sha256_file

    run = read_run(run_dir)
    meta, summary = run["metadata"], run["summary"]
    metric = meta.get("metric") or summary.get("metric")
    if not metric:
        raise ValueError(f"{run['model']} has no metric name in its metadata: not written by iqametrics.train")
    options = json.loads(meta.get("metric_options", "{}"))
    labels = json.loads(meta.get("labels", "{}"))
    dataset = meta.get("dataset") or summary.get("dataset", "data")
    key = key or f"{metric}.{dataset}"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tensors = load_file(str(run["model"]))
    if half:
        tensors = {k: (v.half() if torch.is_floating_point(v) else v) for k, v in tensors.items()}
    weights = out_dir / f"{key}.safetensors"
    save_weights(weights, tensors, {**meta, "manifest_key": key})
    sha, size = sha256_file(weights), weights.stat().st_size
    commit = summary.get("commit", "")
    entry: Dict = {
        "format": "safetensors",
        "sha256": sha,
        "size": size,
        "licence": summary.get("dataset_licence") or f"see the licence of {dataset}",
        "source": f"iqametrics.train recipe {summary.get('recipe', '?')}" + (f" at commit {commit}" if commit else ""),
        "training_data": f"{dataset} ({summary.get('train_items', '?')} training items)",
        "reported": {k: v for k, v in (summary.get("final") or {}).items() if isinstance(v, (int, float))},
        "notes": f"metric {metric} with options {json.dumps(options, sort_keys=True)}; labels {labels.get('mode', 'raw')}",
    }
    if repo_id:
        entry["hf"] = {"repo_id": repo_id, "filename": weights.name, "revision": revision}
    else:
        entry["filename"] = weights.name
    manifest_entry = out_dir / "manifest_entry.json"
    manifest_entry.write_text(json.dumps({key: entry}, indent=2) + "\n")
    card = out_dir / "MODEL_CARD.md"
    card.write_text(_card(key, metric, options, summary, labels, entry))
    return Export(key, weights, manifest_entry, card, sha, size, metric, options)


def publish(export: Export, repo_id: str, *, revision: str = "main", token=None, endpoint: Optional[str] = None,
            private: bool = False) -> str:
    """Upload an export (weights, model card as README.md, manifest entry) to a Hub repository;
    returns the commit URL.  ``endpoint`` defaults to ``HF_ENDPOINT`` (mirrors, a local Hub)."""
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None, token=token)
    api.create_repo(repo_id, exist_ok=True, private=private)
    operations = [
        CommitOperationAdd(path_in_repo=export.weights.name, path_or_fileobj=str(export.weights)),
        CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=str(export.card)),
        CommitOperationAdd(path_in_repo="manifest_entry.json", path_or_fileobj=str(export.manifest_entry)),
    ]
    info = api.create_commit(repo_id, operations, commit_message=f"Add {export.key}", revision=revision)
    return info.commit_url
