"""Runs, metrics and artifacts as immutable objects in an `ObjectStore`.

The layout (keys relative to the store's root)::

    experiments/<exp_id>/meta.json            name, creation time, tags
    experiment-runs/<exp_id>/<run_id>         empty marker: the run belongs here
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

import base64
import contextlib
import hashlib
import json
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autolog._entities import Experiment, FileInfo, Metric, Run, RunStatus
from autolog._search import Order, Query, sort_runs
from autolog._validation import check_id
from autolog.backends import _artifacts
from autolog.backends._artifacts import artifact_key
from autolog.backends._layout_registry import LayoutRegistry
from autolog.backends._objects import ObjectNotFound, ObjectStore, Progress
from autolog.backends.base import Backend, Batch, RunMeta, RunPage
from autolog.errors import (
    ArtifactNotFoundError,
    ExperimentNotFoundError,
    InvalidValueError,
    RunNotFoundError,
    StoreError,
)

__all__ = ["LayoutBackend", "experiment_id_for"]

_READ_ATTEMPTS = 8


def experiment_id_for(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=True).encode("utf-8")


def _batch_json(
    params: dict[str, str],
    tags: dict[str, str],
    metrics: dict[str, list[Any]],
    status: str | None,
    end_time: int | None,
) -> dict[str, Any]:
    # What Batch.to_json returns, without copying every point into a new list: json
    # writes tuples and lists alike, and a long run has many points.
    data: dict[str, Any] = {}
    if params:
        data["params"] = params
    if tags:
        data["tags"] = tags
    if metrics:
        data["metrics"] = metrics
    if status is not None:
        data["status"] = status
    if end_time is not None:
        data["end_time"] = end_time
    return data


def _check_max_results(max_results: object) -> None:
    """Return `max_results` if it is a positive int, else raise InvalidValueError."""
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidValueError(
            f"max_results={max_results!r} is not allowed; pass a positive int such as 100"
        )


def _search_scope(experiment_ids: list[str] | None, query: Query, order_by: Sequence[Order]) -> str:
    """A short digest of a search, so a page token cannot continue another search."""
    text = repr((experiment_ids, query, tuple(order_by)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _make_token(offset: int, last_id: str, scope: str) -> str:
    raw = json.dumps({"o": offset, "l": last_id, "s": scope}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def _read_token(token: object, scope: str) -> tuple[int, str]:
    """Return the offset and last run id a page token holds; InvalidValueError if it is bad."""
    problem = "is not a page token of this backend"
    data: Any = None
    if isinstance(token, str):
        with contextlib.suppress(ValueError):  # bad base64, UTF-8 or JSON
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    if isinstance(data, dict):
        offset, last_id = data.get("o"), data.get("l")
        if type(offset) is int and offset >= 0 and isinstance(last_id, str):
            if data.get("s") == scope:
                return offset, last_id
            problem = "belongs to another search (other experiments, filter or order)"
    raise InvalidValueError(
        f"page_token {token!r} {problem}; pass the next_page_token of the previous page of"
        " the same search, or None for the first page"
    )


@dataclass
class _RunState:
    meta: dict[str, Any]
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # Points as stored, (value, step, timestamp) sequences; converted only when one
    # metric's history is asked for, since a read of a long run folds many of them.
    metrics: dict[str, list[Any]] = field(default_factory=dict)
    status: str = RunStatus.RUNNING.value
    end_time: int | None = None

    def apply(self, data: dict[str, Any]) -> None:
        # Params are immutable: the first value written wins.
        for key, value in data.get("params", {}).items():
            self.params.setdefault(key, value)
        self.tags.update(data.get("tags", {}))
        for key, points in data.get("metrics", {}).items():
            self.metrics.setdefault(key, []).extend(points)
        if data.get("status") is not None:
            self.status = data["status"]
            self.end_time = data.get("end_time")

    def to_json(self) -> dict[str, Any]:
        return _batch_json(self.params, self.tags, self.metrics, self.status, self.end_time)

    def latest_metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, points in self.metrics.items():
            best = points[0]
            for p in points[1:]:
                if (p[1], p[2]) >= (best[1], best[2]):
                    best = p
            out[key] = float(best[0])
        return out


@dataclass
class _Snapshot:
    state: _RunState
    compact_seq: int
    compact_keys: list[str]
    batch_keys: list[str]


class LayoutBackend(LayoutRegistry, Backend):
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

    # -- experiments -----------------------------------------------------------------------

    def get_or_create_experiment(self, name: str) -> Experiment:
        exp_id = self._create_experiment(name)
        return self._read_experiment(exp_id)

    def _create_experiment(self, name: str) -> str:
        exp_id = experiment_id_for(name)
        meta = {"id": exp_id, "name": name, "created_at": int(time.time() * 1000), "tags": {}}
        self.store.put_if_absent(f"experiments/{exp_id}/meta.json", _dumps(meta))
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
        name = meta.experiment_name
        if (
            name is not None
            and meta.experiment_id not in self._experiments_known
            and experiment_id_for(name) == meta.experiment_id
        ):
            # Before the run's meta: a reader never finds a run whose experiment is missing.
            self._create_experiment(name)
        data = {
            "id": meta.id,
            "name": meta.name,
            "experiment_id": meta.experiment_id,
            "start_time": meta.start_time,
            "parent_id": meta.parent_id,
        }
        self.store.put(f"runs/{meta.id}/log/meta.json", _dumps(data))
        self.store.put(f"experiment-runs/{meta.experiment_id}/{meta.id}", b"")

    def _batch_name(self) -> str:
        # Names sort in write order within a process; across processes by clock.
        now = max(time.time_ns(), self._last_ns + 1)
        self._last_ns = now
        self._seq += 1
        return f"{now:020d}-{self._writer_id}-{os.getpid()}-{self._seq:08d}.json"

    def write_batch(self, run_id: str, batch: Batch) -> None:
        check_id(run_id)
        if batch.is_empty():
            return
        name = self._retry_names.pop(id(batch), None) or self._batch_name()
        data = _batch_json(batch.params, batch.tags, batch.metrics, batch.status, batch.end_time)
        try:
            self.store.put(f"runs/{run_id}/log/batches/{name}", _dumps(data))
        except BaseException:
            self._retry_names[id(batch)] = name
            raise

    def _snapshot(self, run_id: str, listing: list[str] | None = None) -> _Snapshot:
        check_id(run_id)
        prefix = f"runs/{run_id}/log/"
        for attempt in range(_READ_ATTEMPTS):
            if attempt:
                # Compactions of other processes are racing this read: let them land.
                time.sleep(0.002 * 2**attempt)
            keys = listing if listing is not None and not attempt else self.store.list(prefix)
            if prefix + "meta.json" not in keys:
                break
            batch_keys = [k for k in keys if k.startswith(prefix + "batches/")]
            compact_keys = [k for k in keys if k.startswith(prefix + "compact/")]
            try:
                state = _RunState(json.loads(self.store.get(prefix + "meta.json")))
                included: set[str] = set()
                seq = 0
                if compact_keys:
                    data = json.loads(self.store.get(compact_keys[-1]))
                    state.apply(data["state"])
                    included = set(data["batches"])
                    seq = int(data["seq"])
                for key in batch_keys:
                    if key.rsplit("/", 1)[1] not in included:
                        state.apply(json.loads(self.store.get(key)))
            except ObjectNotFound:
                continue  # compacted while we read: list again
            # A listing is not atomic (a directory walk, a paged bucket listing): a compact
            # written while we listed may have folded in, and deleted, batches we missed.
            if self.store.list(prefix + "compact")[-1:] != compact_keys[-1:]:
                continue
            return _Snapshot(state, seq, compact_keys, batch_keys)
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
        if prefix + "meta.json" in keys and batches <= 1 and not compacted:
            return
        listing: list[str] | None = keys
        for _ in range(_READ_ATTEMPTS):
            snap = self._snapshot(run_id, listing)
            listing = None  # a second round lists afresh
            if not snap.batch_keys:
                return
            seq = snap.compact_seq + 1
            data = {
                "seq": seq,
                "batches": [k.rsplit("/", 1)[1] for k in snap.batch_keys],
                "state": snap.state.to_json(),
            }
            key = f"{prefix}compact/{seq:010d}.json"
            if self.store.put_if_absent(key, _dumps(data)):
                if self.store.list(prefix + "compact")[-1:] != [key]:
                    # Our snapshot was stale: compact `seq` had been written, superseded and
                    # deleted while we folded. A newer compact holds all we folded (it was
                    # made from a later listing), so ours would only be a stray: remove it.
                    self.store.delete(key)
                    continue
                for old in snap.batch_keys + snap.compact_keys:
                    self.store.delete(old)
                return

    def _to_run(self, state: _RunState) -> Run:
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
        return self._to_run(self._snapshot(run_id).state)

    def list_runs(self, experiment_ids: list[str] | None = None) -> list[Run]:
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
        # Every page reads and sorts every run: the layout has no index to seek in.
        _check_max_results(max_results)
        scope = _search_scope(experiment_ids, query, order_by)
        start, last_id = (0, None) if page_token is None else _read_token(page_token, scope)
        ordered = sort_runs(
            [r for r in self.list_runs(experiment_ids) if query.matches(r)], order_by
        )
        if last_id is not None:
            # Resume after the last run given, wherever runs written since moved it.
            ids = [r.id for r in ordered]
            start = ids.index(last_id) + 1 if last_id in ids else min(start, len(ordered))
        page = ordered[start : start + max_results]
        end = start + len(page)
        token = _make_token(end, page[-1].id, scope) if page and end < len(ordered) else None
        return RunPage(page, token)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        points = self._snapshot(run_id).state.metrics.get(key, [])
        ordered = sorted(points, key=lambda p: (p[1], p[2]))
        return [Metric(key, float(v), int(s), int(t)) for v, s, t in ordered]

    # -- artifacts -------------------------------------------------------------------------

    def put_artifact(self, run_id: str, path: str, data: bytes) -> None:
        self.store.put(artifact_key(run_id, path), data)

    def put_artifact_file(self, run_id: str, path: str, local: Path) -> None:
        self.store.put_file(artifact_key(run_id, path), local)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        try:
            return self.store.get(artifact_key(run_id, path))
        except ObjectNotFound:
            raise ArtifactNotFoundError(
                f"run {run_id} has no artifact file {path!r}; see `autolog artifacts {run_id}`"
            ) from None

    def list_artifacts(self, run_id: str, path: str = "") -> list[FileInfo]:
        return _artifacts.list_artifacts(self.store, run_id, path, lambda: self._check_run(run_id))

    def download_artifacts(
        self, run_id: str, path: str, dst: Path, progress: Progress | None = None
    ) -> Path:
        return _artifacts.download_artifacts(
            self.store, run_id, path, dst, progress, lambda: self._check_run(run_id)
        )

    def _check_run(self, run_id: str) -> None:
        if not self.store.exists(f"runs/{run_id}/log/meta.json"):
            raise RunNotFoundError(
                f"no run with id {run_id!r} in {self.uri}; list runs with `autolog runs`"
            )

    def close(self) -> None:
        self.store.close()
