"""schemathesis against a `--auth token` server with a token of each kind of caller.

For every operation of the native OpenAPI document, generated requests are sent with no
token, a revoked token, a read-only token with no grants, a reader's token and the
owner's token. None may get a 5xx, and none may succeed where the route table refuses
that caller whatever the resource: no token on a non-public route, a read-only token on
a route that writes, a caller with no grants on an experiment, run or model route.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from trackingserver import ServerProcess, migrated_sqlite

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

from autolog._server.openapi import openapi_document  # noqa: E402
from autolog._server.routes import RULES, Rule  # noqa: E402
from autolog.backends.sql.auth import AuthStore  # noqa: E402

CALLERS = ("none", "revoked", "nobody-read-only", "reader", "owner")


@pytest.fixture(scope="module")
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    store = migrated_sqlite(root / "autolog.db")
    auth = AuthStore(store)
    tokens: dict[str, str] = {}
    for user in ("owner", "reader", "nobody"):
        auth.add_user(user)
    tokens["owner"] = auth.create_token("owner")[1]
    tokens["reader"] = auth.create_token("reader")[1]
    tokens["nobody-read-only"] = auth.create_token("nobody", scope="read")[1]
    revoked, tokens["revoked"] = auth.create_token("owner")
    auth.revoke_token(revoked)
    auth.close()
    server = ServerProcess(store, root / "artifacts").start("--auth", "token")
    yield server, tokens
    server.stop()


def forbidden(rule: Rule, caller: str) -> bool:
    """Whether the table refuses `caller` on `rule` whatever resource the request names."""
    if rule.resource == "public":
        return False
    if caller in ("none", "revoked"):
        return True
    if caller == "nobody-read-only":
        return rule.role != "reader" or rule.resource in ("experiment", "run", "model", "admin")
    return rule.resource == "admin"


def rule_of(method: str, path: str) -> Rule:
    found = RULES.get((method.upper(), path))
    if found is None:  # OpenAPI writes {path} where Starlette writes {path:path}
        found = RULES[(method.upper(), re.sub(r"\{path\}", "{path:path}", path))]
    return found


SCHEMA = schemathesis.openapi.from_dict(openapi_document())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.mark.parametrize(
    "operation", OPERATIONS, ids=[f"{o.method.upper()} {o.path}" for o in OPERATIONS]
)
def test_fuzzed_requests_per_caller(
    fuzz_server: tuple[ServerProcess, dict[str, str]], operation: Any
) -> None:
    server, tokens = fuzz_server
    rule = rule_of(operation.method, operation.path)
    problems: list[str] = []

    @hypothesis.settings(
        max_examples=8, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
    )  # fmt: skip
    @hypothesis.given(case=operation.as_strategy())
    def check(case: Any) -> None:
        for caller in CALLERS:
            headers = {} if caller == "none" else {"Authorization": f"Bearer {tokens[caller]}"}
            resp = case.call(base_url=server.url, headers=headers, timeout=30)
            if resp.status_code >= 500:
                problems.append(f"{caller}: {resp.status_code} {resp.text[:200]}")
            elif 200 <= resp.status_code < 300 and forbidden(rule, caller):
                problems.append(f"{caller}: {resp.status_code} where the table refuses")

    check()
    assert not problems, problems[:5]
