"""pytest fixtures for tests against S3: one server per session, a fresh prefix per test.

Register them with `pytest_plugins = ["s3fixtures"]` (in a test module or conftest.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from s3server import BUCKET, UNSET_AWS, S3Server, s3_environment


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One S3 server for the whole test session, with the bucket `BUCKET` created."""
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
