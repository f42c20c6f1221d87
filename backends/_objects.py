"""The object interface every layout-based store is built on.

A store is a flat namespace of keys (`runs/abc/meta.json`) holding immutable
bytes. The file and S3 backends implement these few operations; everything
else (runs, metrics, artifacts, the registry) is written in terms of them by
`autolog.backends._layout`, so one layout serves a directory, a bucket and memory.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path

from autolog.errors import NotFoundError

__all__ = ["Keys", "ObjectNotFound", "ObjectStore", "Progress", "Stamped"]

#: Keys, as `ObjectStore.list_after` returns them (a name: `list` is a method there).
Keys = list[str]

#: Keys with their stamps, as `ObjectStore.list_stamped` returns them.
Stamped = list[tuple[str, str]]

#: Called with the number of bytes moved since the previous call (perhaps from other threads).
Progress = Callable[[int], None]


class ObjectNotFound(NotFoundError):
    """No object under that key."""


class ObjectStore(ABC):
    """Immutable objects under string keys: put, get, list, delete and create-if-absent."""

    #: A URI naming the store, shown in messages (never with credentials).
    uri: str = ""
    #: True for stores on this machine (a directory, memory), where a write costs about
    #: what copying the bytes costs and its failure is a local disk's. Remote stores (S3,
    #: HTTP) are False: the run API then queues file uploads instead of writing in the
    #: caller's thread. Unknown stores count as remote, which is always safe.
    local: bool = False

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Write `data` under `key` atomically: readers see all of it or none."""

    @abstractmethod
    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write `data` under `key` only if no object is there; return False if one was."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """Return the object under `key`; raise ObjectNotFound if there is none."""

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Return every key under `prefix/` (recursively), sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object under `key`; a missing object is not an error."""

    def exists(self, key: str) -> bool:
        try:
            self.get(key)
        except ObjectNotFound:
            return False
        return True

    def put_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        """Write the file at `path` under `key`; stores override this to stream large files."""
        data = path.read_bytes()
        self.put(key, data)
        if progress is not None:
            progress(len(data))

    def get_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        """Copy the object under `key` into a new file at `path`."""
        data = self.get(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.autolog-tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        if progress is not None:
            progress(len(data))

    def size(self, key: str) -> int:
        return len(self.get(key))

    def get_range(self, key: str, start: int, length: int) -> bytes:
        """Up to `length` bytes of the object under `key` from offset `start` (fewer at its
        end); ObjectNotFound if there is none. Stores override this to read only those bytes.
        """
        return self.get(key)[start : start + length]

    def list_stamped(self, prefix: str) -> Stamped:
        """Every key under `prefix/` with a stamp that changes whenever its object is replaced.

        The derived index compares stamps to find what changed since it last looked. This
        default hashes each object; stores override it with what their listing gives.
        """
        out = []
        for key in self.list(prefix):
            try:
                out.append((key, hashlib.sha1(self.get(key)).hexdigest()))
            except ObjectNotFound:
                continue  # deleted since the listing
        return out

    def list_after(self, prefix: str, start_after: str, limit: int | None = None) -> Keys:
        """The keys under `prefix/` that sort after `start_after` (a full key), sorted; at most
        `limit` of them. Stores override it to list from there rather than from the start.
        """
        keys = [k for k in self.list(prefix) if k > start_after]
        return keys if limit is None else keys[:limit]

    def list_folders(self, prefix: str) -> Sequence[str] | None:
        """The names of the folders directly under `prefix/` (sorted), when the store can
        tell them without listing every key below; else None.
        """
        return None

    def prefix_stamp(self, prefix: str) -> str | None:
        """A stamp that changes whenever a key directly under `prefix/` is added, replaced or
        removed; None when the store cannot tell cheaply (or not yet reliably).
        """
        return None

    def index_location(self) -> str | None:
        """Where the derived index of this store lives: a file path, ":memory:", or None for
        no index.
        """
        return None

    def close(self) -> None:  # noqa: B027 - stores without connections need nothing
        """Release connections; the default store holds none."""
