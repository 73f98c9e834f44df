"""The progress bar of ``iqa score``/``compare``/``prefer``/``evaluate``: ``label [####    ] n/N`` on
stderr, and error lines printed while it runs without leaving a stale copy of the bar.

click draws the bar on a terminal by returning to the start of the line (``\\r``) and writing it
again, without a newline; a line printed in between would start after the bar, or leave a copy of
it above.  :meth:`Progress.echo` first blanks the bar's line and returns to its start, then prints;
the next :meth:`Progress.advance` draws the bar again, below.  Off a terminal click prints only the
label, once, and the error lines follow as they are.
"""
from __future__ import annotations

import sys

import click

#: fewer inputs than this get no bar
MIN_ITEMS = 6


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


class Progress:
    """A context manager; ``show=False`` draws nothing (``echo`` still prints)."""

    def __init__(self, total: int, label: str, show: bool):
        self._bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True) if show else None

    def __enter__(self) -> "Progress":
        if self._bar is not None:
            self._bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def advance(self, steps: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(steps)

    def echo(self, line: str) -> None:
        """Print ``line`` on stderr, on the bar's line: blanked first, the bar is drawn again below."""
        bar = self._bar
        if bar is not None and _is_terminal(bar.file):
            # the width of the bar as click last drew it (it pads every redraw to that width)
            width = getattr(bar, "max_width", None) or 0
            bar.file.write("\r" + " " * width + "\r")
        click.echo(line, err=True)
