"""Every route of the route table, called by every kind of caller, allowed or refused as it says.

One server process per database (SQLite, PostgreSQL) runs with `--auth token`. Users hold
each role on one experiment and one model; the callers are those users, an administrator,
a stranger with no grant, no token, a revoked token, an expired token and a read-only
token of the owner. The expectation for each (route, caller) comes from the rule alone,
so routes added to the table (MLflow, web UI) are covered when they are served.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from trackingserver import Postgres, ServerProcess, migrated_sqlite

from autolog._server.routes import RULES, Rule
from autolog.backends.sql.auth import AuthStore

ROLE_RANK = {"reader": 1, "writer": 2, "maintainer": 3, "owner": 4}
N = "/api/autolog/v1"


@dataclass
class World:
    """A running server with its users, tokens and resources."""

    server: ServerProcess
    store: str
    tokens: dict[str, str]
    experiment: str  # id
    experiment_name: str
    run: str
    model: str

    def call(self, method: str, path: str, caller: str | None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if caller is not None:
            headers["Authorization"] = f"Bearer {self.tokens[caller]}"
        return requests.request(
            method, self.server.url + path, headers=headers, timeout=30, allow_redirects=False,
            **kwargs,
        )  # fmt: skip


def run_meta(run_id: str, exp_id: str, exp_name: str | None = None) -> dict[str, Any]:
    return {"id": run_id, "experiment_id": exp_id, "experiment_name": exp_name,
            "name": "r", "start_time": int(time.time() * 1000), "parent_id": None}  # fmt: skip


def stamp() -> dict[str, int]:
    """The times autolog's registry writes on a model, version record or event."""
    ns = time.time_ns()
    return {"created_at": ns // 1_000_000, "created_ns": ns, "ns": ns, "time": ns // 1_000_000}


def build_world(store: str, root: Path) -> World:
    auth = AuthStore(store)
    tokens: dict[str, str] = {}
    auth.add_user("root", admin=True)
    tokens["admin"] = auth.create_token("root")[1]
    for user in ("owner", "maintainer", "writer", "reader", "stranger"):
        auth.add_user(user)
        tokens[user] = auth.create_token(user)[1]
    tokens["read-only"] = auth.create_token("owner", scope="read")[1]
    revoked_id, tokens["revoked"] = auth.create_token("owner")
    auth.revoke_token(revoked_id)
    tokens["expired"] = auth.create_token("owner", expires_at=int(time.time() * 1000) - 1000)[1]
    server = ServerProcess(store, root / "artifacts").start("--auth", "token")
    world = World(server, store, tokens, "", "secret-experiment", uuid.uuid4().hex, "secret-model")
    exp = world.call("POST", f"{N}/experiments", "owner", json={"name": world.experiment_name})
    assert exp.status_code == 200, exp.text
    world.experiment = exp.json()["id"]
    entry = {"type": "create", "run": run_meta(world.run, world.experiment)}
    created = world.call("POST", f"{N}/ingest", "owner", json={"entries": [entry]})
    assert created.json()["results"] == [{"ok": True}], created.text
    put = world.call("PUT", f"{N}/runs/{world.run}/artifacts/model/MLmodel", "owner", data=b"x")
    assert put.status_code == 200, put.text
    model = world.call("POST", f"{N}/registry/models", "owner",
                       json={"name": world.model, "meta": stamp()})  # fmt: skip
    assert model.json() == {"created": True}, model.text
    for user in ("maintainer", "writer", "reader"):
        auth.grant("experiment", world.experiment, "user", user, user)
        auth.grant("model", world.model, "user", user, user)
    auth.close()
    return world


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    root = tmp_path_factory.mktemp("auth")
    if request.param == "sqlite":
        store = migrated_sqlite(root / "autolog.db")
    else:
        pg: Postgres = request.getfixturevalue("postgres")
        store = pg.create_database(f"a_{uuid.uuid4().hex[:12]}", template="migrated")
    found = build_world(store, root)
    yield found
    found.server.stop()


# -- requests built from a rule alone -------------------------------------------------------------


def sample(world: World, rule: Rule) -> tuple[str, dict[str, Any]]:
    """A request for `rule`: its URL path and keyword arguments, naming the world's resource."""
    key = {"experiment": world.experiment, "run": world.run, "model": world.model}.get(
        rule.resource, ""
    )
    where, _, name = rule.locate.partition(":")
    if name == "experiment_name":
        key = world.experiment_name
    values = {"run_id": world.run, "experiment_id": world.experiment, "name": world.model,
              "path": "model/MLmodel", "name_or_id": world.experiment}  # fmt: skip

    def fill(match: re.Match[str]) -> str:
        param = match.group(1)
        return key if where == "path" and param == name else values.get(param, "x")

    path = re.sub(r"\{(\w+)(?::\w+)?\}", fill, rule.path)
    kwargs: dict[str, Any] = {}
    body = special_body(world, rule)
    if where == "query":
        kwargs["params"] = {name: key}
    elif rule.path.endswith("/metric-history"):
        kwargs["params"] = {"key": "m"}
    if where == "json":
        body = {**(body or {}), name: key}
    if rule.method == "PUT":
        kwargs["data"] = b"artifact bytes"
    elif rule.method in ("POST", "PATCH", "DELETE"):
        kwargs["json"] = body or {}
    return path, kwargs


def special_body(world: World, rule: Rule) -> dict[str, Any] | None:
    """Bodies the native API needs to do its work (so allowed calls succeed)."""
    tail = rule.path.rsplit("/", 1)[-1]
    if rule.path.startswith(N):
        if tail == "experiments" and rule.method == "POST":
            return {"name": f"made-{uuid.uuid4().hex[:8]}"}
        if tail == "ingest":
            return {"entries": [{"type": "batch", "run_id": world.run, "name": uuid.uuid4().hex,
                                 "batch": {"metrics": {"m": [[1.0, 0, 1]]}}}]}  # fmt: skip
        if tail == "models" and rule.method == "POST":
            return {"name": f"m-{uuid.uuid4().hex[:8]}", "meta": stamp()}
        if tail == "versions":
            return {"record": {"run_id": world.run, "artifact_path": "model",
                               "source": f"runs:/{world.run}/model", **stamp()}}  # fmt: skip
        if tail == "events":
            return {"event": {"id": f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}",
                              "type": "model_tag_set", "key": "k", "to": "v",
                              **stamp()}}  # fmt: skip
    return None


