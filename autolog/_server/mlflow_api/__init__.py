"""MLflow's REST API subset (`/api/2.0/mlflow/...`), so MLflow's own client works unchanged.

One module per group of routes: experiments, runs (with metric history and search),
artifacts (the `mlflow-artifacts` proxy), logged models (MLflow 3) and the registry.
Each exports ROUTES as (method, path, endpoint); `autolog/_server/routes.py` declares
the resource and role of each.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from autolog._server.app import reply
from autolog.backends._wire import error_json
from autolog.errors import AutologError

__all__ = ["error_reply", "routes"]


def error_reply(exc: AutologError) -> Response:
    """MLflow's error shape: {error_code, message} with a 4xx status."""
    status, body = error_json(exc)
    code = getattr(exc, "mlflow_code", None) or body["error_code"]
    return reply({"error_code": code, "message": body["message"]}, status)


async def server_info(request: Request) -> Response:
    """What MLflow's client asks before artifact transfers: no multipart, no workspaces."""
    return reply(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": False,
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
        }
    )


def routes() -> list[BaseRoute]:
    """The MLflow routes."""
    from autolog._server.mlflow_api import artifacts, experiments, logged_models, registry, runs
    from autolog._server.mlflow_api.openapi import openapi

    table = [
        *experiments.ROUTES,
        *runs.ROUTES,
        *artifacts.ROUTES,
        *logged_models.ROUTES,
        *registry.ROUTES,
        ("GET", "/api/3.0/mlflow/server-info", server_info),
        ("GET", "/api/2.0/mlflow/openapi.json", openapi),
    ]
    return [Route(path, endpoint, methods=[method]) for method, path, endpoint in table]
