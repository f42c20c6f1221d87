"""Fixtures of the server tests: a real PostgreSQL, fresh SQL stores on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
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


class ServerProcess:
    """`autolog server` in a child process on 127.0.0.1."""

    def __init__(self, store: str, artifacts: Path, port: int | None = None) -> None:
        self.store, self.artifacts = store, artifacts
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> ServerProcess:
        import requests

        cmd = [sys.executable, "-m", "autolog", "server", "--store", self.store, "--artifacts",
               str(self.artifacts), "--port", str(self.port), *extra]  # fmt: skip
        self.log = open(self.artifacts.parent / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{self.url}/api/autolog/v1/health", timeout=2).raise_for_status()
                return self
            except requests.RequestException:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.log.close()
                    text = (self.artifacts.parent / f"server-{self.port}.log").read_text()
                    raise RuntimeError(f"the server did not start: {text[-2000:]}") from None
                time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if hasattr(self, "log"):
            self.log.close()


def migrated_sqlite(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


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
