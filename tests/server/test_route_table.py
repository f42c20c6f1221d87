"""Every served route is declared in the route table; every declared route is served."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount, Route
from trackingserver import migrated_sqlite

from autolog._server.app import ServerConfig, create_app
from autolog._server.routes import RULES


def served_routes(tmp_path: Path) -> set[tuple[str, str]]:
    app = create_app(ServerConfig(migrated_sqlite(tmp_path / "db.sqlite"), str(tmp_path / "a")))
    served: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    served.add((method, route.path))
        elif isinstance(route, Mount):
            served.add(("GET", route.path + "/{path:path}"))
    return served


def test_every_served_route_is_declared(tmp_path: Path) -> None:
    undeclared = served_routes(tmp_path) - set(RULES)
    assert not undeclared, f"routes missing from autolog/_server/routes.py: {sorted(undeclared)}"


def test_every_declared_route_is_served(tmp_path: Path) -> None:
    unserved = set(RULES) - served_routes(tmp_path)
    assert not unserved, f"declared in autolog/_server/routes.py but not served: {sorted(unserved)}"


def test_rules_locate_their_resource() -> None:
    for rule in RULES.values():
        needs_id = rule.resource in ("experiment", "run", "model")
        assert bool(rule.locate) == needs_id, rule
        if rule.locate:
            where, _, name = rule.locate.partition(":")
            assert where in ("path", "query", "json") and name, rule
            if where == "path":
                assert "{" + name in rule.path, rule
