"""Search in the SQL store gives exactly what the Python evaluation gives, page by page."""

from __future__ import annotations

import math

import pytest

from autolog._search import parse_orders, parse_query, sort_runs
from autolog.backends.base import Batch, RunMeta
from autolog.backends.sql.store import SqlBackend
from autolog.errors import InvalidValueError

# (run, experiment, status, start, end, parent, params, tags, metrics)
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
    None,
    "metrics.loss < 0.4",
    "metrics.loss != 0.5",
    "metrics.loss NOT IN (0.5, 0.25)",
    "metrics.loss IS NULL",
    "metrics.loss IS NOT NULL",
    "metrics.acc >= 0.9",
    "metrics.nothing = 1",
    "metrics.nothing IS NULL",
    "params.lr < 0.05",
    "params.lr > 'a'",
    "params.lr >= 0.001",
    "params.lr = '0.1'",
    "params.lr != '0.1'",
    "params.lr IN ('0.1', 'big')",
    "params.lr NOT IN ('0.1', 'big')",
    "params.model LIKE 'xgb%'",
    "params.model ILIKE 'xgb%'",
    "params.model NOT LIKE '%-%'",
    "params.model LIKE 'lin\\%'",
    "params.model LIKE 'a\\\\b'",
    "params.model ILIKE 'SS-%'",
    "params.model ILIKE 'ß%'",
    "tags.t < 10",
    "tags.t > '9'",
    "tags.u IS NULL",
    "status = 'finished'",
    "status != 'FINISHED'",
    "status IN ('FAILED', 'KILLED')",
    "status LIKE 'fin%'",
    "attributes.start_time >= 300",
    "end_time IS NULL",
    "duration > 0.5",
    "duration < 0.5 and status = 'FINISHED'",
    "parent_id = 'a1'",
    "parent_id != 'a1'",
    "experiment = 'e2'",
    "experiment_id LIKE '%'",
    "name LIKE 'run-a_'",
    "id > 'a3'",
    "params.lr IS NOT NULL and metrics.loss > -5",
]
# Each order is tried with these (a clause evaluated in Python on PostgreSQL among them).
_SOME_FILTERS = [None, "metrics.loss > -5", "status LIKE 'fin%'", "params.model ILIKE 'xgb%'"]
_ORDERS: list[list[str]] = [
    [],
    ["metrics.loss"],
    ["metrics.loss DESC"],
    ["params.lr"],
    ["params.lr DESC"],
    ["tags.t"],
    ["tags.t DESC", "metrics.acc"],
    ["end_time DESC"],
    ["duration"],
    ["parent_id"],
    ["experiment DESC", "name"],
    ["status"],
    ["metrics.nothing DESC"],
]


@pytest.fixture
def searchable(sql_backend: SqlBackend) -> SqlBackend:
    for run_id, exp, status, start, end, parent, params, tags, metrics in _RUNS:
        sql_backend.create_run(
            RunMeta(run_id, f"run-{run_id}", sql_backend.local_experiment_id(exp), start, parent,
                    experiment_name=exp)
        )  # fmt: skip
        batch = Batch(
            params=params, tags=tags, metrics={k: [(v, 0, start)] for k, v in metrics.items()}
        )
        if status != "RUNNING":
            batch.status, batch.end_time = status, end
        sql_backend.write_batch(run_id, batch)
    return sql_backend


def _all_pages(backend: SqlBackend, filter: str | None, orders: list[str], size: int) -> list[str]:
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


def test_every_filter_and_order_matches_the_python_evaluation(searchable: SqlBackend) -> None:
    runs = searchable.list_runs()
    mismatches = []
    combinations = [(f, o) for f in _FILTERS for o in ([], ["params.lr DESC"])]
    combinations += [(f, o) for f in _SOME_FILTERS for o in _ORDERS]
    for filter, orders in combinations:
        query, order_by = parse_query(filter), parse_orders(orders)
        expected = [r.id for r in sort_runs([r for r in runs if query.matches(r)], order_by)]
        for size in (2, 100):
            got = _all_pages(searchable, filter, orders, size)
            if got != expected:
                mismatches.append((filter, orders, size, got, expected))
    assert not mismatches, mismatches[:5]


def test_search_returns_full_runs_and_filters_experiments(searchable: SqlBackend) -> None:
    e2 = searchable.local_experiment_id("e2")
    page = searchable.search_runs([e2], parse_query(None), parse_orders("start_time"), 10)
    assert [r.id for r in page.runs] == ["a5", "a4", "a6"] and page.next_page_token is None
    assert page.runs[1].params == {"lr": "big", "model": "ß-model"}
    assert page.runs[1].metrics == {"loss": -1.0} and page.runs[1].experiment == "e2"
    assert searchable.search_runs([], parse_query(None), parse_orders(None), 10).runs == []


def test_bad_page_tokens_and_sizes_are_refused(searchable: SqlBackend) -> None:
    q, o = parse_query("metrics.loss > -10"), parse_orders(None)
    token = searchable.search_runs(None, q, o, 1).next_page_token
    assert token
    with pytest.raises(InvalidValueError, match="page token"):
        searchable.search_runs(None, parse_query(None), o, 1, token)  # another search's token
    for bad in ("garbage", "eyJmIjoxfQ==", ""):
        with pytest.raises(InvalidValueError, match="page token"):
            searchable.search_runs(None, q, o, 1, bad or "=")
    for size in (0, -1, True, 1.5):
        with pytest.raises(InvalidValueError, match="max_results"):
            searchable.search_runs(None, q, o, size)  # type: ignore[arg-type]