CALLERS = ["admin", "owner", "maintainer", "writer", "reader", "stranger",
           "none", "revoked", "expired", "read-only"]  # fmt: skip


def expected(rule: Rule, caller: str) -> bool:
    """Whether the route table lets `caller` call `rule`'s route."""
    if rule.resource == "public":
        return True
    if caller in ("none", "revoked", "expired"):
        return False
    if caller == "read-only":
        return rule.role == "reader" and expected(rule, "owner")
    if caller == "admin":
        return True
    if rule.resource == "admin" or rule.role == "admin":
        return False
    if rule.resource in ("user", "batch"):
        return True
    held = 0 if caller == "stranger" else ROLE_RANK[caller]
    return held >= ROLE_RANK[rule.role]


def refused(resp: requests.Response) -> bool:
    """Whether the server refused the caller (rather than served or rejected the input)."""
    try:
        code = resp.json().get("error_code") if resp.status_code >= 400 else None
    except ValueError:
        code = None  # a page of its own (the sign-in form says what was wrong)
    if code in ("UNAUTHENTICATED", "PERMISSION_DENIED", "RATE_LIMITED"):
        return True  # 429 RATE_LIMITED: past the limit of failed sign-ins from this address
    if resp.status_code == 303 and resp.headers.get("location", "").startswith("/login?next="):
        return True
    return resp.status_code == 404 and "that you may read" in resp.text


M = "/api/2.0/mlflow"


# Before the route-by-route test, which deletes the world's model (as its admin may).


