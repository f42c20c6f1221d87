"""`search_runs` for the SQL store: the query tree of `autolog._search` translated to SQL.

The semantics are those of `Query.matches` and `sort_runs`, which the local store
evaluates in Python:

- A run without the key matches only IS NULL: each clause on a metric, param or tag is an
  EXISTS over the (run, key) row, so a missing row fails every comparison, `!=` and
  NOT IN included.
- NaN metrics are stored as NULL plus `is_nan`: they fail `=` and `<`, but pass `!=` and
  NOT IN (as `nan != x` does in Python), and sort with the missing values.
- `<`, `<=`, `>`, `>=` on params and tags compare numerically when both sides parse as
  numbers, else as strings: `value_num` holds the parsed number (NULL for text), so the
  rule is `(value_num IS NOT NULL AND value_num < x) OR (value_num IS NULL AND value < 'x')`.
- Text compares by code point: SQLite's BINARY collation and PostgreSQL's "C" collation
  (set on every compared column) both do.
- LIKE matches the whole value with `%`, `_` and backslash escapes. SQLite's LIKE ignores
  ASCII case, so on SQLite every LIKE and ILIKE calls `autolog_like`, a function registered
  on each connection that runs the very regex `Query.matches` uses. On PostgreSQL, LIKE is
  SQL (case-sensitive, ESCAPE '\\'); ILIKE, LIKE on `status` (case-insensitive) and a
  pattern ending in a lone backslash are evaluated in Python after a SQL prefilter, because
  PostgreSQL's case folding is not Python's (in the C collation it folds ASCII only).
- Ordering: missing values (and NaN) last in either direction; params and tags sort as
  numbers when every present value among the matching runs parses as one, else as text.

Pages are cut with keyset tokens, never OFFSET: the token holds the sort key of the last
run of the page, and the next page starts strictly after it in the (total) order.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Double,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)

from autolog._search import Clause, Field, Order, Query
from autolog.backends.base import RunPage, check_max_results
from autolog.backends.sql import schema as t
from autolog.backends.sql.store import SqlBackend, number_or_none, run_select
from autolog.errors import InvalidValueError

__all__ = ["search_run_ids", "search_runs"]

_TABLES = {"metric": t.latest_metrics, "param": t.params, "tag": t.tags}
# Candidates fetched per round when some clauses are evaluated in Python.
_ROUND = 500


def _cmp(op: str, left: Any, right: Any) -> ColumnElement[bool]:
    if op == "=":
        return left == right  # type: ignore[no-any-return]
    if op == "!=":
        return left != right  # type: ignore[no-any-return]
    if op == "<":
        return left < right  # type: ignore[no-any-return]
    if op == "<=":
        return left <= right  # type: ignore[no-any-return]
    if op == ">":
        return left > right  # type: ignore[no-any-return]
    return left >= right  # type: ignore[no-any-return]


def _attribute(key: str) -> Any:
    runs = t.runs.c
    columns: dict[str, Any] = {
        "id": runs.id,
        "name": runs.name,
        "status": runs.status,
        "start_time": runs.start_time,
        "end_time": runs.end_time,
        "duration": cast(runs.end_time - runs.start_time, Double) / 1000.0,
        "experiment": t.experiments.c.name,
        "experiment_id": runs.experiment_id,
        "parent_id": runs.parent_id,
    }
    return columns[key]


@dataclass
class _Plan:
    """A search turned into SQL: the WHERE, the clauses left to Python, the sort columns."""

    where: list[ColumnElement[bool]]
    residual: list[Clause]
    joins: list[tuple[Any, Any]]
    sort: list[tuple[Any, bool]]  # (expression, descending)


class _Translator:
    """Turns clauses and orders into SQL for one backend's dialect and key ids."""

    def __init__(self, backend: SqlBackend, key_ids: dict[tuple[Any, str], int]) -> None:
        self.sqlite = backend.dialect == "sqlite"
        self.key_ids = key_ids
        self.raw: dict[int, tuple[Any, Any]] = {}

    def like(self, column: Any, op: str, pattern: str, ignore_case: bool) -> Any:
        """The SQL of a LIKE clause, or None when it must be evaluated in Python."""
        negated = op.startswith("NOT")
        if self.sqlite:
            return func.autolog_like(column, pattern, 1 if ignore_case else 0) == (
                0 if negated else 1
            )
        trailing = len(pattern) - len(pattern.rstrip("\\"))
        if ignore_case or trailing % 2:
            return None
        match = column.like(pattern, escape="\\")
        return not_(match) if negated else match

    def clause(self, clause: Clause) -> ColumnElement[bool] | None:
        """The SQL of one clause, or None when it must be evaluated in Python."""
        fld, op, values = clause.field, clause.op, clause.values
        if fld.kind == "attribute":
            column = _attribute(fld.key)
            if op == "IS NULL":
                return column.is_(None)  # type: ignore[no-any-return]
            if op == "IS NOT NULL":
                return column.isnot(None)  # type: ignore[no-any-return]
            return self.condition(column, None, fld, op, values)
        # An alias of its own: an outer query over the same table must not correlate it.
        table = _TABLES[fld.kind].alias()
        key_id = self.key_ids.get((fld.kind, fld.key))
        if key_id is None:  # no run has ever had this key
            return true() if op == "IS NULL" else false()
        row = exists().where(table.c.run_id == t.runs.c.id, table.c.key_id == key_id)
        if op == "IS NULL":
            return not_(row)
        if op == "IS NOT NULL":
            return row
        if fld.kind == "metric":
            cond = self.condition(table.c.value, table.c.is_nan, fld, op, values)
        else:
            cond = self.text_condition(table, fld, op, values)
        return None if cond is None else row.where(cond)

    def condition(
        self, column: Any, is_nan: Any, fld: Field, op: str, values: tuple[str | float, ...]
    ) -> ColumnElement[bool] | None:
        if "LIKE" in op:
            ignore_case = "ILIKE" in op or fld.type == "status"
            return self.like(column, op, str(values[0]), ignore_case)  # type: ignore[no-any-return]
        if op in ("IN", "NOT IN"):
            inside = column.in_(values)
            if op == "IN":
                return inside  # type: ignore[no-any-return]
            # NaN is in no list, so NOT IN holds for it.
            return or_(not_(inside), is_nan) if is_nan is not None else not_(inside)
        cond = _cmp(op, column, values[0])
        if op == "!=" and is_nan is not None:
            return or_(cond, is_nan)
        return cond

    def text_condition(
        self, table: Any, fld: Field, op: str, values: tuple[str | float, ...]
    ) -> ColumnElement[bool] | None:
        if op in ("<", "<=", ">", ">="):
            text = str(values[0])
            number = number_or_none(text)
            as_text = _cmp(op, table.c.value, text)
            if number is None:
                return as_text
            return or_(
                and_(table.c.value_num.isnot(None), _cmp(op, table.c.value_num, number)),
                and_(table.c.value_num.is_(None), as_text),
            )
        return self.condition(table.c.value, None, fld, op, values)

    def order(self, order: Order, index: int, numeric: bool) -> tuple[list[Any], list[Any]]:
        """The joins and sort columns of one order: (missing flag,) value.

        For a metric, param or tag the columns are the missing flag and the value with
        missing values filled in; `self.raw[index]` holds the value column itself and the
        column that is NULL when the value is missing.
        """
        fld = order.field
        if fld.kind == "attribute":
            column = _attribute(fld.key)
            if fld.key in ("end_time", "duration", "parent_id"):
                missing = case((column.is_(None), 1), else_=0)
                filler = literal("") if fld.key == "parent_id" else literal(0.0)
                return [], [missing, func.coalesce(column, filler)]
            return [], [column]
        key_id = self.key_ids.get((fld.kind, fld.key))
        if key_id is None:
            return [], []  # every run misses it: it orders nothing
        table = _TABLES[fld.kind].alias(f"o{index}")
        join = (table, and_(table.c.run_id == t.runs.c.id, table.c.key_id == key_id))
        value = table.c.value
        if fld.kind != "metric":
            value = table.c.value_num if numeric else table.c.value
        missing = case((table.c.value.is_(None), 1), else_=0)
        filler = literal(0.0) if fld.kind == "metric" or numeric else literal("")
        self.raw[index] = (value, table.c.value)
        return [join], [missing, func.coalesce(value, filler)]


