"""What a run writes while it trains: JSON Lines and CSV logs, TensorBoard when installed, progress.

``log.jsonl`` gets one row per logged step (``{"type": "step", ...}``) and per epoch
(``{"type": "epoch", ...}``); ``epochs.csv`` the epoch rows only (columns fixed by the first
row).  Both are appended to, so a resumed run continues its logs.  Only the main process writes.
"""
from __future__ import annotations

import csv
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional

__all__ = ["RunLog", "Progress"]


class RunLog:
    def __init__(self, out_dir: Path, enabled: bool = True, tensorboard: bool = True):
        self.enabled = enabled
        self.out_dir = Path(out_dir)
        self._tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional (the train extra suggests it)
                pass
            else:
                self._tb = SummaryWriter(str(self.out_dir / "tensorboard"))

    def _append_json(self, row: Dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        with open(self.out_dir / "log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(clean) + "\n")

    def step(self, global_step: int, **values: float) -> None:
        if not self.enabled:
            return
        self._append_json({"type": "step", "step": global_step, **values})
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(f"train/{k}", v, global_step)

    def epoch(self, epoch: int, global_step: int, **values: Any) -> None:
        if not self.enabled:
            return
        row = {"type": "epoch", "epoch": epoch, "step": global_step, **values}
        self._append_json(row)
        path = self.out_dir / "epochs.csv"
        fresh = not path.exists()
        with open(path, "a", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            columns = [k for k in row if k != "type"]
            if fresh:
                writer.writerow(columns)
            writer.writerow([row[c] for c in columns])
        if self._tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)):
                    self._tb.add_scalar(f"epoch/{k}", v, global_step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


class Progress:
    """One status line on stderr: redrawn in place on a terminal, printed every ``every`` steps otherwise."""

    def __init__(self, enabled: bool, every: int = 10, stream=None):
        self.enabled = enabled
        self.every = max(1, every)
        self.stream = stream or sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self._start = time.monotonic()
        self._steps = 0

    def update(self, epoch: int, epochs: int, step: int, steps: int, loss: Optional[float]) -> None:
        if not self.enabled:
            return
        self._steps += 1
        rate = self._steps / max(time.monotonic() - self._start, 1e-9)
        text = f"epoch {epoch + 1}/{epochs}  step {step}/{steps}  loss {loss:.4g}  {rate:.2f} steps/s"
        if self.tty:
            self.stream.write("\r" + text.ljust(78))
            self.stream.flush()
        elif step % self.every == 0 or step == steps:
            self.stream.write(text + "\n")

    def message(self, text: str) -> None:
        if self.enabled:
            # a message starts on its own line: no stale copy of the status line stays above it
            self.stream.write(("\r" + " " * 78 + "\r" if self.tty else "") + text + "\n")
            self.stream.flush()
