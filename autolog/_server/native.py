"""The native API: what autolog's HTTP backend speaks (`/api/autolog/v1/...`).

One POST to `ingest` per writer cycle carries every run's creations and batches, each
batch with a name unique within its run; the server applies the request's entries in one
transaction (one result per entry: an entry refused is refused alone) and records each
batch's name with it, so an entry sent again is applied once. Artifacts are
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
from autolog._server.app import MAX_UPLOAD, json_body, reply
from autolog._server.identity import allowed, created, identity, readable
from autolog._server.openapi import openapi_document
from autolog._validation import check_id, check_relative_path
from autolog.backends import _wire as wire
from autolog.backends.base import RunMeta, StoredModel
from autolog.backends.sql.ingest import NamedBatch, Outcome, Write
from autolog.backends.sql.schema import SCHEMA_REVISION
from autolog.backends.sql.store import SqlBackend
from autolog.errors import (
    ArtifactNotFoundError,
    AutologError,
    ExperimentNotFoundError,
    InvalidInputError,
    InvalidValueError,
)

__all__ = ["PREFIX", "routes"]

PREFIX = wire.API_PREFIX
#: Most entries one ingest request may carry.
MAX_ENTRIES = 10_000
#: The largest page of a search.
MAX_PAGE = 50_000


def denied(message: str) -> Response:
    """A 403 reply: the caller is known but lacks the role."""
    return reply({"error_code": "PERMISSION_DENIED", "message": message}, 403)


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
    direct = bool(request.app.state.config.artifacts_direct)
    return reply(
        {"server": "autolog", "api": 1, "schema": SCHEMA_REVISION, "artifacts_direct": direct}
    )


async def openapi(request: Request) -> Response:
    return reply(openapi_document())


# -- experiments ---------------------------------------------------------------------------------


async def create_experiment(request: Request) -> Response:
    name = _text(await json_body(request), "name")
    backend = _backend(request)
    exp_id = backend.local_experiment_id(name)
    existed = await run_in_threadpool(_experiment_exists, backend, exp_id)
    if existed and not await allowed(request, "experiment", exp_id, "reader"):
        return denied(f"the experiment name {name!r} is taken; choose another name")
    exp = await run_in_threadpool(backend.get_or_create_experiment, name)
    if not existed:
        await created(request, "experiment", exp.id)
    return reply(wire.experiment_to_json(exp))


def _experiment_exists(backend: SqlBackend, exp_id: str) -> bool:
    try:
        backend.get_experiment(exp_id)
    except ExperimentNotFoundError:
        return False
    return True


async def get_experiment(request: Request) -> Response:
    name_or_id = request.query_params.get("name_or_id", "")
    exp = await run_in_threadpool(_backend(request).get_experiment, name_or_id)
    return reply(wire.experiment_to_json(exp))


async def list_experiments(request: Request) -> Response:
    only = await readable(request, "experiment")
    exps = await run_in_threadpool(_backend(request).list_experiments, only)
    return reply({"experiments": [wire.experiment_to_json(e) for e in exps]})


# -- runs ----------------------------------------------------------------------------------------


def _decode(entry: Any) -> Write:
    """The write an ingest entry asks for; InvalidInputError for bad input."""
    if not isinstance(entry, dict):
        raise InvalidValueError(f"entry {entry!r} is not an object")
    kind = entry.get("type")
    if kind == "create":
        return wire.meta_from_json(entry.get("run"))
    if kind == "batch":
        run_id = check_id(entry.get("run_id"))
        name = entry.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 128:
            raise InvalidValueError(f"batch name {name!r} must be a string of 1 to 128 chars")
        return NamedBatch(run_id, name, wire.batch_from_json(entry.get("batch")))
    raise InvalidValueError(f"entry type {kind!r} is unknown; use 'create' or 'batch'")


def _result(write: Write, outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, AutologError):
        return _error_result(outcome)
    return {"ok": True} if isinstance(write, RunMeta) else {"ok": True, "applied": outcome}


def _error_result(exc: AutologError) -> dict[str, Any]:
    if isinstance(exc, InvalidInputError):
        # Bad input fails the same way every time: the client drops the entry.
        return {"ok": False, "retry": False, **wire.error_json(exc)[1]}
    # E.g. a batch for a run whose creation is still on its way: worth retrying.
    return {"ok": False, "retry": True, **wire.error_json(exc)[1]}


def _apply_all(
    backend: SqlBackend, entries: list[Any], refused: dict[int, dict[str, Any]], user: str | None
) -> list[dict[str, Any]]:
    """Apply the entries not refused in one transaction (SqlBackend.apply_writes); one
    result per entry, in order."""
    results: list[dict[str, Any] | None] = []
    writes: list[tuple[int, Write]] = []
    for i, entry in enumerate(entries):
        if i in refused:
            results.append(refused[i])
            continue
        try:
            writes.append((i, _decode(entry)))
            results.append(None)
        except InvalidInputError as exc:
            results.append(_error_result(exc))
    outcomes = backend.apply_writes([w for _, w in writes], user)
    for (i, write), outcome in zip(writes, outcomes, strict=True):
        results[i] = _result(write, outcome)
    return [r for r in results if r is not None]


async def ingest(request: Request) -> Response:
    """Apply a writer cycle's entries in order, in one transaction; one result per entry."""
    data = await json_body(request)
    entries = data.get("entries")
    if not isinstance(entries, list):
        raise InvalidValueError(f"'entries' is {entries!r}; expected a list of entries")
    if len(entries) > MAX_ENTRIES:
        raise InvalidValueError(
            f"{len(entries)} entries in one request; send at most {MAX_ENTRIES}"
        )
    backend = _backend(request)
    refused, new = await _refusals(request, backend, entries)
    user = identity(request).name
    results = await run_in_threadpool(_apply_all, backend, entries, refused, user)
    for exp_id in new:
        await created(request, "experiment", exp_id)
    return reply({"results": results})


