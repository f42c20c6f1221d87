"""The ASGI application: configuration, the store it serves, and how errors become replies.

The server keeps no state of its own: everything is in the database and the artifact
store, so any number of processes (workers, replicas) can serve one store.
Every failure the client caused is a 4xx with a JSON body that names the bad value
and the fix; an unexpected error is logged and answered with a 500 that says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from autolog.backends._objects import ObjectStore
from autolog.backends._wire import error_json
from autolog.backends.sql.store import SqlBackend
from autolog.errors import AutologError, InvalidValueError

__all__ = ["ServerConfig", "app_from_environment", "create_app", "json_body", "reply"]

logger = logging.getLogger("autolog.server")

DEFAULT_DIR = Path("autolog-server")
#: The largest request body accepted, after decompression.
MAX_BODY = 256 * 1024 * 1024


#: The largest artifact one PUT may carry.
MAX_UPLOAD = MAX_BODY * 64


def _words(name: str) -> tuple[str, ...]:
    return tuple(w for w in os.environ.get(name, "").split(",") if w)


@dataclass(frozen=True)
class ServerConfig:
    """Where the server keeps its data, and who it lets in (see autolog._server.guard).

    `auth` is "none" (everyone is administrator: loopback only, checked by the CLI),
    "token" (bearer tokens; the web UI's session cookie) or "proxy" (the identity header
    `proxy_header` from the addresses in `trusted_proxies`, and tokens). `allowed_hosts`:
    the Host names the server answers to (empty: any). `cors_origins`: the origins that
    may call it from a browser (empty: none). `artifacts_direct`: hand clients presigned
    URLs of the S3 artifact store instead of streaming artifacts through the server
    (autolog._server.direct), each valid for `direct_expiry` seconds.
    """

    store: str
    artifacts: str
    pool_size: int = 5
    auth: str = "none"
    proxy_header: str = ""
    trusted_proxies: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    artifacts_direct: bool = False
    direct_expiry: int = 300

    @classmethod
    def from_environment(cls) -> ServerConfig:
        return cls(
            store=os.environ["AUTOLOG_SERVER_STORE"],
            artifacts=os.environ["AUTOLOG_SERVER_ARTIFACTS"],
            pool_size=int(os.environ.get("AUTOLOG_SERVER_POOL_SIZE", "5")),
            auth=os.environ.get("AUTOLOG_SERVER_AUTH", "none"),
            proxy_header=os.environ.get("AUTOLOG_SERVER_PROXY_HEADER", ""),
            trusted_proxies=_words("AUTOLOG_SERVER_TRUSTED_PROXIES"),
            allowed_hosts=_words("AUTOLOG_SERVER_ALLOWED_HOSTS"),
            cors_origins=_words("AUTOLOG_SERVER_CORS_ORIGINS"),
            artifacts_direct=os.environ.get("AUTOLOG_SERVER_ARTIFACTS_DIRECT") == "1",
            direct_expiry=int(os.environ.get("AUTOLOG_SERVER_DIRECT_EXPIRY", "300")),
        )


def artifact_store(uri: str) -> ObjectStore:
    """The object store for `--artifacts`: a directory or `s3://bucket/prefix`."""
    if uri.startswith("s3://"):
        from autolog.backends.s3 import S3ObjectStore, parse_s3_uri

        bucket, prefix = parse_s3_uri(uri)
        return S3ObjectStore(bucket, prefix)
    from autolog._server.confined import ConfinedObjectStore

    path = uri[len("file://") :] if uri.startswith("file://") else uri
    return ConfinedObjectStore(Path(path).expanduser())


def reply(data: Any, status: int = 200, *, allow_nan: bool = False) -> Response:
    """A JSON reply (NaN and infinities are never in it: the codec sends them as strings).

    `allow_nan` lets them through as Python's json writes them (NaN, Infinity), for the
    registry's documents, which are stored as the registry wrote them.
    """
    body = json.dumps(data, separators=(",", ":"), allow_nan=allow_nan).encode("utf-8")
    return Response(body, status, media_type="application/json")


def error_reply(exc: AutologError) -> Response:
    status, body = error_json(exc)
    if status >= 500:
        logger.error("autolog server: %s", exc)
    return reply(body, status)


async def read_body(request: Request) -> bytes:
    """The request body, gunzipped when sent with Content-Encoding: gzip; size-capped."""
    raw = await request.body()
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding == "gzip":
        try:
            # Decompressed in bounded steps: a small body must not expand without limit.
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = d.decompress(raw, MAX_BODY + 1)
        except zlib.error as exc:
            raise InvalidValueError(f"the request body is not valid gzip: {exc}") from None
    elif encoding != "identity":
        raise InvalidValueError(
            f"Content-Encoding {encoding!r} is not supported; send gzip or no encoding"
        )
    if len(raw) > MAX_BODY:
        raise InvalidValueError(f"the request body is over {MAX_BODY} bytes; send smaller batches")
    return raw


async def json_body(request: Request) -> Any:
    """The request's JSON body (an object), or InvalidValueError saying what is wrong."""
    raw = await read_body(request)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidValueError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidValueError(f"the request body is {type(data).__name__}; expected an object")
    return data


