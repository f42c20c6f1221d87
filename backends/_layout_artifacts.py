"""A layout run's artifacts: files under `runs/<id>/artifacts/`, and shared ones by hash.

What many runs store alike (the requirements, the script, a git diff: the context
captured once per process) is kept once, content-addressed, under
`objects/<sha256[:2]>/<sha256>`, and the run's creation object (`runs/<id>/run.json`)
names it: `"links": {path: {"sha256": ..., "size": ...}}`. Reads look for a file first,
then a link, so runs written before links existed read as they always did.
"""

from __future__ import annotations

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


def _object_key(sha: str) -> str:
    return f"objects/{sha[:2]}/{sha}"


class LayoutArtifacts:
    """The artifact operations of `LayoutBackend` (a mixin over its store and runs)."""

    store: ObjectStore
    uri: str
    _creations: dict[str, dict[str, Any]]
    #: shared objects known to be stored (the context of a process repeats for each run)
    _shared_known: set[str]

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
        links = dict(creation.get("links", {}))
        for path, data in files.items():
            sha = hashlib.sha256(data).hexdigest()
            key = _object_key(sha)
            if key not in self._shared_known and not self.store.exists(key):
                self.store.put_if_absent(key, data)
            self._shared_known.add(key)
            links[check_relative_path(path)] = {"sha256": sha, "size": len(data)}
        updated = {**creation, "links": links}
        self.store.put(f"runs/{run_id}/run.json", dumps(updated))
        self._creations[run_id] = updated

    def put_artifact_file(self, run_id: str, path: str, local: Path) -> None:
        self.store.put_file(self._artifact_key(run_id, path), local)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        try:
            return self.store.get(self._artifact_key(run_id, path))
        except ObjectNotFound:
            pass
        link = self._links(run_id).get(check_relative_path(path)) if path else None
        if link is not None:
            return self.store.get(_object_key(link["sha256"]))
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
            self.store.get_file(_object_key(links[rel]["sha256"]), target, progress)
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
                self.store.get_file(_object_key(link["sha256"]), dst / name, progress)
        for key in keys:
            self.store.get_file(key, dst / key[len(root) :], progress)
        return dst / rel if rel else dst
