"""The layout registry: a layout name -> the reader of that dataset's on-disk layout."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Union

from .records import LabelledSet

__all__ = ["Layout", "register_layout", "list_layouts", "get_layout", "read_dataset"]


@dataclass(frozen=True)
class Layout:
    name: str
    reader: Callable[..., LabelledSet]  # reader(root: Path, **options) -> LabelledSet
    kind: str
    description: str = ""

    @property
    def options(self) -> List[str]:
        params = list(inspect.signature(self.reader).parameters.values())[1:]
        return [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


_LAYOUTS: Dict[str, Layout] = {}


def register_layout(name: str, reader: Optional[Callable[..., LabelledSet]] = None, *, kind: str = "",
                    description: str = ""):
    """Register ``reader(root, **options) -> LabelledSet`` under ``name`` (usable as a decorator)."""

    def add(fn):
        if name in _LAYOUTS and _LAYOUTS[name].reader is not fn:
            raise ValueError(f"layout {name!r} is already registered")
        doc = (inspect.getdoc(fn) or "").split("\n", 1)[0]
        _LAYOUTS[name] = Layout(name, fn, kind, description or doc)
        return fn

    return add(reader) if reader is not None else add


def list_layouts() -> List[str]:
    return sorted(_LAYOUTS)


def get_layout(name: str) -> Layout:
    try:
        return _LAYOUTS[name]
    except KeyError:
        raise KeyError(f"unknown dataset layout {name!r}; known layouts: {', '.join(list_layouts())}") from None


def _parse_spec(spec: str, root) -> tuple:
    name, sep, rest = str(spec).partition(":")
    if sep and name in _LAYOUTS:
        if root is not None:
            raise ValueError(f"give the root in the spec ({spec!r}) or as root=, not both")
        return name, rest
    if root is None:
        raise ValueError(f"expected 'LAYOUT:ROOT' (layouts: {', '.join(list_layouts())}), got {spec!r}")
    return spec, root


def read_dataset(spec: str, root: Optional[Union[str, Path]] = None, **options) -> LabelledSet:
    """Read a labelled dataset: ``read_dataset("koniq10k:/data/koniq")`` or
    ``read_dataset("koniq10k", root="/data/koniq", resolution="512x384")``.

    Options are layout-specific (see each reader); every layout takes ``split_seed``,
    ``split_ratios`` and ``on_missing``. A missing or malformed file raises
    :class:`~iqametrics.train.data.DatasetError` naming the file, row and column.
    """
    name, root = _parse_spec(spec, root)
    layout = get_layout(name)
    unknown = sorted(set(options) - set(layout.options))
    if unknown:
        raise TypeError(f"layout {name!r} has no option(s) {unknown}; its options: {', '.join(layout.options)}")
    path = Path(root).expanduser()
    if not str(root):
        raise ValueError(f"layout {name!r} needs a root folder: '{name}:ROOT'")
    return layout.reader(path, **options)
