"""`autolog server --artifacts-direct`: clients move artifact bytes to and from S3 themselves.

The server runs as a process over moto's S3, reached through a counting proxy
(tests/s3server.py's FaultProxy, injecting no faults) that the presigned URLs name too:
the proxy tells the server's own S3 requests (botocore's) from the client's (a presigned
URL's), so a test can see that no artifact byte went through the server.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from s3server import FaultProxy, S3Server
from trackingserver import ServerProcess, free_port, migrated_sqlite

from autolog.backends._layout import experiment_id_for
from autolog.backends.base import RunMeta
from autolog.backends.http import HttpBackend
from autolog.backends.sql.auth import AuthStore

N = "/api/autolog/v1"


class Direct:
    """A server with --artifacts-direct over a bucket of its own, and the proxy before S3."""

    def __init__(self, server: ServerProcess, proxy: FaultProxy, s3: S3Server, bucket: str):
        self.server, self.proxy, self.s3, self.bucket = server, proxy, s3, bucket

    def objects(self, prefix: str) -> dict[str, bytes]:
        client = self.s3.client()
        try:
            found = client.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
            return {
                o["Key"]: client.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read()
                for o in found
            }
        finally:
            client.close()


def start_direct(
    s3_env: S3Server, root: Path, *flags: str, store: str | None = None
) -> tuple[ServerProcess, FaultProxy, str]:
    bucket = f"direct-{uuid.uuid4().hex[:12]}"
    s3_env.create_bucket(bucket)
    proxy = FaultProxy(s3_env.endpoint).start()
    server = ServerProcess(
        store or migrated_sqlite(root / "autolog.db"),
        root / "artifacts",
        artifact_uri=f"s3://{bucket}/team",
        env={"AUTOLOG_S3_ENDPOINT_URL": proxy.endpoint},
    )
    try:
        server.start("--artifacts-direct", *flags)
    except BaseException:
        proxy.stop()
        raise
    return server, proxy, bucket


@pytest.fixture
def direct(s3_env: S3Server, tmp_path: Path) -> Iterator[Direct]:
    server, proxy, bucket = start_direct(s3_env, tmp_path)
    yield Direct(server, proxy, s3_env, bucket)
    server.stop()
    proxy.stop()


def _meta(backend: HttpBackend, run_id: str) -> RunMeta:
    return RunMeta(run_id, "direct", backend.local_experiment_id("direct-exp"), 1,
                   experiment_name="direct-exp")  # fmt: skip


def test_artifacts_go_to_the_bucket_and_back_without_passing_through_the_server(
    direct: Direct, spool_dir: Path, tmp_path: Path
) -> None:
    health = requests.get(f"{direct.server.url}{N}/health", timeout=10).json()
    assert health["artifacts_direct"] is True
    backend = HttpBackend(direct.server.url)
    rid = uuid.uuid4().hex
    backend.create_run(_meta(backend, rid))
    backend.put_artifact(rid, "dir/a.txt", b"hello")
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 20_000)
    backend.put_artifact_file(rid, "model/big.bin", big)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    backend.put_artifact_file(rid, "empty", empty)
    backend.flush()
    assert not backend.outbox.spool.has_pending()
    # One more through the server's streaming route, which stays open with the flag.
    streamed = requests.put(f"{direct.server.url}{N}/runs/{rid}/artifacts/streamed.txt",
                            data=b"through the server", timeout=30)  # fmt: skip
    assert streamed.status_code == 200, streamed.text

    stored = direct.objects(f"team/runs/{rid}/")
    assert stored == {
        f"team/runs/{rid}/artifacts/dir/a.txt": b"hello",
        f"team/runs/{rid}/artifacts/model/big.bin": big.read_bytes(),
        f"team/runs/{rid}/artifacts/empty": b"",
        f"team/runs/{rid}/artifacts/streamed.txt": b"through the server",
    }
    # The server's own S3 client wrote only the streamed artifact; the client sent the rest.
    received = direct.proxy.received
    assert received["PUT", "boto3"] == len(b"through the server")
    assert received["PUT", "other"] == 5 + big.stat().st_size
    assert direct.proxy.senders["PUT", "other"] == 3
    assert direct.proxy.senders["HEAD", "boto3"] >= 3  # each upload checked afterwards

    before = direct.proxy.senders["GET", "boto3"]
    got = backend.download_artifacts(rid, "", tmp_path / "dl")
    assert (got / "model/big.bin").read_bytes() == big.read_bytes()
    assert (got / "dir/a.txt").read_bytes() == b"hello"
    assert (got / "empty").read_bytes() == b""
    assert (got / "streamed.txt").read_bytes() == b"through the server"
    assert direct.proxy.senders["GET", "boto3"] == before  # the server read no object
    assert direct.proxy.senders["GET", "other"] == 4
    backend.close()


def test_a_url_the_store_refuses_falls_back_to_streaming(
    direct: Direct, spool_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    direct.proxy.refuse_presigned = True  # as if the URLs had expired on the way
    backend = HttpBackend(direct.server.url)
    rid = uuid.uuid4().hex
    backend.create_run(_meta(backend, rid))
    backend.put_artifact(rid, "a.txt", b"still stored")
    backend.flush()
    assert direct.objects(f"team/runs/{rid}/") == {
        f"team/runs/{rid}/artifacts/a.txt": b"still stored"
    }
    assert direct.proxy.senders["PUT", "other"] == 1  # tried, refused
    assert direct.proxy.received["PUT", "boto3"] == len(b"still stored")  # then streamed
    assert "goes through the server instead" in caplog.text
    got = backend.download_artifacts(rid, "a.txt", tmp_path / "dl")
    assert got.read_bytes() == b"still stored"
    backend.close()


def _grant(server: ServerProcess, rid: str, path: str, body: Any, token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{server.url}{N}/runs/{rid}/artifact-uploads/{path}", json=body,
                         headers=headers, timeout=30)  # fmt: skip


def _declare(data: bytes) -> dict[str, Any]:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_an_upload_that_is_not_what_was_declared_is_removed(direct: Direct) -> None:
    rid = uuid.uuid4().hex
    run = {"id": rid, "experiment_id": experiment_id_for("direct-exp"), "start_time": 1,
           "experiment_name": "direct-exp", "name": "r", "parent_id": None}  # fmt: skip
    entry = {"type": "create", "run": run}
    made = requests.post(f"{direct.server.url}{N}/ingest", json={"entries": [entry]}, timeout=30)
    assert made.json()["results"] == [{"ok": True}], made.text
    grant = _grant(direct.server, rid, "x.bin", _declare(b"12345"))
    assert grant.status_code == 200, grant.text
    reply = grant.json()
    assert reply["method"] == "PUT" and reply["expires_in"] == 300
    assert "X-Amz-Expires=300" in reply["url"] and "content-length" in reply["url"]
    # Other bytes than declared (moto, unlike S3, does not check the signed checksum).
    put = requests.put(reply["url"], data=b"1234", headers=reply["headers"], timeout=30)
    assert put.status_code == 200
    commit = requests.post(f"{direct.server.url}{N}/runs/{rid}/artifact-commits/x.bin",
                           json=_declare(b"12345"), timeout=30)  # fmt: skip
    assert commit.status_code == 400 and "4 bytes arrived, not the 5" in commit.text
    assert direct.objects(f"team/runs/{rid}/") == {}
    # Paths are checked as for streamed uploads; bad declarations are named.
    assert _grant(direct.server, rid, "..%2Fescape", _declare(b"x")).status_code == 400
    bad = _grant(direct.server, rid, "y", {"size": -1, "sha256": "00" * 32})
    assert bad.status_code == 400 and "size -1" in bad.text
    missing = _grant(direct.server, uuid.uuid4().hex, "y", _declare(b"x"))
    assert missing.status_code == 404
    # Over S3's single-PUT limit: refused, and the client streams it (the server uploads parts).
    huge = _grant(direct.server, rid, "huge", {"size": 6 * 1024**3, "sha256": "00" * 32})
    assert huge.status_code == 400 and "stream it through the server" in huge.text


def test_only_callers_with_the_role_get_a_url(s3_env: S3Server, tmp_path: Path) -> None:
    store = migrated_sqlite(tmp_path / "autolog.db")
    auth = AuthStore(store)
    tokens = {}
    for user in ("owner", "reader", "stranger"):
        auth.add_user(user)
        tokens[user] = auth.create_token(user)[1]
    server, proxy, _ = start_direct(s3_env, tmp_path, "--auth", "token", store=store)
    try:
        owner = {"Authorization": f"Bearer {tokens['owner']}"}
        exp = requests.post(f"{server.url}{N}/experiments", json={"name": "secret"},
                            headers=owner, timeout=30).json()  # fmt: skip
        rid = uuid.uuid4().hex
        entry = {
            "type": "create",
            "run": {
                "id": rid,
                "experiment_id": exp["id"],
                "experiment_name": "secret",
                "name": "r",
                "start_time": 1,
                "parent_id": None,
            },
        }
        made = requests.post(f"{server.url}{N}/ingest", json={"entries": [entry]},
                             headers=owner, timeout=30)  # fmt: skip
        assert made.json()["results"] == [{"ok": True}], made.text
        auth.grant("experiment", exp["id"], "user", "reader", "reader")

        data = b"weights"
        grant = _grant(server, rid, "model.bin", _declare(data), tokens["owner"])
        assert grant.status_code == 200, grant.text
        put = requests.put(grant.json()["url"], data=data, headers=grant.json()["headers"],
                           timeout=30)  # fmt: skip
        assert put.status_code == 200
        commit = requests.post(f"{server.url}{N}/runs/{rid}/artifact-commits/model.bin",
                               json=_declare(data), headers=owner, timeout=30)  # fmt: skip
        assert commit.status_code == 200, commit.text

        for who, status in (("stranger", 404), ("reader", 403), ("", 401)):
            refused = _grant(server, rid, "model.bin", _declare(b"evil"), tokens.get(who, ""))
            assert refused.status_code == status, (who, refused.text)
            assert "url" not in refused.json() and "X-Amz" not in refused.text
        download = f"{server.url}{N}/runs/{rid}/artifact-downloads/model.bin"
        hidden = requests.get(
            download, timeout=30, headers={"Authorization": f"Bearer {tokens['stranger']}"}
        )
        assert hidden.status_code == 404 and "X-Amz" not in hidden.text
        shown = requests.get(
            download, timeout=30, headers={"Authorization": f"Bearer {tokens['reader']}"}
        )
        assert shown.status_code == 200, shown.text
        assert requests.get(shown.json()["url"], timeout=30).content == data
    finally:
        auth.close()
        server.stop()
        proxy.stop()


def test_a_server_without_the_flag_streams(tmp_path: Path, spool_dir: Path) -> None:
    server = ServerProcess(migrated_sqlite(tmp_path / "a.db"), tmp_path / "artifacts").start()
    try:
        assert (
            requests.get(f"{server.url}{N}/health", timeout=10).json()["artifacts_direct"] is False
        )
        off = _grant(server, uuid.uuid4().hex, "x", _declare(b"x"))
        assert off.status_code == 409 and off.json()["error_code"] == "DIRECT_ARTIFACTS_OFF"
        backend = HttpBackend(server.url)
        rid = uuid.uuid4().hex
        backend.create_run(_meta(backend, rid))
        backend.put_artifact(rid, "a.txt", b"streamed")
        backend.flush()
        assert (server.artifacts / f"runs/{rid}/artifacts/a.txt").read_bytes() == b"streamed"
        got = backend.download_artifacts(rid, "a.txt", tmp_path / "dl")
        assert got.read_bytes() == b"streamed"
        backend.close()
    finally:
        server.stop()


def test_the_flag_without_an_s3_store_is_refused(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "autolog", "server", "--store",
           f"sqlite:///{tmp_path / 'a.db'}", "--artifacts", str(tmp_path / "art"),
           "--port", str(free_port()), "--artifacts-direct"]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "--artifacts-direct needs an S3 artifact store" in done.stderr
    assert str(tmp_path / "art") in done.stderr and "Traceback" not in done.stderr
    too_long = subprocess.run([*cmd[:-1], "--artifacts", "s3://b/p", "--artifacts-direct",
                               "--artifacts-direct-expiry", "86400"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    assert too_long.returncode == 2 and "expiry 86400 is out of range" in too_long.stderr


def test_the_cli_and_the_server_agree_on_the_longest_expiry() -> None:
    from autolog._cli.server import MAX_DIRECT_EXPIRY
    from autolog._server.direct import MAX_EXPIRY

    assert MAX_DIRECT_EXPIRY == MAX_EXPIRY
