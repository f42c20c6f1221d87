"""The layout backend's side of its derived index (`autolog.backends._index`), and the
check of its objects (`autolog doctor`): a mixin of `LayoutBackend`.
"""

from __future__ import annotations

import logging
import os

from autolog._entities import Run
from autolog._search import Query
from autolog.backends import _index_search
from autolog.backends._index import IndexedRun, IndexUnavailable, RunIndex
from autolog.backends._layout_state import Snapshot, decode_compact, load_object
from autolog.backends._objects import ObjectNotFound, ObjectStore
from autolog.backends.base import Backend
from autolog.errors import RunNotFoundError

__all__ = ["LayoutIndex"]

logger = logging.getLogger("autolog")


class LayoutIndex(Backend):
    """Index reads, damage reports and the store check of `LayoutBackend`."""

    store: ObjectStore
    _index: RunIndex | None
    _index_checked: bool
    _index_may_appear: bool
    _index_failure_told: bool
    _damage_told: set[str]

    def _snapshot(
        self, run_id: str, listing: list[str] | None = None, points: bool | str = True
    ) -> Snapshot:
        raise NotImplementedError  # LayoutBackend's

    def _run_index(self) -> RunIndex | None:
        """The store's index (`autolog.backends._index`), or None when it has none."""
        if not self._index_checked or (self._index is None and self._index_may_appear):
            self._index_checked = True
            off = os.environ.get("AUTOLOG_INDEX", "").lower() in ("0", "off", "false", "no")
            location = None if off else self.store.index_location()
            self._index_may_appear = location is None and not off
            if location is not None:
                self._index = RunIndex(location, self)
        return self._index

    def _index_failed(self, exc: IndexUnavailable) -> None:
        if not self._index_failure_told:
            self._index_failure_told = True
            logger.warning(
                "autolog: cannot use the index of %s (%s); reading every run instead, which"
                " is slower",
                self.uri,
                exc,
            )

    def _tell_damaged(self, run_id: str, damaged: dict[str, str]) -> None:
        for key, why in damaged.items():
            if key not in self._damage_told:
                self._damage_told.add(key)
                logger.warning(
                    "autolog: run %s is shown without its damaged object %s in %s (%s);"
                    " `autolog doctor` lists every damaged object",
                    run_id,
                    key,
                    self.uri,
                    why,
                )

    def read_indexed_run(self, run_id: str) -> IndexedRun | None:
        """The run as the derived index keeps it, or None when it is not a run (yet)."""
        try:
            snap = self._snapshot(run_id, points=False)
        except RunNotFoundError:
            return None
        state, meta = snap.state, snap.state.meta
        return IndexedRun(
            id=run_id,
            experiment_id=meta["experiment_id"],
            name=meta["name"],
            status=state.status,
            start_time=meta["start_time"],
            end_time=state.end_time,
            parent_id=meta.get("parent_id"),
            params=state.params,
            tags=state.tags,
            metrics=state.latest_points(),
            damaged=snap.damaged,
            batches=snap.names,
        )

    def count_runs(self, experiment_ids: list[str] | None, query: Query) -> dict[str, int]:
        index = self._run_index()
        if index is not None:
            try:
                with index.connection() as con:
                    return _index_search.count_runs(con, experiment_ids, query)
            except IndexUnavailable as exc:
                self._index_failed(exc)
        return super().count_runs(experiment_ids, query)

    def check(self) -> tuple[int, dict[str, str]]:
        """Read every JSON object of the runs and experiments: how many were read, and the
        damaged ones (truncated or not JSON) by key with the reason.
        """
        damaged: dict[str, str] = {}
        count = 0
        for prefix in ("experiments", "runs"):
            for key in self.store.list(prefix):
                in_log = "/log/" in key or key.endswith("/run.json")
                if not key.endswith(".json") or (prefix == "runs" and not in_log):
                    continue
                try:
                    data = self.store.get(key)
                except ObjectNotFound:
                    continue  # compacted away since the listing
                count += 1
                if "/log/compact/" in key:
                    try:
                        decode_compact(data)
                    except ValueError as exc:  # also UnicodeDecodeError
                        damaged[key] = f"not a readable compact ({len(data)} bytes): {exc}"
                else:
                    load_object(data, key, damaged)
        return count, damaged

    def rebuild_index(self) -> int | None:
        """Build the store's index anew from the objects; the number of runs, None if none."""
        index = self._run_index()
        if index is None:
            return None
        index.discard("rebuilt on request")
        with index.connection() as con:
            return int(con.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def _told(self, found: list[tuple[Run, dict[str, str]]]) -> list[Run]:
        """The runs of an index read, after telling of their damaged objects."""
        for run, damaged in found:
            if damaged:
                self._tell_damaged(run.id, damaged)
        return [run for run, _ in found]
