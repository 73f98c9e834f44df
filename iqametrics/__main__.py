"""``python -m iqametrics`` is the ``iqa`` command (what ``torchrun ... -m iqametrics`` runs)."""
from .cli import main

main(prog_name="iqa")
