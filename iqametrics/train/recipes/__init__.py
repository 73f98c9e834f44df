"""The papers' training recipes, one TOML file each (``iqa train --list``).

Every value comes from the paper, the authors' code or ``MODELS.md`` (the design notes of this
project), with its source in a comment beside it.  ``read_recipe`` also takes a path, so users
keep their own recipes anywhere.
"""
from __future__ import annotations

from pathlib import Path
from typing import List

from ..config import Recipe, read_recipe

__all__ = ["list_recipes", "load_recipe", "RECIPE_DIR"]

RECIPE_DIR = Path(__file__).resolve().parent


def list_recipes() -> List[str]:
    return sorted(p.stem for p in RECIPE_DIR.glob("*.toml"))


def load_recipe(name_or_path) -> Recipe:
    """A packaged recipe by name, or a recipe file."""
    path = Path(str(name_or_path))
    if path.suffix == ".toml" and path.is_file():
        return read_recipe(path)
    packaged = RECIPE_DIR / f"{name_or_path}.toml"
    if packaged.is_file():
        return read_recipe(packaged)
    import difflib

    close = difflib.get_close_matches(str(name_or_path), list_recipes(), n=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise FileNotFoundError(f"no recipe {str(name_or_path)!r} (neither a packaged recipe nor a .toml file).{hint} "
                            "`iqa train --list` shows the packaged ones.")
