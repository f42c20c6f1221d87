"""The derived index of the directory store: searches through it give what the Python
evaluation of the objects gives, and it is rebuilt (once, and said) when lost, damaged or old.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from pathlib import Path

import pytest

from autolog._cli.main import main
from autolog._entities import Run
from autolog._search import parse_orders, parse_query, sort_runs
from autolog.backends._index import SCHEMA_VERSION
from autolog.backends.base import Batch, RunMeta
from autolog.backends.file import INDEX_FILE, FileBackend

# (run, experiment, status, start, end, parent, params, tags, metrics): the SQL store's cases
_RUNS = [
    ("a1", "e1", "FINISHED", 100, 900, None, {"lr": "0.1", "model": "xgb-1"}, {"t": "10"},
     {"loss": 0.5, "acc": 0.9}),
    ("a2", "e1", "FAILED", 200, 250, "a1", {"lr": "0.01", "model": "XGB_2"}, {"t": "9"},
     {"loss": math.nan}),
    ("a3", "e1", "RUNNING", 300, None, None, {"lr": "1e-3", "model": "lin%"}, {"t": "abc"},
     {"loss": 0.25, "acc": math.inf}),
    ("a4", "e2", "FINISHED", 300, 1300, "a1", {"lr": "big", "model": "ß-model"}, {},
     {"loss": -1.0}),
    ("a5", "e2", "KILLED", 50, 60, None, {"model": "a\\b"}, {"t": "2", "u": "é"}, {}),
    ("a6", "e2", "FINISHED", 400, 401, None, {"lr": " 5 ", "model": "Ab"}, {"t": "nan"},
     {"acc": 0.9}),
]  # fmt: skip
_FILTERS = [
    None, "metrics.loss < 0.4", "metrics.loss != 0.5", "metrics.loss NOT IN (0.5, 0.25)",
    "metrics.loss IS NULL", "metrics.loss IS NOT NULL", "metrics.acc >= 0.9",
    "metrics.nothing = 1", "metrics.nothing IS NULL",
    "params.lr < 0.05", "params.lr > 'a'", "params.lr >= 0.001", "params.lr = '0.1'",
    "params.lr != '0.1'", "params.lr IN ('0.1', 'big')", "params.lr NOT IN ('0.1', 'big')",
    "params.model LIKE 'xgb%'", "params.model ILIKE 'xgb%'", "params.model NOT LIKE '%-%'",
    "params.model LIKE 'lin\\%'", "params.model LIKE 'a\\\\b'", "params.model ILIKE 'SS-%'",
    "params.model ILIKE 'ß%'", "tags.t < 10", "tags.t > '9'", "tags.u IS NULL",
    "status = 'finished'", "status != 'FINISHED'", "status IN ('FAILED', 'KILLED')",
    "status LIKE 'fin%'", "attributes.start_time >= 300", "end_time IS NULL", "duration > 0.5",
    "duration < 0.5 and status = 'FINISHED'", "parent_id = 'a1'", "parent_id != 'a1'",
    "experiment = 'e2'", "experiment_id LIKE '%'", "name LIKE 'run-a_'", "id > 'a3'",
    "params.lr IS NOT NULL and metrics.loss > -5",
]  # fmt: skip
_ORDERS: list[list[str]] = [
    [], ["metrics.loss"], ["metrics.loss DESC"], ["params.lr"], ["params.lr DESC"], ["tags.t"],
    ["tags.t DESC", "metrics.acc"], ["end_time DESC"], ["duration"], ["parent_id"],
    ["experiment DESC", "name"], ["status"], ["metrics.nothing DESC"],
]  # fmt: skip


def _fill(backend: FileBackend) -> None:
    for run_id, exp, status, start, end, parent, params, tags, metrics in _RUNS:
        backend.create_run(
            RunMeta(run_id, f"run-{run_id}", backend.local_experiment_id(exp), start, parent,
                    experiment_name=exp)
        )  # fmt: skip
        batch = Batch(
            params=params, tags=tags, metrics={k: [(v, 0, start)] for k, v in metrics.items()}
        )
        if status != "RUNNING":
            batch.status, batch.end_time = status, end
        backend.write_batch(run_id, batch)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    with FileBackend(root) as backend:
        _fill(backend)
    return root


def _pages(backend: FileBackend, filter: str | None, orders: list[str], size: int) -> list[str]:
    query, order_by = parse_query(filter), parse_orders(orders)
    ids: list[str] = []
    token = None
    for _ in range(20):
        page = backend.search_runs(None, query, order_by, size, token)
        assert len(page.runs) <= size
        ids += [r.id for r in page.runs]
        token = page.next_page_token
        if token is None:
            return ids
    raise AssertionError("paging did not end")


def test_every_filter_and_order_matches_the_python_evaluation(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOLOG_INDEX", "off")
    runs = FileBackend(store).list_runs()  # read from the objects
    monkeypatch.delenv("AUTOLOG_INDEX")
    backend = FileBackend(store)

    def text(found: list[Run]) -> str:  # as JSON text, where NaN equals NaN
        return json.dumps(sorted((r.to_dict() for r in found), key=str), sort_keys=True)

    assert text(backend.list_runs()) == text(runs)
    assert (store / INDEX_FILE).is_file()
    mismatches = []
    combinations = [(f, o) for f in _FILTERS for o in ([], ["params.lr DESC"])]
    combinations += [(f, o) for f in _FILTERS[:8] for o in _ORDERS]
    for filter, orders in combinations:
        query, order_by = parse_query(filter), parse_orders(orders)
        expected = [r.id for r in sort_runs([r for r in runs if query.matches(r)], order_by)]
        for size in (2, 100):
            got = _pages(backend, filter, orders, size)
            if got != expected:
                mismatches.append((filter, orders, size, got, expected))
    assert not mismatches, mismatches[:5]
    e1, e2 = backend.local_experiment_id("e1"), backend.local_experiment_id("e2")
    assert backend.count_runs(None, parse_query("status = 'FINISHED'")) == {e1: 1, e2: 2}
    assert backend.count_runs([e1], parse_query(None)) == {e1: 3}


def test_new_writes_reach_the_index(store: Path) -> None:
    backend = FileBackend(store)
    assert len(backend.list_runs()) == 6
    writer = FileBackend(store)
    writer.write_batch("a3", Batch(metrics={"loss": [(0.125, 1, 500)]}, status="FINISHED",
                                   end_time=700))  # fmt: skip
    writer.create_run(RunMeta("a7", "run-a7", writer.local_experiment_id("e3"), 500,
                              experiment_name="e3"))  # fmt: skip
    a3 = backend.search_runs(None, parse_query("id = 'a3'"), parse_orders(None), 10).runs[0]
    assert a3.metrics["loss"] == 0.125 and a3.status.value == "FINISHED"
    assert "a7" in {r.id for r in backend.list_runs()}
    assert "e3" in {e.name for e in backend.list_experiments()}


@pytest.mark.parametrize("damage", ["deleted", "truncated", "garbage", "old version"])
def test_a_lost_or_damaged_index_is_rebuilt_and_the_user_told_once(
    store: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    FileBackend(store).list_runs()  # builds the index
    index = store / INDEX_FILE
    if damage == "deleted":
        index.unlink()
    elif damage == "truncated":
        data = index.read_bytes()
        index.write_bytes(data[: len(data) // 3])
    elif damage == "garbage":
        index.write_bytes(b"this is not a database" * 100)
    else:
        with sqlite3.connect(index) as con:
            con.execute(
                "UPDATE meta SET value = ? WHERE key = 'version'", (str(SCHEMA_VERSION - 1),)
            )
    for suffix in ("-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    caplog.set_level(logging.WARNING, logger="autolog")
    backend = FileBackend(store)
    for _ in range(3):
        assert sorted(r.id for r in backend.list_runs()) == [r[0] for r in _RUNS]
        page = backend.search_runs(None, parse_query("metrics.loss < 0.4"), parse_orders(None), 10)
        assert sorted(r.id for r in page.runs) == ["a3", "a4"]
    FileBackend(store).list_runs()  # another reader: the index is whole again, nothing to say
    told = [r.getMessage() for r in caplog.records if "index" in r.getMessage()]
    assert len(told) == 1, told
    assert "rebuilt it from the store's objects (6 runs)" in told[0]


def test_a_new_store_is_indexed_without_a_word(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="autolog")
    backend = FileBackend(tmp_path / "fresh")
    assert backend.list_runs() == []
    _fill(backend)
    assert len(backend.list_runs()) == 6
    assert not caplog.records


def test_a_truncated_batch_does_not_break_listing_and_doctor_lists_it(
    store: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    backend = FileBackend(store)
    backend.write_batch("a1", Batch(params={"late": "1"}, metrics={"loss": [(0.0, 5, 950)]}))
    batches = sorted((store / "runs" / "a1" / "log" / "batches").iterdir())
    damaged = batches[-1]
    damaged.write_bytes(damaged.read_bytes()[:20])  # as a crash on a full disk leaves it
    key = f"runs/a1/log/batches/{damaged.name}"
    caplog.set_level(logging.WARNING, logger="autolog")
    reader = FileBackend(store)
    runs = {r.id: r for r in reader.list_runs()}
    assert set(runs) == {r[0] for r in _RUNS}
    assert runs["a1"].params == {"lr": "0.1", "model": "xgb-1"}  # what could be read
    assert runs["a1"].metrics["loss"] == 0.5
    page = reader.search_runs(None, parse_query("metrics.loss >= 0.5"), parse_orders(None), 10)
    assert [r.id for r in page.runs] == ["a1"]
    assert reader.get_run("a1").params["lr"] == "0.1"
    told = [r.getMessage() for r in caplog.records]
    assert len(told) == 1 and key in told[0] and "autolog doctor" in told[0], told
    reader.compact("a1")
    assert damaged.is_file()  # compaction keeps it for the doctor
    assert main(["--tracking-uri", str(store), "doctor"]) == 1
    out = capsys.readouterr().out
    assert f"damaged: {key}: not valid JSON" in out and "index rebuilt (6 runs)" in out
    assert main(["--tracking-uri", str(store), "doctor", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert list(report["damaged"]) == [key] and report["runs"] == 6
    damaged.unlink()
    assert main(["--tracking-uri", str(store), "doctor"]) == 0
