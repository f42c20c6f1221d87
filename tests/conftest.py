"""Shared fixtures: each test gets a fresh tracking state and store, in strict mode."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["AUTOLOG_STRICT"] = "1"
# Tests read runs back at once; a short interval keeps background flushes quick.
os.environ.setdefault("AUTOLOG_FLUSH_INTERVAL", "0.05")
# Tests read back exact sets of metrics; the system metrics' own tests switch them on.
os.environ.setdefault("AUTOLOG_SYSTEM_METRICS", "off")

from s3server import BUCKET, UNSET_AWS, S3Server, s3_environment
from trackingserver import PG_BIN, Postgres, start_postgres

from autolog import _safety
from autolog._tracking import runs as _runs
from autolog._tracking.settings import tracking
from autolog.backends import memory


@pytest.fixture(autouse=True)
def _fresh_tracking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[None]:
    """A new store per test; strict mode unless the test is marked `no_strict`."""
    if request.node.get_closest_marker("no_strict"):
        monkeypatch.setenv("AUTOLOG_STRICT", "0")
    monkeypatch.setenv("AUTOLOG_TRACKING_URI", str(tmp_path / "runs"))
    monkeypatch.delenv("AUTOLOG_EXPERIMENT", raising=False)
    monkeypatch.chdir(tmp_path)
    tracking.reset()
    _safety.swallowed.clear()
    _safety.raised_in_background.clear()
    yield
    for run in _runs.live_runs():
        run.end()
    _runs._root.clear()
    _runs._stack.set(())
    tracking.reset()
    memory.reset()
    if not request.node.get_closest_marker("no_strict"):
        assert not _safety.swallowed, f"autolog swallowed internal errors: {_safety.swallowed}"
        assert not _safety.raised_in_background, (
            f"autolog's threads raised internal errors: {_safety.raised_in_background}"
        )


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """The directory of the file store the test's runs go to."""
    return tmp_path / "runs"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One S3 server (moto, on localhost) for the whole session, with the bucket `BUCKET`."""
    with S3Server() as server:
        server.create_bucket(BUCKET)
        yield server


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Point boto3 (through autolog's endpoint variable) at the test server."""
    for name in UNSET_AWS:
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_environment(s3_server.endpoint).items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture
def s3_uri(s3_env: S3Server) -> str:
    """A fresh `s3://bucket/prefix` tracking URI in a bucket of its own, for one test."""
    # moto lists a bucket by scanning all of it: small buckets keep listings fast.
    bucket = f"autolog-{uuid.uuid4().hex[:12]}"
    s3_env.create_bucket(bucket)
    return f"s3://{bucket}/team-a"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL server for the session, with a migrated template database `migrated`."""
    pytest.importorskip("sqlalchemy", reason="the server extra is not installed")
    if not (PG_BIN / "initdb").exists():
        reason = f"PostgreSQL 15 is not installed ({PG_BIN}/initdb is missing)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must install Debian's postgresql package")
        pytest.skip(reason)
    pg = start_postgres()
    yield pg
    pg.stop()
