"""Registered metrics, one module per paper (plus ``classic.py`` for the classic metrics).

Every module here is imported on the first registry lookup and registers its metrics with
``@register_metric``.  Modules must stay cheap to import: timm and torchvision are imported
inside the factories, never at module level.
"""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
