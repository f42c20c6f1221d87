"""MLflow's REST API subset (`/api/2.0/mlflow/...`), so MLflow's own client works unchanged."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute

from autolog._server.app import reply
from autolog.backends._wire import error_json
from autolog.errors import AutologError

__all__ = ["error_reply", "routes"]


def error_reply(exc: AutologError) -> Response:
    """MLflow's error shape: {error_code, message} with a 4xx status."""
    status, body = error_json(exc)
    return reply({"error_code": body["error_code"], "message": body["message"]}, status)


def routes() -> list[BaseRoute]:
    """The MLflow routes."""
    return []
