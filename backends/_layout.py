"""Runs, metrics and artifacts as immutable objects in an `ObjectStore`.

The layout (keys relative to the store's root)::

    experiments/<exp_id>/meta.json            name, creation time, tags
    experiment-runs/<exp_id>/<run_id>         empty marker: the run belongs here
    changes/<ns>.<exp_id>.<run_id>.<batch>    remote stores: a change announced (_index_changes)
    runs/<run_id>/log/meta.json               id, name, experiment, parent, start time
    runs/<run_id>/log/batches/<t>-<w>-<n>.json one flush: params, tags, metric points, status
    runs/<run_id>/log/compact/<seq>.json      the fold of the batches it names
    runs/<run_id>/artifacts/<path>            artifact files
    registry/models/...                       the model registry (`_layout_registry`)

Nothing is edited in place. A run's state is the fold, in name order, of its
newest compact and of the batches that compact does not name. Compaction
writes compact `seq + 1` with create-if-absent, so compacts form one chain even
when several processes compact at once, and only then deletes the batches and
older compacts it folded in. A run with one batch and no compact has nothing to
fold: compacting it would cost seven requests to save a reader none, so it is
left as it is (one listing tells). A reader that lists a batch or compact which is
deleted before it reads it starts again from a fresh listing, and so does one
whose newest compact is no longer the newest once it has read everything (a
listing is not atomic: the batches a new compact folded in may have been
deleted before they were listed). A compactor whose `seq + 1` was written,
superseded and deleted while it folded removes its own stale compact. A batch
whose write failed is retried under the same name, so a write the store kept
before it failed is not stored twice.

Experiment ids are derived from the name (a sha256 prefix), so two processes
creating the same experiment at once write the same object, and a run can be
started without asking the store: its experiment is created (create-if-absent,
once per backend) when the run's creation is written, before the run's meta.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from autolog._entities import Experiment, Metric, Run, RunStatus
from autolog._search import Order, Query, sort_runs
from autolog._validation import check_id
from autolog.backends import _index_search
from autolog.backends._index import IndexUnavailable, RunIndex
from autolog.backends._index_changes import change_key
from autolog.backends._layout_artifacts import LayoutArtifacts
from autolog.backends._layout_index import LayoutIndex
from autolog.backends._layout_registry import LayoutRegistry
from autolog.backends._layout_state import (
    RunState,
    Snapshot,
    batch_json,
    dumps,
    encode_compact,
    load_object,
    make_token,
    read_compact,
    read_token,
    search_scope,
)
from autolog.backends._objects import ObjectNotFound, ObjectStore
from autolog.backends.base import Backend, Batch, RunMeta, RunPage, check_max_results
from autolog.errors import (
    ExperimentNotFoundError,
    RunNotFoundError,
    StoreError,
)

__all__ = ["LayoutBackend", "experiment_id_for"]

logger = logging.getLogger("autolog")

_READ_ATTEMPTS = 8
# The largest first batch folded into a run's creation object (bytes of JSON).
_FIRST_BATCH_MAX = 16 * 1024


def _meta_or_placeholder(run_id: str, meta: dict[str, Any] | None) -> dict[str, Any]:
    """A run's meta, or what stands in for it when its object is damaged."""
    if meta is not None and all(k in meta for k in ("name", "experiment_id", "start_time")):
        return meta
    return {"id": run_id, "name": "", "experiment_id": "", "start_time": 0, "parent_id": None}


def experiment_id_for(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]


