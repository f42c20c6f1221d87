"""The in-memory backend: the layout of `autolog.backends._layout` in a dict.

`memory:` URIs with the same name share one store for the life of the process,
so a test can log through the run API and read back through a new backend.
"""

from __future__ import annotations

import threading

from autolog.backends._layout import LayoutBackend
from autolog.backends._objects import MemoryObjectStore

__all__ = ["MemoryBackend", "from_uri"]

_stores: dict[str, MemoryObjectStore] = {}
_lock = threading.Lock()


class MemoryBackend(LayoutBackend):
    """Runs kept in process memory; gone when the process exits."""

    def __init__(self, name: str = "") -> None:
        with _lock:
            store = _stores.setdefault(name, MemoryObjectStore(name))
        super().__init__(store)


def from_uri(uri: str) -> MemoryBackend:
    """Build the backend for `memory:` or `memory:NAME`."""
    return MemoryBackend(uri.partition(":")[2].lstrip("/"))


def reset() -> None:
    """Forget every in-memory store (tests call this between cases)."""
    with _lock:
        _stores.clear()
