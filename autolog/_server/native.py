"""The native API: what autolog's HTTP backend speaks (`/api/autolog/v1/...`).

One POST to `ingest` per writer cycle carries every run's creations and batches, each
with a name unique within its run; the server applies each entry in a transaction of its
own and records the name with it, so an entry sent again is applied once. Artifacts are
streamed into a temporary file while their sha256 is computed, checked against the
client's, and only then stored under the key the server builds from the run id and the
validated path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from autolog._registry.names import check_model_name
from autolog._server.app import MAX_BODY, json_body, reply
from autolog._server.openapi import openapi_document
from autolog._validation import check_id, check_relative_path
from autolog.backends import _wire as wire
from autolog.backends.base import StoredModel
from autolog.backends.sql.schema import SCHEMA_REVISION
from autolog.backends.sql.store import SqlBackend
from autolog.errors import (
    ArtifactNotFoundError,
    AutologError,
    InvalidInputError,
    InvalidValueError,
)

__all__ = ["PREFIX", "routes"]

PREFIX = wire.API_PREFIX
#: Most entries one ingest request may carry.
MAX_ENTRIES = 10_000


def _backend(request: Request) -> SqlBackend:
    backend: SqlBackend = request.app.state.backend
    return backend


def _text(data: dict[str, Any], name: str, *, required: bool = True) -> Any:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidValueError(f"{name!r} is {value!r}; expected a string")
    return value


async def health(request: Request) -> Response:
    return reply({"server": "autolog", "api": 1, "schema": SCHEMA_REVISION})


async def openapi(request: Request) -> Response:
    return reply(openapi_document())


# -- experiments ---------------------------------------------------------------------------------


async def create_experiment(request: Request) -> Response:
    name = _text(await json_body(request), "name")
    exp = await run_in_threadpool(_backend(request).get_or_create_experiment, name)
    return reply(wire.experiment_to_json(exp))


async def get_experiment(request: Request) -> Response:
    name_or_id = request.query_params.get("name_or_id", "")
    exp = await run_in_threadpool(_backend(request).get_experiment, name_or_id)
    return reply(wire.experiment_to_json(exp))


async def list_experiments(request: Request) -> Response:
    exps = await run_in_threadpool(_backend(request).list_experiments)
    return reply({"experiments": [wire.experiment_to_json(e) for e in exps]})


# -- runs ----------------------------------------------------------------------------------------


def _apply(backend: SqlBackend, entry: Any) -> dict[str, Any]:
    """Apply one ingest entry; its result, an error for bad input (never raised)."""
    try:
        if not isinstance(entry, dict):
            raise InvalidValueError(f"entry {entry!r} is not an object")
        kind = entry.get("type")
        if kind == "create":
            backend.create_run(wire.meta_from_json(entry.get("run")))
            return {"ok": True}
        if kind == "batch":
            run_id = check_id(entry.get("run_id"))
            name = entry.get("name")
            if not isinstance(name, str) or not 1 <= len(name) <= 128:
                raise InvalidValueError(f"batch name {name!r} must be a string of 1 to 128 chars")
            batch = wire.batch_from_json(entry.get("batch"))
            return {"ok": True, "applied": backend.apply_batch(run_id, name, batch)}
        raise InvalidValueError(f"entry type {kind!r} is unknown; use 'create' or 'batch'")
    except InvalidInputError as exc:
        # Bad input fails the same way every time: the client drops the entry.
        return {"ok": False, "retry": False, **wire.error_json(exc)[1]}
    except AutologError as exc:
        body = wire.error_json(exc)[1]
        # A batch for a run whose creation is still on its way is worth retrying.
        return {"ok": False, "retry": True, **body}


async def ingest(request: Request) -> Response:
    """Apply a writer cycle's entries in order; one result per entry."""
    data = await json_body(request)
    entries = data.get("entries")
    if not isinstance(entries, list):
        raise InvalidValueError(f"'entries' is {entries!r}; expected a list of entries")
    if len(entries) > MAX_ENTRIES:
        raise InvalidValueError(
            f"{len(entries)} entries in one request; send at most {MAX_ENTRIES}"
        )
    backend = _backend(request)

    def apply_all() -> list[dict[str, Any]]:
        return [_apply(backend, e) for e in entries]

    return reply({"results": await run_in_threadpool(apply_all)})


