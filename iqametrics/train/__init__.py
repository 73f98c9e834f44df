"""Training subpackage (secondary): datasets, losses, recipes, evaluation.

It imports :mod:`iqametrics`; :mod:`iqametrics` never imports it.
"""
