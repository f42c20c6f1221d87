"""An on-disk queue of what a client could not yet deliver to its tracking server.

Each process appends to a directory of its own under
`<root>/<sha256(uri)[:16]>/<pid>-<random>/`, one file per entry, named in append
order, and holds an exclusive `flock` on its `lock` file for as long as it lives (the
directory is made as `.new-<pid>-<random>` and renamed once its lock is held). A
directory whose lock can be taken belongs to a process that has exited: any later
process (or `autolog sync`) takes it over and delivers it. Entries are delivered in
order; each batch carries a name unique within its run, so an entry delivered twice
(a reply lost, a crash between delivery and deletion) is applied once by the server.

The root is `$AUTOLOG_SPOOL_DIR`, else `$XDG_CACHE_HOME/autolog/spool`, else
`~/.cache/autolog/spool`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
import uuid
import weakref
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no takeover of other processes' spools, only our own
    fcntl = None  # type: ignore[assignment]

__all__ = ["Entry", "Spool", "spool_root", "spooled_uris"]


def spool_root() -> Path:
    """Where spools live (see the module docstring)."""
    if os.environ.get("AUTOLOG_SPOOL_DIR"):
        return Path(os.environ["AUTOLOG_SPOOL_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "autolog" / "spool"


class Entry:
    """One queued item: a JSON entry, or an artifact (JSON plus the file's bytes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_bytes())

    @property
    def blob(self) -> Path:
        return self.path.with_suffix(".bin")

    def remove(self) -> None:
        self.blob.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)


class Spool:
    """This process's queue for one server, and the orphaned queues of exited processes."""

    def __init__(self, uri: str, root: Path | None = None) -> None:
        self.uri = uri
        self.base = (root or spool_root()) / hashlib.sha256(uri.encode()).hexdigest()[:16]
        self._dir: Path | None = None
        self._lock_file: Any = None
        self._pid = 0
        self._seq = 0
        self._mutex = threading.Lock()
        self.tag = uuid.uuid4().hex[:12]
        _SPOOLS.add(self)

    def _after_fork(self) -> None:
        """In a forked child: let go of the parent's directory.

        The child's copy of the lock's descriptor shares the parent's `flock`: kept, it
        would hold the parent's spool locked after the parent exits, until the child
        exits too, and no other process could deliver what the parent left. (A mutex held
        by another thread at the fork would never be released in the child.)
        """
        self._mutex = threading.Lock()
        if self._lock_file is not None and self._pid != os.getpid():
            with contextlib.suppress(OSError):
                self._lock_file.close()  # closes the child's descriptor; the parent keeps its own
            self._lock_file = None
            self._dir = None

    def _own_dir(self) -> Path:
        if self._dir is None or self._pid != os.getpid():
            # First use, or a forked child: the parent's directory and lock are not ours.
            self._pid = os.getpid()
            self.tag = uuid.uuid4().hex[:12]
            # Made under a hidden name, locked, then renamed: a directory with a visible
            # name is always locked by its live owner, so no other process's orphans()
            # can take it (and delete it) before its lock is held.
            new = self.base / f".new-{self._pid}-{self.tag}"
            new.mkdir(parents=True, exist_ok=True)
            if not (self.base / "uri").exists():
                # For `autolog sync` with no URI: which server this spool is for.
                tmp = self.base / f"uri.{self.tag}"
                tmp.write_text(self.uri, encoding="utf-8")
                tmp.replace(self.base / "uri")
            self._lock_file = open(new / "lock", "wb")  # noqa: SIM115 - held for life
            if fcntl is not None:
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX)
            self._dir = new.rename(self.base / f"{self._pid}-{self.tag}")
            self._seq = 0
        return self._dir

    def append(
        self, data: dict[str, Any], blob: Path | bytes | None = None, *, link: bool = False
    ) -> str:
        """Queue an entry (and an artifact's bytes or file); return a name unique to it.

        With `link`, a file is hard-linked rather than copied where it can be (the caller
        promises not to change it; it may delete it).
        """
        with self._mutex:
            directory = self._own_dir()
            self._seq += 1
            name = f"{self._seq:012d}"
            if blob is not None:
                target = directory / f"{name}.bin"
                if isinstance(blob, bytes):
                    target.write_bytes(blob)
                elif not (link and _linked(blob, target)):
                    shutil.copyfile(blob, target)
            tmp = directory / f"{name}.tmp"
            tmp.write_bytes(json.dumps(data, separators=(",", ":")).encode("utf-8"))
            tmp.replace(directory / f"{name}.json")  # a reader sees all of an entry or none
            return f"{self.tag}-{name}"

    def pending(self) -> list[Entry]:
        """This process's queued entries, oldest first."""
        with self._mutex:
            if self._dir is None or self._pid != os.getpid():
                return []
            return _entries(self._dir)

    def has_pending(self) -> bool:
        with self._mutex:
            if self._dir is None or self._pid != os.getpid():
                return False
            return any(self._dir.glob("*.json"))

    def release_if_empty(self) -> None:
        """Remove our directory when nothing is left in it (at exit)."""
        with self._mutex:
            if self._dir is None or self._pid != os.getpid() or any(self._dir.glob("*.json")):
                return
            shutil.rmtree(self._dir, ignore_errors=True)
            if self._lock_file is not None:
                self._lock_file.close()
            self._dir = None

    @contextlib.contextmanager
    def orphans(self) -> Any:
        """Yield the directories of exited processes, each locked by us while we hold it."""
        taken: list[tuple[Path, Any]] = []
        if fcntl is not None and self.base.is_dir():
            for directory in sorted(self.base.iterdir()):
                if directory == self._dir or directory.name.startswith("."):
                    continue  # ours, or one being made (see _own_dir)
                try:
                    # Opened for reading: never creates a lock in a directory being removed.
                    handle = open(directory / "lock", "rb")  # noqa: SIM115 - closed below
                except OSError:
                    continue  # not a spool, or removed by its owner or another process
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    handle.close()  # its process is alive
                    continue
                taken.append((directory, handle))
        try:
            yield [d for d, _ in taken]
        finally:
            for directory, handle in taken:
                if not any(directory.glob("*.json")):
                    shutil.rmtree(directory, ignore_errors=True)
                handle.close()


_SPOOLS: weakref.WeakSet[Spool] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for spool in list(_SPOOLS):
        spool._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def spooled_uris(root: Path | None = None) -> list[str]:
    """The servers that spools under `root` (default: `spool_root()`) hold entries for."""
    base = root or spool_root()
    uris = []
    for directory in sorted(base.iterdir()) if base.is_dir() else []:
        with contextlib.suppress(OSError):
            if any(directory.glob("*/*.json")):
                uris.append((directory / "uri").read_text(encoding="utf-8"))
    return uris


def _linked(src: Path, target: Path) -> bool:
    try:
        os.link(src, target)
    except OSError:  # another file system, or links not supported: copy instead
        return False
    return True


def _entries(directory: Path) -> list[Entry]:
    out = []
    for path in sorted(directory.glob("*.json")):
        with contextlib.suppress(FileNotFoundError, ValueError):
            out.append(Entry(path))
    return out


def entries_of(directory: Path) -> list[Entry]:
    """The entries of a spool directory, oldest first."""
    return _entries(directory)
