"""Faults with real processes: a server killed mid-stream, a client that exits while it is down.

Everything logged arrives, once: the run, every param, every metric point (no point
twice), the final status and the artifacts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from processes import communicate_all
from trackingserver import Postgres, ServerProcess, free_port, migrated_sqlite

from autolog._cli.main import main
from autolog.backends.http import HttpBackend

STEPS = 60
RUNS = 3

_CLIENT = """
import sys, time
import autolog
uri, prefix, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
autolog.set_tracking_uri(uri)
autolog.set_experiment("faults")
for r in range(int(sys.argv[4])):
    with autolog.start_run(f"{prefix}-{r}"):
        autolog.log_params({"r": r, "prefix": prefix})
        for step in range(int(sys.argv[5])):
            autolog.log_metric("m", step * 0.5, step=step)
            autolog.log_metric("r", float(r), step=step)
            time.sleep(pause)
        autolog.log_text(f"{prefix}-{r}", "notes/who.txt")
print("done", flush=True)
"""


def _client(
    url: str, prefix: str, cwd: Path, pause: float, runs: int = RUNS, exit_timeout: str = "10"
) -> subprocess.Popen[bytes]:
    script = cwd / "client.py"
    if not script.exists():  # a rewrite would race the reads of the clients started before
        script.write_text(_CLIENT)
    env = {**os.environ, "AUTOLOG_DISABLE_CAPTURE": "all", "AUTOLOG_FLUSH_INTERVAL": "0.02",
           "AUTOLOG_HTTP_EXIT_TIMEOUT": exit_timeout}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, str(script), url, prefix, str(pause), str(runs), str(STEPS)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _finish(*procs: subprocess.Popen[bytes]) -> list[bytes]:
    """Wait for clients to end well; return what each wrote to stderr."""
    results = communicate_all(procs, 60)
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0 and b"done" in out, (out, err.decode()[-3000:])
    return [err for _, err in results]


def _check_arrived(url: str, prefixes: list[str], tmp_path: Path, runs: int = RUNS) -> None:
    backend = HttpBackend(url)
    runs_in = backend.list_runs([backend.local_experiment_id("faults")])
    found = {r.name: r for r in runs_in if r.name.rpartition("-")[0] in prefixes}
    expected = {f"{p}-{r}" for p in prefixes for r in range(runs)}
    assert set(found) == expected
    for name, run in found.items():
        prefix, _, r = name.rpartition("-")
        assert run.params == {"r": r, "prefix": prefix}
        assert run.status.value == "FINISHED"
        history = backend.get_metric_history(run.id, "m")
        assert [(m.step, m.value) for m in history] == [(s, s * 0.5) for s in range(STEPS)]
        assert len(backend.get_metric_history(run.id, "r")) == STEPS
        note = backend.read_artifact(run.id, "notes/who.txt")
        assert note == name.encode()
    backend.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return migrated_sqlite(tmp_path / "faults.db")
    pg: Postgres = request.getfixturevalue("postgres")
    return pg.create_database(f"f_{uuid.uuid4().hex[:12]}", template="migrated")


def test_a_server_killed_while_four_clients_log_loses_and_repeats_nothing(
    store: str, tmp_path: Path, spool_dir: Path
) -> None:
    server = ServerProcess(store, tmp_path / "artifacts").start()
    prefixes = [f"c{i}" for i in range(4)]
    clients = [_client(server.url, p, tmp_path, pause=0.01) for p in prefixes]
    try:
        time.sleep(1.5)  # the clients are logging
        server.stop(signal.SIGKILL)
        time.sleep(1.0)  # ... and keep logging while it is gone
        server.start()
        errors = _finish(*clients)
        assert any(b"could not deliver" in err for err in errors)  # they saw it go
        # Whatever an exiting client could not deliver in time is delivered now.
        assert main(["sync", "--tracking-uri", server.url]) == 0
        _check_arrived(server.url, prefixes, tmp_path)
        assert not any(spool_dir.rglob("*.json"))
    finally:
        for proc in clients:
            if proc.poll() is None:
                proc.kill()
        server.stop()


def test_a_client_that_exits_while_the_server_is_down_is_delivered_by_the_next(
    tmp_path: Path, spool_dir: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = _client(url, "offline", tmp_path, pause=0.0, runs=2)
    _finish(first)  # exits at once although nothing could be delivered
    assert any(spool_dir.rglob("*.json"))
    server = ServerProcess(migrated_sqlite(tmp_path / "late.db"), tmp_path / "art", port).start()
    try:
        second = _client(url, "online", tmp_path, pause=0.0, runs=1)
        _finish(second)
        _check_arrived(url, ["offline"], tmp_path, runs=2)
        _check_arrived_one(url, "online-0")
        assert not any(spool_dir.rglob("*.json"))
    finally:
        server.stop()


def _check_arrived_one(url: str, name: str) -> None:
    backend = HttpBackend(url)
    (run,) = [r for r in backend.list_runs() if r.name == name]
    assert len(backend.get_metric_history(run.id, "m")) == STEPS
    backend.close()


def test_a_server_that_never_answers_does_not_hold_up_training(
    tmp_path: Path, spool_dir: Path
) -> None:
    """Connections are accepted (by the kernel) but no byte ever comes back."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    port = silent.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    try:
        # The exit waits AUTOLOG_HTTP_EXIT_TIMEOUT, not the 300 s a request may wait.
        _finish(_client(url, "stuck", tmp_path, pause=0.0, runs=2, exit_timeout="2"))
    finally:
        silent.close()
    assert any(spool_dir.rglob("*.json"))
    server = ServerProcess(migrated_sqlite(tmp_path / "s.db"), tmp_path / "art", port).start()
    try:
        assert main(["sync", "--tracking-uri", url]) == 0
        _check_arrived(url, ["stuck"], tmp_path, runs=2)
    finally:
        server.stop()
