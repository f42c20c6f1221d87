"""A run's artifacts as objects under `runs/<run_id>/artifacts/`: keys, listing and download.

The key layout is written once here for every backend that keeps artifacts in an
`ObjectStore`; the SQL store lists and downloads through these functions (the layout
stores add content-addressed shared files on top: `_layout_artifacts.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from autolog._entities import FileInfo
from autolog._validation import check_id, check_relative_path
from autolog.backends._objects import ObjectStore, Progress
from autolog.errors import ArtifactNotFoundError

__all__ = ["artifact_key", "download_artifacts", "list_artifacts"]


def artifact_key(run_id: str, path: str) -> str:
    """The object key of artifact `path` of a run (validated: it cannot leave the run)."""
    check_id(run_id)
    rel = check_relative_path(path)
    return f"runs/{run_id}/artifacts/{rel}" if rel else f"runs/{run_id}/artifacts"


def list_artifacts(
    store: ObjectStore, run_id: str, path: str, check_run: Callable[[], None]
) -> list[FileInfo]:
    """The files and directories directly under artifact `path` (a file lists as itself).

    `check_run` raises RunNotFoundError when the run does not exist; it is called only
    when the listing alone cannot tell.
    """
    base = artifact_key(run_id, path)
    root = f"runs/{run_id}/artifacts/"
    if path and store.exists(base):
        return [FileInfo(base[len(root) :], False, store.size(base))]
    check_run()
    entries: dict[str, FileInfo] = {}
    for key in store.list(base):
        rest = key[len(base) + 1 :]
        head, sep, _ = rest.partition("/")
        rel = key[len(root) : len(base) + 1 + len(head)] if path else head
        if sep:
            entries.setdefault(rel, FileInfo(rel, True, None))
        else:
            entries[rel] = FileInfo(rel, False, store.size(key))
    return sorted(entries.values(), key=lambda f: f.path)


def download_artifacts(
    store: ObjectStore,
    run_id: str,
    path: str,
    dst: Path,
    progress: Progress | None,
    check_run: Callable[[], None],
) -> Path:
    """Copy artifact `path` (a file or a directory) of a run under `dst`; the local path."""
    base = artifact_key(run_id, path)
    root = f"runs/{run_id}/artifacts/"
    rel = check_relative_path(path)
    if rel and store.exists(base):
        target = dst / rel
        store.get_file(base, target, progress)
        return target
    keys = store.list(base)
    if not keys:
        if rel == "":
            # A run with no artifacts downloads as an empty directory.
            check_run()
            dst.mkdir(parents=True, exist_ok=True)
            return dst
        raise ArtifactNotFoundError(
            f"run {run_id} has no artifact {path!r}; see `autolog artifacts {run_id}`"
        )
    for key in keys:
        store.get_file(key, dst / key[len(root) :], progress)
    return dst / rel if rel else dst
