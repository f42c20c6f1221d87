"""Fixtures of the server tests: a real PostgreSQL, fresh SQL stores on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip(
    "sqlalchemy", reason="the server extra is not installed: pip install '.[server]'"
)

from trackingserver import Postgres, ServerProcess, free_port, migrated_sqlite

from autolog.backends.file import LocalObjectStore
from autolog.backends.sql.database import make_engine, upgrade
from autolog.backends.sql.store import SqlBackend

# The tests of this folder import these from here.
__all__ = ["Postgres", "ServerProcess", "free_port", "migrated_sqlite"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, migrated database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'autolog.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        return url
    pg: Postgres = request.getfixturevalue("postgres")
    return pg.create_database(f"t_{uuid.uuid4().hex[:12]}", template="migrated")


@pytest.fixture
def sql_backend(store_url: str, tmp_path: Path) -> Iterator[SqlBackend]:
    """A SqlBackend on a fresh database, with artifacts in a temporary directory."""
    backend = SqlBackend(store_url, LocalObjectStore(tmp_path / "artifacts"))
    yield backend
    backend.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server process for the module: over SQLite, then over PostgreSQL."""
    root = tmp_path_factory.mktemp("server")
    if request.param == "sqlite":
        store = migrated_sqlite(root / "autolog.db")
    else:
        pg: Postgres = request.getfixturevalue("postgres")
        store = pg.create_database(f"s_{uuid.uuid4().hex[:12]}", template="migrated")
    proc = ServerProcess(store, root / "artifacts").start()
    yield proc
    proc.stop()


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A spool directory of the test's own for the HTTP backend."""
    path = tmp_path / "spool"
    monkeypatch.setenv("AUTOLOG_SPOOL_DIR", str(path))
    return path
