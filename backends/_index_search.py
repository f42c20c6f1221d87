"""Searching the derived index: the query tree of `autolog._search` translated to SQLite.

The semantics are those of `Query.matches` and `sort_runs` (and of the SQL store's
translation, `autolog.backends.sql.search`, which this follows without SQLAlchemy, so
that reading a local store does not import it):

- A clause on a metric, param or tag is an EXISTS over the (run, key) row: a run
  without the key matches only IS NULL, `!=` and NOT IN included.
- NaN metrics are stored as NULL with `is_nan` set: they fail `=` and `<`, pass `!=`
  and NOT IN, and sort with the missing values.
- `<`, `<=`, `>`, `>=` on params and tags compare numerically when both sides parse as
  numbers (`value_num` holds the parsed value), else as text (by code point).
- LIKE and ILIKE call `autolog_like`, which runs the regex `Query.matches` uses.
- Missing values sort last in either direction; params and tags sort as numbers when
  every present value among the matching runs parses as one.

Pages are cut with keyset tokens: a token holds the sort key of the last run given.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import math
import sqlite3
from collections.abc import Sequence
from typing import Any

from autolog._entities import Run, RunStatus
from autolog._search import Clause, Field, Order, Query, parse_orders
from autolog.backends._index import number_or_none
from autolog.errors import InvalidValueError

__all__ = ["count_runs", "load_runs", "search"]

_TABLES = {"metric": "metrics", "param": "params", "tag": "tags"}
_ATTRS = {
    "id": "r.id",
    "name": "r.name",
    "status": "r.status",
    "start_time": "r.start_time",
    "end_time": "r.end_time",
    "duration": "((r.end_time - r.start_time) / 1000.0)",
    "experiment": "COALESCE(e.name, r.experiment_id)",
    "experiment_id": "r.experiment_id",
    "parent_id": "r.parent_id",
}
_NULLABLE = {"end_time", "duration", "parent_id"}
_CMP = {"=", "!=", "<", "<=", ">", ">="}
_FROM = "runs r LEFT JOIN experiments e ON e.id = r.experiment_id"
# A key's id, looked up once per statement (NULL, matching no row, for a key never seen).
_KID = "(SELECT kid FROM keys WHERE key = ?)"
_IN_CHUNK = 900  # ids per IN list, well under SQLite's limit on parameters


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _like(column: str, fld: Field, op: str, pattern: str, args: list[Any]) -> str:
    args += [pattern, 1 if "ILIKE" in op or fld.type == "status" else 0]
    return f"autolog_like({column}, ?, ?) = {0 if op.startswith('NOT') else 1}"


def _condition(column: str, nan: str | None, fld: Field, clause: Clause, args: list[Any]) -> str:
    """The SQL of `column op values`, `nan` naming the metric's NaN flag."""
    op, values = clause.op, clause.values
    if "LIKE" in op:
        shown = f"CASE WHEN {nan} THEN 'nan' ELSE {column} END" if nan else column
        return _like(shown, fld, op, str(values[0]), args)
    if op in ("IN", "NOT IN"):
        args += values
        if op == "IN":
            return f"{column} IN ({_marks(len(values))})"
        # NaN is in no list, so NOT IN holds for it.
        inside = f"{column} NOT IN ({_marks(len(values))})"
        return f"({inside} OR {nan})" if nan else inside
    if op not in _CMP:
        raise InvalidValueError(f"operator {op!r} is not one of the search grammar's")
    if fld.kind in ("param", "tag") and op not in ("=", "!="):
        text = str(values[0])
        number = number_or_none(text)
        if number is None:
            args.append(text)
            return f"{column} {op} ?"
        args += [number, text]
        return (
            f"((x.value_num IS NOT NULL AND x.value_num {op} ?)"
            f" OR (x.value_num IS NULL AND {column} {op} ?))"
        )
    args.append(values[0])
    if op == "!=" and nan:
        return f"({column} != ? OR {nan})"
    return f"{column} {op} ?"


def _clause(clause: Clause, args: list[Any]) -> str:
    fld = clause.field
    if fld.kind == "attribute":
        column = _ATTRS[fld.key]
        if clause.op in ("IS NULL", "IS NOT NULL"):
            return f"{column} {clause.op}"
        return _condition(column, None, fld, clause, args)
    row = f"SELECT 1 FROM {_TABLES[fld.kind]} x WHERE x.rid = r.rid AND x.kid = {_KID}"
    args.append(fld.key)
    if clause.op == "IS NULL":
        return f"NOT EXISTS ({row})"
    if clause.op == "IS NOT NULL":
        return f"EXISTS ({row})"
    nan = "x.is_nan" if fld.kind == "metric" else None
    return f"EXISTS ({row} AND {_condition('x.value', nan, fld, clause, args)})"


