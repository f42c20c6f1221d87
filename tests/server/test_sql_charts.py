"""Chart queries of the SQL store (backends/sql/charts.py) on SQLite and PostgreSQL: bucketed
histories keep each bucket's min and max; summaries count points and skip NaN and inf."""

from __future__ import annotations

import math

from autolog.backends.base import Batch, RunMeta
from autolog.backends.sql.charts import metric_buckets, metric_summaries
from autolog.backends.sql.store import SqlBackend


def test_buckets_and_summaries(sql_backend: SqlBackend) -> None:
    exp = sql_backend.get_or_create_experiment("charts")
    sql_backend.create_run(RunMeta("r1", "r1", exp.id, 1000))
    values = [math.sin(s / 50) for s in range(10_000)]
    values[4321] = 7.0
    values[1234] = -7.0
    values[100] = math.nan
    values[200] = math.inf
    points = [(v, s, 1000 + s) for s, v in enumerate(values)]
    sql_backend.write_batch("r1", Batch(metrics={"loss": points, "one": [(2.0, 0, 1)]}))
    n, xs, ys = metric_buckets(sql_backend, "r1", "loss", 100) or (0, [], [])
    assert n == 10_000 and len(xs) <= 200
    assert max(y for y in ys if y is not None) == 7.0
    assert min(y for y in ys if y is not None) == -7.0
    assert xs == sorted(xs) and xs[0] == 0 and xs[-1] == 9999
    assert metric_buckets(sql_backend, "r1", "one", 100) is None  # short: sent whole
    assert metric_buckets(sql_backend, "r1", "missing", 100) is None
    summaries = metric_summaries(sql_backend, "r1")
    assert summaries["loss"] == (10_000, -7.0, 7.0)
    assert summaries["one"] == (1, 2.0, 2.0)