async def _refusals(
    request: Request, backend: SqlBackend, entries: list[Any]
) -> tuple[dict[int, dict[str, Any]], set[str]]:
    """The entries the caller may not write (by index, with their result), and the
    experiments this request creates (the caller becomes their owner)."""
    refused: dict[int, dict[str, Any]] = {}
    new: set[str] = set()
    if getattr(request.app.state, "authorizer", None) is None:
        return refused, new  # --auth none: nothing to check, nobody to record as owner
    admin = identity(request).admin
    known: dict[str, bool] = {}  # run or experiment id -> may write
    runs: dict[str, str] = {}  # runs created in this request -> experiment

    async def may_write_experiment(exp_id: str) -> bool:
        if exp_id not in known:
            exists = await run_in_threadpool(_experiment_exists, backend, exp_id)
            if not exists:
                new.add(exp_id)
            known[exp_id] = not exists or await allowed(request, "experiment", exp_id, "writer")
        return known[exp_id]

    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        if entry.get("type") == "create":
            run = entry.get("run")
            exp_id = run.get("experiment_id") if isinstance(run, dict) else None
            if not isinstance(exp_id, str):
                continue  # bad input: _apply says so
            if isinstance(run, dict) and isinstance(run.get("id"), str):
                runs[run["id"]] = exp_id
            ok = await may_write_experiment(exp_id)
            what = f"experiment {exp_id!r}"
        elif entry.get("type") == "batch":
            run_id = entry.get("run_id")
            if not isinstance(run_id, str):
                continue
            if run_id in runs:
                ok = await may_write_experiment(runs[run_id])
            else:
                if run_id not in known:
                    known[run_id] = await allowed(request, "run", run_id, "writer")
                ok = known[run_id]
            what = f"run {run_id!r}"
        else:
            continue
        if not ok and not admin:
            refused[i] = {
                "ok": False,
                "retry": False,
                "error_code": "PERMISSION_DENIED",
                "message": f"you may not write to {what}; ask its owner for the writer role",
            }
    return refused, new


async def get_run(request: Request) -> Response:
    run = await run_in_threadpool(_backend(request).get_run, request.path_params["run_id"])
    return reply(wire.run_to_json(run))


