"""The MLflow REST backend: runs go to an existing MLflow tracking server.

Chosen by `autolog.backends.http.from_uri` when the server at an `http(s)://` URI answers
as MLflow does (`/health`, `/api/2.0/mlflow/experiments/search`) and not as autolog's
server (`/api/autolog/v1/health`).
"""

from __future__ import annotations

from autolog.backends import _wire as wire
from autolog.backends._http_client import Client, ServerUnreachable
from autolog.errors import AutologError

__all__ = ["is_mlflow_server"]

_PROBE_TIMEOUT = (2.0, 5.0)


def is_mlflow_server(client: Client) -> bool:
    """True when the server answers as MLflow's tracking server and not as autolog's.

    A server that does not answer is taken for autolog's (writes wait in the spool).
    """
    try:
        client.call("GET", wire.API_PREFIX + "/health", absolute=True, timeout=_PROBE_TIMEOUT)
        return False
    except ServerUnreachable:
        return False
    except AutologError:
        pass  # not autolog's server: is it MLflow's?
    try:
        client.call("GET", "/health", absolute=True, timeout=_PROBE_TIMEOUT)
        client.call(
            "GET",
            "/api/2.0/mlflow/experiments/search",
            params={"max_results": "1"},
            absolute=True,
            timeout=_PROBE_TIMEOUT,
        )
    except AutologError:
        return False
    return True
