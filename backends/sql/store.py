"""Runs, metrics and experiments in a SQL database; artifacts in an object store.

`SqlBackend` implements the Backend contract over SQLite or PostgreSQL, for the
tracking server (and for anyone who wants a database as a store). Every change is
one transaction. A batch carries a name unique within its run: `apply_batch`
records the name in the same transaction as the batch's rows, so a batch sent
twice (a client that retried after a lost reply) is applied once.

Artifacts keep the local store's key layout, `runs/<run>/artifacts/<path>`, in any
`ObjectStore` (a directory or an S3 prefix); the keys are built here from a
validated run id and path, never taken from a client.
"""

from __future__ import annotations

import math
import operator
import threading
import time
import uuid
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from autolog._entities import Experiment, FileInfo, Metric, Run, RunStatus
from autolog._search import Order, Query
from autolog._validation import check_id, check_name, check_relative_path
from autolog.backends import _artifacts
from autolog.backends._layout import experiment_id_for
from autolog.backends._objects import ObjectStore, Progress
from autolog.backends.base import Backend, Batch, RegistryBackend, RunMeta, RunPage
from autolog.backends.sql import schema as t
from autolog.backends.sql.database import (
    check_schema,
    make_engine,
    shown_url,
    write_transaction,
)
from autolog.backends.sql.ingest import NamedBatch, Outcome, Statements, Write, apply_writes
from autolog.backends.sql.registry import SqlRegistry
from autolog.errors import (
    AutologError,
    ExperimentNotFoundError,
    RunNotFoundError,
)

__all__ = ["SqlBackend", "number_or_none", "run_select"]

# Rows per IN (...) list: well under SQLite's limit of bound parameters.
_CHUNK = 500


def number_or_none(text: str) -> float | None:
    """`text` as a float when it parses as one and is not NaN (the search's numeric rule)."""
    try:
        number = float(text)
    except ValueError:
        return None
    return None if math.isnan(number) else number


def _now_ms() -> int:
    return int(time.time() * 1000)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


_step_and_time = operator.itemgetter(1, 2)


def _raised(outcome: Outcome) -> bool:
    """`outcome` of a write, raised if it is an error."""
    if isinstance(outcome, AutologError):
        raise outcome
    return outcome


def _metric_value(value: float) -> tuple[float | None, bool]:
    return (None, True) if math.isnan(value) else (value, False)


