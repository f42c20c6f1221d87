"""Run creations and named batches, many in one transaction (the native API's ingest).

A writer cycle sends everything it has queued in one request; applying it in one
transaction costs one commit for the request instead of one per entry, and on SQLite the
commit was the largest single cost of an entry. Each write is checked before it changes
anything, so a write that is refused (bad input, a missing run or experiment) is answered
alone while the others are applied. An unexpected database error rolls the transaction
back; the writes are then applied one transaction each, as if they had come one by one, so
those before the failing one are kept and its error is raised as it would be alone.

The few statements an entry runs are driver SQL written once, run on the driver's cursor:
building them with SQLAlchemy's expression language, and SQLAlchemy's work around each
statement, cost more than running them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from autolog._entities import RunStatus
from autolog._validation import check_id, check_name
from autolog.backends._layout import experiment_id_for
from autolog.backends.base import Batch, RunMeta
from autolog.errors import (
    AutologError,
    ExperimentNotFoundError,
    InvalidValueError,
    RunNotFoundError,
)

if TYPE_CHECKING:
    from autolog.backends.sql.store import SqlBackend

__all__ = ["NamedBatch", "Outcome", "Write", "apply_writes"]


@dataclass(frozen=True)
class NamedBatch:
    """A batch with the name that makes it idempotent within its run."""

    run_id: str
    name: str
    batch: Batch


#: A run's creation or a named batch.
Write = RunMeta | NamedBatch
#: What became of a write: True when applied, False for a batch whose name the run already
#: has (applied before), or the error that refused it.
Outcome = bool | AutologError


class Statements:
    """The driver SQL of the writes, in the database's parameter style."""

    def __init__(self, dialect: str) -> None:
        m = "%s" if dialect == "postgresql" else "?"
        self.insert_experiment = (
            f"INSERT INTO experiments (id, name, created_at) VALUES ({m}, {m}, {m})"
            " ON CONFLICT DO NOTHING"
        )
        self.find_experiment = f"SELECT 1 FROM experiments WHERE id = {m}"
        # A retried creation (its reply was lost) finds the run there: nothing to do.
        self.insert_run = (
            "INSERT INTO runs (id, experiment_id, name, status, start_time, end_time,"
            f" parent_id, user_id) VALUES ({m}, {m}, {m}, {m}, {m}, NULL, {m}, {m})"
            " ON CONFLICT DO NOTHING"
        )
        self.find_run = f"SELECT 1 FROM runs WHERE id = {m}"
        # No row back when the run has a batch of this name already.
        self.insert_batch = (
            f"INSERT INTO batches (run_id, name, created_at) VALUES ({m}, {m}, {m})"
            " ON CONFLICT DO NOTHING RETURNING id"
        )
        self.end_run = f"UPDATE runs SET status = {m}, end_time = {m} WHERE id = {m}"


def _check(write: Write) -> None:
    """Raise InvalidInputError unless `write` is well formed (nothing read or written)."""
    if isinstance(write, RunMeta):
        check_id(write.id)
        check_id(write.experiment_id, "experiment id")
        check_name(write.name)
        if write.parent_id is not None:
            check_id(write.parent_id, "parent run id")
        if write.experiment_name is not None:
            check_name(write.experiment_name, "experiment name")
        return
    check_id(write.run_id)
    status = write.batch.status
    if status is not None and status not in RunStatus.__members__:
        raise InvalidValueError(
            f"run status {status!r} is not one of {', '.join(RunStatus.__members__)}"
        )


class _Transaction:
    """Applies writes on one connection; remembers what it has seen exist."""

    def __init__(
        self, backend: SqlBackend, conn: Connection, ids: dict[str, int], user: str | None
    ) -> None:
        self.backend = backend
        self.sql: Statements = backend.statements
        # The driver's cursor: SQLAlchemy's work around each statement cost more than the
        # statement (see SqlBackend._write_values).
        self.cursor = conn.connection.cursor()
        self.ids = ids
        self.user = user
        self.experiments: set[str] = set()  # ids that exist (committed or in this transaction)
        self.runs: set[str] = set()  # runs created in this transaction (or found there)

    def apply(self, write: Write) -> bool:
        if isinstance(write, RunMeta):
            self._create(write)
            return True
        return self._batch(write)

    def _experiment_exists(self, exp_id: str) -> bool:
        if exp_id in self.experiments or exp_id in self.backend.known_experiments:
            return True
        return self._first(self.sql.find_experiment, (exp_id,)) is not None

    def _create(self, meta: RunMeta) -> None:
        exp_id, name = meta.experiment_id, meta.experiment_name
        if not self._experiment_exists(exp_id):
            if name is None or experiment_id_for(name) != exp_id:
                raise ExperimentNotFoundError(
                    f"no experiment with id {exp_id!r} in {self.backend.uri}; create it first"
                    " or list them with `autolog experiments`"
                )
            self.cursor.execute(self.sql.insert_experiment, (exp_id, name, _now_ms()))
        self.experiments.add(exp_id)
        self.cursor.execute(
            self.sql.insert_run,
            (meta.id, exp_id, meta.name, RunStatus.RUNNING.value, meta.start_time,
             meta.parent_id, self.user),
        )  # fmt: skip
        self.runs.add(meta.id)

    def _batch(self, write: NamedBatch) -> bool:
        run_id, batch = write.run_id, write.batch
        if run_id not in self.runs:
            if self._first(self.sql.find_run, (run_id,)) is None:
                raise RunNotFoundError(
                    f"no run with id {run_id!r} in {self.backend.uri}; list runs with"
                    " `autolog runs`"
                )
            self.runs.add(run_id)
        row = self._first(self.sql.insert_batch, (run_id, write.name, _now_ms()))
        if row is None:
            return False  # applied before
        self.backend._write_rows(self.cursor, run_id, batch, self.ids, row[0])
        if batch.status is not None:
            self.cursor.execute(self.sql.end_run, (batch.status, batch.end_time, run_id))
        return True

    def _first(self, sql: str, values: tuple[Any, ...]) -> Any:
        self.cursor.execute(sql, values)
        return self.cursor.fetchone()


def apply_writes(backend: SqlBackend, writes: Sequence[Write], user: str | None) -> list[Outcome]:
    """Apply `writes` in order in one transaction; what became of each, in the same order."""
    outcomes: list[Outcome | None] = []
    for write in writes:
        try:
            _check(write)
            outcomes.append(None)
        except AutologError as exc:
            outcomes.append(exc)
    todo = [i for i, o in enumerate(outcomes) if o is None]
    names = {
        key
        for i in todo
        if isinstance(w := writes[i], NamedBatch)
        for key in (*w.batch.params, *w.batch.tags, *w.batch.metrics)
    }
    ids = backend.key_ids(names)  # a transaction of their own, only for new names
    try:
        with backend.write() as conn:
            tx = _Transaction(backend, conn, ids, user)
            try:
                for i in todo:
                    try:
                        outcomes[i] = tx.apply(writes[i])
                    except AutologError as exc:
                        # Raised before the write changed anything: the others go on.
                        outcomes[i] = exc
            finally:
                tx.cursor.close()
    except AutologError:
        raise
    except Exception:
        if len(todo) < 2:
            raise
        # Rolled back: one transaction per write keeps those before the failing one.
        return [o for w in writes for o in apply_writes(backend, [w], user)]
    backend.known_experiments.update(tx.experiments)
    return [o for o in outcomes if o is not None]


def _now_ms() -> int:
    return int(time.time() * 1000)
