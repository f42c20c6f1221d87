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
    # --artifacts-direct (autolog/_server/direct.py): presigned URLs of the S3 store.
    Rule("POST", f"{_N}/runs/{{run_id}}/artifact-uploads/{{path:path}}", "run", "writer",
         "path:run_id"),
    Rule("POST", f"{_N}/runs/{{run_id}}/artifact-commits/{{path:path}}", "run", "writer",
         "path:run_id"),
    Rule("GET", f"{_N}/runs/{{run_id}}/artifact-downloads/{{path:path}}", "run", "reader",
         "path:run_id"),
    Rule("POST", f"{_N}/registry/models", "user", "writer"),
    Rule("GET", f"{_N}/registry/models", "user"),
    Rule("GET", f"{_N}/registry/model", "model", "reader", "query:name"),
    Rule("POST", f"{_N}/registry/versions", "model", "writer", "json:name"),
    Rule("POST", f"{_N}/registry/events", "model", "maintainer", "json:name"),
)  # fmt: skip

_M = "/api/2.0/mlflow"
_A = "/api/2.0/mlflow-artifacts/artifacts"

# MLflow's REST API subset (autolog/_server/mlflow_api/). MLflow sends GET parameters in the
# query string and everything else in a JSON body. Two locations need a lookup first: an
# mlflow-artifacts `path` holds the run id as its second segment
# (`<experiment>/<run>/artifacts/...`, see mlflow_api.artifacts.artifact_target) or a logged
# model id as its third (`<experiment>/models/<model id>/...`); a logged model's `model_id`
# stands for the experiment the model belongs to.
MLFLOW: tuple[Rule, ...] = (
    Rule("GET", "/api/3.0/mlflow/server-info", "public"),
    Rule("GET", f"{_M}/openapi.json", "public"),
    # experiments
    Rule("GET", f"{_M}/experiments/get-by-name", "experiment", "reader",
         "query:experiment_name"),
    Rule("POST", f"{_M}/experiments/create", "user", "writer"),
    Rule("GET", f"{_M}/experiments/get", "experiment", "reader", "query:experiment_id"),
    Rule("POST", f"{_M}/experiments/search", "user"),
    Rule("POST", f"{_M}/experiments/delete", "experiment", "owner", "json:experiment_id"),
    Rule("POST", f"{_M}/experiments/restore", "experiment", "owner", "json:experiment_id"),
    Rule("POST", f"{_M}/experiments/update", "experiment", "maintainer", "json:experiment_id"),
    Rule("POST", f"{_M}/experiments/set-experiment-tag", "experiment", "writer",
         "json:experiment_id"),
    Rule("POST", f"{_M}/experiments/delete-experiment-tag", "experiment", "writer",
         "json:experiment_id"),
    # runs
    Rule("POST", f"{_M}/runs/create", "experiment", "writer", "json:experiment_id"),
    Rule("GET", f"{_M}/runs/get", "run", "reader", "query:run_id"),
    Rule("POST", f"{_M}/runs/update", "run", "writer", "json:run_id"),
    Rule("POST", f"{_M}/runs/delete", "run", "maintainer", "json:run_id"),
    Rule("POST", f"{_M}/runs/restore", "run", "maintainer", "json:run_id"),
    Rule("POST", f"{_M}/runs/log-metric", "run", "writer", "json:run_id"),
    Rule("POST", f"{_M}/runs/log-parameter", "run", "writer", "json:run_id"),
    Rule("POST", f"{_M}/runs/set-tag", "run", "writer", "json:run_id"),
    Rule("POST", f"{_M}/runs/delete-tag", "run", "writer", "json:run_id"),
    Rule("POST", f"{_M}/runs/log-batch", "run", "writer", "json:run_id"),
    Rule("POST", f"{_M}/runs/log-model", "run", "writer", "json:run_id"),
    Rule("POST", f"{_M}/runs/log-inputs", "run", "writer", "json:run_id"),
    Rule("POST", f"{_M}/runs/outputs", "run", "writer", "json:run_id"),
    Rule("POST", f"{_M}/runs/search", "user"),
    Rule("GET", f"{_M}/metrics/get-history", "run", "reader", "query:run_id"),
    # artifacts
    Rule("GET", f"{_M}/artifacts/list", "run", "reader", "query:run_id"),
    Rule("GET", _A, "run", "reader", "query:path"),
    Rule("PUT", f"{_A}/{{path:path}}", "run", "writer", "path:path"),
    Rule("GET", f"{_A}/{{path:path}}", "run", "reader", "path:path"),
    # logged models (MLflow 3)
    Rule("POST", f"{_M}/logged-models", "experiment", "writer", "json:experiment_id"),
    Rule("POST", f"{_M}/logged-models/search", "user"),
    Rule("GET", f"{_M}/logged-models/{{model_id}}", "experiment", "reader", "path:model_id"),
    Rule("PATCH", f"{_M}/logged-models/{{model_id}}", "experiment", "writer", "path:model_id"),
    Rule("DELETE", f"{_M}/logged-models/{{model_id}}", "experiment", "maintainer",
         "path:model_id"),
    Rule("PATCH", f"{_M}/logged-models/{{model_id}}/tags", "experiment", "writer",
         "path:model_id"),
    Rule("DELETE", f"{_M}/logged-models/{{model_id}}/tags/{{tag_key}}", "experiment", "writer",
         "path:model_id"),
    Rule("POST", f"{_M}/logged-models/{{model_id}}/params", "experiment", "writer",
         "path:model_id"),
    # registered models and versions
    Rule("POST", f"{_M}/registered-models/create", "user", "writer"),
    Rule("GET", f"{_M}/registered-models/get", "model", "reader", "query:name"),
    Rule("PATCH", f"{_M}/registered-models/update", "model", "maintainer", "json:name"),
    Rule("DELETE", f"{_M}/registered-models/delete", "model", "owner", "json:name"),
    Rule("GET", f"{_M}/registered-models/search", "user"),
    Rule("POST", f"{_M}/registered-models/get-latest-versions", "model", "reader", "json:name"),
    Rule("POST", f"{_M}/registered-models/set-tag", "model", "maintainer", "json:name"),
    Rule("DELETE", f"{_M}/registered-models/delete-tag", "model", "maintainer", "json:name"),
    Rule("POST", f"{_M}/registered-models/alias", "model", "maintainer", "json:name"),
    Rule("DELETE", f"{_M}/registered-models/alias", "model", "maintainer", "json:name"),
    Rule("GET", f"{_M}/registered-models/alias", "model", "reader", "query:name"),
    Rule("POST", f"{_M}/model-versions/create", "model", "writer", "json:name"),
    Rule("GET", f"{_M}/model-versions/get", "model", "reader", "query:name"),
    Rule("PATCH", f"{_M}/model-versions/update", "model", "writer", "json:name"),
    Rule("DELETE", f"{_M}/model-versions/delete", "model", "maintainer", "json:name"),
    Rule("GET", f"{_M}/model-versions/search", "user"),
    Rule("GET", f"{_M}/model-versions/get-download-uri", "model", "reader", "query:name"),
    Rule("POST", f"{_M}/model-versions/set-tag", "model", "writer", "json:name"),
    Rule("DELETE", f"{_M}/model-versions/delete-tag", "model", "writer", "json:name"),
)  # fmt: skip