async def get_run(request: Request) -> Response:
    run = await run_in_threadpool(_backend(request).get_run, request.path_params["run_id"])
    return reply(wire.run_to_json(run))


async def list_runs(request: Request) -> Response:
    data = await json_body(request)
    ids = data.get("experiment_ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise InvalidValueError(f"experiment_ids {ids!r} must be a list of strings or null")
    runs = await run_in_threadpool(_backend(request).list_runs, ids)
    return reply({"runs": [wire.run_to_json(r) for r in runs]})


async def search_runs(request: Request) -> Response:
    data = await json_body(request)
    ids = data.get("experiment_ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise InvalidValueError(f"experiment_ids {ids!r} must be a list of strings or null")
    query = wire.query_from_json(data.get("filter"))
    orders = wire.orders_from_json(data.get("order_by"))
    max_results = data.get("max_results", 1000)
    token = _text(data, "page_token", required=False)
    page = await run_in_threadpool(
        _backend(request).search_runs, ids, query, orders, max_results, token
    )
    return reply(
        {"runs": [wire.run_to_json(r) for r in page.runs], "next_page_token": page.next_page_token}
    )


async def metric_history(request: Request) -> Response:
    run_id = request.path_params["run_id"]
    key = request.query_params.get("key", "")
    history = await run_in_threadpool(_backend(request).get_metric_history, run_id, key)
    return reply({"key": key, "points": [wire.metric_to_json(m) for m in history]})


# -- artifacts -----------------------------------------------------------------------------------


def _artifact_path(request: Request) -> str:
    return check_relative_path(request.path_params.get("path", ""))


async def put_artifact(request: Request) -> Response:
    """Stream the body to a temporary file, check its sha256, then store it."""
    backend = _backend(request)
    run_id = check_id(request.path_params["run_id"])
    path = check_relative_path(request.path_params["path"], allow_empty=False)
    expected = request.headers.get("x-autolog-sha256")
    await run_in_threadpool(backend.check_run_exists, run_id)
    fd, tmp = tempfile.mkstemp(prefix="autolog-upload-")
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY * 64:
                    raise InvalidValueError(f"artifact {path!r} is over {MAX_BODY * 64} bytes")
                digest.update(chunk)
                await run_in_threadpool(out.write, chunk)
        actual = digest.hexdigest()
        if expected is not None and expected.lower() != actual:
            raise InvalidValueError(
                f"artifact {path!r} arrived with sha256 {actual}, not the {expected} sent in"
                " X-Autolog-Sha256: it was damaged on the way; upload it again"
            )
        await run_in_threadpool(backend.put_artifact_file, run_id, path, Path(tmp))
    finally:
        Path(tmp).unlink(missing_ok=True)
    return reply({"path": path, "size": size, "sha256": actual})


async def get_artifact(request: Request) -> Response:
    backend = _backend(request)
    run_id = check_id(request.path_params["run_id"])
    path = check_relative_path(request.path_params["path"], allow_empty=False)
    tmpdir = tempfile.mkdtemp(prefix="autolog-download-")

    def cleanup() -> None:
        shutil.rmtree(tmpdir, ignore_errors=True)

    try:
        key = backend.artifact_key(run_id, path)
        exists = await run_in_threadpool(backend.artifacts.exists, key)
        if not exists:
            # A directory, a missing file or a missing run: the backend says which.
            await run_in_threadpool(backend.list_artifacts, run_id, path)
            raise ArtifactNotFoundError(
                f"run {run_id} has no artifact file {path!r}; list them with"
                f" GET {PREFIX}/runs/{run_id}/artifact-list?path=..."
            )
        target = Path(tmpdir) / "file"
        await run_in_threadpool(backend.artifacts.get_file, key, target)
    except BaseException:
        cleanup()
        raise
    return FileResponse(
        target, media_type="application/octet-stream", background=BackgroundTask(cleanup)
    )


async def list_artifacts(request: Request) -> Response:
    run_id = request.path_params["run_id"]
    path = check_relative_path(request.query_params.get("path", ""))
    files = await run_in_threadpool(_backend(request).list_artifacts, run_id, path)
    return reply({"files": [wire.file_info_to_json(f) for f in files]})


# -- registry (the storage operations of RegistryBackend) ----------------------------------------


def _stored_json(stored: StoredModel) -> dict[str, Any]:
    return {"meta": stored.meta, "versions": stored.versions, "events": stored.events}


def _document(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if not isinstance(value, dict):
        raise InvalidValueError(f"{name!r} is {value!r}; expected a JSON object")
    return value


async def create_model(request: Request) -> Response:
    data = await json_body(request)
    name = check_model_name(_text(data, "name"))
    meta = _document(data, "meta")
    created = await run_in_threadpool(_backend(request).create_registered_model, name, meta)
    return reply({"created": created})


async def create_version(request: Request) -> Response:
    data = await json_body(request)
    name = check_model_name(_text(data, "name"))
    record = _document(data, "record")
    number = await run_in_threadpool(_backend(request).create_model_version, name, record)
    return reply({"version": number})


async def append_event(request: Request) -> Response:
    data = await json_body(request)
    name = check_model_name(_text(data, "name"))
    event = _document(data, "event")
    written = await run_in_threadpool(_backend(request).append_model_event, name, event)
    return reply({"written": written})


async def read_model(request: Request) -> Response:
    name = check_model_name(request.query_params.get("name", ""))
    stored = await run_in_threadpool(_backend(request).read_registered_model, name)
    return reply({"model": None if stored is None else _stored_json(stored)}, allow_nan=True)


async def list_models(request: Request) -> Response:
    models = await run_in_threadpool(_backend(request).list_registered_models)
    return reply({"models": [_stored_json(m) for m in models]}, allow_nan=True)


def routes() -> list[BaseRoute]:
    """The routes of the native API."""
    p = PREFIX
    return [
        Route(f"{p}/health", health),
        Route(f"{p}/openapi.json", openapi),
        Route(f"{p}/experiments", create_experiment, methods=["POST"]),
        Route(f"{p}/experiments", list_experiments, methods=["GET"]),
        Route(f"{p}/experiment", get_experiment, methods=["GET"]),
        Route(f"{p}/ingest", ingest, methods=["POST"]),
        Route(f"{p}/runs/list", list_runs, methods=["POST"]),
        Route(f"{p}/runs/search", search_runs, methods=["POST"]),
        Route(f"{p}/runs/{{run_id}}", get_run, methods=["GET"]),
        Route(f"{p}/runs/{{run_id}}/metric-history", metric_history, methods=["GET"]),
        Route(f"{p}/runs/{{run_id}}/artifact-list", list_artifacts, methods=["GET"]),
        Route(f"{p}/runs/{{run_id}}/artifacts/{{path:path}}", put_artifact, methods=["PUT"]),
        Route(f"{p}/runs/{{run_id}}/artifacts/{{path:path}}", get_artifact, methods=["GET"]),
        Route(f"{p}/registry/models", create_model, methods=["POST"]),
        Route(f"{p}/registry/models", list_models, methods=["GET"]),
        Route(f"{p}/registry/model", read_model, methods=["GET"]),
        Route(f"{p}/registry/versions", create_version, methods=["POST"]),
        Route(f"{p}/registry/events", append_event, methods=["POST"]),
    ]
