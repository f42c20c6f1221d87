"""MLflow 3's logged-model routes (`/api/2.0/mlflow/logged-models...`).

`mlflow.<flavor>.log_model` creates a LoggedModel, uploads its files to the artifact URI
the server gives it, then marks it READY; `register_model` registers `models:/<model id>`.
A model logged from a run keeps its files in that run's artifacts, under
`models/<model id>/`, so the run lists them and autolog's own loader finds them.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from autolog._server.app import reply
from autolog._server.identity import readable
from autolog._server.mlflow_api import common as c
from autolog._server.mlflow_api.tokens import decode_token, encode_token
from autolog._validation import check_id, check_key, check_name, check_param_value, check_tag_value
from autolog.backends.sql.mlflow import LoggedModel
from autolog.errors import InvalidValueError, NotFoundError

__all__ = ["ROUTES", "model_artifact_uri", "model_json"]

STATUSES = ("LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED")
_FILTER_RE = re.compile(r"^\s*(name|source_run_id)\s*=\s*'([^']*)'\s*$", re.IGNORECASE)


def _now_ms() -> int:
    return int(time.time() * 1000)


def model_artifact_uri(model: LoggedModel) -> str:
    """Where a logged model's files are: in its run's artifacts when it has a run."""
    if model.source_run_id:
        run_uri = c.artifact_uri(model.experiment_id, model.source_run_id)
        return f"{run_uri}/models/{model.id}"
    return f"mlflow-artifacts:/{model.experiment_id}/models/{model.id}/artifacts"


def model_json(model: LoggedModel) -> dict[str, Any]:
    doc = model.document
    info: dict[str, Any] = {
        "model_id": model.id,
        "experiment_id": model.experiment_id,
        "name": model.name,
        "creation_timestamp_ms": model.created_at,
        "last_updated_timestamp_ms": model.updated_at,
        "artifact_uri": model_artifact_uri(model),
        "status": model.status,
        "tags": [{"key": k, "value": v} for k, v in sorted(doc.get("tags", {}).items())],
    }
    for name in ("model_type", "status_message"):
        if doc.get(name):
            info[name] = doc[name]
    if model.source_run_id:
        info["source_run_id"] = model.source_run_id
    metrics = [{k: v for k, v in m.items() if v is not None} for m in doc.get("metrics", [])]
    data = {
        "params": [{"key": k, "value": v} for k, v in sorted(doc.get("params", {}).items())],
        "metrics": metrics,
    }
    return {"info": info, "data": data}


def _model_id(request: Request) -> str:
    return check_id(request.path_params["model_id"], "logged model id")


def _checked(pairs: list[tuple[str, str]], kind: str) -> dict[str, str]:
    check = check_param_value if kind == "param" else check_tag_value
    return {check_key(k, kind): check(k, v) for k, v in pairs}


async def create_model(request: Request) -> Response:
    data = await c.params(request)
    experiment_id = c.text(data, "experiment_id")
    name = check_name(c.text(data, "name", required=False) or f"model-{uuid.uuid4().hex[:8]}",
                      "logged model name")  # fmt: skip
    source_run_id = c.text(data, "source_run_id", required=False) or None
    model_type = c.text(data, "model_type", required=False)
    params = _checked(c.pairs(data, "params"), "param")
    tags = _checked(c.pairs(data, "tags"), "tag")

    def create() -> dict[str, Any]:
        backend = c.backend(request)
        exp_id = c.resolve_experiment_id(backend, experiment_id)
        exp = backend.get_experiment(exp_id)
        if source_run_id is not None:
            run = backend.get_run(check_id(source_run_id))
            if run.experiment_id != exp.id:
                raise InvalidValueError(
                    f"run {run.id} is in experiment {run.experiment_id}, not {exp.id}; log the"
                    " model to the run's experiment"
                )
        now = _now_ms()
        model = LoggedModel(
            id=f"m-{uuid.uuid4().hex}",
            experiment_id=exp.id,
            name=name,
            source_run_id=source_run_id,
            status="LOGGED_MODEL_PENDING",
            created_at=now,
            updated_at=now,
            deleted=False,
            document={"model_type": model_type, "tags": tags, "params": params, "metrics": []},
        )
        c.tables(request).create_logged_model(model)
        return model_json(model)

    return reply({"model": await run_in_threadpool(create)})


async def get_model(request: Request) -> Response:
    model_id = _model_id(request)
    model = await run_in_threadpool(c.tables(request).get_logged_model, model_id)
    return reply({"model": model_json(model)})


async def _change(request: Request, change: Any) -> Response:
    model_id = _model_id(request)

    def apply() -> dict[str, Any]:
        tables = c.tables(request)
        model = tables.get_logged_model(model_id)
        change(model)
        tables.save_logged_model(model)
        return model_json(tables.get_logged_model(model_id, allow_deleted=True))

    return reply({"model": await run_in_threadpool(apply)})


async def finalize_model(request: Request) -> Response:
    data = await c.params(request)
    status = data.get("status")
    if status not in STATUSES:
        raise InvalidValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")

    def change(model: LoggedModel) -> None:
        model.status = str(status)

    return await _change(request, change)


async def delete_model(request: Request) -> Response:
    def change(model: LoggedModel) -> None:
        model.deleted = True

    await _change(request, change)
    return reply({})


async def set_tags(request: Request) -> Response:
    data = await c.params(request)
    tags = _checked(c.pairs(data, "tags"), "tag")

    def change(model: LoggedModel) -> None:
        model.document.setdefault("tags", {}).update(tags)

    await _change(request, change)
    return reply({})


async def delete_tag(request: Request) -> Response:
    key = request.path_params["tag_key"]

    def change(model: LoggedModel) -> None:
        tags = model.document.setdefault("tags", {})
        if key not in tags:
            raise NotFoundError(f"logged model {model.id} has no tag {key!r}; nothing to delete")
        del tags[key]

    await _change(request, change)
    return reply({})


async def log_params(request: Request) -> Response:
    data = await c.params(request)
    params = _checked(c.pairs(data, "params"), "param")

    def change(model: LoggedModel) -> None:
        model.document.setdefault("params", {}).update(params)

    await _change(request, change)
    return reply({})


async def search_models(request: Request) -> Response:
    data = await c.params(request)
    experiment_ids = data.get("experiment_ids") or []
    if isinstance(experiment_ids, str):
        experiment_ids = [experiment_ids]
    if not isinstance(experiment_ids, list) or not all(isinstance(i, str) for i in experiment_ids):
        raise InvalidValueError(f"experiment_ids {experiment_ids!r} must be a list of strings")
    conditions: dict[str, str] = {}
    text = data.get("filter") or ""
    if not isinstance(text, str):
        raise InvalidValueError(f"filter {text!r} must be a string")
    for part in re.split(r"\s+AND\s+", text, flags=re.IGNORECASE) if text.strip() else []:
        match = _FILTER_RE.match(part)
        if match is None:
            raise InvalidValueError(
                f"logged-model filter {part!r} is not supported; use name = '...' or"
                " source_run_id = '...', joined with AND"
            )
        conditions[match.group(1).lower()] = match.group(2)
    max_results = c.integer(data, "max_results", 100) or 100
    if not 1 <= max_results <= 1000:
        raise InvalidValueError(f"max_results {max_results} must be between 1 and 1000")
    token = data.get("page_token") or None
    after = decode_token(token, "logged_models", (int, str)) if token else None
    only = await readable(request, "experiment")

    def search() -> dict[str, Any]:
        backend = c.backend(request)
        ids = [c.resolve_experiment_id(backend, i) for i in experiment_ids]
        if only is not None:  # the models of experiments the caller may read, only
            ids = [i for i in ids if i in only]
        found = c.tables(request).search_logged_models(
            ids,
            (int(after[0]), str(after[1])) if after else None,
            max_results + 1,
            source_run_id=conditions.get("source_run_id"),
            name=conditions.get("name"),
        )
        out: dict[str, Any] = {"models": [model_json(m) for m in found[:max_results]]}
        if len(found) > max_results:
            last = found[max_results - 1]
            out["next_page_token"] = encode_token("logged_models", [last.created_at, last.id])
        return out

    return reply(await run_in_threadpool(search))


_L = "/api/2.0/mlflow/logged-models"

#: (method, path, endpoint)
ROUTES = [
    ("POST", _L, create_model),
    ("POST", f"{_L}/search", search_models),
    ("GET", f"{_L}/{{model_id}}", get_model),
    ("PATCH", f"{_L}/{{model_id}}", finalize_model),
    ("DELETE", f"{_L}/{{model_id}}", delete_model),
    ("PATCH", f"{_L}/{{model_id}}/tags", set_tags),
    ("DELETE", f"{_L}/{{model_id}}/tags/{{tag_key}}", delete_tag),
    ("POST", f"{_L}/{{model_id}}/params", log_params),
]
