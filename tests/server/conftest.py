"""Fixtures of the server tests: a real PostgreSQL, fresh SQL stores on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip(
    "sqlalchemy", reason="the server extra is not installed: pip install '.[server]'"
)

from autolog.backends.file import LocalObjectStore
from autolog.backends.sql.database import make_engine, upgrade
from autolog.backends.sql.store import SqlBackend

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Postgres:
    """A PostgreSQL server in a temporary directory, listening on 127.0.0.1."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="autolog-pg-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        # PostgreSQL refuses to run as root: as root, run it as the `postgres` user.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def start(self) -> None:
        data = self.dir / "data"
        if self.prefix:
            shutil.chown(self.dir, "postgres")
        subprocess.run(
            [*self.prefix, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U",
             "autolog", "-E", "UTF8", "--locale=C"],
            check=True, capture_output=True,
        )  # fmt: skip
        self.proc = subprocess.Popen(
            [*self.prefix, str(PG_BIN / "postgres"), "-D", str(data), "-k", str(self.dir),
             "-h", "127.0.0.1", "-p", str(self.port), "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=300"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.dsn("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.1)

    def dsn(self, db: str) -> str:
        return f"postgresql://autolog@127.0.0.1:{self.port}/{db}"

    def url(self, db: str) -> str:
        return f"postgresql+psycopg://autolog@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str, template: str | None = None) -> str:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{suffix}')
        return f"postgresql://autolog@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=20)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL server for the session, with a migrated template database."""
    if not (PG_BIN / "initdb").exists():
        reason = f"PostgreSQL 15 is not installed ({PG_BIN}/initdb is missing)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must install Debian's postgresql package")
        pytest.skip(reason)
    pg = Postgres()
    try:
        pg.start()
        url = pg.create_database("migrated")
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield pg
    finally:
        pg.stop()


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
