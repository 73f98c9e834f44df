"""Weights: manifest lookup -> bundled / local override / Hugging Face Hub / upstream URL -> sha256 -> load.

Where a file comes from, in order:

0. Small files shipped inside the package (``bundled``: LPIPS/DISTS heads, the BRISQUE model):
   no download, provenance and licence still recorded in the manifest.
1. ``IQAMETRICS_WEIGHTS_DIR``: a folder of files named as in the manifest (``filename``), for
   air-gapped machines.  A variable naming a missing folder is an error.  Manifest checksums are
   verified there too.
2. The Hugging Face Hub through ``huggingface_hub.hf_hub_download`` into its usual cache, at the
   manifest's ``revision`` (``main`` in the shipped manifest: a branch, not pinned to a commit;
   a commit hash there pins it); honours ``HF_ENDPOINT`` (mirrors), ``HF_HUB_OFFLINE`` and
   ``HF_HUB_CACHE``/``HF_HOME``.
3. An upstream URL for official releases hosted elsewhere, downloaded into ``IQAMETRICS_CACHE``
   (default ``~/.cache/iqametrics``); Google Drive files through ``gdown`` when it is installed
   (``pip install "iqametrics[drive]"``).  Entries marked ``manual`` are never fetched
   automatically; entries with ``"published": false`` have no file anywhere.

Checks: a file's sha256 must equal the manifest's ``sha256`` (or start with its 8-hex
``sha256_prefix``).  Where no full checksum is published, the sha256 of the first download is
recorded in a lock file in the cache (:func:`lock_path`, keyed by manifest key and source URL)
and any later download or cached copy that differs is refused: trust on first use.

Files are loaded as safetensors, ``.npz`` (``allow_pickle=False``) or legacy PyTorch
checkpoints with ``torch.load(weights_only=True)``: nothing is ever unpickled.

The package, one job per module: :mod:`~iqametrics.weights.manifest` (the entries),
:mod:`~iqametrics.weights.lock` (checksums, trust on first use), :mod:`~iqametrics.weights.fetching`
(the sources, :func:`fetch`), :mod:`~iqametrics.weights.availability` (what ``iqa list`` says,
``iqa download --verify``), :mod:`~iqametrics.weights.loading` (reading files safely) and
:mod:`~iqametrics.weights.errors`.  Every public name is importable from ``iqametrics.weights``.
"""
from __future__ import annotations

from .availability import CheckResult, availability, availability_note, check_cached
from .errors import (
    CheckpointMismatchError,
    ChecksumMismatchError,
    CorruptWeightsError,
    LockMismatchError,
    UnsafeWeightsError,
    WeightsConfigError,
    WeightsError,
    WeightsUnavailableError,
)
# also re-exported for callers of the single-module weights.py: bundled_path, cache_dir, verify, the constants
from .fetching import _hub_errors, bundled_path, can_download, fetch  # noqa: F401
from .lock import LOCK_NAME, cache_dir, lock_path, sha256_file, verify  # noqa: F401
from .loading import load_backbone, load_state, load_state_file, load_unpublished
from .manifest import (  # noqa: F401
    FORMATS,
    MANIFEST_NAME,
    SCHEMA_VERSION,
    WeightEntry,
    _manifest_cached,
    entries_for,
    get_entry,
    load_manifest,
    manifest_path,
)

__all__ = [
    "WeightEntry",
    "WeightsError",
    "WeightsUnavailableError",
    "WeightsConfigError",
    "ChecksumMismatchError",
    "LockMismatchError",
    "CorruptWeightsError",
    "UnsafeWeightsError",
    "CheckpointMismatchError",
    "manifest_path",
    "load_manifest",
    "get_entry",
    "fetch",
    "load_state_file",
    "load_state",
    "sha256_file",
    "lock_path",
    "availability",
    "availability_note",
    "can_download",
    "check_cached",
    "CheckResult",
    "load_unpublished",
    "load_backbone",
]
