"""``python -m iqametrics.cli`` is the ``iqa`` command (as is ``python -m iqametrics``)."""
from . import main

main(prog_name="iqa")
