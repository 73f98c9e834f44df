"""The ``iqa`` command line: list, info, score, compare, prefer, evaluate, train, export, download.

One module per job: :mod:`~iqametrics.cli.app` (the group, the options the commands share, the
checks made before any model is built), :mod:`~iqametrics.cli.running` (writing results, failures,
Ctrl-C, torchrun shards), :mod:`~iqametrics.cli.progress` (the bar), and the commands:
:mod:`~iqametrics.cli.score` (score, compare), :mod:`~iqametrics.cli.prefer`,
:mod:`~iqametrics.cli.training` (evaluate, train, export) and :mod:`~iqametrics.cli.catalogue`
(list, info, download).  The entry point is ``iqametrics.cli:main``; ``iqa --help`` imports neither
the training code nor scipy or matplotlib.
"""
from .app import DEFAULT_FR_METRIC, DEFAULT_NR_METRIC, main
from .catalogue import download_command, info_command, list_command
from .prefer import prefer_command
from .running import SHARD_WAIT
from .score import compare_command, score_command
from .training import evaluate_command, export_command, train_command

__all__ = [
    "main",
    "DEFAULT_NR_METRIC",
    "DEFAULT_FR_METRIC",
    "SHARD_WAIT",
    "list_command",
    "info_command",
    "download_command",
    "score_command",
    "compare_command",
    "prefer_command",
    "evaluate_command",
    "train_command",
    "export_command",
]
