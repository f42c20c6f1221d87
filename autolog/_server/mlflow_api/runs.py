"""MLflow's run routes: create, read, update, delete, logging, search and metric history."""

from __future__ import annotations

import json
import math
import secrets
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, not_
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from autolog._entities import RunStatus
from autolog._search import parse_orders, parse_query
from autolog._server.app import reply
from autolog._server.identity import readable
from autolog._server.mlflow_api import common as c
from autolog._server.mlflow_api.experiments import view_type
from autolog._server.mlflow_api.tokens import decode_token, encode_token
from autolog._validation import check_id, check_key, check_name, check_param_value, check_tag_value
from autolog.backends.base import Batch, RunMeta
from autolog.backends.sql import schema as t
from autolog.errors import InvalidValueError, NotFoundError, ParamConflictError, RunNotFoundError

__all__ = ["ROUTES", "runs_text"]

RUN_NAME_TAG = "mlflow.runName"
PARENT_TAG = "mlflow.parentRunId"
LOG_MODEL_TAG = "mlflow.log-model.history"

# MLflow's limits of one log-batch request.
MAX_METRICS, MAX_PARAMS, MAX_TAGS, MAX_ENTITIES = 1000, 100, 100, 1000
MAX_SEARCH_RESULTS = 50_000

# Names for runs created without one (MLflow's server names them too).
_ADJECTIVES = ("amber", "brisk", "calm", "deft", "eager", "fair", "keen", "lucid", "merry")
_ANIMALS = ("auk", "bat", "crane", "doe", "eel", "finch", "hare", "ibis", "jay", "owl")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _random_name() -> str:
    pick = secrets.choice
    return f"{pick(_ADJECTIVES)}-{pick(_ANIMALS)}-{secrets.randbelow(1000)}"


def _run_id(data: dict[str, Any]) -> str:
    value = data.get("run_id") or data.get("run_uuid")
    if not value:
        raise InvalidValueError("missing value for required parameter 'run_id'")
    return check_id(value)


def runs_text(request: Request, run_ids: Sequence[str]) -> list[str]:
    """Runs as the JSON text of MLflow's `Run` messages."""
    return [c.run_text(doc) for doc in c.tables(request).run_documents(run_ids)]


# -- create, read, update, delete ------------------------------------------------------------


