"""The local directory store: the default backend, no server needed.

Objects are files under a root directory. Every write goes to a temporary file
in the target's directory and is then renamed over the target (`os.replace`),
so a reader or a crash sees a complete object or none. Create-if-absent links
the temporary file to the target name (`os.link` fails if the name exists),
which is atomic across processes on local filesystems.

`AUTOLOG_FSYNC=1` also fsyncs each object before the rename, for stores that
must survive a power loss, not only a process crash.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from autolog.backends._layout import LayoutBackend
from autolog.backends._objects import ObjectNotFound, ObjectStore, Progress, Stamped
from autolog.errors import InvalidKeyError, StoreError

__all__ = ["FileBackend", "LocalObjectStore"]

_TMP_SUFFIX = ".autolog-tmp"
_CHUNK = 4 * 1024 * 1024
#: The derived index's file in the store's root (`autolog.backends._index`).
INDEX_FILE = ".index.sqlite"
# A directory changed less than this long ago may change again within the same tick of
# the filesystem's clock, leaving its mtime as it was: its stamp is not trusted yet.
_RACY_NS = 2_000_000_000
_DIRS_KEPT = 10_000  # directories remembered as made, at most


def _copy(src: Path, dst: Path, progress: Progress | None) -> None:
    """Copy `src` into the new file `dst`, calling `progress` after each chunk if given."""
    if progress is None:
        shutil.copyfile(src, dst)  # in the kernel where it can (sendfile, copy_file_range)
        return
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(_CHUNK):
            fout.write(chunk)
            progress(len(chunk))


class LocalObjectStore(ObjectStore):
    """Objects as files under `root`."""

    local = True

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool | None = None) -> None:
        self.root = Path(root).expanduser().resolve()
        self.uri = f"file://{self.root}"
        self._fsync = os.environ.get("AUTOLOG_FSYNC") == "1" if fsync is None else fsync
        self._dirs: set[Path] = set()

    def _path(self, key: str) -> Path:
        # Keys come from the layout, which validates every user-given part; this
        # check is the last line of defence against a path leaving the root.
        if not key or key.startswith("/") or "\\" in key or "\x00" in key:
            raise InvalidKeyError(f"object key {key!r} is not a relative path")
        if any(part in ("", ".", "..") for part in key.split("/")):
            raise InvalidKeyError(f"object key {key!r} has an empty, '.' or '..' segment")
        return self.root / key

    def _write_tmp(
        self,
        target: Path,
        data: bytes | None,
        src: Path | None = None,
        progress: Progress | None = None,
    ) -> Path:
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}{_TMP_SUFFIX}")
        try:
            # Directories this store made or met are not made again: a mkdir that finds
            # the directory there costs about what writing a small object costs.
            if tmp.parent not in self._dirs:
                tmp.parent.mkdir(parents=True, exist_ok=True)
                self._remember_dir(tmp.parent)
            try:
                self._write_file(tmp, data, src, progress)
            except FileNotFoundError:
                # Removed behind our back since we made it: make it again.
                tmp.parent.mkdir(parents=True, exist_ok=True)
                self._write_file(tmp, data, src, progress)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreError(f"cannot write {target} in {self.uri}: {exc}") from exc
        return tmp

    def _write_file(
        self, tmp: Path, data: bytes | None, src: Path | None, progress: Progress | None
    ) -> None:
        if src is not None:
            _copy(src, tmp, progress)
            return
        with open(tmp, "wb") as fh:
            fh.write(data or b"")
            if self._fsync:
                fh.flush()
                os.fsync(fh.fileno())

    def _remember_dir(self, path: Path) -> None:
        if len(self._dirs) >= _DIRS_KEPT:
            self._dirs.clear()
        self._dirs.add(path)

    def put(self, key: str, data: bytes) -> None:
        target = self._path(key)
        if not data and self._put_empty(target):
            return
        tmp = self._write_tmp(target, data)
        try:
            tmp.replace(target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreError(f"cannot write {target}: {exc}") from exc

    def _put_empty(self, target: Path) -> bool:
        """Create a new empty object (a marker) in place, as it has no partial state for a
        temporary and a rename to hide; False if it exists. An existing one is replaced
        by `put`'s rename: that changes its directory's mtime, which readers of the index
        compare (an in-place truncation would not)."""
        try:
            if target.parent not in self._dirs:
                target.parent.mkdir(parents=True, exist_ok=True)
                self._remember_dir(target.parent)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            try:
                fd = os.open(target, flags, 0o666)
            except FileNotFoundError:  # its directory removed behind our back
                target.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(target, flags, 0o666)
        except FileExistsError:
            return False
        except OSError as exc:
            raise StoreError(f"cannot write {target} in {self.uri}: {exc}") from exc
        try:
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def put_if_absent(self, key: str, data: bytes) -> bool:
        target = self._path(key)
        tmp = self._write_tmp(target, data)
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        except OSError as exc:
            raise StoreError(f"cannot create {target}: {exc}") from exc
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        return True

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(f"no object {key!r} in {self.uri}") from None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc

    def get_range(self, key: str, start: int, length: int) -> bytes:
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                fh.seek(start)
                return fh.read(length)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(f"no object {key!r} in {self.uri}") from None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc

    def list(self, prefix: str) -> list[str]:
        prefix = prefix.strip("/")
        base = self._path(prefix) if prefix else self.root
        keys: list[str] = []
        for dirpath, _dirs, files in os.walk(base):
            rel = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            for name in files:
                if name.endswith(_TMP_SUFFIX) or (rel == "." and name.startswith(INDEX_FILE)):
                    continue  # a write in progress, or the index (not an object)
                keys.append(name if rel == "." else f"{rel}/{name}")
        keys.sort()
        return keys

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            self._path(key).unlink()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key!r} in {self.uri}") from None

    def list_stamped(self, prefix: str) -> Stamped:
        # A replaced object is a new file (written aside, then renamed): a new inode.
        prefix = prefix.strip("/")
        out: Stamped = []
        now = time.time_ns()
        pending = [(self._path(prefix) if prefix else self.root, prefix)]
        while pending:
            path, rel = pending.pop()
            try:
                entries = list(os.scandir(path))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                key = f"{rel}/{entry.name}" if rel else entry.name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append((Path(entry.path), key))
                        continue
                    if entry.name.endswith(_TMP_SUFFIX):
                        continue
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                # "~": replaced too recently to be trusted (see prefix_stamp); a marker that
                # new may announce a batch still being written.
                racy = "~" if st.st_mtime_ns > now - _RACY_NS else ""
                out.append((key, f"{racy}{st.st_mtime_ns}-{st.st_ino}-{st.st_size}"))
        out.sort()
        return out

    def list_folders(self, prefix: str) -> Sequence[str] | None:
        try:
            entries = list(os.scandir(self._path(prefix.strip("/"))))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))

    def prefix_stamp(self, prefix: str) -> str | None:
        try:
            st = self._path(prefix.strip("/")).stat()
        except OSError:
            return None
        if st.st_mtime_ns > time.time_ns() - _RACY_NS:
            return None
        return f"{st.st_mtime_ns}-{st.st_ino}"

    def index_location(self) -> str | None:
        if not self.root.is_dir():
            return None  # nothing stored yet: reading must not create the store
        return str(self.root / INDEX_FILE)

    def put_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        target = self._path(key)
        tmp = self._write_tmp(target, None, src=path, progress=progress)
        try:
            tmp.replace(target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreError(f"cannot write {target}: {exc}") from exc

    def get_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        src = self._path(key)
        if not src.is_file():
            raise ObjectNotFound(f"no object {key!r} in {self.uri}")
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}{_TMP_SUFFIX}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _copy(src, tmp, progress)
            tmp.replace(path)
        except OSError as exc:
            if not src.is_file():  # deleted while we copied
                raise ObjectNotFound(f"no object {key!r} in {self.uri}") from None
            raise StoreError(f"cannot copy {src} to {path}: {exc}") from exc
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()


class FileBackend(LayoutBackend):
    """The layout of `autolog.backends._layout` in a local directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        super().__init__(LocalObjectStore(root))


def from_uri(uri: str) -> FileBackend:
    """Build the backend for a `file:` URI or a plain path."""
    if uri.startswith("file://"):
        path = uri[len("file://") :]
    elif uri.startswith("file:"):
        path = uri[len("file:") :]
    else:
        path = uri
    return FileBackend(path or "./autolog-runs")
