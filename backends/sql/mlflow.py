"""What the SQL store keeps for MLflow's REST API only (the tables of revision 0003_mlflow).

Deleted experiments and runs, logged models (MLflow 3's LoggedModel) and a run's links to
datasets and models. Everything else MLflow's API touches (experiments, runs, params,
tags, metrics, the registry) is the store's own data, shared with the native API.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, insert, select, update

from autolog._entities import RunStatus
from autolog.backends.base import Batch, RunMeta
from autolog.backends.sql import schema as t
from autolog.backends.sql.store import SqlBackend
from autolog.errors import (
    ExperimentNotFoundError,
    InvalidValueError,
    ModelNotFoundError,
    ParamConflictError,
)

__all__ = ["LoggedModel", "MlflowTables", "RunDocument"]

_CHUNK = 500
#: The tag that holds a run's name in MLflow.
RUN_NAME_TAG = "mlflow.runName"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


@dataclass
class RunDocument:
    """A run as MLflow's JSON needs it: its row, and its metrics, params and tags as JSON text.

    The JSON arrays are built by the database (`[{"key", "value", ...}]`), so a page of
    runs costs one row per run and table instead of one per value.
    """

    id: str
    name: str
    experiment_id: str
    user_id: str | None
    status: str
    start_time: int
    end_time: int | None
    deleted: bool
    metrics: str = "[]"
    params: str = "[]"
    tags: str = "[]"
    links: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class LoggedModel:
    """One MLflow 3 LoggedModel as stored."""

    id: str
    experiment_id: str
    name: str
    source_run_id: str | None
    status: str
    created_at: int
    updated_at: int
    deleted: bool
    document: dict[str, Any]


def _logged_model(row: Any) -> LoggedModel:
    return LoggedModel(
        id=row.id,
        experiment_id=row.experiment_id,
        name=row.name,
        source_run_id=row.source_run_id,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted=bool(row.deleted),
        document=json.loads(row.document),
    )


class MlflowTables:
    """MLflow-only state of one SqlBackend."""

    def __init__(self, backend: SqlBackend) -> None:
        self.backend = backend
        self._sql: dict[str, str] | None = None

    # -- experiments ------------------------------------------------------------------------

    def deleted_experiments(self) -> set[str]:
        with self.backend.read() as conn:
            return set(conn.execute(select(t.deleted_experiments.c.experiment_id)).scalars())

    def set_experiment_deleted(self, exp_id: str, deleted: bool) -> None:
        de = t.deleted_experiments
        with self.backend.write() as conn:
            found = conn.execute(select(t.experiments.c.id).where(t.experiments.c.id == exp_id))
            if found.first() is None:
                raise ExperimentNotFoundError(f"no experiment with id {exp_id!r}")
            if deleted:
                conn.execute(
                    self.backend._insert(de)
                    .values(experiment_id=exp_id, deleted_at=_now_ms())
                    .on_conflict_do_nothing()
                )
            else:
                conn.execute(delete(de).where(de.c.experiment_id == exp_id))

    def delete_experiment_tag(self, exp_id: str, key: str) -> None:
        et = t.experiment_tags
        with self.backend.write() as conn:
            conn.execute(delete(et).where(and_(et.c.experiment_id == exp_id, et.c.key == key)))

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, meta: RunMeta, user: str | None, tags: dict[str, str]) -> None:
        """Create a run with its first tags, in one transaction."""
        backend = self.backend
        ids = backend.key_ids(tags)
        e, de = t.experiments, t.deleted_experiments
        with backend.write() as conn:
            # The experiment's checks in the run's own transaction (one query, no other).
            found = conn.execute(
                select(e.c.id, de.c.experiment_id)
                .select_from(e.outerjoin(de, de.c.experiment_id == e.c.id))
                .where(e.c.id == meta.experiment_id)
            ).first()
            if found is None:
                backend._check_experiment(conn, meta.experiment_id)  # raises, saying so
            elif found[1] is not None:
                raise InvalidValueError(
                    f"experiment {meta.experiment_id!r} is deleted; restore it or log to an"
                    " active experiment"
                )
            conn.execute(
                insert(t.runs).values(
                    id=meta.id,
                    experiment_id=meta.experiment_id,
                    name=meta.name,
                    status=RunStatus.RUNNING.value,
                    start_time=meta.start_time,
                    end_time=None,
                    parent_id=meta.parent_id,
                    user_id=user,
                )
            )
            backend._write_values(conn, meta.id, Batch(tags=tags), ids, 0)

    def log(self, run_id: str, batch: Batch) -> None:
        """Log a batch to a run in one transaction; ParamConflictError if a param would change.

        MLflow's requests carry no batch name (its client does not retry them as one), so
        the batch is recorded only to number its metric points.
        """
        backend = self.backend
        ids = backend.key_ids([*batch.params, *batch.tags, *batch.metrics])
        p = t.params
        with backend.write() as conn:
            backend._check_run(conn, run_id)
            if batch.params:
                wanted = {ids[k]: k for k in batch.params}
                for key_id, old in conn.execute(
                    select(p.c.key_id, p.c.value).where(
                        and_(p.c.run_id == run_id, p.c.key_id.in_(list(wanted)))
                    )
                ):
                    key = wanted[key_id]
                    if old != batch.params[key]:
                        raise ParamConflictError(
                            f"param {key!r} of run {run_id} is already {old!r} and cannot change"
                            f" to {batch.params[key]!r}: params are immutable; log it under"
                            " another key"
                        )
            batch_id = 0
            if batch.metrics:
                batch_id = conn.execute(
                    insert(t.batches)
                    .values(run_id=run_id, name=uuid.uuid4().hex, created_at=_now_ms())
                    .returning(t.batches.c.id)
                ).scalar_one()
            backend._write_values(conn, run_id, batch, ids, batch_id)

    def _document_sql(self) -> dict[str, str]:
        """The SQL text of `run_documents`' queries, `{ids}` standing for the id list.

        Written as text and run through the driver: SQLAlchemy's compilation of an IN list of
        a thousand ids cost more than the database's work (the text is built once, per
        number of ids in a list, and SQLite's statement cache then finds it).
        """
        found = self._sql
        if found is not None:
            return found
        if self.backend.dialect == "postgresql":
            # PostgreSQL writes NaN and infinities as the strings MLflow's JSON uses.
            value = "CASE WHEN lm.is_nan THEN 'NaN'::float8 ELSE lm.value END"

            def array(fields: str) -> str:
                return f"CAST(json_agg(json_build_object({fields})) AS TEXT)"
        else:
            big = "1.7976931348623157e308"  # SQLite writes infinity as Inf, which is not JSON
            value = (
                f"CASE WHEN lm.is_nan THEN 'NaN' WHEN lm.value > {big} THEN 'Infinity'"
                f" WHEN lm.value < -{big} THEN '-Infinity' ELSE lm.value END"
            )

            def array(fields: str) -> str:
                return f"json_group_array(json_object({fields}))"

        def arrays(table: str, alias: str, fields: str) -> str:
            return (
                f"SELECT {alias}.run_id, {array(fields)} FROM {table} {alias}"
                f" JOIN keys k ON k.id = {alias}.key_id WHERE {alias}.run_id IN ({{ids}})"
                f" GROUP BY {alias}.run_id"
            )

        metric_fields = (
            f"'key', k.name, 'value', {value}, 'timestamp', lm.timestamp, 'step', lm.step"
        )
        found = self._sql = {
            "runs": "SELECT r.id, r.name, r.experiment_id, r.user_id, r.status, r.start_time,"
            " r.end_time, dr.run_id IS NOT NULL FROM runs r LEFT OUTER JOIN deleted_runs dr"
            " ON dr.run_id = r.id WHERE r.id IN ({ids})",
            "metrics": arrays("latest_metrics", "lm", metric_fields),
            "params": arrays("params", "p", "'key', k.name, 'value', p.value"),
            "tags": arrays("tags", "g", "'key', k.name, 'value', g.value"),
            "links": "SELECT run_id, kind, document FROM run_links WHERE run_id IN ({ids})"
            " ORDER BY run_id, kind, key",
        }
        return found

    def run_documents(self, run_ids: Sequence[str]) -> list[RunDocument]:
        """The runs (in the order of `run_ids`; unknown ids left out) for MLflow's JSON.

        The metrics, params and tags of a page come as one JSON array per run and table,
        built by the database: one query per table for the whole page, no row per value.
        """
        sql = self._document_sql()
        mark = "%s" if self.backend.dialect == "postgresql" else "?"
        docs: dict[str, RunDocument] = {}
        with self.backend.read() as conn:
            for i in range(0, len(run_ids), _CHUNK):
                chunk = tuple(run_ids[i : i + _CHUNK])
                marks = ", ".join([mark] * len(chunk))

                def rows(name: str, marks: str = marks, chunk: tuple[str, ...] = chunk) -> Any:
                    return conn.exec_driver_sql(sql[name].format(ids=marks), chunk)

                for run_id, name, exp_id, user, status, start, end, deleted in rows("runs"):
                    docs[run_id] = RunDocument(
                        run_id, name, exp_id, user, status, start, end, bool(deleted)
                    )
                for run_id, text in rows("metrics"):
                    docs[run_id].metrics = text
                for run_id, text in rows("params"):
                    docs[run_id].params = text
                for run_id, text in rows("tags"):
                    docs[run_id].tags = text
                for run_id, kind, doc in rows("links"):
                    docs[run_id].links.append((kind, json.loads(doc)))
        return [docs[i] for i in run_ids if i in docs]

    def set_run_deleted(self, run_id: str, deleted: bool) -> None:
        dr = t.deleted_runs
        with self.backend.write() as conn:
            self.backend._check_run(conn, run_id)
            if deleted:
                conn.execute(
                    self.backend._insert(dr)
                    .values(run_id=run_id, deleted_at=_now_ms())
                    .on_conflict_do_nothing()
                )
            else:
                conn.execute(delete(dr).where(dr.c.run_id == run_id))

    def update_run(
        self, run_id: str, status: str | None, end_time: int | None, name: str | None
    ) -> Any:
        """Set a run's status, end time and name (the ones given); the run's row after.

        A new name is also the run's `mlflow.runName` tag, as MLflow keeps it.
        """
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = status
            values["end_time"] = end_time
        elif end_time is not None:
            values["end_time"] = end_time
        if name is not None:
            values["name"] = name
        backend = self.backend
        ids = backend.key_ids([RUN_NAME_TAG]) if name is not None else {}
        r, dr = t.runs, t.deleted_runs
        with backend.write() as conn:
            if values:
                conn.execute(update(r).where(r.c.id == run_id).values(**values))
            row = conn.execute(
                select(r, dr.c.run_id.isnot(None).label("deleted"))
                .select_from(r.outerjoin(dr, dr.c.run_id == r.c.id))
                .where(r.c.id == run_id)
            ).first()
            if row is None:
                backend._check_run(conn, run_id)  # raises, saying so
            if name is not None:
                backend._write_values(conn, run_id, Batch(tags={RUN_NAME_TAG: name}), ids, 0)
            return row

    def delete_run_tag(self, run_id: str, key: str) -> bool:
        """Remove a tag of a run; False when the run has no such tag."""
        with self.backend.write() as conn:
            self.backend._check_run(conn, run_id)
            key_id = self.backend.existing_key_ids(conn, [key]).get(key)
            if key_id is None:
                return False
            done = conn.execute(
                delete(t.tags).where(and_(t.tags.c.run_id == run_id, t.tags.c.key_id == key_id))
            )
            return bool(done.rowcount)

    def existing_points(
        self, run_id: str, points: Sequence[tuple[str, float, int, int]]
    ) -> set[tuple[str, float, int, int]]:
        """The (key, value, step, timestamp) points that the run's history already holds."""
        mp = t.metric_points
        found: set[tuple[str, float, int, int]] = set()
        with self.backend.read() as conn:
            ids = self.backend.existing_key_ids(conn, {k for k, _, _, _ in points})
            by_id = {v: k for k, v in ids.items()}
            if not by_id:
                return found
            rows = conn.execute(
                select(mp.c.key_id, mp.c.value, mp.c.is_nan, mp.c.step, mp.c.timestamp).where(
                    and_(mp.c.run_id == run_id, mp.c.key_id.in_(list(by_id)))
                )
            )
            for key_id, value, is_nan, step, ts in rows:
                found.add((by_id[key_id], math.nan if is_nan else value, step, ts))
        return found

    def history_page(
        self, run_id: str, key: str, after: tuple[int, int, int, int] | None, limit: int
    ) -> list[tuple[float, int, int, tuple[int, int, int, int]]]:
        """Up to `limit` points of a metric after the keyset position `after`."""
        mp = t.metric_points
        with self.backend.read() as conn:
            self.backend._check_run(conn, run_id)
            key_id = self.backend.existing_key_ids(conn, [key]).get(key)
            if key_id is None:
                return []
            order = (mp.c.step, mp.c.timestamp, mp.c.batch_id, mp.c.pos)
            stmt = select(mp.c.value, mp.c.is_nan, *order).where(
                and_(mp.c.run_id == run_id, mp.c.key_id == key_id)
            )
            if after is not None:
                from sqlalchemy import tuple_

                stmt = stmt.where(tuple_(*order) > tuple_(*after))
            rows = conn.execute(stmt.order_by(*order).limit(limit)).all()
        return [(math.nan if n else float(v), s, ts, (s, ts, b, p)) for v, n, s, ts, b, p in rows]

    # -- run links ----------------------------------------------------------------------------

    def add_links(self, run_id: str, links: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """Record (kind, key, document) links of a run; a link already there is kept."""
        if not links:
            return
        with self.backend.write() as conn:
            self.backend._check_run(conn, run_id)
            conn.execute(
                self.backend._insert(t.run_links).on_conflict_do_nothing(),
                [{"run_id": run_id, "kind": k, "key": key, "document": _dumps(doc)}
                 for k, key, doc in links],
            )  # fmt: skip

    # -- logged models ----------------------------------------------------------------------

    def create_logged_model(self, model: LoggedModel) -> None:
        with self.backend.write() as conn:
            conn.execute(
                t.logged_models.insert().values(
                    id=model.id,
                    experiment_id=model.experiment_id,
                    name=model.name,
                    source_run_id=model.source_run_id,
                    status=model.status,
                    created_at=model.created_at,
                    updated_at=model.updated_at,
                    deleted=model.deleted,
                    document=_dumps(model.document),
                )
            )

    def get_logged_model(self, model_id: str, *, allow_deleted: bool = False) -> LoggedModel:
        lm = t.logged_models
        with self.backend.read() as conn:
            row = conn.execute(select(lm).where(lm.c.id == model_id)).first()
        if row is None or (row.deleted and not allow_deleted):
            raise ModelNotFoundError(
                f"no logged model with id {model_id!r}; log one with mlflow.<flavor>.log_model()"
            )
        return _logged_model(row)

    def save_logged_model(self, model: LoggedModel) -> None:
        """Write back a changed model (status, deletion and document)."""
        lm = t.logged_models
        with self.backend.write() as conn:
            conn.execute(
                update(lm)
                .where(lm.c.id == model.id)
                .values(
                    status=model.status,
                    updated_at=_now_ms(),
                    deleted=model.deleted,
                    document=_dumps(model.document),
                )
            )

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        after: tuple[int, str] | None,
        limit: int,
        source_run_id: str | None = None,
        name: str | None = None,
    ) -> list[LoggedModel]:
        """Logged models of the experiments, newest first, after the keyset position `after`."""
        lm = t.logged_models
        stmt = select(lm).where(
            lm.c.experiment_id.in_(list(experiment_ids)), lm.c.deleted.is_(False)
        )
        if source_run_id is not None:
            stmt = stmt.where(lm.c.source_run_id == source_run_id)
        if name is not None:
            stmt = stmt.where(lm.c.name == name)
        if after is not None:
            stmt = stmt.where(
                (lm.c.created_at < after[0]) | and_(lm.c.created_at == after[0], lm.c.id > after[1])
            )
        stmt = stmt.order_by(lm.c.created_at.desc(), lm.c.id).limit(limit)
        with self.backend.read() as conn:
            return [_logged_model(row) for row in conn.execute(stmt)]
