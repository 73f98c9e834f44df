"""The errors of :mod:`iqametrics.weights` (no heavy import: the CLI and the registry catch them)."""
from __future__ import annotations

__all__ = ["WeightsError", "WeightsUnavailableError", "WeightsConfigError", "ChecksumMismatchError",
           "LockMismatchError", "CorruptWeightsError", "UnsafeWeightsError", "CheckpointMismatchError"]


class WeightsError(RuntimeError):
    """Base class of weight-related errors."""


class WeightsUnavailableError(WeightsError):
    """A weight file could not be found locally nor downloaded."""


class WeightsConfigError(WeightsError):
    """The configuration of where weights come from is wrong (e.g. ``IQAMETRICS_WEIGHTS_DIR``)."""


class ChecksumMismatchError(WeightsError):
    """A weight file does not have the checksum the manifest records."""


class LockMismatchError(ChecksumMismatchError):
    """A downloaded file differs from the one first used for the same entry and source (see the lock)."""


class CorruptWeightsError(WeightsError):
    """A weight file is truncated or corrupt (or not a checkpoint at all)."""


class UnsafeWeightsError(WeightsError):
    """A checkpoint holds Python objects that ``torch.load(weights_only=True)`` refuses to unpickle."""



class CheckpointMismatchError(WeightsError, ValueError):
    """A checkpoint that does not fit the model: a layout no converter recognises, tensors of other
    shapes, missing or unexpected keys (also a ``ValueError``, as it always was)."""
