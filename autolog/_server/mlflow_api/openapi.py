"""The OpenAPI document of the MLflow routes (served at /api/2.0/mlflow/openapi.json)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from autolog._server.app import reply

__all__ = ["openapi", "openapi_document"]


def openapi_document() -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": "autolog: MLflow REST API", "version": "1"},
            "paths": {}}  # fmt: skip


async def openapi(request: Request) -> Response:
    return reply(openapi_document())
