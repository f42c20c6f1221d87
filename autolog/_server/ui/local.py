"""The application of `autolog ui`: the web UI alone, over a local directory or S3 store."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware

from autolog._server.ui import Compression, routes
from autolog._tracking.context import current_user
from autolog.backends import backend_for_uri

__all__ = ["app_from_environment", "create_local_app"]


def create_local_app(tracking_uri: str) -> Starlette:
    """The web UI over the store at `tracking_uri` (no authentication: it listens on loopback)."""
    backend = backend_for_uri(tracking_uri)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        backend.close()

    app = Starlette(routes=routes(), middleware=[Middleware(Compression)], lifespan=lifespan)
    app.state.backend = backend
    app.state.local_user = current_user()
    return app


def app_from_environment() -> Starlette:
    """The application for `AUTOLOG_UI_TRACKING_URI` (uvicorn's factory)."""
    return create_local_app(os.environ["AUTOLOG_UI_TRACKING_URI"])
