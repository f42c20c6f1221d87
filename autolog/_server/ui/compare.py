"""Compare 2 to 100 runs: params and metrics side by side, overlaid curves, parallel
coordinates and a scatter of two columns (the last three drawn by compare.js)."""

from __future__ import annotations

import math
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from autolog import _tags
from autolog._entities import Run
from autolog._server.identity import allowed
from autolog._server.ui.render import json_reply, render, ui_page
from autolog._server.ui.run import chart_width
from autolog._server.ui.store import backend, chart_history
from autolog._validation import check_id
from autolog.errors import InvalidValueError

__all__ = ["compare_histories", "compare_page"]

MAX_RUNS = 100


async def _run_ids(request: Request, least: int) -> list[str]:
    ids = list(dict.fromkeys(check_id(i) for i in request.query_params.getlist("run")))
    if not least <= len(ids) <= MAX_RUNS:
        raise InvalidValueError(
            f"{len(ids)} runs named; compare {least} to {MAX_RUNS} runs: select them in the"
            " runs table, or pass ?run=ID&run=ID"
        )
    for run_id in ids:
        if not await allowed(request, "run", run_id, "reader"):
            raise InvalidValueError(f"you may not read run {run_id}; remove it from the list")
    return ids


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _table(runs: list[Run], kind: str) -> list[dict[str, Any]]:
    """One row per key: the runs' values, and whether they differ."""
    keys: set[str] = set()
    for run in runs:
        keys.update(getattr(run, kind))
    rows = []
    for key in sorted(keys):
        if key.startswith(_tags.PREFIX):
            continue
        values = [getattr(run, kind).get(key) for run in runs]
        rows.append({"key": key, "values": values, "differ": len({repr(v) for v in values}) > 1})
    return rows


@ui_page
async def compare_page(request: Request) -> Response:
    ids = await _run_ids(request, 2)
    store = backend(request)
    runs = await run_in_threadpool(lambda: [store.get_run(i) for i in ids])
    params = _table(runs, "params")
    metrics = _table(runs, "metrics")
    # What the charts draw: per run, numbers where a column holds one, else the text.
    columns: list[dict[str, Any]] = []
    for kind, rows in (("param", params), ("metric", metrics)):
        for row in rows:
            if kind == "param" and not row["differ"]:
                continue
            values = [v if kind == "metric" else (_number(v) if _number(v) is not None else v)
                      for v in row["values"]]  # fmt: skip
            columns.append({"name": f"{kind}s.{row['key']}", "values": values})
    chart = {
        "runs": [{"id": r.id, "name": r.name or r.id} for r in runs],
        "columns": columns,
        "metrics": [row["key"] for row in metrics],
    }
    return render(
        request, "compare.html", title=f"Compare {len(runs)} runs", runs=runs, params=params,
        metrics=metrics, chart=chart,
    )  # fmt: skip


@ui_page
async def compare_histories(request: Request) -> Response:
    """One metric of several runs, each cut to `width` pixels: {key, series: [{id, x, y}]}."""
    ids = await _run_ids(request, 1)
    key = request.query_params.get("key", "")
    width = chart_width(request)
    store = backend(request)

    def read() -> dict[str, Any]:
        series = []
        for run_id in ids:
            _, xs, ys = chart_history(store, run_id, key, width)
            series.append({"id": run_id, "x": xs, "y": ys})
        return {"key": key, "series": series}

    return json_reply(await run_in_threadpool(read))
