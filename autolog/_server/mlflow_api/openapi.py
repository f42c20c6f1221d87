"""The OpenAPI document of the MLflow routes (served at /api/2.0/mlflow/openapi.json).

It describes what this server accepts (MLflow's own reference is its protobuf files): GET
fields are query parameters, the others a JSON body. Replies are MLflow's JSON; errors are
`{error_code, message}` with a 4xx status. The schemathesis tests fuzz every route from it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from autolog._server.app import reply

__all__ = ["openapi", "openapi_document"]

_S: dict[str, Any] = {"type": "string"}
_I: dict[str, Any] = {"type": "integer", "format": "int64"}
_N: dict[str, Any] = {"oneOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]}
_PAIRS: dict[str, Any] = {
    "type": "array",
    "items": {"type": "object", "required": ["key"], "properties": {"key": _S, "value": _S}},
}
_STRINGS: dict[str, Any] = {"type": "array", "items": _S}
_VIEW: dict[str, Any] = {"enum": ["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]}
_METRIC: dict[str, Any] = {
    "type": "object",
    "required": ["key", "value"],
    "properties": {"key": _S, "value": _N, "timestamp": _I, "step": _I, "model_id": _S},
}
_BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
_STATUS: dict[str, Any] = {"enum": ["RUNNING", "FINISHED", "FAILED", "KILLED"]}

_M = "/api/2.0/mlflow"
_A = "/api/2.0/mlflow-artifacts/artifacts"

# (method, path, summary, fields, required fields)
_ROUTES: list[tuple[str, str, str, dict[str, Any], list[str]]] = [
    ("GET", f"{_M}/experiments/get-by-name", "An experiment by name",
     {"experiment_name": _S}, ["experiment_name"]),
    ("POST", f"{_M}/experiments/create", "Create an experiment",
     {"name": _S, "tags": _PAIRS}, ["name"]),
    ("GET", f"{_M}/experiments/get", "An experiment by id", {"experiment_id": _S},
     ["experiment_id"]),
    ("POST", f"{_M}/experiments/search", "Search experiments",
     {"max_results": _I, "filter": _S, "order_by": _STRINGS, "view_type": _VIEW,
      "page_token": _S}, []),
    ("POST", f"{_M}/experiments/delete", "Delete an experiment", {"experiment_id": _S},
     ["experiment_id"]),
    ("POST", f"{_M}/experiments/restore", "Restore an experiment", {"experiment_id": _S},
     ["experiment_id"]),
    ("POST", f"{_M}/experiments/update", "Update an experiment",
     {"experiment_id": _S, "new_name": _S}, ["experiment_id"]),
    ("POST", f"{_M}/experiments/set-experiment-tag", "Set an experiment tag",
     {"experiment_id": _S, "key": _S, "value": _S}, ["experiment_id", "key"]),
    ("POST", f"{_M}/experiments/delete-experiment-tag", "Delete an experiment tag",
     {"experiment_id": _S, "key": _S}, ["experiment_id", "key"]),
    ("POST", f"{_M}/runs/create", "Create a run",
     {"experiment_id": _S, "user_id": _S, "run_name": _S, "start_time": _I, "tags": _PAIRS}, []),
    ("GET", f"{_M}/runs/get", "A run", {"run_id": _S}, ["run_id"]),
    ("POST", f"{_M}/runs/update", "Update a run's status, end time or name",
     {"run_id": _S, "status": _STATUS, "end_time": _I, "run_name": _S}, ["run_id"]),
    ("POST", f"{_M}/runs/delete", "Delete a run", {"run_id": _S}, ["run_id"]),
    ("POST", f"{_M}/runs/restore", "Restore a run", {"run_id": _S}, ["run_id"]),
    ("POST", f"{_M}/runs/log-metric", "Log a metric",
     {"run_id": _S, "key": _S, "value": _N, "timestamp": _I, "step": _I}, ["run_id", "key",
                                                                          "value"]),
    ("POST", f"{_M}/runs/log-parameter", "Log a param", {"run_id": _S, "key": _S, "value": _S},
     ["run_id", "key"]),
    ("POST", f"{_M}/runs/set-tag", "Set a run tag", {"run_id": _S, "key": _S, "value": _S},
     ["run_id", "key"]),
    ("POST", f"{_M}/runs/delete-tag", "Delete a run tag", {"run_id": _S, "key": _S},
     ["run_id", "key"]),
    ("POST", f"{_M}/runs/log-batch", "Log metrics, params and tags",
     {"run_id": _S, "metrics": {"type": "array", "items": _METRIC}, "params": _PAIRS,
      "tags": _PAIRS}, ["run_id"]),
    ("POST", f"{_M}/runs/log-model", "Record a logged model (MLflow 2)",
     {"run_id": _S, "model_json": _S}, ["run_id", "model_json"]),
    ("POST", f"{_M}/runs/log-inputs", "Log dataset and model inputs",
     {"run_id": _S, "datasets": {"type": "array", "items": {"type": "object"}},
      "models": {"type": "array", "items": {"type": "object", "properties": {"model_id": _S}}}},
     ["run_id"]),
    ("POST", f"{_M}/runs/outputs", "Log model outputs",
     {"run_id": _S, "models": {"type": "array", "items": {
         "type": "object", "properties": {"model_id": _S, "step": _I}}}}, ["run_id"]),
    ("POST", f"{_M}/runs/search", "Search runs (autolog's search grammar, keyset pages)",
     {"experiment_ids": _STRINGS, "filter": _S, "run_view_type": _VIEW, "max_results": _I,
      "order_by": _STRINGS, "page_token": _S}, []),
    ("GET", f"{_M}/metrics/get-history", "A metric's history",
     {"run_id": _S, "metric_key": _S, "max_results": _I, "page_token": _S},
     ["run_id", "metric_key"]),
    ("GET", f"{_M}/artifacts/list", "A run's artifacts", {"run_id": _S, "path": _S}, ["run_id"]),
    ("GET", _A, "Artifacts under a path", {"path": _S}, []),
    ("POST", f"{_M}/logged-models", "Create a logged model",
     {"experiment_id": _S, "name": _S, "model_type": _S, "source_run_id": _S, "params": _PAIRS,
      "tags": _PAIRS}, ["experiment_id"]),
    ("POST", f"{_M}/logged-models/search", "Search logged models",
     {"experiment_ids": _STRINGS, "filter": _S, "max_results": _I, "page_token": _S}, []),
    ("POST", f"{_M}/registered-models/create", "Create a registered model",
     {"name": _S, "tags": _PAIRS, "description": _S}, ["name"]),
    ("GET", f"{_M}/registered-models/get", "A registered model", {"name": _S}, ["name"]),
    ("PATCH", f"{_M}/registered-models/update", "Set a model's description",
     {"name": _S, "description": _S}, ["name"]),
    ("DELETE", f"{_M}/registered-models/delete", "Delete a registered model", {"name": _S},
     ["name"]),
    ("GET", f"{_M}/registered-models/search", "Search registered models",
     {"filter": _S, "max_results": _I, "page_token": _S}, []),
    ("POST", f"{_M}/registered-models/get-latest-versions", "A model's latest version",
     {"name": _S, "stages": _STRINGS}, ["name"]),
    ("POST", f"{_M}/registered-models/set-tag", "Set a model tag",
     {"name": _S, "key": _S, "value": _S}, ["name", "key"]),
    ("DELETE", f"{_M}/registered-models/delete-tag", "Delete a model tag",
     {"name": _S, "key": _S}, ["name", "key"]),
    ("POST", f"{_M}/registered-models/alias", "Point an alias at a version",
     {"name": _S, "alias": _S, "version": _S}, ["name", "alias", "version"]),
    ("DELETE", f"{_M}/registered-models/alias", "Delete an alias", {"name": _S, "alias": _S},
     ["name", "alias"]),
    ("GET", f"{_M}/registered-models/alias", "The version an alias points at",
     {"name": _S, "alias": _S}, ["name", "alias"]),
    ("POST", f"{_M}/model-versions/create", "Register a version",
     {"name": _S, "source": _S, "run_id": _S, "tags": _PAIRS, "description": _S,
      "model_id": _S}, ["name", "source"]),
    ("GET", f"{_M}/model-versions/get", "A version", {"name": _S, "version": _S},
     ["name", "version"]),
    ("PATCH", f"{_M}/model-versions/update", "Set a version's description",
     {"name": _S, "version": _S, "description": _S}, ["name", "version"]),
    ("DELETE", f"{_M}/model-versions/delete", "Delete a version", {"name": _S, "version": _S},
     ["name", "version"]),
    ("GET", f"{_M}/model-versions/search", "Search versions",
     {"filter": _S, "max_results": _I, "page_token": _S}, []),
    ("GET", f"{_M}/model-versions/get-download-uri", "Where a version's files are",
     {"name": _S, "version": _S}, ["name", "version"]),
    ("POST", f"{_M}/model-versions/set-tag", "Set a version tag",
     {"name": _S, "version": _S, "key": _S, "value": _S}, ["name", "version", "key"]),
    ("DELETE", f"{_M}/model-versions/delete-tag", "Delete a version tag",
     {"name": _S, "version": _S, "key": _S}, ["name", "version", "key"]),
    ("GET", "/api/3.0/mlflow/server-info", "What the server supports", {}, []),
]  # fmt: skip

_MODEL_ID = {"name": "model_id", "in": "path", "required": True, "schema": _S}
_PATH = {"name": "path", "in": "path", "required": True, "schema": _S}

# Routes with path parameters: (method, path, summary, fields, required, path parameters)
_PATH_ROUTES: list[tuple[str, str, str, dict[str, Any], list[str], list[dict[str, Any]]]] = [
    ("GET", f"{_M}/logged-models/{{model_id}}", "A logged model", {}, [], [_MODEL_ID]),
    ("PATCH", f"{_M}/logged-models/{{model_id}}", "Finalize a logged model",
     {"model_id": _S, "status": {"enum": ["LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"]}},
     ["status"], [_MODEL_ID]),
    ("DELETE", f"{_M}/logged-models/{{model_id}}", "Delete a logged model", {}, [], [_MODEL_ID]),
    ("PATCH", f"{_M}/logged-models/{{model_id}}/tags", "Set logged model tags",
     {"tags": _PAIRS}, ["tags"], [_MODEL_ID]),
    ("DELETE", f"{_M}/logged-models/{{model_id}}/tags/{{tag_key}}", "Delete a logged model tag",
     {}, [], [_MODEL_ID, {"name": "tag_key", "in": "path", "required": True, "schema": _S}]),
    ("POST", f"{_M}/logged-models/{{model_id}}/params", "Log logged model params",
     {"params": _PAIRS}, ["params"], [_MODEL_ID]),
    ("GET", f"{_A}/{{path}}", "Download an artifact", {}, [], [_PATH]),
]  # fmt: skip

_ERROR = {
    "description": "bad input, with MLflow's error_code and a message naming the value",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error_code", "message"],
                "properties": {"error_code": _S, "message": _S},
            }
        }
    },
}


def _operation(
    method: str,
    summary: str,
    fields: dict[str, Any],
    required: list[str],
    path_params: list[dict[str, Any]],
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {}}}},
            "400": _ERROR,
            "404": _ERROR,
        },
    }
    parameters = list(path_params)
    if method == "GET":
        parameters += [
            {"name": name, "in": "query", "required": name in required, "schema": schema}
            for name, schema in fields.items()
        ]
    elif fields:
        body = {"type": "object", "properties": fields, "required": required}
        if not required:
            del body["required"]
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if parameters:
        op["parameters"] = parameters
    return op


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0 document of the MLflow routes this server serves."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, fields, required in _ROUTES:
        paths.setdefault(path, {})[method.lower()] = _operation(
            method, summary, fields, required, []
        )
    for method, path, summary, fields, required, params in _PATH_ROUTES:
        paths.setdefault(path, {})[method.lower()] = _operation(
            method, summary, fields, required, params
        )
    paths.setdefault(f"{_A}/{{path}}", {})["put"] = {
        "summary": "Upload an artifact (the raw bytes as the body)",
        "parameters": [_PATH],
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": _BINARY}},
        },
        "responses": {"200": {"description": "stored"}, "400": _ERROR, "404": _ERROR},
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "autolog server: MLflow REST API subset",
            "version": "1",
            "description": "The routes MLflow 3's client calls, served over autolog's store.",
        },
        "paths": paths,
    }


async def openapi(request: Request) -> Response:
    return reply(openapi_document())