async def create_run(request: Request) -> Response:
    data = await c.params(request)
    tags = {check_key(k, "tag"): check_tag_value(k, v) for k, v in c.pairs(data, "tags")}
    name = c.text(data, "run_name", required=False) or tags.get(RUN_NAME_TAG) or _random_name()
    check_name(name)
    tags[RUN_NAME_TAG] = name
    start_time = c.integer(data, "start_time") or _now_ms()
    parent = tags.get(PARENT_TAG)
    run_user = c.user(request, data.get("user_id"))
    experiment_id = c.text(data, "experiment_id", required=False, default="0")

    def create() -> dict[str, Any]:
        backend, tables = c.backend(request), c.tables(request)
        exp_id = c.resolve_experiment_id(backend, experiment_id)
        run_id = uuid.uuid4().hex
        meta = RunMeta(run_id, name, exp_id, start_time, parent_id=parent)
        tables.create_run(meta, run_user, tags)
        info = c.run_info(run_id, name, exp_id, run_user, "RUNNING", start_time, None, False)
        data = {
            "metrics": [],
            "params": [],
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        return {"info": info, "data": data, "inputs": {"dataset_inputs": [], "model_inputs": []},
                "outputs": {"model_outputs": []}}  # fmt: skip

    return reply({"run": await run_in_threadpool(create)})


async def get_run(request: Request) -> Response:
    data = await c.params(request)
    run_id = _run_id(data)

    def get() -> str:
        found = runs_text(request, [run_id])
        if not found:
            raise RunNotFoundError(
                f"no run with id {run_id!r}; list runs with mlflow.search_runs()"
            )
        return found[0]

    return c.json_reply(f'{{"run":{await run_in_threadpool(get)}}}')


async def update_run(request: Request) -> Response:
    data = await c.params(request)
    run_id = _run_id(data)
    status = data.get("status") or None
    if status is not None and status not in RunStatus.__members__:
        raise InvalidValueError(
            f"run status {status!r} is not one of {', '.join(RunStatus.__members__)}"
        )
    end_time = c.integer(data, "end_time")
    name = c.text(data, "run_name", required=False) or None
    if name is not None:
        check_name(name)

    def update() -> dict[str, Any]:
        row = c.tables(request).update_run(run_id, status, end_time, name)
        return c.run_info(row.id, row.name, row.experiment_id, row.user_id, row.status,
                          row.start_time, row.end_time, bool(row.deleted))  # fmt: skip

    return reply({"run_info": await run_in_threadpool(update)})


async def _set_deleted(request: Request, deleted: bool) -> Response:
    data = await c.params(request)
    run_id = _run_id(data)
    await run_in_threadpool(c.tables(request).set_run_deleted, run_id, deleted)
    return reply({})


async def delete_run(request: Request) -> Response:
    return await _set_deleted(request, True)


async def restore_run(request: Request) -> Response:
    return await _set_deleted(request, False)


# -- logging ---------------------------------------------------------------------------------


_LIMIT = 2**63


def _metric(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InvalidValueError(f"metric {item!r} is not a {{key, value, timestamp, step}} object")
    value, ts, step = item.get("value"), item.get("timestamp"), item.get("step", 0)
    # The common case (what MLflow's client sends) without the general parsers.
    if not (type(value) is float or type(value) is int):
        value = c.number(item, "value")
    if type(ts) is not int or not -_LIMIT < ts < _LIMIT:
        ts = c.integer(item, "timestamp", None)
        ts = _now_ms() if ts is None else ts
    if type(step) is not int or not -_LIMIT < step < _LIMIT:
        step = c.integer(item, "step", 0)
    return {
        "key": check_key(c.text(item, "key"), "metric"),
        "value": float(value),
        "timestamp": ts,
        "step": step,
        "model_id": item.get("model_id") or None,
        "dataset_name": item.get("dataset_name") or None,
        "dataset_digest": item.get("dataset_digest") or None,
    }


def _write(
    request: Request,
    run_id: str,
    params: list[tuple[str, str]],
    tags: list[tuple[str, str]],
    metrics: list[dict[str, Any]],
) -> None:
    """Log params, tags and metrics to a run in one transaction, with MLflow's rules."""
    checked_params: dict[str, str] = {}
    for key, value in params:
        check_key(key, "param")
        text = check_param_value(key, value)
        if checked_params.get(key, text) != text:
            raise ParamConflictError(
                f"param {key!r} is given twice in one request with values {checked_params[key]!r}"
                f" and {text!r}; log it once"
            )
        checked_params[key] = text
    checked_tags = {check_key(k, "tag"): check_tag_value(k, v) for k, v in tags}
    tables = c.tables(request)
    series: dict[str, list[tuple[float, int, int]]] = {}
    linked = [m for m in metrics if m["model_id"]]
    known: set[tuple[str, float, int, int]] = set()
    if linked:
        # MLflow's log_model re-sends the run's metrics with the model's id: a point the run
        # already has is linked to the model, not logged twice.
        points = [(m["key"], m["value"], m["step"], m["timestamp"]) for m in linked]
        known = tables.existing_points(run_id, points)
        _link_metrics(request, run_id, linked)
    for m in metrics:
        point = (m["key"], m["value"], m["step"], m["timestamp"])
        if m["model_id"] and (point in known or _nan_known(point, known)):
            continue
        series.setdefault(m["key"], []).append((m["value"], m["step"], m["timestamp"]))
    batch = Batch(params=checked_params, tags=checked_tags, metrics=series)
    if not batch.is_empty():
        tables.log(run_id, batch)
    name = checked_tags.get(RUN_NAME_TAG)
    if name is not None:
        tables.update_run(run_id, None, None, check_name(name))


def _nan_known(point: tuple[str, float, int, int], known: set[Any]) -> bool:
    if not math.isnan(point[1]):
        return False
    return any(
        k == point[0] and math.isnan(v) and s == point[2] and ts == point[3]
        for k, v, s, ts in known
    )


def _link_metrics(request: Request, run_id: str, metrics: list[dict[str, Any]]) -> None:
    tables = c.tables(request)
    by_model: dict[str, list[dict[str, Any]]] = {}
    for m in metrics:
        by_model.setdefault(str(m["model_id"]), []).append(m)
    for model_id, items in by_model.items():
        try:
            model = tables.get_logged_model(model_id)
        except NotFoundError:
            continue  # a metric linked to an unknown model is still the run's metric
        stored = model.document.setdefault("metrics", [])
        for m in items:
            entry = {**m, "value": c.json_float(m["value"]), "run_id": run_id}
            if entry not in stored:
                stored.append(entry)
        tables.save_logged_model(model)


async def log_batch(request: Request) -> Response:
    data = await c.params(request)
    run_id = _run_id(data)
    raw_metrics = data.get("metrics") or []
    if not isinstance(raw_metrics, list):
        raise InvalidValueError(f"metrics {raw_metrics!r} must be a list")
    params, tags = c.pairs(data, "params"), c.pairs(data, "tags")
    counts = (len(raw_metrics), len(params), len(tags))
    if (
        counts[0] > MAX_METRICS
        or counts[1] > MAX_PARAMS
        or counts[2] > MAX_TAGS
        or sum(counts) > MAX_ENTITIES
    ):
        raise InvalidValueError(
            f"log-batch got {counts[0]} metrics, {counts[1]} params and {counts[2]} tags; send at"
            f" most {MAX_METRICS} metrics, {MAX_PARAMS} params, {MAX_TAGS} tags and"
            f" {MAX_ENTITIES} in all per request"
        )
    metrics = [_metric(m) for m in raw_metrics]
    await run_in_threadpool(_write, request, run_id, params, tags, metrics)
    return reply({})


async def log_metric(request: Request) -> Response:
    data = await c.params(request)
    run_id = _run_id(data)
    metric = _metric(data)
    await run_in_threadpool(_write, request, run_id, [], [], [metric])
    return reply({})


async def log_param(request: Request) -> Response:
    data = await c.params(request)
    run_id = _run_id(data)
    pair = (c.text(data, "key"), c.text(data, "value", required=False))
    await run_in_threadpool(_write, request, run_id, [pair], [], [])
    return reply({})


async def set_tag(request: Request) -> Response:
    data = await c.params(request)
    run_id = _run_id(data)
    pair = (c.text(data, "key"), c.text(data, "value", required=False))
    await run_in_threadpool(_write, request, run_id, [], [pair], [])
    return reply({})


async def delete_tag(request: Request) -> Response:
    data = await c.params(request)
    run_id = _run_id(data)
    key = c.text(data, "key")
    found = await run_in_threadpool(c.tables(request).delete_run_tag, run_id, key)
    if not found:
        raise NotFoundError(f"run {run_id} has no tag {key!r}; nothing to delete")
    return reply({})


async def log_model(request: Request) -> Response:
    """MLflow 2's record of a logged model: appended to the run's log-model history tag."""
    data = await c.params(request)
    run_id = _run_id(data)
    model_json = c.text(data, "model_json")
    try:
        model = json.loads(model_json)
    except ValueError:
        raise InvalidValueError(f"model_json {model_json[:80]!r}... is not valid JSON") from None

    def record() -> None:
        run = c.backend(request).get_run(run_id)
        try:
            history = json.loads(run.tags.get(LOG_MODEL_TAG, "[]"))
        except ValueError:
            history = []
        history = [*(history if isinstance(history, list) else []), model]
        _write(request, run_id, [], [(LOG_MODEL_TAG, json.dumps(history))], [])

    await run_in_threadpool(record)
    return reply({})


async def log_inputs(request: Request) -> Response:
    data = await c.params(request)
    run_id = _run_id(data)
    links: list[tuple[str, str, dict[str, Any]]] = []
    for item in data.get("datasets") or []:
        dataset = item.get("dataset") if isinstance(item, dict) else None
        if not isinstance(dataset, dict):
            raise InvalidValueError(f"dataset input {item!r} has no 'dataset' object")
        key = f"{c.text(dataset, 'name')}:{c.text(dataset, 'digest')}"[:512]
        links.append(("dataset", key, c.clean(item, "datasets")))
    for item in data.get("models") or []:
        model_id = c.text(item, "model_id") if isinstance(item, dict) else None
        if model_id is None:
            raise InvalidValueError(f"model input {item!r} has no 'model_id'")
        links.append(("model_input", model_id[:512], {"model_id": model_id}))
    await run_in_threadpool(c.tables(request).add_links, run_id, links)
    return reply({})


async def log_outputs(request: Request) -> Response:
    data = await c.params(request)
    run_id = _run_id(data)
    links: list[tuple[str, str, dict[str, Any]]] = []
    for item in data.get("models") or []:
        model_id = c.text(item, "model_id") if isinstance(item, dict) else None
        if model_id is None:
            raise InvalidValueError(f"model output {item!r} has no 'model_id'")
        step = c.integer(item, "step", 0)
        links.append(("model_output", model_id[:512], {"model_id": model_id, "step": step}))
    await run_in_threadpool(c.tables(request).add_links, run_id, links)
    return reply({})


# -- search and history ----------------------------------------------------------------------


def _strings(value: object, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidValueError(f"{name} {value!r} must be a list of strings")
    return value


async def search_runs(request: Request) -> Response:
    data = await c.params(request)
    experiment_ids = _strings(data.get("experiment_ids"), "experiment_ids")
    query = parse_query(data.get("filter") or None)
    orders = parse_orders(_strings(data.get("order_by"), "order_by"))
    view = view_type(data, "run_view_type")
    max_results = c.integer(data, "max_results", 1000) or 1000
    if not 1 <= max_results <= MAX_SEARCH_RESULTS:
        raise InvalidValueError(
            f"max_results {max_results} must be between 1 and {MAX_SEARCH_RESULTS}"
        )
    token = data.get("page_token") or None
    if token is not None and not isinstance(token, str):
        raise InvalidValueError(f"page_token {token!r} must be a string")
    only = await readable(request, "experiment")

    def search() -> str:
        from autolog.backends.sql.search import search_run_ids

        backend = c.backend(request)
        ids = [c.resolve_experiment_id(backend, i) for i in experiment_ids]
        if only is not None:  # the runs of experiments the caller may read, only
            ids = [i for i in ids if i in only]
        deleted = exists().where(t.deleted_runs.c.run_id == t.runs.c.id)
        where = [] if view == "ALL" else [deleted if view == "DELETED_ONLY" else not_(deleted)]
        found, next_token = search_run_ids(
            backend, ids, query, orders, max_results, token, extra=where
        )
        more = f',"next_page_token":{c.dumps(next_token)}' if next_token else ""
        return f'{{"runs":[{",".join(runs_text(request, found))}]{more}}}'

    return c.json_reply(await run_in_threadpool(search))


async def metric_history(request: Request) -> Response:
    data = await c.params(request)
    run_id = _run_id(data)
    key = c.text(data, "metric_key")
    limit = c.integer(data, "max_results")
    if limit is not None and not 1 <= limit <= 1_000_000:
        raise InvalidValueError(f"max_results {limit} must be between 1 and 1000000")
    token = data.get("page_token") or None
    after = decode_token(token, "history", (int, int, int, int)) if token else None

    def read() -> dict[str, Any]:
        tables = c.tables(request)
        wanted = (limit or 10_000_000) + 1
        points = tables.history_page(run_id, key, tuple(after) if after else None, wanted)
        out: dict[str, Any] = {
            "metrics": [
                {"key": key, "value": c.json_float(v), "timestamp": ts, "step": s}
                for v, s, ts, _ in points[: wanted - 1]
            ]
        }
        if len(points) == wanted:
            out["next_page_token"] = encode_token("history", list(points[wanted - 2][3]))
        return out

    return reply(await run_in_threadpool(read))


_R = "/api/2.0/mlflow/runs"

#: (method, path, endpoint)
ROUTES = [
    ("POST", f"{_R}/create", create_run),
    ("GET", f"{_R}/get", get_run),
    ("POST", f"{_R}/update", update_run),
    ("POST", f"{_R}/delete", delete_run),
    ("POST", f"{_R}/restore", restore_run),
    ("POST", f"{_R}/log-metric", log_metric),
    ("POST", f"{_R}/log-parameter", log_param),
    ("POST", f"{_R}/set-tag", set_tag),
    ("POST", f"{_R}/delete-tag", delete_tag),
    ("POST", f"{_R}/log-batch", log_batch),
    ("POST", f"{_R}/log-model", log_model),
    ("POST", f"{_R}/log-inputs", log_inputs),
    ("POST", f"{_R}/outputs", log_outputs),
    ("POST", f"{_R}/search", search_runs),
    ("GET", "/api/2.0/mlflow/metrics/get-history", metric_history),
]
