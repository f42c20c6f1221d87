"""Metric histories summarized in the database, for charts: no point becomes a Python object.

`metric_summaries` gives each metric's point count, min and max; `metric_buckets` cuts one
history into `width` buckets of steps and gives each bucket's min and max, so a chart of a
million points reads at most `2 * width` values. Both answer from the clustered
`metric_points` index with one aggregate query (SQLite and PostgreSQL alike).
"""

from __future__ import annotations

from sqlalchemy import and_, case, func, select

from autolog._validation import check_id
from autolog.backends.sql import schema as t
from autolog.backends.sql.store import SqlBackend

__all__ = ["Summary", "metric_buckets", "metric_summaries"]

_MAX_DOUBLE = 1.7976931348623157e308


def _finite() -> object:
    mp = t.metric_points
    return and_(mp.c.is_nan.is_(False), mp.c.value.between(-_MAX_DOUBLE, _MAX_DOUBLE))


Summary = tuple[int, float | None, float | None]


def metric_summaries(backend: SqlBackend, run_id: str) -> dict[str, Summary]:
    """Every metric of a run: (points, min, max) over its finite values (None when none)."""
    check_id(run_id)
    mp, keys = t.metric_points, t.keys
    finite_value = case((_finite(), mp.c.value))  # type: ignore[arg-type]
    query = (
        select(keys.c.name, func.count(), func.min(finite_value), func.max(finite_value))
        .select_from(mp.join(keys, keys.c.id == mp.c.key_id))
        .where(mp.c.run_id == run_id)
        .group_by(keys.c.name)
    )
    with backend.read() as conn:
        rows = conn.execute(query).all()
    return {
        name: (int(n), None if lo is None else float(lo), None if hi is None else float(hi))
        for name, n, lo, hi in rows
    }


def metric_buckets(
    backend: SqlBackend, run_id: str, key: str, width: int
) -> tuple[int, list[float], list[float | None]] | None:
    """The history of `key` cut to `width` buckets: (points stored, steps, values).

    Each bucket gives its min at its first step and its max at its last (one pixel column
    drawn as a vertical stroke). None when the history is short enough to send whole.
    """
    check_id(run_id)
    mp = t.metric_points
    with backend.read() as conn:
        key_id = backend.existing_key_ids(conn, [key]).get(key)
        if key_id is None:
            return None
        where = and_(mp.c.run_id == run_id, mp.c.key_id == key_id)
        n, lo, hi = conn.execute(
            select(func.count(), func.min(mp.c.step), func.max(mp.c.step)).where(where)
        ).one()
        if n <= 2 * width:
            return None
        span = int(hi) - int(lo) + 1
        # Integer division on both databases: (step - lo) * width // span is in [0, width).
        bucket = ((mp.c.step - int(lo)) * width // span).label("bucket")
        rows = conn.execute(
            select(bucket, func.min(mp.c.step), func.max(mp.c.step), func.min(mp.c.value),
                   func.max(mp.c.value))
            .where(and_(where, _finite()))  # type: ignore[arg-type]
            .group_by(bucket)
            .order_by(bucket)
        ).all()  # fmt: skip
    xs: list[float] = []
    ys: list[float | None] = []
    for _, first, last, low, high in rows:
        xs.append(float(first))
        ys.append(float(low))
        if last != first or high != low:
            xs.append(float(last))
            ys.append(float(high))
    return int(n), xs, ys