_EXP = "path:experiment_id"

# The web UI (autolog/_server/ui/): pages, the JSON its scripts fetch, and its static files.
UI: tuple[Rule, ...] = (
    Rule("GET", "/", "user"),
    Rule("GET", "/experiments/{experiment_id}", "experiment", locate=_EXP),
    Rule("GET", "/runs/{run_id}", "run", "reader", "path:run_id"),
    Rule("GET", "/runs/{run_id}/artifacts", "run", "reader", "path:run_id"),
    Rule("GET", "/compare", "user"),  # each run is checked by the page
    Rule("GET", "/models", "user"),
    Rule("GET", "/models/{name}", "model", "reader", "path:name"),
    Rule("POST", "/models/{name}/alias", "model", "maintainer", "path:name"),
    Rule("POST", "/models/{name}/description", "model", "maintainer", "path:name"),
    Rule("GET", "/ui/api/experiments/{experiment_id}/runs", "experiment", locate=_EXP),
    Rule("GET", "/ui/api/runs/{run_id}/history", "run", "reader", "path:run_id"),
    Rule("GET", "/ui/api/runs/{run_id}/raw", "run", "reader", "path:run_id"),
    Rule("GET", "/ui/api/compare/history", "user"),  # each run is checked by the route
    Rule("GET", "/ui/static/{path:path}", "public"),
)

#: Every route, by (method, path template).
RULES: dict[tuple[str, str], Rule] = {(r.method, r.path): r for r in (*NATIVE, *AUTH, *MLFLOW, *UI)}
