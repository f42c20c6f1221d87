"""The route table: for every route of the server, the resource it touches and the role it needs.

Every route the application serves is declared here, once; `tests/server/test_route_table.py`
fails on a route that is served but not declared (or declared but not served). The
authorization layer reads this table, and nothing else, to decide who may call a route.

Resources:
    public       anyone, signed in or not (health, OpenAPI document, login page, static files)
    user         any signed-in user; what the route returns is filtered to what they may read
    experiment   one experiment, found by `locate`
    run          one run, found by `locate`; the role is checked on the run's experiment
    model        one registered model, found by `locate`
    batch        the native ingest batch: the role is checked on every run the batch names
    admin        the server itself (users, groups, tokens, settings)

Roles, each including the ones before it: reader < writer < maintainer < owner; admin is global.

`locate` says where the resource's identifier is in the request: `path:NAME` (a path
parameter), `query:NAME` (a query parameter), `json:NAME` (a field of the JSON body), or ""
when the resource needs none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["AUTH", "MLFLOW", "NATIVE", "RULES", "UI", "Resource", "Role", "Rule"]

Resource = Literal["public", "user", "experiment", "run", "model", "batch", "admin"]
Role = Literal["reader", "writer", "maintainer", "owner", "admin"]


@dataclass(frozen=True)
class Rule:
    """What one route (method + Starlette path template) touches and needs."""

    method: str
    path: str
    resource: Resource
    role: Role = "reader"
    locate: str = ""


_N = "/api/autolog/v1"

# Signing in to the web UI (autolog/_server/login.py).
AUTH: tuple[Rule, ...] = (
    Rule("GET", "/login", "public"),
    Rule("POST", "/login", "public"),
    Rule("POST", "/logout", "public"),
)

# The native API (autolog/_server/native.py).
NATIVE: tuple[Rule, ...] = (
    Rule("GET", f"{_N}/health", "public"),
    Rule("GET", f"{_N}/openapi.json", "public"),
    Rule("POST", f"{_N}/experiments", "user", "writer"),
    Rule("GET", f"{_N}/experiments", "user"),
    Rule("GET", f"{_N}/experiment", "experiment", "reader", "query:name_or_id"),
    Rule("POST", f"{_N}/ingest", "batch", "writer"),
    Rule("POST", f"{_N}/runs/list", "user"),
    Rule("POST", f"{_N}/runs/search", "user"),
    Rule("GET", f"{_N}/runs/{{run_id}}", "run", "reader", "path:run_id"),
    Rule("GET", f"{_N}/runs/{{run_id}}/metric-history", "run", "reader", "path:run_id"),
    Rule("GET", f"{_N}/runs/{{run_id}}/artifact-list", "run", "reader", "path:run_id"),
    Rule("PUT", f"{_N}/runs/{{run_id}}/artifacts/{{path:path}}", "run", "writer", "path:run_id"),
    Rule("GET", f"{_N}/runs/{{run_id}}/artifacts/{{path:path}}", "run", "reader", "path:run_id"),
    Rule("POST", f"{_N}/registry/models", "user", "writer"),
    Rule("GET", f"{_N}/registry/models", "user"),
    Rule("GET", f"{_N}/registry/model", "model", "reader", "query:name"),
    Rule("POST", f"{_N}/registry/versions", "model", "writer", "json:name"),
    Rule("POST", f"{_N}/registry/events", "model", "maintainer", "json:name"),
)

# MLflow's REST API subset (autolog/_server/mlflow_api.py).
MLFLOW: tuple[Rule, ...] = ()

# The web UI (autolog/_server/ui/).
UI: tuple[Rule, ...] = ()

#: Every route, by (method, path template).
RULES: dict[tuple[str, str], Rule] = {(r.method, r.path): r for r in (*NATIVE, *AUTH, *MLFLOW, *UI)}
