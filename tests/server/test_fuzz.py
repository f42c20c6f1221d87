"""Both APIs fuzzed from their OpenAPI documents with schemathesis: no input makes a 5xx.

Bounded (a few examples per operation) so the suite stays fast; over SQLite and
PostgreSQL (PostgreSQL refuses more text than SQLite: NUL characters, over-long values).
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("schemathesis", reason="schemathesis is not installed: pip install '.[dev]'")

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from trackingserver import ServerProcess

from autolog._server.mlflow_api.openapi import openapi_document as mlflow_document
from autolog._server.openapi import openapi_document as native_document

EXAMPLES = 6

native = schemathesis.openapi.from_dict(native_document())
mlflow = schemathesis.openapi.from_dict(mlflow_document())


_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


@native.parametrize()
@_SETTINGS
def test_native_api_has_no_server_errors(case: Any, server: ServerProcess) -> None:
    response = case.call(base_url=server.url, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])


@mlflow.parametrize()
@_SETTINGS
def test_mlflow_api_has_no_server_errors(case: Any, server: ServerProcess) -> None:
    response = case.call(base_url=server.url, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])


def test_documents_are_served(server: ServerProcess) -> None:
    import requests

    for path, document in (
        ("/api/2.0/mlflow/openapi.json", mlflow_document()),
        ("/api/autolog/v1/openapi.json", native_document()),
    ):
        reply = requests.get(server.url + path, timeout=10)
        assert reply.status_code == 200 and reply.json() == document
