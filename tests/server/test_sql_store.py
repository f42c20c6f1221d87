"""The SQL store on SQLite and on a real PostgreSQL: runs, batches, metrics, artifacts."""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from autolog._entities import RunStatus
from autolog.backends.base import Batch, RunMeta
from autolog.backends.file import LocalObjectStore
from autolog.backends.sql.database import check_schema, current_revision, make_engine, upgrade
from autolog.backends.sql.ingest import NamedBatch, Write
from autolog.backends.sql.schema import SCHEMA_REVISION
from autolog.backends.sql.store import SqlBackend
from autolog.errors import (
    ArtifactNotFoundError,
    ExperimentNotFoundError,
    InvalidKeyError,
    InvalidValueError,
    RunNotFoundError,
    StoreError,
)


def _run(backend: SqlBackend, run_id: str = "r1", exp: str = "exp", start: int = 1000) -> None:
    backend.create_run(
        RunMeta(run_id, f"name-{run_id}", backend.local_experiment_id(exp), start,
                experiment_name=exp)
    )  # fmt: skip


def test_experiments_are_created_once_and_found_by_name_or_id(sql_backend: SqlBackend) -> None:
    a = sql_backend.get_or_create_experiment("churn")
    b = sql_backend.get_or_create_experiment("churn")
    assert a == b and a.name == "churn"
    assert sql_backend.get_experiment(a.id) == a == sql_backend.get_experiment("churn")
    sql_backend.get_or_create_experiment("other")
    assert [e.name for e in sql_backend.list_experiments()] == ["churn", "other"]
    with pytest.raises(ExperimentNotFoundError, match=r"'nope'.*known experiments: 'churn'"):
        sql_backend.get_experiment("nope")


def test_a_run_is_created_with_its_experiment_and_reads_back(sql_backend: SqlBackend) -> None:
    _run(sql_backend)
    _run(sql_backend)  # a retried creation changes nothing
    batch = Batch(
        params={"alpha": "0.5"},
        tags={"team": "a"},
        metrics={"loss": [(0.9, 0, 10), (0.5, 1, 11), (0.7, 1, 9)]},
    )
    sql_backend.write_batch("r1", batch)
    sql_backend.write_batch("r1", Batch(params={"alpha": "9"}, tags={"team": "b"}))
    sql_backend.write_batch("r1", Batch(status="FINISHED", end_time=5000))
    run = sql_backend.get_run("r1")
    assert run.experiment == "exp" and run.name == "name-r1" and run.start_time == 1000
    assert run.params == {"alpha": "0.5"}  # the first value of a param wins
    assert run.tags == {"team": "b"}  # the last value of a tag wins
    assert run.metrics == {"loss": 0.5}  # the point with the greatest (step, timestamp)
    assert run.status is RunStatus.FINISHED and run.end_time == 5000
    history = sql_backend.get_metric_history("r1", "loss")
    assert [(m.value, m.step, m.timestamp) for m in history] == [
        (0.9, 0, 10),
        (0.7, 1, 9),
        (0.5, 1, 11),
    ]
    assert sql_backend.get_metric_history("r1", "unknown") == []
    assert [r.id for r in sql_backend.list_runs()] == ["r1"]
    assert sql_backend.list_runs(["no-such-experiment"]) == []


def test_latest_metric_follows_later_batches_and_keeps_nan(sql_backend: SqlBackend) -> None:
    _run(sql_backend)
    sql_backend.write_batch("r1", Batch(metrics={"m": [(1.0, 5, 100)], "n": [(math.nan, 0, 1)]}))
    sql_backend.write_batch("r1", Batch(metrics={"m": [(2.0, 4, 200)], "i": [(math.inf, 0, 1)]}))
    sql_backend.write_batch("r1", Batch(metrics={"m": [(3.0, 5, 100)]}))  # a tie: the later wins
    run = sql_backend.get_run("r1")
    assert run.metrics["m"] == 3.0 and math.isnan(run.metrics["n"]) and run.metrics["i"] == math.inf
    assert math.isnan(sql_backend.get_metric_history("r1", "n")[0].value)


def test_a_named_batch_is_applied_once(sql_backend: SqlBackend) -> None:
    _run(sql_backend)
    batch = Batch(metrics={"loss": [(1.0, 0, 1)]}, tags={"t": "1"})
    assert sql_backend.apply_batch("r1", "b-1", batch)
    assert not sql_backend.apply_batch("r1", "b-1", batch)
    assert len(sql_backend.get_metric_history("r1", "loss")) == 1