def _where(experiment_ids: list[str] | None, query: Query, args: list[Any]) -> str:
    parts = []
    if experiment_ids is not None:
        parts.append(f"r.experiment_id IN ({_marks(len(experiment_ids))})")
        args += experiment_ids
    parts += [_clause(c, args) for c in query.clauses]
    return " AND ".join(parts) if parts else "1"


def _all_numeric(con: sqlite3.Connection, fld: Field, where: str, where_args: list[Any]) -> bool:
    """Whether every value of a param or tag among the matching runs parses as a number."""
    sql = (
        f"SELECT 1 FROM {_FROM} JOIN {_TABLES[fld.kind]} v ON v.rid = r.rid AND v.kid = {_KID}"
        f" WHERE v.value_num IS NULL AND {where} LIMIT 1"
    )
    return con.execute(sql, [fld.key, *where_args]).fetchone() is None


def _order(
    order: Order, i: int, numeric: bool, joins: list[str], join_args: list[Any]
) -> list[tuple[str, bool]]:
    """The sort columns of one order, as (expression, descending): missing flag, then value."""
    fld, desc = order.field, order.descending
    if fld.kind == "attribute":
        column = _ATTRS[fld.key]
        if fld.key in _NULLABLE:
            filler = "''" if fld.key == "parent_id" else "0"
            return [(f"({column} IS NULL)", False), (f"COALESCE({column}, {filler})", desc)]
        return [(column, desc)]
    alias = f"o{i}"
    joins.append(
        f"LEFT JOIN {_TABLES[fld.kind]} {alias} ON {alias}.rid = r.rid AND {alias}.kid = {_KID}"
    )
    join_args.append(fld.key)
    if fld.kind == "metric" or numeric:
        column = f"{alias}.value" if fld.kind == "metric" else f"{alias}.value_num"
        value = f"COALESCE({column}, 0.0)"
    else:
        value = f"COALESCE({alias}.value, '')"
    return [(f"({alias}.value IS NULL)", False), (value, desc)]


def _after(sort: list[tuple[str, bool]], last: list[Any], args: list[Any]) -> str:
    """Rows strictly after the row whose sort key is `last`."""
    options = []
    for i, (_, descending) in enumerate(sort):
        parts = [f"s{j} = ?" for j in range(i)] + [f"s{i} {'<' if descending else '>'} ?"]
        args += [*last[:i], last[i]]
        options.append("(" + " AND ".join(parts) + ")")
    return " OR ".join(options)


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:16]


