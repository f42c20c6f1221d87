"""MLflow's artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/...`) over the server's store.

The client names an artifact by the path of its `mlflow-artifacts:` URI, which this server
handed out: `<experiment>/<run>/artifacts/<path>` for a run's artifacts and
`<experiment>/models/<model id>/artifacts/<path>` for a logged model without a run. The
server turns that path into its own key (`runs/<run>/artifacts/<path>`, the local store's
layout, or `logged_models/<id>/artifacts/<path>`) after checking every part; a path of
any other shape is refused, so no client can name a storage location.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from autolog._server.app import MAX_BODY, reply
from autolog._server.mlflow_api import common as c
from autolog._validation import check_id, check_relative_path
from autolog.backends._objects import ObjectStore
from autolog.errors import ArtifactNotFoundError, InvalidValueError

__all__ = ["ROUTES", "artifact_target"]

PREFIX = "/api/2.0/mlflow-artifacts/artifacts"
MODEL_ID_PREFIX = "m-"


def artifact_target(path: str) -> tuple[str, str, str]:
    """(kind, id, relative path) of an mlflow-artifacts path: kind "run" or "logged_model"."""
    rel = check_relative_path(path)
    parts = rel.split("/") if rel else []
    if len(parts) >= 3 and parts[2] == "artifacts":
        return "run", check_id(parts[1]), "/".join(parts[3:])
    if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        return "logged_model", check_id(parts[2], "logged model id"), "/".join(parts[4:])
    raise InvalidValueError(
        f"artifact path {path!r} is not one this server hands out; use the artifact URI of a"
        " run (<experiment>/<run>/artifacts/...) or of a logged model"
        " (<experiment>/models/<model id>/artifacts/...)"
    )


def _root(request: Request, path: str) -> tuple[str, str]:
    """The store key of an mlflow-artifacts path's root and the path below it (checked)."""
    kind, ident, rel = artifact_target(path)
    if kind == "run":
        c.backend(request).check_run_exists(ident)
        return f"runs/{ident}/artifacts", rel
    c.tables(request).get_logged_model(ident)
    return f"logged_models/{ident}/artifacts", rel


def _list(store: ObjectStore, root: str, rel: str) -> list[dict[str, Any]]:
    base = f"{root}/{rel}" if rel else root
    if rel and store.exists(base):
        return []  # a file: MLflow lists nothing under it
    dirs: set[str] = set()
    files: dict[str, int] = {}
    for key in store.list(base):
        head, sep, _ = key[len(base) + 1 :].partition("/")
        if sep:
            dirs.add(head)
        else:
            files[head] = store.size(key)
    out: list[dict[str, Any]] = [{"path": d, "is_dir": True} for d in dirs]
    out += [{"path": f, "is_dir": False, "file_size": size} for f, size in files.items()]
    return sorted(out, key=lambda f: str(f["path"]))


async def list_artifacts(request: Request) -> Response:
    path = request.query_params.get("path", "")

    def read() -> list[dict[str, Any]]:
        root, rel = _root(request, path)
        return _list(c.backend(request).artifacts, root, rel)

    return reply({"files": await run_in_threadpool(read)})


async def upload(request: Request) -> Response:
    """Stream the body to a temporary file, then store it under the key the server builds."""
    root, rel = await run_in_threadpool(_root, request, request.path_params["path"])
    if not rel:
        raise InvalidValueError("an artifact upload needs a file path below artifacts/")
    store = c.backend(request).artifacts
    fd, tmp = tempfile.mkstemp(prefix="autolog-upload-")
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY * 64:
                    raise InvalidValueError(f"artifact {rel!r} is over {MAX_BODY * 64} bytes")
                await run_in_threadpool(out.write, chunk)
        await run_in_threadpool(store.put_file, f"{root}/{rel}", Path(tmp))
    finally:
        Path(tmp).unlink(missing_ok=True)
    return reply({})


async def download(request: Request) -> Response:
    path = request.path_params["path"]
    store = c.backend(request).artifacts
    tmpdir = tempfile.mkdtemp(prefix="autolog-download-")

    def cleanup() -> None:
        shutil.rmtree(tmpdir, ignore_errors=True)

    def fetch() -> Path:
        root, rel = _root(request, path)
        key = f"{root}/{rel}"
        if not rel or not store.exists(key):
            raise ArtifactNotFoundError(
                f"no artifact file {path!r}; list the directory with GET {PREFIX}?path=<its parent>"
            )
        target = Path(tmpdir) / "file"
        store.get_file(key, target)
        return target

    try:
        target = await run_in_threadpool(fetch)
    except BaseException:
        cleanup()
        raise
    return FileResponse(
        target, media_type="application/octet-stream", background=BackgroundTask(cleanup)
    )


async def list_run_artifacts(request: Request) -> Response:
    """MLflow's `artifacts/list` of a run (`?run_id=&path=`)."""
    data = await c.params(request)
    run_id = check_id(data.get("run_id") or data.get("run_uuid"))
    rel = check_relative_path(data.get("path") or "")

    def read() -> dict[str, Any]:
        backend = c.backend(request)
        run = backend.get_run(run_id)
        files = _list(backend.artifacts, f"runs/{run_id}/artifacts", rel)
        for f in files:
            f["path"] = f"{rel}/{f['path']}" if rel else f["path"]
        return {"root_uri": c.artifact_uri(run.experiment_id, run_id), "files": files}

    return reply(await run_in_threadpool(read))


#: (method, path, endpoint)
ROUTES = [
    ("GET", PREFIX, list_artifacts),
    ("PUT", f"{PREFIX}/{{path:path}}", upload),
    ("GET", f"{PREFIX}/{{path:path}}", download),
    ("GET", "/api/2.0/mlflow/artifacts/list", list_run_artifacts),
]
