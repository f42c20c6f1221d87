"""The index of a bucket kept current from its change log (`backends/_index_changes.py`):
what a read costs in requests, older stores without a log, and writers killed mid-write.

Against moto's S3 server on localhost, the requests counted by a proxy in front of it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from s3server import FaultProxy, S3Server, s3_environment

from autolog._search import parse_query
from autolog.backends import _index_changes
from autolog.backends._index_changes import CHANGES
from autolog.backends._layout import LayoutBackend
from autolog.backends.base import Batch, RunMeta
from autolog.backends.file import FileBackend
from autolog.backends.s3 import S3Backend, parse_s3_uri


@pytest.fixture
def proxy(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultProxy]:
    """A counting proxy in front of the server; index files in a cache of this test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with FaultProxy(s3_env.endpoint) as counting:
        yield counting


def _write_runs(backend: LayoutBackend, n: int) -> list[str]:
    exp_id = backend.local_experiment_id("changes")
    ids = []
    for i in range(n):
        run_id = uuid.uuid4().hex
        backend.create_run(RunMeta(run_id, f"r{i}", exp_id, 1000 + i, experiment_name="changes"))
        backend.write_batch(
            run_id, Batch(params={"i": str(i)}, metrics={"m": [(i / n, 0, 1)]}, status="FINISHED")
        )
        ids.append(run_id)
    return ids


def _reader(uri: str, proxy: FaultProxy) -> S3Backend:
    """A new client through the proxy, as a new `autolog runs` process would have."""
    bucket, prefix = parse_s3_uri(uri)
    return S3Backend(bucket, prefix, endpoint_url=proxy.endpoint)


def _read(uri: str, proxy: FaultProxy) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """The runs' metrics by id as a new client reads them, and the requests it made by kind."""
    before = dict(proxy.by_kind)
    with _reader(uri, proxy) as backend:
        runs = backend.search_runs(None, parse_query("metrics.m >= 0"), [], 1000).runs
    spent = {k: v - before.get(k, 0) for k, v in proxy.by_kind.items() if v - before.get(k, 0)}
    return {r.id: r.metrics for r in runs}, spent


def test_a_read_costs_one_request_whatever_the_bucket_holds(
    s3_uri: str, s3_env: S3Server, proxy: FaultProxy
) -> None:
    bucket, prefix = parse_s3_uri(s3_uri)
    with S3Backend(bucket, prefix, endpoint_url=s3_env.endpoint) as writer:
        ids = _write_runs(writer, 20)
        runs, _ = _read(s3_uri, proxy)  # builds the index
        assert sorted(runs) == sorted(ids)
        assert _read(s3_uri, proxy) == (runs, {"LIST": 1})
        # Five new runs: the listing of the log, then each new run read (no other run).
        ids += _write_runs(writer, 5)
        runs, spent = _read(s3_uri, proxy)
        assert sorted(runs) == sorted(ids)
        assert spent["GET"] == 5
        # Three times as many runs: still one request when nothing changed.
        ids += _write_runs(writer, 35)
        assert len(_read(s3_uri, proxy)[0]) == 60
        assert _read(s3_uri, proxy)[1] == {"LIST": 1}


def test_a_bucket_without_a_change_log_is_read_from_its_markers(
    s3_uri: str, s3_env: S3Server, proxy: FaultProxy
) -> None:
    """A store written by an earlier autolog: no change log; each batch replaced the run's
    marker (with the batch's name in it) after writing the batch.
    """
    bucket, prefix = parse_s3_uri(s3_uri)
    with S3Backend(bucket, prefix, endpoint_url=s3_env.endpoint) as writer:
        ids = _write_runs(writer, 3)
        for key in writer.store.list(CHANGES):
            writer.store.delete(key)
        assert _read(s3_uri, proxy)[0] == {run_id: {"m": i / 3} for i, run_id in enumerate(ids)}
        # An earlier writer's later batch: the batch object, then the marker replaced.
        name = "00000000000000000001-old-1-00000001.json"
        batch = {"metrics": {"m": [[0.75, 1, 2]]}}
        writer.store.put(f"runs/{ids[0]}/log/batches/{name}", json.dumps(batch).encode())
        exp_id = writer.local_experiment_id("changes")
        writer.store.put(f"experiment-runs/{exp_id}/{ids[0]}", name.encode())
        runs, spent = _read(s3_uri, proxy)
        assert runs[ids[0]] == {"m": 0.75}
        assert spent["GET"] == 2  # only the run whose marker changed: its creation, the batch
        assert writer.store.list(CHANGES) == []  # readers never write


