"""The experiments list, the runs table of an experiment, and the rows its script fetches.

The table is virtualized: the page holds no rows; its script asks `rows` for one page of
the search at a time (the backend's keyset paging, never an offset) with only the
columns the user picked, and draws only the rows in view. Filter, order, columns,
grouping and selection live in the page's URL.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from autolog import _tags
from autolog._entities import Run
from autolog._search import Field, Query, parse_orders, parse_query
from autolog._server.identity import allowed
from autolog._server.ui.render import json_reply, render, ui_page
from autolog._server.ui.store import backend
from autolog._validation import check_id
from autolog.errors import FilterSyntaxError, InvalidValueError

__all__ = ["column_spec", "experiment_page", "experiments_page", "rows"]

#: Runs per request of the table's script, and the most one request may ask for.
PAGE = 200
MAX_PAGE = 1000
#: Most runs read to offer column names.
SAMPLE = 200
#: Columns one request may ask for.
MAX_COLUMNS = 200
_POSITION = re.compile(r" at position (\d+):")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/]*")
_SECONDARY = ("feature_importance", "system/")


@ui_page
async def experiments_page(request: Request) -> Response:
    exps = await run_in_threadpool(backend(request).list_experiments)
    shown = [e for e in exps if await allowed(request, "experiment", e.id, "reader")]
    return render(request, "experiments.html", title="Experiments", experiments=shown)


def column_spec(prefix: str, key: str) -> str:
    """The column (and search field) naming `key` under `prefix`, quoted where it must be."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{prefix}.{key}"
    return f"{prefix}.`{key}`" if "`" not in key else f'{prefix}."{key}"'


def _keys(runs: list[Run]) -> dict[str, list[str]]:
    params: Counter[str] = Counter()
    metrics: Counter[str] = Counter()
    tags: set[str] = set()
    for run in runs:
        params.update(run.params.keys())
        metrics.update(run.metrics.keys())
        tags.update(run.tags)
    return {
        "params": sorted(k for k in params if not k.startswith(_tags.PREFIX)),
        "metrics": sorted(metrics),
        "tags": sorted(k for k in tags if not k.startswith(_tags.PREFIX)),
        "system": sorted(k for k in tags | set(params) if k.startswith(_tags.PREFIX)),
        # The columns shown first: the keys most runs have, the run's own results before
        # the per-feature and system ones.
        "default": [column_spec("metrics", k) for k, _ in metrics.most_common()
                    if not k.startswith(_SECONDARY)][:4]
        + [column_spec("params", k) for k, _ in params.most_common()
           if not k.startswith(_tags.PREFIX)][:4],
    }  # fmt: skip


@ui_page
async def experiment_page(request: Request) -> Response:
    exp_id = check_id(request.path_params["experiment_id"], "experiment id")
    store = backend(request)
    exp = await run_in_threadpool(store.get_experiment, exp_id)
    sample = await run_in_threadpool(
        store.search_runs, [exp.id], Query(), parse_orders(None), SAMPLE, None
    )
    keys = _keys(sample.runs)
    return render(
        request,
        "experiment.html",
        title=exp.name,
        experiment=exp,
        keys=keys,
        empty=not sample.runs,
    )


def _column(spec: str) -> Field:
    try:
        return parse_orders(spec)[0].field
    except FilterSyntaxError as exc:
        raise InvalidValueError(
            f"column {spec!r} is not a column name; use params.KEY, metrics.KEY, tags.KEY or"
            f" attributes.NAME ({exc})"
        ) from None


def _cell(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return value


def _row(run: Run, columns: list[Field]) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "status": run.status.value,
        "start": run.start_time,
        "duration": run.duration,
        "user": run.tags.get(_tags.USER, ""),
        "commit": run.tags.get(_tags.GIT_COMMIT, "")[:10],
        "parent": run.parent_id,
        "cells": [_cell(f.read(run)) for f in columns],
    }


def _syntax_error(exc: FilterSyntaxError, what: str) -> Response:
    text = str(exc)
    found = _POSITION.search(text)
    position = int(found.group(1)) if found else None
    # A 200: a mistyped filter is the user's draft, shown under the box, not a failed request.
    return json_reply({"error": text, "where": what, "position": position})


def _children_counts(store: Any, exp_id: str, parents: list[str]) -> dict[str, int]:
    """How many child runs each of `parents` has (one search for the page)."""
    if not parents:
        return {}
    quoted = ", ".join("'" + p + "'" for p in parents)  # ids are [A-Za-z0-9_-]: no quoting
    counts: dict[str, int] = {}
    token: str | None = None
    query = parse_query(f"parent_id IN ({quoted})")
    orders = parse_orders(None)
    while True:
        page = store.search_runs([exp_id], query, orders, 1000, token)
        for run in page.runs:
            counts[run.parent_id] = counts.get(run.parent_id, 0) + 1
        token = page.next_page_token
        if token is None:
            return counts


@ui_page
async def rows(request: Request) -> Response:
    """One page of the table: `filter`, `order` (repeated), `col` (repeated), `token`.

    `group=1` lists top-level runs only, each with its number of child runs; `parent=ID`
    lists the children of one run.
    """
    exp_id = check_id(request.path_params["experiment_id"], "experiment id")
    q = request.query_params
    text = q.get("filter", "")
    parent = q.get("parent")
    try:
        query = parse_query(text)
    except FilterSyntaxError as exc:
        return _syntax_error(exc, "filter")
    try:
        orders = parse_orders([o for o in q.getlist("order") if o.strip()])
    except FilterSyntaxError as exc:
        return _syntax_error(exc, "order")
    specs = q.getlist("col")[:MAX_COLUMNS]
    columns = [_column(c) for c in specs]
    grouped = q.get("group") == "1"
    if parent:
        extra = parse_query(f"parent_id = '{check_id(parent)}'").clauses
        query = Query(query.clauses + extra)
    elif grouped:
        query = Query(query.clauses + parse_query("parent_id IS NULL").clauses)
    asked = q.get("limit", "")
    limit = max(1, min(int(asked), MAX_PAGE)) if asked.isdigit() else PAGE
    store = backend(request)

    def search() -> dict[str, Any]:
        page = store.search_runs([exp_id], query, orders, limit, q.get("token") or None)
        counts: dict[str, int] = {}
        if grouped and not parent:
            counts = _children_counts(store, exp_id, [r.id for r in page.runs])
        out = []
        for run in page.runs:
            row = _row(run, columns)
            row["children"] = counts.get(run.id, 0)
            out.append(row)
        return {"rows": out, "token": page.next_page_token}

    return json_reply(await run_in_threadpool(search))