class SqlBackend(SqlRegistry, Backend, RegistryBackend):
    """A store in SQLite or PostgreSQL (schema in `autolog.backends.sql.schema`)."""

    def __init__(
        self,
        url: str,
        artifacts: ObjectStore,
        *,
        engine: Engine | None = None,
        pool_size: int = 5,
        background_checkpoints: bool = False,
    ) -> None:
        self.uri = shown_url(url)  # in messages: never the password
        self.engine = engine or make_engine(
            url, pool_size, background_checkpoints=background_checkpoints
        )
        check_schema(self.engine, url)
        self.artifacts = artifacts
        self.dialect = self.engine.dialect.name
        # Key ids never change once committed, so every process may cache them.
        self._key_ids: dict[str, int] = {}
        self._key_names: dict[int, str] = {}
        self._lock = threading.Lock()
        self._retry_names: dict[int, str] = {}
        self._statements = self._write_statements()
        self.statements = Statements(self.dialect)
        # Experiments are never deleted (MLflow's delete is a mark), so one seen once exists.
        self.known_experiments: set[str] = set()
        mark = "%s" if self.dialect == "postgresql" else "?"
        columns = ("run_id", "key_id", "step", "timestamp", "batch_id", "pos", "value", "is_nan")
        self._points_sql = (
            f"INSERT INTO metric_points ({', '.join(columns)})"
            f" VALUES ({', '.join([mark] * len(columns))})"
        )

    # -- plumbing -----------------------------------------------------------------------------

    def _write_statements(self) -> dict[str, str]:
        """The statements every batch runs, as driver SQL with positional parameters.

        Compiled once and run through the driver's executemany: SQLAlchemy's work per
        statement and per row cost more than the database's for a batch of a few rows.
        """
        tags = self._insert(t.tags)
        latest = self._insert(t.latest_metrics)
        lm = t.latest_metrics
        statements = {
            # Params are immutable: the first value stored wins.
            "params": self._insert(t.params).on_conflict_do_nothing(),
            "tags": tags.on_conflict_do_update(
                index_elements=["run_id", "key_id"],
                set_={"value": tags.excluded.value, "value_num": tags.excluded.value_num},
            ),
            # The latest value is the point with the greatest (step, timestamp); on a tie the
            # point written last wins, as in the local store.
            "latest": latest.on_conflict_do_update(
                index_elements=["run_id", "key_id"],
                set_={
                    "value": latest.excluded.value,
                    "is_nan": latest.excluded.is_nan,
                    "step": latest.excluded.step,
                    "timestamp": latest.excluded.timestamp,
                },
                where=tuple_(latest.excluded.step, latest.excluded.timestamp)
                >= tuple_(lm.c.step, lm.c.timestamp),
            ),
        }
        columns = {
            "params": ("run_id", "key_id", "value", "value_num"),
            "tags": ("run_id", "key_id", "value", "value_num"),
            "latest": ("run_id", "key_id", "value", "is_nan", "step", "timestamp"),
        }
        # Positional parameters on both databases (psycopg's %s, SQLite's ?).
        style = "format" if self.dialect == "postgresql" else "qmark"
        dialect: Any = type(self.engine.dialect)
        dialect = dialect(paramstyle=style)
        out = {}
        for name, stmt in statements.items():
            compiled = stmt.compile(dialect=dialect, column_keys=list(columns[name]))
            # Callers pass each row's values in the order of `columns`.
            if tuple(compiled.positiontup or ()) != columns[name]:
                raise AssertionError(f"{name}: {compiled.positiontup} is not {columns[name]}")
            out[name] = str(compiled)
        return out

    def _insert(self, table: Any) -> Any:
        """An INSERT that knows ON CONFLICT in this database's dialect."""
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    def write(self) -> Any:
        """A connection in a write transaction (the write lock up front on SQLite)."""
        return write_transaction(self.engine)

    def read(self) -> Any:
        """A connection in a read transaction (one snapshot for every query in it)."""
        return self.engine.begin()

    def key_ids(self, names: Iterable[str]) -> dict[str, int]:
        """The ids of key names, creating the missing ones (in their own transaction)."""
        wanted = set(names)
        missing = [n for n in wanted if n not in self._key_ids]
        if missing:
            with self.write() as conn:
                conn.execute(
                    self._insert(t.keys).on_conflict_do_nothing(), [{"name": n} for n in missing]
                )
                self._remember_keys(conn, missing)
        return {n: self._key_ids[n] for n in wanted}

    def existing_key_ids(self, conn: Connection, names: Iterable[str]) -> dict[str, int]:
        """The ids of the key names that exist; unknown names are left out."""
        missing = [n for n in set(names) if n not in self._key_ids]
        if missing:
            self._remember_keys(conn, missing)
        return {n: self._key_ids[n] for n in names if n in self._key_ids}

    def _remember_keys(self, conn: Connection, names: Sequence[str]) -> None:
        for chunk in _chunks(names):
            for key_id, name in conn.execute(
                select(t.keys.c.id, t.keys.c.name).where(t.keys.c.name.in_(chunk))
            ):
                with self._lock:
                    self._key_ids[name] = key_id
                    self._key_names[key_id] = name

    def key_names(self, conn: Connection, ids: Iterable[int]) -> dict[int, str]:
        missing = [i for i in set(ids) if i not in self._key_names]
        for chunk in _chunks(missing):
            for key_id, name in conn.execute(
                select(t.keys.c.id, t.keys.c.name).where(t.keys.c.id.in_(chunk))
            ):
                with self._lock:
                    self._key_ids[name] = key_id
                    self._key_names[key_id] = name
        return self._key_names

    # -- experiments --------------------------------------------------------------------------

    def _ensure_experiment(self, conn: Connection, exp_id: str, name: str) -> None:
        conn.execute(
            self._insert(t.experiments)
            .values(id=exp_id, name=name, created_at=_now_ms())
            .on_conflict_do_nothing()
        )

    def get_or_create_experiment(self, name: str) -> Experiment:
        check_name(name, "experiment name")
        exp_id = experiment_id_for(name)
        with self.write() as conn:
            self._ensure_experiment(conn, exp_id, name)
        return self.get_experiment(exp_id)

    def local_experiment_id(self, name: str) -> str:
        return experiment_id_for(name)

    def _experiment(self, row: Row[Any], tags: dict[str, str]) -> Experiment:
        return Experiment(row.id, row.name, row.created_at, tags)

    def get_experiment(self, name_or_id: str) -> Experiment:
        e = t.experiments
        with self.read() as conn:
            row = conn.execute(select(e).where(e.c.id == name_or_id)).first()
            if row is None:
                row = conn.execute(select(e).where(e.c.name == name_or_id)).first()
            if row is None:
                names = conn.execute(select(e.c.name).order_by(e.c.created_at).limit(20))
                known = ", ".join(repr(n) for (n,) in names) or "none yet"
                raise ExperimentNotFoundError(
                    f"no experiment named {name_or_id!r} in {self.uri}; known experiments: {known}"
                )
            tags = dict(
                conn.execute(
                    select(t.experiment_tags.c.key, t.experiment_tags.c.value).where(
                        t.experiment_tags.c.experiment_id == row.id
                    )
                ).all()
            )
        return self._experiment(row, tags)

    def list_experiments(self, only: Collection[str] | None = None) -> list[Experiment]:
        """Every experiment, or those whose id is in `only` (the ones a caller may read)."""
        e, et = t.experiments, t.experiment_tags
        query = select(e).order_by(e.c.created_at, e.c.name)
        if only is not None:
            query = query.where(e.c.id.in_(list(only)))
        with self.read() as conn:
            rows = conn.execute(query).all()
            tags: dict[str, dict[str, str]] = {}
            for exp_id, key, value in conn.execute(
                select(et.c.experiment_id, et.c.key, et.c.value)
            ):
                tags.setdefault(exp_id, {})[key] = value
        return [self._experiment(r, tags.get(r.id, {})) for r in rows]

    def set_experiment_tag(self, exp_id: str, key: str, value: str) -> None:
        """Set a tag of an experiment (MLflow's API has them)."""
        with self.write() as conn:
            self._check_experiment(conn, exp_id)
            conn.execute(
                self._insert(t.experiment_tags)
                .values(experiment_id=exp_id, key=key, value=value)
                .on_conflict_do_update(
                    index_elements=["experiment_id", "key"], set_={"value": value}
                )
            )

    def _check_experiment(self, conn: Connection, exp_id: str) -> None:
        found = conn.execute(select(t.experiments.c.id).where(t.experiments.c.id == exp_id))
        if found.first() is None:
            raise ExperimentNotFoundError(
                f"no experiment with id {exp_id!r} in {self.uri}; create it first or list"
                " them with `autolog experiments`"
            )

    # -- runs ---------------------------------------------------------------------------------

    def create_run(self, meta: RunMeta, user: str | None = None) -> None:
        _raised(self.apply_writes([meta], user)[0])

    def write_batch(self, run_id: str, batch: Batch) -> None:
        name = self._retry_names.pop(id(batch), None) or uuid.uuid4().hex
        try:
            self.apply_batch(run_id, name, batch)
        except BaseException:
            self._retry_names[id(batch)] = name
            raise

    def apply_batch(self, run_id: str, name: str, batch: Batch) -> bool:
        """Apply a batch named `name` unless the run already has it; True when applied."""
        return _raised(self.apply_writes([NamedBatch(run_id, name, batch)])[0])

    def apply_writes(self, writes: Sequence[Write], user: str | None = None) -> list[Outcome]:
        """Apply run creations and named batches in order, in one transaction.

        What became of each write, in the same order: True when applied, False for a batch
        applied before (the run has its name), or the error that refused it (nothing of it
        written; the others are applied). See `autolog.backends.sql.ingest`.
        """
        return apply_writes(self, writes, user)

    def _write_values(
        self, conn: Connection, run_id: str, batch: Batch, ids: dict[str, int], batch_id: int
    ) -> None:
        # Every row goes straight to the driver's executemany (see `_write_statements`), on
        # the driver's own cursor: SQLAlchemy's work around each statement (its events) cost
        # more than the database's for a batch of a few rows.
        cursor = conn.connection.cursor()
        try:
            self._write_rows(cursor, run_id, batch, ids, batch_id)
        finally:
            cursor.close()

    def _write_rows(
        self, cursor: Any, run_id: str, batch: Batch, ids: dict[str, int], batch_id: int
    ) -> None:
        sql = self._statements
        if batch.params:
            cursor.executemany(
                sql["params"],
                [(run_id, ids[k], v, number_or_none(v)) for k, v in batch.params.items()],
            )
        if batch.tags:
            cursor.executemany(
                sql["tags"],
                [(run_id, ids[k], v, number_or_none(v)) for k, v in batch.tags.items()],
            )
        if not batch.metrics:
            return
        points: list[tuple[Any, ...]] = []
        latest = []
        for key, series in batch.metrics.items():
            key_id = ids[key]
            # NaN (value != value) is stored as NULL and a flag.
            points += [
                (run_id, key_id, step, ts, batch_id, pos, None, True)
                if value != value
                else (run_id, key_id, step, ts, batch_id, pos, value, False)
                for pos, (value, step, ts) in enumerate(series)
            ]
            # The greatest (step, timestamp); on a tie the point written last.
            best = max(reversed(series), key=_step_and_time)
            stored, is_nan = _metric_value(best[0])
            latest.append((run_id, key_id, stored, is_nan, best[1], best[2]))
        cursor.executemany(self._points_sql, points)
        cursor.executemany(sql["latest"], latest)

    def _check_run(self, conn: Connection, run_id: str) -> None:
        found = conn.execute(select(t.runs.c.id).where(t.runs.c.id == run_id)).first()
        if found is None:
            raise RunNotFoundError(
                f"no run with id {run_id!r} in {self.uri}; list runs with `autolog runs`"
            )

    def get_run(self, run_id: str) -> Run:
        check_id(run_id)
        with self.read() as conn:
            runs = self.load_runs(conn, run_select().where(t.runs.c.id == run_id))
        if not runs:
            raise RunNotFoundError(
                f"no run with id {run_id!r} in {self.uri}; list runs with `autolog runs`"
            )
        return runs[0]

    def list_runs(self, experiment_ids: list[str] | None = None) -> list[Run]:
        query = run_select()
        if experiment_ids is not None:
            query = query.where(t.runs.c.experiment_id.in_(experiment_ids))
        with self.read() as conn:
            return self.load_runs(conn, query.order_by(t.runs.c.start_time, t.runs.c.id))

    def search_runs(
        self,
        experiment_ids: list[str] | None,
        query: Query,
        order_by: Sequence[Order],
        max_results: int,
        page_token: str | None = None,
    ) -> RunPage:
        from autolog.backends.sql.search import search_runs

        return search_runs(self, experiment_ids, query, order_by, max_results, page_token)

    def load_runs(self, conn: Connection, query: Any) -> list[Run]:
        """The runs selected by `query` (a `run_select()`), with params, tags and metrics."""
        return self.load_rows(conn, conn.execute(query).all())

    def load_rows(self, conn: Connection, rows: Sequence[Row[Any]]) -> list[Run]:
        """The runs of rows that hold `run_select()`'s columns, with params, tags and metrics."""
        if not rows:
            return []
        ids = [r.id for r in rows]
        values: dict[str, tuple[dict[str, str], dict[str, str], dict[str, float]]] = {
            i: ({}, {}, {}) for i in ids
        }
        fetched: list[tuple[int, list[Any]]] = []
        for chunk in _chunks(ids):
            for slot, table in ((0, t.params), (1, t.tags)):
                q = select(table.c.run_id, table.c.key_id, table.c.value)
                fetched.append((slot, list(conn.execute(q.where(table.c.run_id.in_(chunk))))))
            lm = t.latest_metrics
            q = select(lm.c.run_id, lm.c.key_id, lm.c.value, lm.c.is_nan)
            metric_rows: list[Any] = list(conn.execute(q.where(lm.c.run_id.in_(chunk))))
            fetched.append((2, [(r[0], r[1], math.nan if r[3] else r[2]) for r in metric_rows]))
        names = self.key_names(conn, {row[1] for _, part in fetched for row in part})
        for slot, part in fetched:
            for run_id, key_id, value in part:
                values[run_id][slot][names[key_id]] = value
        return [
            Run(
                id=r.id,
                name=r.name,
                experiment=r.experiment,
                experiment_id=r.experiment_id,
                status=RunStatus(r.status),
                start_time=r.start_time,
                end_time=r.end_time,
                parent_id=r.parent_id,
                params=values[r.id][0],
                tags=values[r.id][1],
                metrics=values[r.id][2],
            )
            for r in rows
        ]

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        check_id(run_id)
        mp = t.metric_points
        with self.read() as conn:
            self._check_run(conn, run_id)
            key_id = self.existing_key_ids(conn, [key]).get(key)
            if key_id is None:
                return []
            rows = conn.execute(
                select(mp.c.value, mp.c.is_nan, mp.c.step, mp.c.timestamp)
                .where(and_(mp.c.run_id == run_id, mp.c.key_id == key_id))
                .order_by(mp.c.step, mp.c.timestamp, mp.c.batch_id, mp.c.pos)
            ).all()
        return [Metric(key, math.nan if n else float(v), s, ts) for v, n, s, ts in rows]

    # -- artifacts ----------------------------------------------------------------------------

    def artifact_key(self, run_id: str, path: str) -> str:
        """The object key of artifact `path` of a run (validated: it cannot leave the run)."""
        return _artifacts.artifact_key(run_id, path)

    def check_run_exists(self, run_id: str) -> None:
        """Raise RunNotFoundError unless the run exists."""
        check_id(run_id)
        with self.read() as conn:
            self._check_run(conn, run_id)

    def put_artifact(self, run_id: str, path: str, data: bytes) -> None:
        key = self.artifact_key(run_id, check_relative_path(path, allow_empty=False))
        self.check_run_exists(run_id)
        self.artifacts.put(key, data)

    def put_artifact_file(self, run_id: str, path: str, local: Path) -> None:
        key = self.artifact_key(run_id, check_relative_path(path, allow_empty=False))
        self.check_run_exists(run_id)
        self.artifacts.put_file(key, local)

    def list_artifacts(self, run_id: str, path: str = "") -> list[FileInfo]:
        return _artifacts.list_artifacts(
            self.artifacts, run_id, path, lambda: self.check_run_exists(run_id)
        )

    def download_artifacts(
        self, run_id: str, path: str, dst: Path, progress: Progress | None = None
    ) -> Path:
        return _artifacts.download_artifacts(
            self.artifacts, run_id, path, dst, progress, lambda: self.check_run_exists(run_id)
        )

    def close(self) -> None:
        self.engine.dispose()
        self.artifacts.close()


_RUN_COLUMNS = (
    t.runs.c.id,
    t.runs.c.name,
    t.experiments.c.name.label("experiment"),
    t.runs.c.experiment_id,
    t.runs.c.status,
    t.runs.c.start_time,
    t.runs.c.end_time,
    t.runs.c.parent_id,
)


def run_select() -> Any:
    """A SELECT of the run columns `SqlBackend.load_runs` expects, joined to experiments."""
    return select(*_RUN_COLUMNS).select_from(t.runs.join(t.experiments))
