"""A layout run's artifacts: files under `runs/<id>/artifacts/`, and shared ones by hash.

What many runs store alike (the requirements, the script, a git diff: the context
captured once per process) is kept once, content-addressed, under
`objects/<sha256[:2]>/<sha256>`, and the run's creation object (`runs/<id>/run.json`)
names it: `"links": {path: {"sha256": ..., "size": ...}}`. A run written whole
(`write_run`: a fit) also keeps autologging's small records (feature importances, the
data fingerprint, plot data: at most `INLINE_MAX` bytes each) in its creation object, as
links holding the content (`"text"`, or `"base64"` for bytes that are not UTF-8): no
file and no directory of their own. Other artifacts (a model, the user's) stay files.
Reads look for a file first, then a link, so runs written before links existed read as
they always did.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autolog._entities import FileInfo
from autolog._validation import check_relative_path
from autolog.backends._artifacts import artifact_key
from autolog.backends._layout_state import dumps
from autolog.backends._objects import ObjectNotFound, ObjectStore, Progress
from autolog.errors import ArtifactNotFoundError, RunNotFoundError

__all__ = ["LayoutArtifacts"]


#: The largest artifact a run written whole keeps in its creation object, and the most
#: it keeps there in all (every read of the run's meta reads them).
INLINE_MAX = 8 * 1024
INLINE_TOTAL_MAX = 16 * 1024


def _object_key(sha: str) -> str:
    return f"objects/{sha[:2]}/{sha}"


def _inline_link(data: bytes) -> dict[str, Any]:
    try:
        return {"size": len(data), "text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"size": len(data), "base64": base64.b64encode(data).decode("ascii")}


def _inline_data(link: Mapping[str, Any]) -> bytes | None:
    """The content a link holds itself, or None when it names a shared object."""
    text = link.get("text")
    if isinstance(text, str):
        return text.encode("utf-8")
    encoded = link.get("base64")
    if isinstance(encoded, str):
        return base64.b64decode(encoded)
    return None


class LayoutArtifacts:
    """The artifact operations of `LayoutBackend` (a mixin over its store and runs)."""

    store: ObjectStore
    uri: str
    _creations: dict[str, dict[str, Any]]
    #: shared objects known to be stored (the context of a process repeats for each run)
    _shared_known: set[str]
    #: the sha256 of bytes already hashed (the same context bytes come for every run)
    _shared_hashes: dict[bytes, str]

    def _read_meta(self, run_id: str, damaged: dict[str, str]) -> tuple[dict[str, Any] | None, Any]:
        raise NotImplementedError  # LayoutBackend's

    def _artifact_key(self, run_id: str, path: str) -> str:
        return artifact_key(run_id, path)

    def _links(self, run_id: str) -> dict[str, dict[str, Any]]:
        """The run's shared artifacts by path; RunNotFoundError when there is no such run."""
        try:
            creation, _ = self._read_meta(run_id, {})
        except ObjectNotFound:
            raise RunNotFoundError(
                f"no run with id {run_id!r} in {self.uri}; list runs with `autolog runs`"
            ) from None
        links = (creation or {}).get("links")
        return links if isinstance(links, dict) else {}

    def put_artifact(self, run_id: str, path: str, data: bytes) -> None:
        self.store.put(self._artifact_key(run_id, path), data)

    def put_shared_artifacts(self, run_id: str, files: Mapping[str, bytes]) -> None:
        creation = self._creations.get(run_id)
        if creation is None:
            # Only a creation object this backend wrote, still open, takes links.
            for path, data in files.items():
                self.put_artifact(run_id, path, data)
            return
        links = {**creation.get("links", {}), **self._shared_links(files)}
        updated = {**creation, "links": links}
        self.store.put(f"runs/{run_id}/run.json", dumps(updated))
        self._creations[run_id] = updated

    def _shared_links(self, files: Mapping[str, bytes]) -> dict[str, dict[str, Any]]:
        """Links to `files`, each stored once under `objects/` (if not there yet)."""
        links: dict[str, dict[str, Any]] = {}
        for path, data in files.items():
            sha = self._shared_hashes.get(data)
            if sha is None:
                sha = hashlib.sha256(data).hexdigest()
                if len(self._shared_hashes) < 256:
                    self._shared_hashes[data] = sha
            key = _object_key(sha)
            if key not in self._shared_known and not self.store.exists(key):
                self.store.put_if_absent(key, data)
            self._shared_known.add(key)
            links[check_relative_path(path)] = {"sha256": sha, "size": len(data)}
        return links

    def _artifact_links(
        self, run_id: str, records: Mapping[str, bytes], shared: Mapping[str, bytes]
    ) -> dict[str, dict[str, Any]]:
        """The links of a run written whole: its shared files, and its small records
        inline; larger records are stored as files."""
        links = self._shared_links(shared)
        room = INLINE_TOTAL_MAX
        for path, data in records.items():
            rel = check_relative_path(path)
            if len(data) <= min(INLINE_MAX, room):
                links[rel] = _inline_link(data)
                room -= len(data)
            else:
                links.pop(rel, None)  # a file of the same path wins on reading anyway
                self.put_artifact(run_id, path, data)
        return links

    def put_artifact_file(self, run_id: str, path: str, local: Path) -> None:
        self.store.put_file(self._artifact_key(run_id, path), local)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        try:
            return self.store.get(self._artifact_key(run_id, path))
        except ObjectNotFound:
            pass
        link = self._links(run_id).get(check_relative_path(path)) if path else None
        if link is not None:
            inline = _inline_data(link)
            return inline if inline is not None else self.store.get(_object_key(link["sha256"]))
        raise ArtifactNotFoundError(
            f"run {run_id} has no artifact file {path!r}; see `autolog artifacts {run_id}`"
        )

    def list_artifacts(self, run_id: str, path: str = "") -> list[FileInfo]:
        base = self._artifact_key(run_id, path)
        root = f"runs/{run_id}/artifacts/"
        if path and self.store.exists(base):
            return [FileInfo(base[len(root) :], False, self.store.size(base))]
        links = self._links(run_id)
        rel = check_relative_path(path)
        if rel in links:
            return [FileInfo(rel, False, int(links[rel]["size"]))]
        entries: dict[str, FileInfo] = {}
        sizes = {key[len(root) :]: None for key in self.store.list(base)}
        found: dict[str, int | None] = {**{k: int(v["size"]) for k, v in links.items()}, **sizes}
        for name, size in found.items():
            if rel and not name.startswith(rel + "/"):
                continue
            rest = name[len(rel) + 1 :] if rel else name
            head, sep, _ = rest.partition("/")
            entry = f"{rel}/{head}" if rel else head
            if sep:
                entries.setdefault(entry, FileInfo(entry, True, None))
            else:
                known = size if size is not None else self.store.size(root + name)
                entries[entry] = FileInfo(entry, False, known)
        return sorted(entries.values(), key=lambda f: f.path)

    def download_artifacts(
        self, run_id: str, path: str, dst: Path, progress: Progress | None = None
    ) -> Path:
        base = self._artifact_key(run_id, path)
        root = f"runs/{run_id}/artifacts/"
        rel = check_relative_path(path)
        if rel and self.store.exists(base):
            target = dst / rel
            self.store.get_file(base, target, progress)
            return target
        links = self._links(run_id)
        if rel in links:
            target = dst / rel
            self._get_linked(links[rel], target, progress)
            return target
        keys = self.store.list(base)
        shared = {k: v for k, v in links.items() if not rel or k.startswith(rel + "/")}
        if not keys and not shared:
            if rel == "":
                # A run with no artifacts downloads as an empty directory.
                dst.mkdir(parents=True, exist_ok=True)
                return dst
            raise ArtifactNotFoundError(
                f"run {run_id} has no artifact {path!r}; see `autolog artifacts {run_id}`"
            )
        files = {key[len(root) :] for key in keys}
        for name, link in shared.items():
            if name not in files:  # a file of the same path wins, as on reading
                self._get_linked(link, dst / name, progress)
        for key in keys:
            self.store.get_file(key, dst / key[len(root) :], progress)
        return dst / rel if rel else dst

    def _get_linked(self, link: Mapping[str, Any], target: Path, progress: Progress | None) -> None:
        inline = _inline_data(link)
        if inline is None:
            self.store.get_file(_object_key(link["sha256"]), target, progress)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(inline)
        if progress is not None:
            progress(len(inline))