def _encode_token(fingerprint: str, key: Sequence[Any]) -> str:
    data = json.dumps({"f": fingerprint, "k": list(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode("utf-8")).decode("ascii")


def _decode_token(token: object, fingerprint: str, width: int) -> list[Any]:
    problem = "is not a page token of this backend"
    data: Any = None
    if isinstance(token, str):
        with contextlib.suppress(ValueError, binascii.Error):  # bad base64, UTF-8 or JSON
            data = json.loads(base64.urlsafe_b64decode(token.encode("utf-8")))
    if isinstance(data, dict) and isinstance(data.get("k"), list) and len(data["k"]) == width:
        if data.get("f") == fingerprint:
            return list(data["k"])
        problem = "belongs to another search (other experiments, filter or order)"
    elif isinstance(data, dict) and isinstance(data.get("k"), list):
        problem = "belongs to another search (other experiments, filter or order)"
    raise InvalidValueError(
        f"page_token {token!r} {problem}; pass the next_page_token of the previous page of"
        " the same search, or None for the first page"
    )


def search(
    con: sqlite3.Connection,
    experiment_ids: list[str] | None,
    query: Query,
    order_by: Sequence[Order],
    max_results: int,
    page_token: str | None,
) -> tuple[list[tuple[Run, dict[str, str]]], str | None]:
    """One page of matching runs (each with its damaged objects) and the next page's token."""
    if experiment_ids is not None and not experiment_ids:
        return [], None
    # Keyset pages need an order: the API's default (newest first, then id) when none is given.
    order_by = order_by or parse_orders(None)
    where_args: list[Any] = []
    where = _where(experiment_ids, query, where_args)
    joins: list[str] = []
    join_args: list[Any] = []
    sort: list[tuple[str, bool]] = []
    decisions = []
    for i, order in enumerate(order_by):
        numeric = False
        if order.field.kind in ("param", "tag"):
            numeric = _all_numeric(con, order.field, where, where_args)
            decisions.append(numeric)
        sort += _order(order, i, numeric, joins, join_args)
    fingerprint = _fingerprint(experiment_ids, query, tuple(order_by), decisions)
    columns = ", ".join(f"{expr} AS s{i}" for i, (expr, _) in enumerate(sort))
    inner = f"SELECT r.id AS id, {columns} FROM {_FROM} {' '.join(joins)} WHERE {where}"
    args = [*join_args, *where_args]
    sql = f"SELECT * FROM ({inner})"
    if page_token is not None:
        last = _decode_token(page_token, fingerprint, len(sort))
        sql += f" WHERE {_after(sort, last, args)}"
    order_sql = ", ".join(f"s{i} {'DESC' if d else 'ASC'}" for i, (_, d) in enumerate(sort))
    sql += f" ORDER BY {order_sql} LIMIT ?"
    rows = con.execute(sql, [*args, max_results + 1]).fetchall()
    more = len(rows) > max_results
    rows = rows[:max_results]
    runs = load_runs(con, [row[0] for row in rows])
    token = _encode_token(fingerprint, list(rows[-1][1:])) if more and rows else None
    return runs, token


def count_runs(
    con: sqlite3.Connection, experiment_ids: list[str] | None, query: Query
) -> dict[str, int]:
    """The number of matching runs of each experiment that has any."""
    if experiment_ids is not None and not experiment_ids:
        return {}
    args: list[Any] = []
    where = _where(experiment_ids, query, args)
    sql = f"SELECT r.experiment_id, COUNT(*) FROM {_FROM} WHERE {where} GROUP BY r.experiment_id"
    return dict(con.execute(sql, args).fetchall())


def load_runs(con: sqlite3.Connection, ids: Sequence[str]) -> list[tuple[Run, dict[str, str]]]:
    """The runs with these ids, in this order (ids not in the index are left out)."""
    rows: dict[str, tuple[Any, ...]] = {}
    params: dict[int, dict[str, str]] = {}
    tags: dict[int, dict[str, str]] = {}
    metrics: dict[int, dict[str, float]] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = list(ids[start : start + _IN_CHUNK])
        marks = _marks(len(chunk))
        rids = []
        for row in con.execute(
            "SELECT r.id, r.name, COALESCE(e.name, r.experiment_id), r.experiment_id, r.status,"
            f" r.start_time, r.end_time, r.parent_id, r.damaged, r.rid FROM {_FROM}"
            f" WHERE r.id IN ({marks})",
            chunk,
        ):
            rows[row[0]] = row
            rids.append(row[9])
        rmarks = _marks(len(rids))
        for rid, key, value in con.execute(
            f"SELECT rid, k.key, value FROM params JOIN keys k USING (kid) WHERE rid IN ({rmarks})",
            rids,
        ):
            params.setdefault(rid, {})[key] = value
        for rid, key, value in con.execute(
            f"SELECT rid, k.key, value FROM tags JOIN keys k USING (kid) WHERE rid IN ({rmarks})",
            rids,
        ):
            tags.setdefault(rid, {})[key] = value
        for rid, key, value, is_nan in con.execute(
            "SELECT rid, k.key, value, is_nan FROM metrics JOIN keys k USING (kid)"
            f" WHERE rid IN ({rmarks})",
            rids,
        ):
            metrics.setdefault(rid, {})[key] = math.nan if is_nan else float(value)
    out = []
    for run_id in ids:
        row = rows.get(run_id)
        if row is None:
            continue
        run = Run(
            id=row[0],
            name=row[1],
            experiment=row[2],
            experiment_id=row[3],
            status=RunStatus(row[4]),
            start_time=row[5],
            end_time=row[6],
            parent_id=row[7],
            params=params.get(row[9], {}),
            metrics=metrics.get(row[9], {}),
            tags=tags.get(row[9], {}),
        )
        out.append((run, json.loads(row[8]) if row[8] else {}))
    return out