def test_writes_apply_in_one_call_each_with_its_outcome(sql_backend: SqlBackend) -> None:
    exp = sql_backend.local_experiment_id("exp")
    writes: list[Write] = [
        RunMeta("r1", "n1", exp, 1, experiment_name="exp"),
        NamedBatch("r1", "b1", Batch(params={"a": "1"}, metrics={"m": [(0.5, 0, 1)]})),
        NamedBatch("nope", "b1", Batch(tags={"t": "x"})),  # no such run
        RunMeta("r2", "n2", "e0", 1),  # no such experiment
        NamedBatch("r1", "b1", Batch(params={"a": "2"})),  # the name again
        NamedBatch("r1", "b2", Batch(status="DONE")),  # bad input
        RunMeta("r3", "n3", exp, 2, experiment_name="exp"),
        NamedBatch("r3", "b1", Batch(tags={"t": "y"}, status="FINISHED", end_time=9)),
    ]
    first = sql_backend.apply_writes(writes)
    assert first[:2] == [True, True] and first[4] is False and first[6:] == [True, True]
    assert isinstance(first[2], RunNotFoundError) and isinstance(first[3], ExperimentNotFoundError)
    assert isinstance(first[5], InvalidValueError) and "'DONE'" in str(first[5])
    assert sql_backend.get_run("r1").params == {"a": "1"}
    r3 = sql_backend.get_run("r3")
    assert r3.tags == {"t": "y"} and r3.status is RunStatus.FINISHED and r3.end_time == 9
    # Sent again: every batch known by its name, nothing written twice.
    again = sql_backend.apply_writes(writes)
    assert [o for o in again if isinstance(o, bool)] == [True, False, False, True, False]
    assert len(sql_backend.get_metric_history("r1", "m")) == 1
    assert [r.id for r in sql_backend.list_runs()] == ["r1", "r3"]


