"""The page of one run, and the metric histories its charts fetch (downsampled here)."""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from autolog import _tags
from autolog._entities import FileInfo, Run
from autolog._search import parse_orders, parse_query
from autolog._server.ui.plots import read_plots
from autolog._server.ui.render import json_reply, render, ui_page
from autolog._server.ui.store import backend, chart_history, metric_summaries, registry
from autolog._validation import check_id
from autolog.backends.base import Backend
from autolog.errors import AutologError, InvalidValueError

__all__ = ["chart_width", "history", "run_page"]

#: Metrics whose history is read for min, max and a chart (the rest show their latest value).
MAX_CHARTED = 100
#: Features shown in the importances chart.
MAX_FEATURES = 30

_CONTEXT = [
    ("Command", _tags.COMMAND),
    ("Script", _tags.SCRIPT),
    ("Arguments", _tags.SCRIPT_ARGS),
    ("Working directory", _tags.CWD),
    ("User", _tags.USER),
    ("Host", _tags.HOST),
    ("Python", _tags.PYTHON),
    ("Platform", _tags.PLATFORM),
    ("CPUs", _tags.HOST_CPU_COUNT),
    ("CPU", _tags.HOST_CPU_MODEL),
    ("Memory (MB)", _tags.HOST_MEMORY_TOTAL_MB),
    ("GPU", _tags.HOST_GPU_MODEL),
    ("Git commit", _tags.GIT_COMMIT),
    ("Git branch", _tags.GIT_BRANCH),
    ("Git remote", _tags.GIT_REMOTE),
    ("Uncommitted changes", _tags.GIT_DIRTY),
    ("Diff truncated", _tags.GIT_DIFF_TRUNCATED),
]


def _metric_rows(store: Backend, run: Run) -> list[dict[str, Any]]:
    summaries = metric_summaries(store, run, MAX_CHARTED)
    out = []
    for key, latest in sorted(run.metrics.items()):
        n, low, high = summaries.get(key, (1, None, None))
        out.append({"key": key, "latest": latest, "min": low, "max": high, "n": n})
    return out


def _importances(store: Backend, run_id: str) -> dict[str, Any] | None:
    try:
        data = json.loads(store.read_artifact(run_id, "feature_importances.json"))
    except (AutologError, ValueError):
        return None
    if not isinstance(data, dict) or not data.get("types"):
        return None
    kind = data["types"][0]
    values = (data.get("importances") or {}).get(kind) or []
    features = data.get("features") or []
    pairs = [(str(f), v) for f, v in zip(features, values, strict=False) if v is not None]
    pairs = pairs[:MAX_FEATURES]
    top = max((abs(v) for _, v in pairs), default=0) or 1
    return {
        "model": data.get("model"),
        "type": kind,
        "bars": [{"feature": f, "value": v, "scale": abs(v) / top} for f, v in pairs],
        "total": data.get("features_total"),
    }


def _top_artifacts(store: Backend, run_id: str) -> list[FileInfo]:
    try:
        return store.list_artifacts(run_id, "")
    except AutologError:
        return []


def _models(store: Backend, run_id: str, entries: list[FileInfo]) -> list[dict[str, Any]]:
    """The run's model directories (those holding an MLmodel file) among `entries`."""
    found = []
    for entry in entries:
        if entry.is_dir:
            try:
                inside = store.list_artifacts(run_id, entry.path)
            except AutologError:
                continue
            if any(f.path.rsplit("/", 1)[-1] == "MLmodel" for f in inside):
                found.append({"path": entry.path})
    return found


def _versions(request: Request, run_id: str) -> list[dict[str, Any]]:
    """The registered versions whose source is this run."""
    try:
        states = registry(request).load_all()
    except AutologError:
        return []
    out = []
    for state in states:
        for v in state.live_versions():
            version = state.to_version(v)
            if version.run_id == run_id:
                out.append(version.to_dict())
    return out


def _children(store: Backend, run: Run) -> list[Run]:
    query = parse_query(f"parent_id = '{run.id}'")
    page = store.search_runs([run.experiment_id], query, parse_orders(None), 100)
    children: list[Run] = page.runs
    return children


@ui_page
async def run_page(request: Request) -> Response:
    run_id = check_id(request.path_params["run_id"])
    store = backend(request)

    def gather() -> dict[str, Any]:
        run = store.get_run(run_id)
        system = {k: v for k, v in run.tags.items() if k.startswith(_tags.PREFIX)}
        data = {k: v for k, v in {**run.params, **run.tags}.items()
                if k.startswith(_tags.DATA_PREFIX)}  # fmt: skip
        libraries = {k[len(_tags.LIB_PREFIX) :]: v for k, v in run.tags.items()
                     if k.startswith(_tags.LIB_PREFIX)}  # fmt: skip
        files = _top_artifacts(store, run.id)
        return {
            "run": run,
            "params": sorted(
                (k, v) for k, v in run.params.items() if not k.startswith(_tags.DATA_PREFIX)
            ),
            "metrics": _metric_rows(store, run),
            "tags": sorted((k, v) for k, v in run.tags.items() if k not in system),
            "system": sorted(system.items()),
            "context": [(label, run.tags[tag]) for label, tag in _CONTEXT if tag in run.tags],
            "data": sorted(data.items()),
            "libraries": sorted(libraries.items()),
            "importances": _importances(store, run.id),
            "plots": read_plots(store, run.id, files),
            "models": _models(store, run.id, files),
            "versions": _versions(request, run.id),
            "children": _children(store, run),
            "error": run.tags.get(_tags.ERROR),
        }

    found = await run_in_threadpool(gather)
    run: Run = found["run"]
    parent = None
    if run.parent_id:
        try:
            parent = await run_in_threadpool(store.get_run, run.parent_id)
        except AutologError:
            parent = None
    return render(request, "run.html", title=run.name or run.id, parent=parent, **found)


def chart_width(request: Request) -> int:
    text = request.query_params.get("width", "800")
    if not text.isdigit() or int(text) < 1:
        raise InvalidValueError(f"width {text!r} must be a positive number of pixels")
    return int(text)


@ui_page
async def history(request: Request) -> Response:
    """A metric's history cut to `width` pixels: {key, x, y, n} (n: points stored)."""
    run_id = check_id(request.path_params["run_id"])
    key = request.query_params.get("key", "")
    width = chart_width(request)
    store = backend(request)

    def read() -> dict[str, Any]:
        n, xs, ys = chart_history(store, run_id, key, width)
        return {"key": key, "x": xs, "y": ys, "n": n}

    return json_reply(await run_in_threadpool(read))