Endpoint = Callable[[Request], Awaitable[Response]]


def create_app(config: ServerConfig, routes: list[BaseRoute] | None = None) -> Starlette:
    """The application serving `config`'s store."""
    from autolog._server import direct, mlflow_api, native, ui

    direct.check_config(config)
    backend = SqlBackend(
        config.store,
        artifact_store(config.artifacts),
        pool_size=config.pool_size,
        background_checkpoints=True,
    )

    # Who may call (autolog/_server/guard.py, auth.py, login.py).
    from autolog._server import login
    from autolog._server.auth import Authorizer
    from autolog._server.guard import Guard
    from autolog.backends.sql.auth import AuthStore

    if config.auth not in ("none", "token", "proxy"):
        backend.close()
        raise InvalidValueError(f"--auth {config.auth!r} is unknown; use none, token or proxy")
    authorizer = None if config.auth == "none" else Authorizer(AuthStore(engine=backend.engine))

    async def autolog_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AutologError)
        if request.url.path.startswith("/api/2.0/") or request.url.path.startswith("/api/3.0/"):
            return mlflow_api.error_reply(exc)
        return error_reply(exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "ENDPOINT_NOT_FOUND" if exc.status_code == 404 else "BAD_REQUEST"
        message = f"{request.method} {request.url.path}: {exc.detail}"
        if exc.status_code == 404:
            message += f"; see {native.PREFIX}/openapi.json for the routes"
        return reply({"error_code": code, "message": message}, exc.status_code)

    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("autolog server: unexpected error on %s %s", request.method, request.url)
        body = {"error_code": "INTERNAL_ERROR", "message": f"internal error: {type(exc).__name__}"}
        return reply(body, 500)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        backend.close()

    app = Starlette(
        routes=[
            *(routes or []),
            *native.routes(),
            *direct.routes(),
            *mlflow_api.routes(),
            *ui.routes(),
        ],
        middleware=[Middleware(ui.Compression)],
        exception_handlers={
            AutologError: autolog_error,
            HTTPException: http_error,
            Exception: unexpected,
        },
        lifespan=lifespan,
    )
    app.state.backend = backend
    app.state.config = config
    app.state.authorizer = authorizer
    app.router.routes.extend(login.routes())
    app.add_middleware(
        Guard,
        starlette=app,
        mode=config.auth,
        authorizer=authorizer,
        allowed_hosts=config.allowed_hosts,
        proxy_header=config.proxy_header,
        trusted_proxies=config.trusted_proxies,
        max_body=MAX_BODY,
        max_upload=MAX_UPLOAD,
    )
    if config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Content-Encoding"],
        )
    return app


def app_from_environment() -> Starlette:
    """The application for the configuration in the environment (uvicorn's factory)."""
    return create_app(ServerConfig.from_environment())