def test_a_database_error_keeps_the_writes_before_it(
    sql_backend: SqlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_rows = SqlBackend._write_rows

    def failing(self: SqlBackend, cursor: Any, run_id: str, *args: Any) -> None:
        if run_id == "r2":
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        write_rows(self, cursor, run_id, *args)

    monkeypatch.setattr(SqlBackend, "_write_rows", failing)
    exp = sql_backend.local_experiment_id("exp")
    writes: list[Write] = []
    for run_id in ("r1", "r2", "r3"):
        writes += [RunMeta(run_id, "n", exp, 1, experiment_name="exp"),
                   NamedBatch(run_id, "b", Batch(params={"a": run_id}))]  # fmt: skip
    # The transaction of all of them rolls back; then one each, as if sent one by one.
    with pytest.raises(OperationalError, match="disk I/O"):
        sql_backend.apply_writes(writes)
    assert [(r.id, r.params) for r in sql_backend.list_runs()] == [("r1", {"a": "r1"}), ("r2", {})]


def test_concurrent_batches_lose_nothing(sql_backend: SqlBackend) -> None:
    for i in range(4):
        _run(sql_backend, f"r{i}")
    errors: list[BaseException] = []

    def log(run_id: str) -> None:
        try:
            for step in range(25):
                sql_backend.write_batch(
                    run_id,
                    Batch(metrics={"m": [(float(step), step, step)]}, tags={f"k{step}": "v"}),
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=log, args=(f"r{i}",)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    for i in range(4):
        assert [m.step for m in sql_backend.get_metric_history(f"r{i}", "m")] == list(range(25))
        assert sql_backend.get_run(f"r{i}").metrics == {"m": 24.0}


def test_bad_input_raises_clear_errors(sql_backend: SqlBackend) -> None:
    with pytest.raises(RunNotFoundError, match="'nope'"):
        sql_backend.write_batch("nope", Batch(tags={"a": "b"}))
    with pytest.raises(RunNotFoundError, match="'nope'"):
        sql_backend.get_run("nope")
    with pytest.raises(InvalidKeyError, match="not a valid id"):
        sql_backend.get_run("../etc")
    with pytest.raises(ExperimentNotFoundError, match="'e0'"):
        sql_backend.create_run(RunMeta("r9", "n", "e0", 1))
    _run(sql_backend)
    with pytest.raises(InvalidValueError, match="'DONE'"):
        sql_backend.write_batch("r1", Batch(status="DONE"))


def test_artifacts_use_the_local_layout_and_refuse_escapes(
    sql_backend: SqlBackend, tmp_path: Path
) -> None:
    _run(sql_backend)
    sql_backend.put_artifact("r1", "plots/a.txt", b"hello")
    src = tmp_path / "b.bin"
    src.write_bytes(b"x" * 1000)
    sql_backend.put_artifact_file("r1", "b.bin", src)
    assert (tmp_path / "artifacts/runs/r1/artifacts/plots/a.txt").read_bytes() == b"hello"
    listing = sql_backend.list_artifacts("r1")
    assert [(f.path, f.is_dir, f.size) for f in listing] == [
        ("b.bin", False, 1000),
        ("plots", True, None),
    ]
    assert [f.path for f in sql_backend.list_artifacts("r1", "plots")] == ["plots/a.txt"]
    out = sql_backend.download_artifacts("r1", "plots", tmp_path / "dl")
    assert (out / "a.txt").read_bytes() == b"hello"
    for bad in ("../x", "/etc/passwd", "a/%2e%2e/b", "a\\b"):
        with pytest.raises(InvalidKeyError):
            sql_backend.put_artifact("r1", bad, b"x")
    with pytest.raises(RunNotFoundError):
        sql_backend.put_artifact("r2", "a.txt", b"x")
    with pytest.raises(ArtifactNotFoundError, match="'missing'"):
        sql_backend.download_artifacts("r1", "missing", tmp_path / "dl2")


def test_a_database_behind_the_code_is_refused_with_the_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    engine = make_engine(url)
    assert current_revision(engine) is None
    with pytest.raises(StoreError, match="autolog server db upgrade --store sqlite:///"):
        SqlBackend(url, LocalObjectStore(tmp_path / "a"))
    upgrade(engine)
    upgrade(engine)  # a second upgrade is a no-op
    assert current_revision(engine) == SCHEMA_REVISION
    check_schema(engine, url)
    engine.dispose()


def test_revision_0004_clusters_a_sqlite_store_and_keeps_every_value(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import text

    from autolog.backends.sql.database import _alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0003_mlflow")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO experiments VALUES ('e1', 'exp', 1)"))
        conn.execute(
            text("INSERT INTO runs VALUES ('r1', 'e1', 'n', 'RUNNING', 1, NULL, NULL, 'u')")
        )
        conn.execute(text("INSERT INTO keys (id, name) VALUES (1, 'lr'), (2, 'loss'), (3, 'team')"))
        conn.execute(text("INSERT INTO params VALUES ('r1', 1, '0.1', 0.1)"))
        conn.execute(text("INSERT INTO tags VALUES ('r1', 3, 'core', NULL)"))
        conn.execute(text("INSERT INTO latest_metrics VALUES ('r1', 2, NULL, 1, 4, 9)"))

    def tables() -> dict[str, str]:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
            return {name: sql for name, sql in rows}

    assert "WITHOUT ROWID" not in tables()["params"]
    upgrade(engine)
    assert current_revision(engine) == SCHEMA_REVISION
    for name in ("params", "tags", "latest_metrics"):
        assert "WITHOUT ROWID" in tables()[name], name
    backend = SqlBackend(url, LocalObjectStore(tmp_path / "a"))
    run = backend.get_run("r1")
    assert run.params == {"lr": "0.1"} and run.tags == {"team": "core"}
    assert math.isnan(run.metrics["loss"])
    backend.write_batch("r1", Batch(params={"depth": "3"}, metrics={"loss": [(0.5, 5, 10)]}))
    assert backend.get_run("r1").metrics == {"loss": 0.5}
    backend.close()
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0003_mlflow")
    assert "WITHOUT ROWID" not in tables()["latest_metrics"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM params")).scalar() == 2
    engine.dispose()


def test_an_in_memory_sqlite_store_works(tmp_path: Path) -> None:
    # Its pool is one connection per thread: the file pool's sizes do not apply to it.
    engine = make_engine("sqlite://")
    upgrade(engine)
    backend = SqlBackend("sqlite://", LocalObjectStore(tmp_path / "a"), engine=engine)
    _run(backend)
    backend.write_batch("r1", Batch(params={"lr": "0.1"}))
    assert backend.get_run("r1").params == {"lr": "0.1"}
    backend.close()