def test_mlflow_searches_name_only_what_the_caller_may_read(world: World) -> None:
    version = world.call(
        "POST", f"{M}/model-versions/create", "owner",
        json={"name": world.model, "source": f"runs:/{world.run}/model", "run_id": world.run},
    )  # fmt: skip
    assert version.status_code == 200, version.text
    for caller in ("stranger", "reader", "admin"):
        visible = caller != "stranger"
        exps = world.call("POST", f"{M}/experiments/search", caller, json={})
        assert exps.status_code == 200 and (world.experiment_name in exps.text) == visible
        runs = world.call(
            "POST", f"{M}/runs/search", caller, json={"experiment_ids": [world.experiment]}
        )
        assert runs.status_code == 200 and (world.run in runs.text) == visible, runs.text
        models = world.call("GET", f"{M}/registered-models/search", caller)
        assert models.status_code == 200 and (world.model in models.text) == visible
        for params in ({}, {"filter": f"name = '{world.model}'"}):
            found = world.call("GET", f"{M}/model-versions/search", caller, params=params)
            assert found.status_code == 200 and (world.model in found.text) == visible
        logged = world.call(
            "POST", f"{M}/logged-models/search", caller, json={"experiment_ids": [world.experiment]}
        )
        assert logged.status_code == 200, logged.text
    # Asking by name does not confirm the name: the same answer as for a missing one.
    hidden = world.call("GET", f"{M}/experiments/get-by-name", "stranger",
                        params={"experiment_name": world.experiment_name})  # fmt: skip
    missing = world.call("GET", f"{M}/experiments/get-by-name", "stranger",
                         params={"experiment_name": "no-such"})  # fmt: skip
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error_code"] == missing.json()["error_code"]
    assert (
        world.call(
            "GET",
            f"{M}/experiments/get-by-name",
            "reader",
            params={"experiment_name": world.experiment_name},
        ).status_code
        == 200
    )


def test_mlflow_creators_own_what_they_create(world: World) -> None:
    name = f"mine-{uuid.uuid4().hex[:6]}"
    made = world.call("POST", f"{M}/experiments/create", "stranger", json={"name": name})
    assert made.status_code == 200, made.text
    exp_id = made.json()["experiment_id"]
    assert world.call("GET", f"{M}/experiments/get", "reader",
                      params={"experiment_id": exp_id}).status_code == 404  # fmt: skip
    found = world.call("POST", f"{M}/experiments/search", "stranger", json={})
    assert name in found.text
    deleted = world.call(
        "POST", f"{M}/experiments/delete", "stranger", json={"experiment_id": exp_id}
    )
    assert deleted.status_code == 200, deleted.text  # the owner's right
    model = f"mine-{uuid.uuid4().hex[:6]}"
    made = world.call("POST", f"{M}/registered-models/create", "stranger", json={"name": model})
    assert made.status_code == 200, made.text
    listed = world.call("GET", f"{M}/registered-models/search", "stranger")
    assert model in listed.text
    assert model not in world.call("GET", f"{M}/registered-models/search", "reader").text
    gone = world.call("DELETE", f"{M}/registered-models/delete", "stranger", json={"name": model})
    assert gone.status_code == 200, gone.text


def test_mlflow_version_sources_are_runs_the_caller_may_read(world: World) -> None:
    model = f"theirs-{uuid.uuid4().hex[:6]}"
    made = world.call("POST", f"{M}/registered-models/create", "stranger", json={"name": model})
    assert made.status_code == 200, made.text
    body = {"name": model, "source": f"runs:/{world.run}/model"}
    refused = world.call("POST", f"{M}/model-versions/create", "stranger", json=body)
    assert refused.status_code == 404 and world.experiment_name not in refused.text, refused.text
    allowed = world.call("POST", f"{M}/model-versions/create", "admin", json=body)
    assert allowed.status_code == 200, allowed.text


RULE_IDS = [f"{r.method} {r.path}" for r in RULES.values()]


@pytest.mark.parametrize("rule", list(RULES.values()), ids=RULE_IDS)
def test_every_route_with_every_caller(world: World, rule: Rule) -> None:
    wrong = []
    for caller in CALLERS:
        path, kwargs = sample(world, rule)
        resp = world.call(rule.method, path, None if caller == "none" else caller, **kwargs)
        assert resp.status_code < 500, f"{caller}: {resp.status_code} {resp.text[:300]}"
        if refused(resp) == expected(rule, caller):
            wrong.append(f"{caller}: HTTP {resp.status_code} {resp.text[:200]}")
    assert not wrong, (
        f"{rule.method} {rule.path} (needs {rule.role} on {rule.resource}):\n" + "\n".join(wrong)
    )


# -- what the table cannot say alone ------------------------------------------------------------