def _after(sort: list[tuple[Any, bool]], last: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after the row whose sort key is `last`, in the order `sort`."""
    options = []
    for i, (expr, descending) in enumerate(sort):
        equal = [sort[j][0] == last[j] for j in range(i)]
        beyond = expr < last[i] if descending else expr > last[i]
        options.append(and_(*equal, beyond))
    return or_(*options)


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:16]


def _encode_token(fingerprint: str, key: Sequence[Any]) -> str:
    data = json.dumps({"f": fingerprint, "k": list(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode("utf-8")).decode("ascii")


def _decode_token(token: str, fingerprint: str, width: int) -> list[Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        key = data["k"]
        ok = data["f"] == fingerprint and isinstance(key, list) and len(key) == width
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        ok = False
    if not ok:
        raise InvalidValueError(
            f"page token {token!r} was not given for this search; pass the next_page_token of"
            " the previous page of the same search (same experiments, filter and order), or"
            " None for the first page"
        )
    return list(key)


def search_runs(
    backend: SqlBackend,
    experiment_ids: list[str] | None,
    query: Query,
    order_by: Sequence[Order],
    max_results: int,
    page_token: str | None = None,
    *,
    extra: Sequence[ColumnElement[bool]] = (),
) -> RunPage:
    """One page of the runs matching `query`, sorted by `order_by` (see the module docstring).

    `extra` adds conditions on `runs` (MLflow's routes leave deleted runs out with one).
    """
    check_max_results(max_results)
    if experiment_ids is not None and not experiment_ids:
        return RunPage([])
    with backend.read() as conn:
        rows, token = _search(
            backend, conn, experiment_ids, query, order_by, max_results, page_token, extra
        )
        return RunPage(backend.load_rows(conn, rows), token)


def search_run_ids(
    backend: SqlBackend,
    experiment_ids: list[str] | None,
    query: Query,
    order_by: Sequence[Order],
    max_results: int,
    page_token: str | None = None,
    *,
    extra: Sequence[ColumnElement[bool]] = (),
) -> tuple[list[str], str | None]:
    """The ids of `search_runs`'s page, and its next page token (for callers with a loader)."""
    check_max_results(max_results)
    if experiment_ids is not None and not experiment_ids:
        return [], None
    with backend.read() as conn:
        rows, token = _search(
            backend, conn, experiment_ids, query, order_by, max_results, page_token, extra
        )
    return [row.id for row in rows], token


def _search(
    backend: SqlBackend,
    conn: Connection,
    experiment_ids: list[str] | None,
    query: Query,
    order_by: Sequence[Order],
    max_results: int,
    page_token: str | None,
    extra: Sequence[ColumnElement[bool]],
) -> tuple[list[Any], str | None]:
    """The rows (`run_select()`'s columns, then the sort key) of one page, and the next token."""
    wanted = {(c.field.kind, c.field.key) for c in query.clauses}
    wanted |= {(o.field.kind, o.field.key) for o in order_by}
    wanted = {w for w in wanted if w[0] != "attribute"}
    found = backend.existing_key_ids(conn, {key for _, key in wanted})
    key_ids = {(kind, key): found[key] for kind, key in wanted if key in found}
    tr = _Translator(backend, key_ids)
    where: list[ColumnElement[bool]] = list(extra)
    if experiment_ids is not None:
        where.append(t.runs.c.experiment_id.in_(experiment_ids))
    residual = []
    for clause in query.clauses:
        sql = tr.clause(clause)
        if sql is None:
            residual.append(clause)
            # The SQL prefilter of a clause left to Python: the run has the key.
            if clause.field.kind != "attribute":
                prefilter = tr.clause(Clause(clause.field, "IS NOT NULL"))
                if prefilter is not None:
                    where.append(prefilter)
        else:
            where.append(sql)
    joins: list[Any] = []
    sort: list[tuple[Any, bool]] = []
    decisions = []
    for i, order in enumerate(order_by):
        numeric = False
        if order.field.kind in ("param", "tag"):
            numeric = _all_numeric(backend, conn, tr, where, residual, order.field)
            decisions.append(numeric)
        order_joins, columns = tr.order(order, i, numeric)
        joins += order_joins
        # The missing flag sorts ascending whatever the direction: missing last.
        sort += [(c, order.descending and j == len(columns) - 1) for j, c in enumerate(columns)]
    fingerprint = _fingerprint(experiment_ids, query, tuple(order_by), decisions)

    def select_rows(inner_first: bool) -> Any:
        base = run_select()
        for i, (table, on) in enumerate(joins):
            base = base.join(table, on) if inner_first and i == 0 else base.outerjoin(table, on)
        base = base.add_columns(*(expr.label(f"sort_{i}") for i, (expr, _) in enumerate(sort)))
        return base.where(and_(*where)) if where else base

    last = _decode_token(page_token, fingerprint, len(sort)) if page_token else None
    width = len(sort)
    # Ordered by a metric, param or tag, the runs that have it come first, then the rest. Read
    # as two parts, the first is ordered by the bare value column, which the (key, value)
    # index can deliver in order: a page then costs its own rows, not a sort of every run.
    parts: list[tuple[Any, list[tuple[Any, bool]], int | None]] = [(select_rows(False), sort, None)]
    if 0 in tr.raw:
        raw, stored = tr.raw[0]
        parts = [
            (select_rows(True).where(stored.isnot(None)), [(raw, sort[1][1]), *sort[2:]], 0),
            (select_rows(False).where(stored.is_(None)), sort[2:], 1),
        ]
    page: list[Any] = []
    for base, part_sort, flag in parts:
        if flag == 0 and last is not None and last[0] == 1:
            continue  # the token is already past the runs that have the value
        ordered = base.order_by(*(expr.desc() if d else expr.asc() for expr, d in part_sort))
        after = last if flag is None or last is None or last[0] == flag else None
        while len(page) <= max_results:
            stmt = ordered if after is None else ordered.where(_after(sort, after))
            limit = max_results + 1 - len(page) if not residual else _ROUND
            rows = conn.execute(stmt.limit(limit)).all()
            if residual:
                runs = backend.load_rows(conn, rows)
                page += [
                    row
                    for row, run in zip(rows, runs, strict=True)
                    if all(c.matches(run) for c in residual)
                ]
            else:
                page += rows
            if len(rows) < limit:
                break
            after = list(rows[-1][-width:])
        if len(page) > max_results:
            break
    more = len(page) > max_results
    page = page[:max_results]
    token = _encode_token(fingerprint, list(page[-1][-width:])) if more and page else None
    return page, token


def _all_numeric(
    backend: SqlBackend,
    conn: Connection,
    tr: _Translator,
    where: list[ColumnElement[bool]],
    residual: list[Clause],
    fld: Field,
) -> bool:
    """Whether every value of a param or tag among the matching runs parses as a number."""
    key_id = tr.key_ids.get((fld.kind, fld.key))
    if key_id is None:
        return True
    table = _TABLES[fld.kind]
    text_rows = (
        select(t.runs.c.id)
        .select_from(t.runs.join(t.experiments).join(table, table.c.run_id == t.runs.c.id))
        .where(*where, table.c.key_id == key_id, table.c.value_num.is_(None))
    )
    if not residual:
        return conn.execute(text_rows.limit(1)).first() is None
    # Runs with a text value may all fail a clause evaluated in Python: look at them.
    candidates = backend.load_runs(conn, run_select().where(t.runs.c.id.in_(text_rows)))
    return not any(all(c.matches(run) for c in residual) for run in candidates)
