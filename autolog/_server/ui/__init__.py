"""The web UI: server-rendered pages over a `Backend`, served by `autolog server` and `autolog ui`.

Pages read through `request.app.state.backend` only (the server's SqlBackend, or the
local or S3 store of `autolog ui`), so one set of routes serves both. Every route is
declared in `autolog._server.routes.UI`.
"""

from __future__ import annotations

from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["STATIC", "Compression", "routes"]

STATIC = Path(__file__).parent / "static"


class Compression:
    """Gzip for the UI's responses; the APIs' replies pass untouched (their clients stream)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope.get("path", "")).startswith("/api/"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def routes() -> list[BaseRoute]:
    """The routes of the web UI."""
    from autolog._server.ui import artifacts, compare, models, run, runs

    return [
        Route("/", runs.experiments_page),
        Route("/experiments/{experiment_id}", runs.experiment_page),
        Route("/runs/{run_id}", run.run_page),
        Route("/runs/{run_id}/artifacts", artifacts.artifacts_page),
        Route("/compare", compare.compare_page),
        Route("/models", models.models_page),
        Route("/models/{name}", models.model_page),
        Route("/models/{name}/alias", models.move_alias, methods=["POST"]),
        Route("/models/{name}/description", models.set_description, methods=["POST"]),
        Route("/ui/api/experiments/{experiment_id}/runs", runs.rows),
        Route("/ui/api/runs/{run_id}/history", run.history),
        Route("/ui/api/runs/{run_id}/raw", artifacts.raw_artifact),
        Route("/ui/api/compare/history", compare.compare_histories),
        Mount("/ui/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
