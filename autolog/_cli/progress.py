"""A one-line progress display for long transfers on the command line."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from autolog._cli.table import format_size

__all__ = ["ProgressLine"]


class ProgressLine:
    """`Downloading 3 files (200.0 MiB)...  45%` on stderr, redrawn (\\r) as bytes arrive."""

    def __init__(self, files: int, size: int, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._size, self._done, self._shown = size, 0, -1
        # Transfers report from several threads at once (concurrent ranged downloads).
        self._lock = threading.Lock()
        self._head = (
            f"Downloading {files} {'file' if files == 1 else 'files'} ({format_size(size)})..."
        )
        self._draw(0)

    def __call__(self, count: int) -> None:
        with self._lock:
            self._done += count
            percent = min(100, 100 * self._done // self._size) if self._size else 100
            if percent != self._shown:
                self._draw(percent)

    def _draw(self, percent: int) -> None:
        self._shown = percent
        self._stream.write(f"\r{self._head} {percent:3d}%")
        self._stream.flush()

    def finish(self) -> None:
        """End the line (at 100% if everything arrived)."""
        with self._lock:
            if self._done >= self._size and self._shown != 100:
                self._draw(100)
            self._stream.write("\n")
            self._stream.flush()