async def _experiment_ids(request: Request, data: dict[str, Any]) -> list[str] | None:
    """The request's experiment_ids, narrowed to the experiments the caller may read."""
    ids = data.get("experiment_ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise InvalidValueError(f"experiment_ids {ids!r} must be a list of strings or null")
    only = await readable(request, "experiment")
    if only is None:
        return ids
    return sorted(only) if ids is None else [i for i in ids if i in only]


async def list_runs(request: Request) -> Response:
    ids = await _experiment_ids(request, await json_body(request))
    runs = await run_in_threadpool(_backend(request).list_runs, ids)
    return reply({"runs": [wire.run_to_json(r) for r in runs]})


async def search_runs(request: Request) -> Response:
    data = await json_body(request)
    ids = await _experiment_ids(request, data)
    query = wire.query_from_json(data.get("filter"))
    orders = wire.orders_from_json(data.get("order_by"))
    max_results = data.get("max_results", 1000)
    if isinstance(max_results, int) and max_results > MAX_PAGE:
        raise InvalidValueError(
            f"max_results={max_results} is over the largest page, {MAX_PAGE}; page with"
            " page_token instead"
        )
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
                if size > MAX_UPLOAD:
                    raise InvalidValueError(f"artifact {path!r} is over {MAX_UPLOAD} bytes")
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


def _stamped(document: dict[str, Any], what: str, *fields: str) -> dict[str, Any]:
    """`document`, refused unless each of `fields` is an integer (the times a reader folds by)."""
    for field in fields:
        value = document.get(field)
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidValueError(
                f"{what} field {field!r} is {str(value)[:100]!r}; expected an integer (written"
                " by autolog's registry: register models with autolog's client)"
            )
    return document


def _acting(request: Request, document: dict[str, Any], field: str) -> dict[str, Any]:
    """`document` with `field` set to the authenticated user (the client's word otherwise)."""
    name = identity(request).name
    return document if name is None else {**document, field: name}


async def create_model(request: Request) -> Response:
    data = await json_body(request)
    name = check_model_name(_text(data, "name"))
    meta = _stamped(_document(data, "meta"), "model meta", "created_at", "created_ns")
    meta = _acting(request, meta, "creator")
    made = await run_in_threadpool(_backend(request).create_registered_model, name, meta)
    if made:
        await created(request, "model", name)
    return reply({"created": made})


async def _check_source(request: Request, record: dict[str, Any]) -> Response | None:
    """Refuse a version whose source is not `runs:/<run>/<path>` of a run the caller reads.

    The server decides every storage location: a client never points a version at a
    directory, a URL or another store.
    """
    run_id, path = record.get("run_id"), record.get("artifact_path")
    if not isinstance(run_id, str) or not isinstance(path, str):
        raise InvalidValueError(
            "a model version record needs run_id and artifact_path (strings); register the"
            " model of a run on this server"
        )
    check_id(run_id)
    path = check_relative_path(path, allow_empty=False)
    if record.get("source") != f"runs:/{run_id}/{path}":
        raise InvalidValueError(
            f"model version source {str(record.get('source'))[:200]!r} is not allowed; the"
            f" server stores versions of its own runs only: runs:/{run_id}/{path}"
        )
    await run_in_threadpool(_backend(request).check_run_exists, run_id)
    if not await allowed(request, "run", run_id, "reader"):
        return reply(
            {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"no run {run_id!r} you may read"},
            404,
        )
    return None


async def create_version(request: Request) -> Response:
    data = await json_body(request)
    name = check_model_name(_text(data, "name"))
    record = _document(data, "record")
    refused = await _check_source(request, record)
    if refused is not None:
        return refused
    record = _stamped(record, "version record", "created_at", "created_ns")
    record = _acting(request, record, "creator")
    number = await run_in_threadpool(_backend(request).create_model_version, name, record)
    return reply({"version": number})


#: Events only a model's owner may write.
_OWNER_EVENTS = ("version_deleted", "model_deleted")


async def append_event(request: Request) -> Response:
    data = await json_body(request)
    name = check_model_name(_text(data, "name"))
    event = _stamped(_document(data, "event"), "model event", "ns", "time")
    if not isinstance(event.get("type"), str):
        raise InvalidValueError(f"model event type is {event.get('type')!r}; expected a string")
    event = _acting(request, event, "user")
    if event.get("type") in _OWNER_EVENTS and not await allowed(request, "model", name, "owner"):
        return denied(f"only an owner of model {name!r} may delete it or its versions")
    written = await run_in_threadpool(_backend(request).append_model_event, name, event)
    return reply({"written": written})


async def read_model(request: Request) -> Response:
    name = check_model_name(request.query_params.get("name", ""))
    stored = await run_in_threadpool(_backend(request).read_registered_model, name)
    return reply({"model": None if stored is None else _stored_json(stored)}, allow_nan=True)


async def list_models(request: Request) -> Response:
    only = await readable(request, "model")
    models = await run_in_threadpool(_backend(request).list_registered_models, only)
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
