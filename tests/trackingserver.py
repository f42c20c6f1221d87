"""A real PostgreSQL and a real `autolog server` process on 127.0.0.1, for tests.

`Postgres` runs PostgreSQL 15 in a temporary directory; `ServerProcess` runs `autolog
server` in a child process. The pytest fixtures that start them live in `conftest.py`
(`postgres` at the top, `server` in tests/server/). `wipe` empties a store between the
tests that share one server process.
"""

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
from collections.abc import Mapping
from pathlib import Path

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


class ServerProcess:
    """`autolog server` in a child process on 127.0.0.1."""

    def __init__(
        self,
        store: str,
        artifacts: Path,
        port: int | None = None,
        *,
        artifact_uri: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        # `artifacts` is a directory (also where the log goes); `artifact_uri`, if given,
        # is what the server stores artifacts in instead (an s3:// URI).
        self.store, self.artifacts = store, artifacts
        self.artifact_uri = artifact_uri or str(artifacts)
        self.env = {**os.environ, **(env or {})}
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> ServerProcess:
        import requests

        cmd = [sys.executable, "-m", "autolog", "server", "--store", self.store, "--artifacts",
               self.artifact_uri, "--port", str(self.port), *extra]  # fmt: skip
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.log = open(self.artifacts.parent / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
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
    """The URL of a SQLite database at `path`, migrated to the code's schema."""
    from autolog.backends.sql.database import make_engine, upgrade

    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def start_postgres() -> Postgres:
    """A started PostgreSQL with a migrated database `migrated` to copy as a template."""
    from autolog.backends.sql.database import make_engine, upgrade

    pg = Postgres()
    try:
        pg.start()
        engine = make_engine(pg.create_database("migrated"))
        upgrade(engine)
        engine.dispose()
    except BaseException:
        pg.stop()
        raise
    return pg


# Every table but `keys`: a running server caches key ids, which never change once made.
_TABLES = [
    "run_links",
    "logged_models",
    "deleted_runs",
    "deleted_experiments",
    "grants",
    "owners",
    "model_events",
    "model_versions",
    "registered_models",
    "metric_points",
    "batches",
    "latest_metrics",
    "tags",
    "params",
    "runs",
    "experiment_tags",
    "experiments",
]


def wipe(store: str, artifacts: Path) -> None:
    """Empty a server's store (its database and artifact directory) while it runs."""
    from sqlalchemy import text

    from autolog.backends.sql.database import make_engine

    engine = make_engine(store)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(_TABLES)} CASCADE"))
        else:
            for table in _TABLES:
                conn.execute(text(f"DELETE FROM {table}"))
    engine.dispose()
    shutil.rmtree(artifacts, ignore_errors=True)