_KILLED_WRITER = """
import os, signal, sys
from autolog.backends import backend_for_uri
from autolog.backends.base import Batch, RunMeta

uri, run_id, kill_after = sys.argv[1:]
backend = backend_for_uri(uri)
exp_id = backend.local_experiment_id("crash")
backend.create_run(RunMeta(run_id, "killed", exp_id, 1, experiment_name="crash"))
backend.write_batch(run_id, Batch(params={"a": "1"}))
print("ready", flush=True)
sys.stdin.readline()
real_put = backend.store.put

def put(key, data):
    batch = "/log/batches/" in key
    if kill_after == "announcement" and batch:
        os.kill(os.getpid(), signal.SIGKILL)  # announced (marker or log entry), not written
    real_put(key, data)
    if kill_after == "batch" and batch:
        os.kill(os.getpid(), signal.SIGKILL)  # written, and nothing after it

backend.store.put = put
backend.write_batch(run_id, Batch(metrics={"loss": [(0.5, 1, 2)]}, status="FINISHED"))
"""


@pytest.mark.parametrize("store", ["file", "s3"])
@pytest.mark.parametrize("kill_after", ["batch", "announcement"])
def test_a_writer_killed_mid_write_leaves_nothing_unindexed(
    store: str, kill_after: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = dict(os.environ)
    if store == "s3":
        uri = str(request.getfixturevalue("s3_uri"))
        proxy = request.getfixturevalue("proxy")
        env.update(s3_environment(request.getfixturevalue("s3_env").endpoint))

        def reader() -> LayoutBackend:
            return _reader(uri, proxy)
    else:
        uri = str(tmp_path / "store")

        def reader() -> LayoutBackend:
            return FileBackend(uri)

    run_id = uuid.uuid4().hex
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_KILLED_WRITER), uri, run_id, kill_after],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as writer:
        assert writer.stdout is not None and writer.stdin is not None
        assert writer.stdout.readline() == "ready\n"
        with reader() as backend:  # the index holds the run as it was before
            (run,) = backend.list_runs()
            assert (run.params, run.metrics, run.status.value) == ({"a": "1"}, {}, "RUNNING")
        writer.stdin.write("go\n")
        writer.stdin.flush()
        assert writer.wait(timeout=60) == -signal.SIGKILL
    for _ in range(2):  # the first read after the crash, and one after it
        with reader() as backend:
            (run,) = backend.search_runs(None, parse_query(None), [], 10).runs
        if kill_after == "batch":
            assert (run.metrics, run.status.value) == ({"loss": 0.5}, "FINISHED")
        else:
            assert (run.params, run.metrics, run.status.value) == ({"a": "1"}, {}, "RUNNING")


def test_a_writer_whose_clock_is_behind_is_caught_by_the_hourly_listing(
    s3_uri: str, s3_env: S3Server, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket, prefix = parse_s3_uri(s3_uri)
    with S3Backend(bucket, prefix, endpoint_url=s3_env.endpoint) as writer:
        (run_id,) = _write_runs(writer, 1)
        assert _read(s3_uri, proxy)[0] == {run_id: {"m": 0.0}}
        # A batch announced by a writer whose clock is 20 minutes behind: older than the
        # margin of a read's listing.
        lag = time.time_ns() - 20 * 60 * 10**9
        name = f"{lag:020d}-lagging-1-00000001.json"
        exp_id = writer.local_experiment_id("changes")
        writer.store.put(f"{CHANGES}/{lag:020d}.{exp_id}.{run_id}.{name[:-5]}", b"")
        batch = {"metrics": {"m": [[0.5, 1, 2]]}}
        writer.store.put(f"runs/{run_id}/log/batches/{name}", json.dumps(batch).encode())
        assert _read(s3_uri, proxy)[0] == {run_id: {"m": 0.0}}
        monkeypatch.setattr(_index_changes, "RELIST_NS", 0)  # the hour has passed
        assert _read(s3_uri, proxy)[0] == {run_id: {"m": 0.5}}
