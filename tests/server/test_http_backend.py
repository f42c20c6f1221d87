"""The HTTP backend against a real server process (over SQLite and PostgreSQL)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from trackingserver import ServerProcess, free_port, migrated_sqlite

from autolog._cli.main import main
from autolog._search import parse_orders, parse_query
from autolog.backends.base import Batch, RunMeta
from autolog.backends.http import HttpBackend, sync
from autolog.errors import (
    ArtifactNotFoundError,
    ExperimentNotFoundError,
    InvalidKeyError,
    InvalidValueError,
    RunNotFoundError,
    StoreError,
)

API = "/api/autolog/v1"


def _meta(backend: HttpBackend, run_id: str, exp: str = "http-exp", start: int = 1) -> RunMeta:
    return RunMeta(run_id, f"n-{run_id}", backend.local_experiment_id(exp), start,
                   experiment_name=exp)  # fmt: skip


def _uid(prefix: str) -> str:
    return f"{prefix}{time.time_ns()}"


def test_runs_round_trip_through_the_server(
    server: ServerProcess, spool_dir: Path, tmp_path: Path
) -> None:
    backend = HttpBackend(server.url)
    rid = _uid("r")
    backend.create_run(_meta(backend, rid))
    backend.write_batch(rid, Batch(params={"a": "1"}, metrics={"m": [(0.5, 0, 1), (0.25, 1, 2)]}))
    backend.write_batch(rid, Batch(tags={"t": "x"}, metrics={"nan": [(float("nan"), 0, 3)]}))
    backend.write_batch(rid, Batch(status="FINISHED", end_time=10))
    run = backend.get_run(rid)
    assert run.params == {"a": "1"} and run.tags == {"t": "x"} and run.metrics["m"] == 0.25
    assert run.metrics["nan"] != run.metrics["nan"] and run.status.value == "FINISHED"
    assert [(m.value, m.step) for m in backend.get_metric_history(rid, "m")] == [
        (0.5, 0),
        (0.25, 1),
    ]
    exp = backend.get_experiment("http-exp")
    assert exp.id == backend.local_experiment_id("http-exp")
    assert rid in [r.id for r in backend.list_runs([exp.id])]
    page = backend.search_runs([exp.id], parse_query(f"id = '{rid}' and metrics.m < 0.3"),
                               parse_orders(["metrics.m DESC"]), 5)  # fmt: skip
    assert [r.id for r in page.runs] == [rid]
    # artifacts: bytes, a file, listing, download
    backend.put_artifact(rid, "dir/a.txt", b"hello")
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 20_000)
    backend.put_artifact_file(rid, "big.bin", big)
    assert [(f.path, f.is_dir) for f in backend.list_artifacts(rid)] == [
        ("big.bin", False),
        ("dir", True),
    ]
    got = backend.download_artifacts(rid, "", tmp_path / "dl")
    assert (got / "big.bin").read_bytes() == big.read_bytes()
    assert (got / "dir/a.txt").read_bytes() == b"hello"
    assert server.artifacts.joinpath(f"runs/{rid}/artifacts/dir/a.txt").read_bytes() == b"hello"
    backend.close()


def test_errors_come_back_as_autolog_exceptions(server: ServerProcess, spool_dir: Path) -> None:
    backend = HttpBackend(server.url)
    with pytest.raises(RunNotFoundError, match="no run with id 'missing1'"):
        backend.get_run("missing1")
    with pytest.raises(ExperimentNotFoundError):
        backend.get_experiment("never-made")
    with pytest.raises(InvalidKeyError):
        backend.put_artifact("r1", "../../etc/passwd", b"x")
    rid = _uid("r")
    backend.create_run(_meta(backend, rid))
    with pytest.raises(ArtifactNotFoundError):
        backend.download_artifacts(rid, "nothing-here", Path("x"))
    with pytest.raises(InvalidValueError, match="page token"):
        backend.search_runs(None, parse_query(None), parse_orders(None), 5, "bogus")
    backend.close()


def test_a_batch_sent_twice_is_applied_once(server: ServerProcess) -> None:
    rid = _uid("r")
    exp = HttpBackend.local_experiment_id(HttpBackend.__new__(HttpBackend), "dup")
    entries = [
        {"type": "create", "run": {"id": rid, "name": "n", "experiment_id": exp,
                                   "experiment_name": "dup", "start_time": 1}},
        {"type": "batch", "run_id": rid, "name": "b1", "batch": {"metrics": {"m": [[1, 0, 1]]}}},
    ]  # fmt: skip
    body = gzip.compress(json.dumps({"entries": entries}).encode())
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    for _ in range(3):
        r = requests.post(f"{server.url}{API}/ingest", data=body, headers=headers, timeout=10)
        assert r.status_code == 200 and all(x["ok"] for x in r.json()["results"])
    history = requests.get(f"{server.url}{API}/runs/{rid}/metric-history", params={"key": "m"},
                           timeout=10).json()  # fmt: skip
    assert history["points"] == [[1.0, 0, 1]]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/ingest", b"not json"),
        ("POST", "/ingest", b"[1, 2]"),
        ("POST", "/ingest", b'{"entries": 5}'),
        ("POST", "/runs/search", b'{"filter": "metrics.a <"}'),
        ("POST", "/runs/search", b'{"max_results": "ten"}'),
        ("POST", "/runs/search", b'{"filter": [{"field": {"kind": "metric", "key": "a"}}]}'),
        ("POST", "/runs/search", b'{"order_by": [{"field": {"kind": "x"}}]}'),
        ("POST", "/runs/list", b'{"experiment_ids": "abc"}'),
        ("POST", "/experiments", b'{"name": ""}'),
        ("POST", "/experiments", b'{"name": 5}'),
        ("GET", "/runs/..%2F..%2Fetc/artifact-list", None),
        ("GET", "/runs/abc/artifacts/..%2F..%2Fetc%2Fpasswd", None),
        ("GET", "/runs/abc/artifacts/%2Fetc%2Fpasswd", None),
        ("PUT", "/runs/abc/artifacts/a%00b", b"x"),
        ("GET", "/runs/nope/metric-history?key=a", None),
        ("GET", "/nowhere", None),
    ],
)
def test_bad_requests_get_a_4xx_json_error(
    server: ServerProcess, method: str, path: str, body: bytes | None
) -> None:
    r = requests.request(method, f"{server.url}{API}{path}", data=body, timeout=10)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.json()["message"]


def test_a_bad_entry_is_refused_alone_and_for_good(server: ServerProcess) -> None:
    entries = [{"type": "batch", "run_id": "../x", "name": "n"}, {"type": "what"}]
    r = requests.post(f"{server.url}{API}/ingest", json={"entries": entries}, timeout=10)
    results = r.json()["results"]
    assert [(x["ok"], x["retry"]) for x in results] == [(False, False), (False, False)]
    assert "'../x'" in results[0]["message"] and "'what'" in results[1]["message"]


def test_one_request_carries_many_runs_and_a_replay_changes_nothing(server: ServerProcess) -> None:
    exp = HttpBackend.local_experiment_id(HttpBackend.__new__(HttpBackend), "many")
    runs = [_uid(f"m{i}x") for i in range(3)]
    entries: list[dict[str, object]] = []
    for i, rid in enumerate(runs):
        entries += [
            {"type": "create", "run": {"id": rid, "name": f"n{i}", "experiment_id": exp,
                                       "experiment_name": "many", "start_time": i}},
            {"type": "batch", "run_id": rid, "name": f"b{i}", "batch": {
                "params": {"i": str(i)}, "metrics": {"m": [[0.5, 0, 1], ["NaN", 1, 2]]},
                "status": "FINISHED", "end_time": 10}},
        ]  # fmt: skip
    # In the middle: bad input (refused for good) and a batch for a run not there (retried).
    entries[2:2] = [
        {"type": "batch", "run_id": runs[0], "name": "bad", "batch": {"status": "DONE"}},
        {"type": "batch", "run_id": _uid("absent"), "name": "b", "batch": {"tags": {"t": "x"}}},
    ]
    body = gzip.compress(json.dumps({"entries": entries}).encode())
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    outcomes = []
    for _ in range(2):
        r = requests.post(f"{server.url}{API}/ingest", data=body, headers=headers, timeout=30)
        assert r.status_code == 200
        results = r.json()["results"]
        assert len(results) == len(entries)
        assert [(x["ok"], x.get("retry")) for x in results[2:4]] == [(False, False), (False, True)]
        assert "'DONE'" in results[2]["message"] and "absent" in results[3]["message"]
        outcomes.append([x.get("applied") for x in results if x["ok"]])
    assert outcomes == [
        [None, True, None, True, None, True],
        [None, False, None, False, None, False],
    ]
    for i, rid in enumerate(runs):
        run = requests.get(f"{server.url}{API}/runs/{rid}", timeout=10).json()
        assert run["params"] == {"i": str(i)} and run["status"] == "FINISHED"
        history = requests.get(f"{server.url}{API}/runs/{rid}/metric-history",
                               params={"key": "m"}, timeout=10).json()  # fmt: skip
        assert history["points"] == [[0.5, 0, 1], ["NaN", 1, 2]]  # once, after two requests


def test_bad_gzip_and_an_unknown_encoding_are_refused(server: ServerProcess) -> None:
    r = requests.post(f"{server.url}{API}/ingest", data=b"\x1f\x8bnot gzip",
                      headers={"Content-Encoding": "gzip"}, timeout=10)  # fmt: skip
    assert r.status_code == 400 and "gzip" in r.json()["message"]
    r = requests.post(f"{server.url}{API}/ingest", data=b"{}", headers={"Content-Encoding": "br"},
                      timeout=10)  # fmt: skip
    assert r.status_code == 400 and "'br'" in r.json()["message"]


def test_a_damaged_upload_is_refused_by_its_sha256(server: ServerProcess, spool_dir: Path) -> None:
    backend = HttpBackend(server.url)
    rid = _uid("r")
    backend.create_run(_meta(backend, rid))
    backend.flush()
    r = requests.put(f"{server.url}{API}/runs/{rid}/artifacts/a.txt", data=b"abc",
                     headers={"X-Autolog-Sha256": "0" * 64}, timeout=10)  # fmt: skip
    assert r.status_code == 400 and "sha256" in r.json()["message"]
    assert backend.list_artifacts(rid) == []
    backend.close()


def test_the_openapi_document_lists_the_native_routes(server: ServerProcess) -> None:
    doc = requests.get(f"{server.url}{API}/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.") and f"{API}/ingest" in doc["paths"]


_CHILD = """
import sys
from autolog.backends.base import Batch, RunMeta
from autolog.backends.http import HttpBackend
b = HttpBackend(sys.argv[1])
for i in range(3):
    rid = f"{sys.argv[2]}{i}"
    b.create_run(RunMeta(rid, "n", b.local_experiment_id("offline"), 1, experiment_name="offline"))
    b.write_batch(rid, Batch(params={"i": str(i)}, metrics={"m": [(float(i), 0, 1)]}))
    b.put_artifact(rid, "note.txt", b"kept")
