"""Registered metrics, one module per paper (the classic metrics: one module per family).

Every module here is imported on the first registry lookup and registers its config table with
:func:`~iqametrics.registry.register_metrics` (``docs/developing.md``: adding a model).  Modules
whose name starts with ``_`` hold shared bases and are not imported here.  Modules must stay
cheap to import: timm and torchvision are imported inside constructors, never at module level.
"""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