class LayoutBackend(LayoutIndex, LayoutArtifacts, LayoutRegistry, Backend):
    """A backend that keeps everything as immutable objects in an ObjectStore.

    Its model registry (`LayoutRegistry`) lives in the same store.
    """

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.uri = store.uri
        self.local = store.local
        self._writer_id = uuid.uuid4().hex[:8]
        self._seq = 0
        self._last_ns = 0
        self._experiment_names: dict[str, str] = {}
        # Experiments this backend created or found, so a run's creation writes them once.
        self._experiments_known: set[str] = set()
        # Name of a batch whose write failed, by id(batch): a retry reuses it, so a write
        # that failed after the store kept it (a timeout) is not stored twice.
        self._retry_names: dict[int, str] = {}
        self._registry_cache: dict[str, dict[str, Any]] = {}
        # The experiment of each run this backend wrote to, for the run's marker.
        self._run_experiments: dict[str, str | None] = {}
        # Creation objects (`runs/<id>/run.json`) this backend wrote whose run has had no
        # batch yet: the first batch and shared artifacts' links are folded into them.
        self._creations: dict[str, dict[str, Any]] = {}
        self._shared_known: set[str] = set()
        self._shared_hashes: dict[bytes, str] = {}
        self._damage_told: set[str] = set()
        self._index: RunIndex | None = None
        self._index_checked = False
        self._index_may_appear = False
        self._index_ensured = False
        self._index_failure_told = False

    # -- experiments -----------------------------------------------------------------------

    def get_or_create_experiment(self, name: str) -> Experiment:
        exp_id = self._create_experiment(name)
        return self._read_experiment(exp_id)

    def _create_experiment(self, name: str) -> str:
        exp_id = experiment_id_for(name)
        meta = {"id": exp_id, "name": name, "created_at": int(time.time() * 1000), "tags": {}}
        if self.store.put_if_absent(f"experiments/{exp_id}/meta.json", dumps(meta)):
            self._announce(exp_id)
        self._experiments_known.add(exp_id)
        self._experiment_names[exp_id] = name
        return exp_id

    def local_experiment_id(self, name: str) -> str:
        return experiment_id_for(name)

    def _read_experiment(self, exp_id: str) -> Experiment:
        try:
            data = json.loads(self.store.get(f"experiments/{exp_id}/meta.json"))
        except ObjectNotFound:
            raise ExperimentNotFoundError(
                f"no experiment with id {exp_id!r} in {self.uri}; list them with"
                " `autolog experiments`"
            ) from None
        self._experiment_names[exp_id] = data["name"]
        return Experiment(data["id"], data["name"], data["created_at"], data.get("tags", {}))

    def get_experiment(self, name_or_id: str) -> Experiment:
        for exp_id in (experiment_id_for(name_or_id), name_or_id):
            if len(exp_id) == 16 and all(c in "0123456789abcdef" for c in exp_id):
                try:
                    return self._read_experiment(exp_id)
                except ExperimentNotFoundError:
                    continue
        known = ", ".join(repr(e.name) for e in self.list_experiments()) or "none yet"
        raise ExperimentNotFoundError(
            f"no experiment named {name_or_id!r} in {self.uri}; known experiments: {known}"
        )

    def list_experiments(self) -> list[Experiment]:
        index = self._run_index()
        if index is not None:
            try:
                return index.experiments()
            except IndexUnavailable as exc:
                self._index_failed(exc)
        out = []
        for key in self.store.list("experiments"):
            if key.endswith("/meta.json"):
                try:
                    out.append(self._read_experiment(key.split("/")[1]))
                except ExperimentNotFoundError:
                    continue
        return sorted(out, key=lambda e: (e.created_at, e.name))

    def _experiment_name(self, exp_id: str) -> str:
        if exp_id not in self._experiment_names:
            try:
                self._read_experiment(exp_id)
            except ExperimentNotFoundError:
                return exp_id
        return self._experiment_names[exp_id]

    # -- runs ------------------------------------------------------------------------------

    def create_run(self, meta: RunMeta) -> None:
        check_id(meta.id)
        check_id(meta.experiment_id, "experiment id")
        self._ensure_experiment(meta)
        creation = {"meta": meta.to_json()}
        self._announce(meta.experiment_id, meta.id)
        self.store.put(f"runs/{meta.id}/run.json", dumps(creation))
        self.store.put(f"experiment-runs/{meta.experiment_id}/{meta.id}", b"")
        self._run_experiments[meta.id] = meta.experiment_id
        self._creations[meta.id] = creation
        self._ensure_index()

    def _ensure_experiment(self, meta: RunMeta) -> None:
        name = meta.experiment_name
        if (
            name is not None
            and meta.experiment_id not in self._experiments_known
            and experiment_id_for(name) == meta.experiment_id
        ):
            # Before the run's meta: a reader never finds a run whose experiment is missing.
            self._create_experiment(name)

    def _ensure_index(self) -> None:
        if not self._index_ensured and self.store.local:
            self._index_ensured = True
            index = self._run_index()
            if index is not None:
                index.ensure_exists()

    whole_runs = True

    def write_run(
        self,
        meta: RunMeta,
        batch: Batch,
        *,
        artifacts: Mapping[str, bytes],
        records: Mapping[str, bytes],
        shared: Mapping[str, bytes],
    ) -> None:
        """A whole run as one creation object (its batch, links and small artifacts folded
        in) and its marker: two writes where the parts would take a dozen."""
        check_id(meta.id)
        check_id(meta.experiment_id, "experiment id")
        data = batch_json(batch.params, batch.tags, batch.metrics, batch.status, batch.end_time)
        body = dumps(data)
        if len(body) > _FIRST_BATCH_MAX:
            # Many points: kept apart and compacted, so that a read of the run's meta (and
            # of one metric) does not parse them all.
            super().write_run(meta, batch, artifacts=artifacts, records=records, shared=shared)
            return
        self._ensure_experiment(meta)
        creation: dict[str, Any] = {"meta": meta.to_json()}
        for path, content in artifacts.items():  # files: a model, the user's own artifacts
            self.put_artifact(meta.id, path, content)
        links = self._artifact_links(meta.id, records, shared)
        if links:
            creation["links"] = links
        creation["batch_name"] = self._batch_name()
        # The batch, serialized once above, spliced in as the creation's last member.
        blob = dumps(creation)[:-1] + b',"batch":' + body + b"}"
        marker = f"experiment-runs/{meta.experiment_id}/{meta.id}"
        # The index learns of the run before it is written (see write_batch): its marker
        # in a directory, an entry of the change log in a bucket (the marker after).
        if self.store.local:
            self.store.put(marker, b"")
        else:
            self._announce(meta.experiment_id, meta.id)
        self.store.put(f"runs/{meta.id}/run.json", blob)
        if not self.store.local:
            self.store.put(marker, b"")
        self._run_experiments[meta.id] = meta.experiment_id
        self._ensure_index()

    def _read_meta(self, run_id: str, damaged: dict[str, str]) -> tuple[dict[str, Any] | None, Any]:
        """A run's creation object (None in the old layout) and its meta (None if damaged).

        ObjectNotFound when the run has neither a `run.json` nor an old `log/meta.json`.
        """
        key = f"runs/{run_id}/run.json"
        try:
            creation = load_object(self.store.get(key), key, damaged)
        except ObjectNotFound:
            key = f"runs/{run_id}/log/meta.json"
            return None, load_object(self.store.get(key), key, damaged)
        meta = creation.get("meta") if creation else None
        return (creation or {}), meta if isinstance(meta, dict) else None

    def _run_experiment(self, run_id: str) -> str | None:
        """The experiment id of a run (None when its meta is missing or damaged)."""
        if run_id not in self._run_experiments:
            try:
                _, meta = self._read_meta(run_id, {})
            except ObjectNotFound:
                return None
            exp_id = meta.get("experiment_id") if meta else None
            self._run_experiments[run_id] = exp_id if isinstance(exp_id, str) else None
        return self._run_experiments[run_id]

    def _batch_name(self) -> str:
        # Names sort in write order within a process; across processes by clock.
        now = max(time.time_ns(), self._last_ns + 1)
        self._last_ns = now
        self._seq += 1
        return f"{now:020d}-{self._writer_id}-{os.getpid()}-{self._seq:08d}.json"

    def _announce(self, exp_id: str, run_id: str | None = None, batch: str | None = None) -> None:
        """Tell the index of a remote store what is about to change (`_index_changes`)."""
        if not self.store.local:
            self.store.put(change_key(exp_id, run_id, batch), b"")

    def write_batch(self, run_id: str, batch: Batch) -> None:
        check_id(run_id)
        if batch.is_empty():
            return
        name = self._retry_names.pop(id(batch), None) or self._batch_name()
        data = batch_json(batch.params, batch.tags, batch.metrics, batch.status, batch.end_time)
        try:
            # The index learns of the batch before it is written, so a writer that dies
            # between the two leaves nothing unannounced (see _index): a new marker in a
            # directory (empty: no block on disk; the new inode is the change), an entry
            # of the change log in a bucket (where the marker stays as the creation wrote it).
            exp_id = self._run_experiment(run_id)
            if exp_id is not None:
                if self.store.local:
                    self.store.put(f"experiment-runs/{exp_id}/{run_id}", b"")
                else:
                    self._announce(exp_id, run_id, name)
            creation = self._creations.pop(run_id, None)
            body = dumps(data)
            if creation is not None and len(body) <= _FIRST_BATCH_MAX:
                # A short run's first batch joins its creation object: one object, not two.
                folded = {**creation, "batch": data, "batch_name": name}
                try:
                    self.store.put(f"runs/{run_id}/run.json", dumps(folded))
                except BaseException:
                    self._creations[run_id] = creation  # the retry folds it again
                    raise
            else:
                # A long first batch stays apart: every read of the run reads run.json.
                self.store.put(f"runs/{run_id}/log/batches/{name}", body)
        except BaseException:
            self._retry_names[id(batch)] = name
            raise

    def _snapshot(
        self, run_id: str, listing: list[str] | None = None, points: bool | str = True
    ) -> Snapshot:
        """The run's state; `points` as `read_compact` takes it (all, none, one key's)."""
        check_id(run_id)
        prefix = f"runs/{run_id}/log/"
        for attempt in range(_READ_ATTEMPTS):
            if attempt:
                # Compactions of other processes are racing this read: let them land.
                time.sleep(0.002 * 2**attempt)
            keys = listing if listing is not None and not attempt else self.store.list(prefix)
            batch_keys = [k for k in keys if k.startswith(prefix + "batches/")]
            compact_keys = [k for k in keys if k.startswith(prefix + "compact/")]
            damaged: dict[str, str] = {}
            try:
                try:
                    creation, meta = self._read_meta(run_id, damaged)
                except ObjectNotFound:
                    if prefix + "meta.json" in keys:
                        continue  # listed, then gone: list again
                    break
                state = RunState(_meta_or_placeholder(run_id, meta))
                included: set[str] = set()
                seq = 0
                folded_first = None
                if compact_keys:
                    data = read_compact(self.store, compact_keys[-1], state, damaged, points)
                    if data is not None:
                        # "first": the batch of the creation object, once any compact holds it.
                        folded_first = data.get("first")
                        included = {*data["batches"], str(folded_first)}
                        seq = int(data["seq"])
                first = None
                held = creation or {}
                batch, batch_name = held.get("batch"), str(held.get("batch_name"))
                if isinstance(batch, dict) and batch_name not in included:
                    first = batch_name
                    state.apply(batch)
                if isinstance(batch, dict):
                    # A retried first batch may also have been written apart: read it once.
                    included.add(batch_name)
                for key in batch_keys:
                    if key.rsplit("/", 1)[1] not in included:
                        data = load_object(self.store.get(key), key, damaged)
                        if data is not None:
                            state.apply(data)
            except ObjectNotFound:
                continue  # compacted while we read: list again
            # A listing is not atomic (a directory walk, a paged bucket listing): a compact
            # written while we listed may have folded in, and deleted, batches we missed.
            if self.store.list(prefix + "compact")[-1:] != compact_keys[-1:]:
                continue
            snap = Snapshot(state, seq, compact_keys, batch_keys, damaged, first)
            snap.folded_first = folded_first
            snap.names = frozenset(included.union(k.rsplit("/", 1)[1] for k in batch_keys))
            return snap
        else:
            raise StoreError(f"run {run_id} kept changing while it was read from {self.uri}")
        raise RunNotFoundError(
            f"no run with id {run_id!r} in {self.uri}; list runs with `autolog runs`"
        )

    def finish_run(self, run_id: str) -> None:
        self.compact(run_id)

    def compact(self, run_id: str) -> None:
        """Fold a run's batches into one compact object and delete what it folded in.

        A run with no compact and at most one batch is left as it is: there is nothing
        to fold, and a reader reads its one batch as it would read a compact.
        """
        check_id(run_id)
        prefix = f"runs/{run_id}/log/"
        keys = self.store.list(prefix)
        batches = sum(1 for k in keys if k.startswith(prefix + "batches/"))
        compacted = any(k.startswith(prefix + "compact/") for k in keys)
        if batches == 0 and not compacted:
            # All there is sits in the run's creation object (or it has no data).
            if (
                not self.store.exists(f"runs/{run_id}/run.json")
                and prefix + "meta.json" not in keys
            ):
                raise RunNotFoundError(
                    f"no run with id {run_id!r} in {self.uri}; list runs with `autolog runs`"
                )
            return
        if prefix + "meta.json" in keys and batches <= 1 and not compacted:
            return
        listing: list[str] | None = keys
        for _ in range(_READ_ATTEMPTS):
            snap = self._snapshot(run_id, listing)
            listing = None  # a second round lists afresh
            if not snap.batch_keys and snap.first_batch is None:
                return
            if snap.damaged:
                # Folding would delete the damaged objects: keep them for `autolog doctor`.
                return
            seq = snap.compact_seq + 1
            folded = [k.rsplit("/", 1)[1] for k in snap.batch_keys]
            data = encode_compact(seq, folded, snap.first_batch or snap.folded_first, snap.state)
            key = f"{prefix}compact/{seq:010d}.json"
            if self.store.put_if_absent(key, data):
                if self.store.list(prefix + "compact")[-1:] != [key]:
                    # Our snapshot was stale: compact `seq` had been written, superseded and
                    # deleted while we folded. A newer compact holds all we folded (it was
                    # made from a later listing), so ours would only be a stray: remove it.
                    self.store.delete(key)
                    continue
                for old in snap.batch_keys + snap.compact_keys:
                    self.store.delete(old)
                return

    def _to_run(self, state: RunState) -> Run:
        meta = state.meta
        return Run(
            id=meta["id"],
            name=meta["name"],
            experiment=self._experiment_name(meta["experiment_id"]),
            experiment_id=meta["experiment_id"],
            status=RunStatus(state.status),
            start_time=meta["start_time"],
            end_time=state.end_time,
            parent_id=meta.get("parent_id"),
            params=dict(state.params),
            metrics=state.latest_metrics(),
            tags=dict(state.tags),
        )

    def get_run(self, run_id: str) -> Run:
        snap = self._snapshot(run_id, points=False)
        self._tell_damaged(run_id, snap.damaged)
        return self._to_run(snap.state)

    def list_runs(self, experiment_ids: list[str] | None = None) -> list[Run]:
        index = self._run_index()
        if index is not None:
            try:
                with index.connection() as con:
                    args: list[Any] = []
                    sql = "SELECT id FROM runs"
                    if experiment_ids is not None:
                        sql += f" WHERE experiment_id IN ({', '.join('?' * len(experiment_ids))})"
                        args = list(experiment_ids)
                    ids = [row[0] for row in con.execute(sql, args)]
                    found = _index_search.load_runs(con, ids)
                return self._told(found)
            except IndexUnavailable as exc:
                self._index_failed(exc)
        if experiment_ids is None:
            keys = self.store.list("experiment-runs")
        else:
            keys = [k for e in experiment_ids for k in self.store.list(f"experiment-runs/{e}")]
        runs = []
        for key in keys:
            try:
                runs.append(self.get_run(key.rsplit("/", 1)[1]))
            except RunNotFoundError:
                continue  # marker written before the run's meta; not a run yet
        return runs

    def search_runs(
        self,
        experiment_ids: list[str] | None,
        query: Query,
        order_by: Sequence[Order],
        max_results: int,
        page_token: str | None = None,
    ) -> RunPage:
        check_max_results(max_results)
        index = self._run_index()
        if index is not None:
            try:
                with index.connection() as con:
                    found, token = _index_search.search(
                        con, experiment_ids, query, order_by, max_results, page_token
                    )
                return RunPage(self._told(found), token)
            except IndexUnavailable as exc:
                self._index_failed(exc)
        # Without an index every page reads and sorts every run.
        scope = search_scope(experiment_ids, query, order_by)
        start, last_id = (0, None) if page_token is None else read_token(page_token, scope)
        ordered = sort_runs(
            [r for r in self.list_runs(experiment_ids) if query.matches(r)], order_by
        )
        if last_id is not None:
            # Resume after the last run given, wherever runs written since moved it.
            ids = [r.id for r in ordered]
            start = ids.index(last_id) + 1 if last_id in ids else min(start, len(ordered))
        page = ordered[start : start + max_results]
        end = start + len(page)
        token = make_token(end, page[-1].id, scope) if page and end < len(ordered) else None
        return RunPage(page, token)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        snap = self._snapshot(run_id, points=key)
        self._tell_damaged(run_id, snap.damaged)
        points = snap.state.metrics.get(key, [])
        ordered = sorted(points, key=lambda p: (p[1], p[2]))
        return [Metric(key, float(v), int(s), int(t)) for v, s, t in ordered]

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
        self.store.close()
