"""Direct artifact transfers (`--artifacts-direct`): presigned S3 URLs instead of streaming.

With an S3 artifact store and `--artifacts-direct`, autolog's client asks the server for
a short-lived presigned URL and moves an artifact's bytes to or from the bucket itself;
the server never handles them. The server still decides everything else: the route
table checks the caller's role on the run (writer to upload, reader to download), the
path is validated and the object key is the one a streamed upload gets
(`runs/<run>/artifacts/<path>`), so nothing downstream can tell the two apart.

An upload is three steps: `artifact-uploads` (the client declares the size and sha256;
the server signs a PUT for that key with both, so S3 refuses other bytes), the PUT to S3,
then `artifact-commits`, where the server looks at the object (a HEAD) and deletes it
unless its size, and its SHA-256 where the store keeps one, are the declared ones. A
download is `artifact-downloads` (a signed GET) then the GET.

Without the flag the routes answer 409 DIRECT_ARTIFACTS_OFF and clients stream through
the server as before; the server's health reply says which (`artifacts_direct`).
MLflow's artifact routes always stream: MLflow's client knows nothing of this.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, NamedTuple

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from autolog._server.app import MAX_UPLOAD, ServerConfig, json_body, reply
from autolog._validation import check_id, check_relative_path
from autolog.backends import _wire as wire
from autolog.backends.s3 import S3ObjectStore
from autolog.backends.sql.store import SqlBackend
from autolog.errors import ArtifactNotFoundError, InvalidValueError

__all__ = ["MAX_EXPIRY", "MAX_PUT", "check_config", "routes"]

#: The longest a presigned URL may live (S3's own limit for SigV4 is 7 days; an hour is plenty).
MAX_EXPIRY = 3600
#: The largest object one S3 PUT may create: larger files stream through the server, which
#: uploads them in parts.
MAX_PUT = 5 * 1024**3


def check_config(config: ServerConfig) -> None:
    """Refuse `--artifacts-direct` without an S3 store, or with an expiry out of range."""
    if not config.artifacts_direct:
        return
    if not config.artifacts.startswith("s3://"):
        raise InvalidValueError(
            f"--artifacts-direct needs an S3 artifact store, and --artifacts is"
            f" {config.artifacts!r}: use --artifacts s3://bucket/prefix, or drop"
            " --artifacts-direct (artifacts then stream through the server)"
        )
    if not 1 <= config.direct_expiry <= MAX_EXPIRY:
        raise InvalidValueError(
            f"--artifacts-direct-expiry {config.direct_expiry} is out of range; give 1 to"
            f" {MAX_EXPIRY} seconds (default 300)"
        )


def _store(request: Request) -> tuple[SqlBackend, S3ObjectStore] | None:
    """The backend and its S3 store when direct transfers are on; None when off."""
    backend: SqlBackend = request.app.state.backend
    config: ServerConfig = request.app.state.config
    if not config.artifacts_direct or not isinstance(backend.artifacts, S3ObjectStore):
        return None
    return backend, backend.artifacts


def _off() -> Response:
    return reply(
        {
            "error_code": "DIRECT_ARTIFACTS_OFF",
            "message": "this server streams artifacts itself (started without"
            " --artifacts-direct); PUT or GET them under runs/<run>/artifacts/<path>",
        },
        409,
    )


def _target(request: Request) -> tuple[str, str]:
    run_id = check_id(request.path_params["run_id"])
    return run_id, check_relative_path(request.path_params["path"], allow_empty=False)


def _declared(data: dict[str, Any], path: str) -> tuple[int, str]:
    """The size and sha256 (hex) the client declares for artifact `path`."""
    size, sha = data.get("size"), data.get("sha256")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_UPLOAD:
        raise InvalidValueError(
            f"artifact {path!r}: size {str(size)[:40]} must be an integer from 0 to {MAX_UPLOAD}"
        )
    if not isinstance(sha, str) or len(sha) != 64:
        raise InvalidValueError(
            f"artifact {path!r}: sha256 {str(sha)[:80]!r} must be 64 hexadecimal digits"
        )
    try:
        bytes.fromhex(sha)
    except ValueError:
        raise InvalidValueError(
            f"artifact {path!r}: sha256 {sha!r} must be 64 hexadecimal digits"
        ) from None
    return size, sha.lower()


def _b64(sha_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(sha_hex)).decode("ascii")


class _Upload(NamedTuple):
    """An upload a client declares: where it goes and what it holds."""

    backend: SqlBackend
    store: S3ObjectStore
    run_id: str
    path: str
    size: int
    sha: str
    key: str


async def _upload(request: Request) -> _Upload | None:
    """The declared upload of a request to an existing run; None when direct transfers are off."""
    found = _store(request)
    if found is None:
        return None
    backend, store = found
    run_id, path = _target(request)
    size, sha = _declared(await json_body(request), path)
    await run_in_threadpool(backend.check_run_exists, run_id)
    return _Upload(backend, store, run_id, path, size, sha, backend.artifact_key(run_id, path))


async def start_upload(request: Request) -> Response:
    """A presigned PUT for one artifact, signed with its declared size and sha256."""
    upload = await _upload(request)
    if upload is None:
        return _off()
    store, path, size, sha, key = upload.store, upload.path, upload.size, upload.sha, upload.key
    if size > MAX_PUT:
        raise InvalidValueError(
            f"artifact {path!r} is {size} bytes, over the {MAX_PUT} bytes one S3 PUT may"
            " carry: stream it through the server (PUT runs/<run>/artifacts/<path>)"
        )
    expiry = request.app.state.config.direct_expiry
    checksum = _b64(sha)
    url = await run_in_threadpool(
        store.presigned_url, "put_object", key, expiry, ContentLength=size, ChecksumSHA256=checksum
    )
    # Content-Length is signed too; the client's HTTP library sends it from the file.
    headers = {"x-amz-checksum-sha256": checksum, "Content-Type": "application/octet-stream"}
    return reply({"url": url, "method": "PUT", "headers": headers, "expires_in": expiry})


async def commit_upload(request: Request) -> Response:
    """Check an object a client uploaded with a presigned URL; delete it unless it is right."""
    upload = await _upload(request)
    if upload is None:
        return _off()
    store, run_id, path, size, sha, key = upload[1:]
    seen = await run_in_threadpool(store.checked_size, key)
    if seen is None:
        raise ArtifactNotFoundError(
            f"run {run_id} has no uploaded object for artifact {path!r}: PUT it to the URL"
            " from artifact-uploads first"
        )
    actual_size, stored_checksum = seen
    problem = ""
    if actual_size != size:
        problem = f"{actual_size} bytes arrived, not the {size} declared"
    elif stored_checksum is not None and _hex(stored_checksum) != sha:
        problem = f"sha256 {_hex(stored_checksum)} arrived, not the {sha} declared"
    if problem:
        await run_in_threadpool(store.delete, key)
        raise InvalidValueError(
            f"artifact {path!r} of run {run_id}: {problem}; it was damaged or replaced on the"
            " way and has been removed: upload it again"
        )
    return reply({"path": path, "size": size, "sha256": sha})


def _hex(checksum: str) -> str:
    try:
        return base64.b64decode(checksum, validate=True).hex()
    except (binascii.Error, ValueError):
        return checksum  # not base64: shown as it is, and never equal to a hex digest


async def start_download(request: Request) -> Response:
    """A presigned GET for one artifact file."""
    found = _store(request)
    if found is None:
        return _off()
    backend, store = found
    run_id, path = _target(request)
    key = backend.artifact_key(run_id, path)
    seen = await run_in_threadpool(store.checked_size, key)
    if seen is None:
        # A directory, a missing file or a missing run: the backend says which.
        await run_in_threadpool(backend.list_artifacts, run_id, path)
        raise ArtifactNotFoundError(
            f"run {run_id} has no artifact file {path!r}; list them with"
            f" GET {wire.API_PREFIX}/runs/{run_id}/artifact-list?path=..."
        )
    expiry = request.app.state.config.direct_expiry
    url = await run_in_threadpool(store.presigned_url, "get_object", key, expiry)
    return reply(
        {"url": url, "method": "GET", "headers": {}, "size": seen[0], "expires_in": expiry}
    )


def routes() -> list[BaseRoute]:
    """The routes of direct artifact transfers (answering 409 when the flag is off)."""
    p = f"{wire.API_PREFIX}/runs/{{run_id}}"
    return [
        Route(f"{p}/artifact-uploads/{{path:path}}", start_upload, methods=["POST"]),
        Route(f"{p}/artifact-commits/{{path:path}}", commit_upload, methods=["POST"]),
        Route(f"{p}/artifact-downloads/{{path:path}}", start_download, methods=["GET"]),
    ]