def test_ingest_entries_are_checked_one_by_one(world: World) -> None:
    own = uuid.uuid4().hex
    name = f"stranger-{uuid.uuid4().hex[:6]}"
    from autolog.backends._layout import experiment_id_for

    entries = [
        {"type": "batch", "run_id": world.run, "name": "x1", "batch": {"params": {"p": "1"}}},
        {"type": "create", "run": run_meta(uuid.uuid4().hex, world.experiment)},
        {"type": "create", "run": run_meta(own, experiment_id_for(name), name)},
        {"type": "batch", "run_id": own, "name": "x2", "batch": {"params": {"p": "1"}}},
    ]
    results = world.call("POST", f"{N}/ingest", "stranger", json={"entries": entries}).json()
    codes = [r.get("error_code") for r in results["results"]]
    assert codes == ["PERMISSION_DENIED", "PERMISSION_DENIED", None, None], results
    assert results["results"][0]["retry"] is False
    # The stranger owns the experiment they created, and their run records them.
    run = world.call("GET", f"{N}/runs/{own}", "stranger")
    assert run.status_code == 200 and run.json()["params"] == {"p": "1"}
    assert world.call("GET", f"{N}/runs/{own}", "reader").status_code == 404
    # A reader may not write a batch either.
    reader = world.call("POST", f"{N}/ingest", "reader", json={"entries": entries[:1]}).json()
    assert reader["results"][0]["error_code"] == "PERMISSION_DENIED"


def test_listings_name_only_what_the_caller_may_read(world: World) -> None:
    for caller in ("stranger", "reader", "admin"):
        visible = caller != "stranger"
        exps = world.call("GET", f"{N}/experiments", caller)
        assert (world.experiment_name in exps.text) == visible, (caller, exps.text)
        for route in ("runs/list", "runs/search"):
            runs = world.call("POST", f"{N}/{route}", caller, json={})
            assert (world.run in runs.text) == visible, (caller, route)
            asked = world.call(
                "POST", f"{N}/{route}", caller, json={"experiment_ids": [world.experiment]}
            )
            assert (world.run in asked.text) == visible
        models = world.call("GET", f"{N}/registry/models", caller)
        assert (world.model in models.text) == visible
    # Asking by name does not confirm the name: the same answer as for a missing one.
    hidden = world.call(
        "GET", f"{N}/experiment", "stranger", params={"name_or_id": world.experiment_name}
    )
    missing = world.call("GET", f"{N}/experiment", "stranger", params={"name_or_id": "no-such"})
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error_code"] == missing.json()["error_code"]


def test_registry_history_records_the_authenticated_user(world: World) -> None:
    event = {"id": f"{time.time_ns():020d}-abc", "type": "model_tag_set", "key": "k", "to": "v",
             "user": "somebody-else", **stamp()}  # fmt: skip
    resp = world.call(
        "POST", f"{N}/registry/events", "maintainer", json={"name": world.model, "event": event}
    )
    assert resp.status_code == 200, resp.text
    record = {"run_id": world.run, "artifact_path": "model", "source": f"runs:/{world.run}/model",
              "creator": "somebody-else", **stamp()}  # fmt: skip
    resp = world.call(
        "POST", f"{N}/registry/versions", "writer", json={"name": world.model, "record": record}
    )
    assert resp.status_code == 200, resp.text
    stored = world.call(
        "GET", f"{N}/registry/model", "reader", params={"name": world.model}
    ).json()["model"]
    assert [e["user"] for e in stored["events"] if e["id"] == event["id"]] == ["maintainer"]
    assert stored["versions"][-1]["creator"] == "writer"
    assert stored["meta"]["creator"] == "owner"


def test_deleting_needs_the_owner(world: World) -> None:
    event = {"id": f"{time.time_ns():020d}-del", "type": "model_deleted", **stamp()}
    body = {"name": world.model, "event": event}
    assert world.call("POST", f"{N}/registry/events", "maintainer", json=body).status_code == 403


def test_mlflow_artifact_paths_and_names_resolve_to_their_experiment(world: World) -> None:
    """MLflow's artifact routes name a run inside a path; experiments may be named by name."""
    import asyncio

    from autolog._server.auth import Authorizer
    from autolog._server.identity import Identity

    authorizer = Authorizer(AuthStore(world.store), ttl=0)
    reader, stranger = Identity("reader"), Identity("stranger")

    async def roles(who: Identity) -> list[int]:
        keys = [("run", f"{world.experiment}/{world.run}/artifacts/model/MLmodel"),
                ("run", f"{world.experiment}/{world.run}/artifacts"),
                ("experiment", world.experiment_name), ("experiment", world.experiment),
                ("run", "../../etc/passwd"), ("experiment", "no-such-thing")]  # fmt: skip
        return [await authorizer.role(who, kind, key) for kind, key in keys]

    assert asyncio.run(roles(reader)) == [1, 1, 1, 1, 0, 0]
    assert asyncio.run(roles(stranger)) == [0, 0, 0, 0, 0, 0]
    authorizer.close()