b.close()
"""


def test_what_a_process_could_not_deliver_is_delivered_later_once(
    tmp_path: Path, spool_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    prefix = _uid("off")
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", _CHILD, url, prefix], check=True, timeout=60)
    assert time.monotonic() - started < 30  # a server that is down does not hold it up
    assert any(spool_dir.rglob("*.json"))
    server = ServerProcess(migrated_sqlite(tmp_path / "late.db"), tmp_path / "art", port).start()
    try:
        assert main(["sync"]) == 0  # every server something waits for
        assert f"{url}: delivered " in capsys.readouterr().out
        assert sync(url) == 0  # nothing left, nothing sent twice
        assert main(["sync"]) == 0
        assert "nothing is waiting" in capsys.readouterr().err
        backend = HttpBackend(url)
        runs = {r.id: r for r in backend.list_runs()}
        assert sorted(runs) == [f"{prefix}{i}" for i in range(3)]
        for i in range(3):
            rid = f"{prefix}{i}"
            assert runs[rid].params == {"i": str(i)}
            assert len(backend.get_metric_history(rid, "m")) == 1
            assert (
                backend.download_artifacts(rid, "note.txt", tmp_path / rid).read_bytes() == b"kept"
            )
        backend.close()
        assert not any(spool_dir.rglob("*.json"))
    finally:
        server.stop()


def test_reads_fail_clearly_while_the_server_is_down(spool_dir: Path) -> None:
    backend = HttpBackend(f"http://127.0.0.1:{free_port()}")
    backend.create_run(RunMeta("r1", "n", "e1", 1))  # queued: no error
    with pytest.raises(StoreError, match="did not answer"):
        backend.get_run("r1")
    for entry in backend.outbox.spool.pending():  # nothing for the exit to report
        entry.remove()


_FORKS = """
import os, signal, sys
from autolog.backends.base import Batch
from autolog.backends.http import HttpBackend
url, first, second = sys.argv[1:4]
backend = HttpBackend(url)
assert backend.get_run(first).id == first  # the parent now holds a pooled connection
backend.outbox._deliver_lock.acquire()  # as the sender thread does while it delivers
pid = os.fork()
signal.alarm(50)  # in both: a process that hangs here must not outlive the test
if pid:
    backend.outbox._deliver_lock.release()  # the parent's sender is done
mine, who = (first, "parent") if pid else (second, "child")
ok = True
try:
    for _ in range(300):  # both processes read at once, each its own run
        ok = ok and backend.get_run(mine).id == mine
    backend.write_batch(mine, Batch(params={who: "1"}))
    backend.flush()  # in the child, waits for nobody's delivery
except Exception as exc:
    print(who, type(exc).__name__, exc, file=sys.stderr, flush=True)
    ok = False
if not pid:
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status), ok, flush=True)
"""


def test_a_forked_child_has_its_own_connection_and_sender(
    server: ServerProcess, spool_dir: Path
) -> None:
    """A child forked while the parent holds a connection and its sender is delivering."""
    backend = HttpBackend(server.url)
    first, second = _uid("fork-a"), _uid("fork-b")
    for rid in (first, second):
        backend.create_run(_meta(backend, rid))
    backend.flush()
    proc = subprocess.run(
        [sys.executable, "-c", _FORKS, server.url, first, second],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (proc.returncode, proc.stdout.split()) == (0, ["0", "True"]), proc.stderr[-3000:]
    assert backend.get_run(first).params == {"parent": "1"}
    assert backend.get_run(second).params == {"child": "1"}
    backend.close()
