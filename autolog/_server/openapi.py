"""The OpenAPI document of the native API (served at /api/autolog/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from autolog.backends._wire import API_PREFIX

__all__ = ["openapi_document"]

_ERROR = {
    "description": "bad input (4xx) or a store failure (503)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _json(ref: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _op(summary: str, reply: str, body: str | None = None, **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "OK", **_json(reply)},
            "400": _ERROR,
            "404": _ERROR,
            "503": _ERROR,
        },
        **extra,
    }
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    return op


_RUN_ID = {
    "name": "run_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
}
_PATH = {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}
_NUMBER = {"oneOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]}
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error_code", "message"],
        "properties": {
            "error_code": {"type": "string"},
            "message": {"type": "string", "description": "the bad value and the fix"},
            "type": {"type": "string", "description": "the autolog exception class"},
        },
    },
    "Health": {
        "type": "object",
        "properties": {
            "server": {"type": "string"},
            "api": {"type": "integer"},
            "schema": {"type": "string"},
        },
    },
    "ExperimentName": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}},
    },
    "Experiment": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "created_at": {"type": "integer"},
            "tags": _STRINGS,
        },
    },
    "Experiments": {
        "type": "object",
        "properties": {
            "experiments": {"type": "array", "items": {"$ref": "#/components/schemas/Experiment"}}
        },
    },
    "Run": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "experiment": {"type": "string"},
            "experiment_id": {"type": "string"},
            "status": {"enum": ["RUNNING", "FINISHED", "FAILED", "KILLED"]},
            "start_time": {"type": "integer"},
            "end_time": {"type": ["integer", "null"]},
            "parent_id": {"type": ["string", "null"]},
            "params": _STRINGS,
            "tags": _STRINGS,
            "metrics": {"type": "object", "additionalProperties": _NUMBER},
        },
    },
    "Runs": {
        "type": "object",
        "properties": {
            "runs": {"type": "array", "items": {"$ref": "#/components/schemas/Run"}},
            "next_page_token": {"type": ["string", "null"]},
        },
    },
    "RunMeta": {
        "type": "object",
        "required": ["id", "name", "experiment_id", "start_time"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "experiment_id": {"type": "string"},
            "start_time": {"type": "integer"},
            "parent_id": {"type": ["string", "null"]},
            "experiment_name": {"type": ["string", "null"]},
        },
    },
    "Batch": {
        "type": "object",
        "properties": {
            "params": _STRINGS,
            "tags": _STRINGS,
            "metrics": {
                "type": "object",
                "additionalProperties": {
                    "type": "array",
                    "items": {
                        "type": "array",
                        "minItems": 3,
                        "maxItems": 3,
                        "description": "[value, step, timestamp in ms]",
                    },
                },
            },
            "status": {"enum": ["RUNNING", "FINISHED", "FAILED", "KILLED"]},
            "end_time": {"type": "integer"},
        },
    },
    "Ingest": {
        "type": "object",
        "required": ["entries"],
        "properties": {
            "entries": {
                "type": "array",
                "maxItems": 10000,
                "items": {
                    "type": "object",
                    "description": "{type: create, run: RunMeta} or"
                    " {type: batch, run_id, name, batch}. A batch's name is unique within"
                    " its run: sent twice, it is applied once.",
                    "properties": {
                        "type": {"enum": ["create", "batch"]},
                        "run": {"$ref": "#/components/schemas/RunMeta"},
                        "run_id": {"type": "string"},
                        "name": {"type": "string"},
                        "batch": {"$ref": "#/components/schemas/Batch"},
                    },
                },
            }
        },
    },
    "IngestResults": {
        "type": "object",
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "ok": {"type": "boolean"},
                        "retry": {"type": "boolean"},
                        "applied": {"type": "boolean"},
                    },
                },
            }
        },
    },
    "RunList": {
        "type": "object",
        "properties": {"experiment_ids": {"type": ["array", "null"], "items": {"type": "string"}}},
    },
    "Search": {
        "type": "object",
        "properties": {
            "experiment_ids": {"type": ["array", "null"], "items": {"type": "string"}},
            "filter": {"description": "a filter string, or the parsed query as clauses"},
            "order_by": {"description": "order-by strings, or parsed orders"},
            "max_results": {"type": "integer", "minimum": 1},
            "page_token": {"type": ["string", "null"]},
        },
    },
    "History": {
        "type": "object",
        "properties": {
            "key": {"type": "string"},
            "points": {"type": "array", "items": {"type": "array"}},
        },
    },
    "Files": {
        "type": "object",
        "properties": {
            "files": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string"},
                        "is_dir": {"type": "boolean"},
                        "size": {"type": ["integer", "null"]},
                    },
                },
            }
        },
    },
    "Stored": {
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "size": {"type": "integer"},
            "sha256": {"type": "string"},
        },
    },
    "Declared": {
        "type": "object",
        "required": ["size", "sha256"],
        "properties": {
            "size": {"type": "integer", "minimum": 0},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        },
    },
    "Presigned": {
        "type": "object",
        "properties": {
            "url": {"type": "string"},
            "method": {"enum": ["PUT", "GET"]},
            "headers": _STRINGS,
            "expires_in": {"type": "integer"},
            "size": {"type": "integer"},
        },
    },
}


def _direct(summary: str, reply: str, body: str | None = None) -> dict[str, Any]:
    """An operation of --artifacts-direct: 409 DIRECT_ARTIFACTS_OFF without the flag."""
    op = _op(summary, reply, body, parameters=[_RUN_ID, _PATH])
    op["responses"]["409"] = _ERROR
    return op


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of every native route."""
    p = API_PREFIX
    return {
        "openapi": "3.1.0",
        "info": {"title": "autolog tracking server, native API", "version": "1"},
        # Every route but health and this document needs a token unless --auth none.
        "security": [{"bearer": []}, {}],
        "paths": {
            f"{p}/health": {"get": _op("server kind, API and schema version", "Health")},
            f"{p}/experiments": {
                "get": _op("list experiments, oldest first", "Experiments"),
                "post": _op("get or create an experiment", "Experiment", "ExperimentName"),
            },
            f"{p}/experiment": {
                "get": _op(
                    "an experiment by name or id",
                    "Experiment",
                    parameters=[
                        {
                            "name": "name_or_id",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                )
            },
            f"{p}/ingest": {
                "post": _op(
                    "apply run creations and batches (gzip accepted), each at most once",
                    "IngestResults",
                    "Ingest",
                )
            },
            f"{p}/runs/list": {"post": _op("the runs of experiments", "Runs", "RunList")},
            f"{p}/runs/search": {"post": _op("one page of a search", "Runs", "Search")},
            f"{p}/runs/{{run_id}}": {"get": _op("a run", "Run", parameters=[_RUN_ID])},
            f"{p}/runs/{{run_id}}/metric-history": {
                "get": _op(
                    "every point of a metric",
                    "History",
                    parameters=[
                        _RUN_ID,
                        {
                            "name": "key",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                )
            },
            f"{p}/runs/{{run_id}}/artifact-list": {
                "get": _op(
                    "the entries under a path",
                    "Files",
                    parameters=[
                        _RUN_ID,
                        {"name": "path", "in": "query", "schema": {"type": "string"}},
                    ],
                )
            },
            f"{p}/runs/{{run_id}}/artifacts/{{path}}": {
                "put": _op(
                    "store an artifact file (raw body, sha256 checked)",
                    "Stored",
                    parameters=[
                        _RUN_ID,
                        _PATH,
                        {"name": "X-Autolog-Sha256", "in": "header", "schema": {"type": "string"}},
                    ],
                    requestBody={"content": {"application/octet-stream": {}}},
                ),
                "get": {
                    "summary": "an artifact file",
                    "parameters": [_RUN_ID, _PATH],
                    "responses": {
                        "200": {
                            "description": "the file",
                            "content": {"application/octet-stream": {}},
                        },
                        "400": _ERROR,
                        "404": _ERROR,
                    },
                },
            },
            f"{p}/runs/{{run_id}}/artifact-uploads/{{path}}": {
                "post": _direct(
                    "--artifacts-direct: a presigned PUT to S3 for a declared file",
                    "Presigned",
                    "Declared",
                )
            },
            f"{p}/runs/{{run_id}}/artifact-commits/{{path}}": {
                "post": _direct(
                    "--artifacts-direct: check an uploaded object against its declaration",
                    "Stored",
                    "Declared",
                )
            },
            f"{p}/runs/{{run_id}}/artifact-downloads/{{path}}": {
                "get": _direct("--artifacts-direct: a presigned GET from S3", "Presigned")
            },
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a token from `autolog server token create`",
                }
            },
        },
    }
