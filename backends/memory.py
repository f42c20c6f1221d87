"""The in-memory store and backend: the layout of `autolog.backends._layout` in a dict.

`memory:` URIs with the same name share one store for the life of the process,
so a test can log through the run API and read back through a new backend.
"""

from __future__ import annotations

import threading

from autolog.backends._layout import LayoutBackend
from autolog.backends._objects import ObjectNotFound, ObjectStore, Stamped

__all__ = ["MemoryBackend", "MemoryObjectStore", "from_uri", "reset"]


class MemoryObjectStore(ObjectStore):
    """A store in a dict, for unit tests and throwaway runs (`memory:` URIs)."""

    local = True

    def __init__(self, name: str = "") -> None:
        self.uri = f"memory:{name}"
        self._objects: dict[str, bytes] = {}
        # A counter value per key, new at each write: the stamps of `list_stamped`.
        self._versions: dict[str, int] = {}
        self._writes = 0
        self._lock = threading.Lock()

    def _set(self, key: str, data: bytes) -> None:
        self._objects[key] = bytes(data)
        self._writes += 1
        self._versions[key] = self._writes

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._set(key, data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        with self._lock:
            if key in self._objects:
                return False
            self._set(key, data)
            return True

    def list_stamped(self, prefix: str) -> Stamped:
        start = prefix.rstrip("/") + "/" if prefix else ""
        with self._lock:
            return sorted((k, str(v)) for k, v in self._versions.items() if k.startswith(start))

    def index_location(self) -> str | None:
        return ":memory:"

    def get(self, key: str) -> bytes:
        with self._lock:
            try:
                return self._objects[key]
            except KeyError:
                raise ObjectNotFound(f"no object {key!r} in {self.uri}") from None

    def list(self, prefix: str) -> list[str]:
        start = prefix.rstrip("/") + "/" if prefix else ""
        with self._lock:
            return sorted(k for k in self._objects if k.startswith(start))

    def delete(self, key: str) -> None:
        with self._lock:
            self._objects.pop(key, None)
            self._versions.pop(key, None)


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
