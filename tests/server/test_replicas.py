"""Two server replicas on one PostgreSQL database and one S3 bucket, used at once.

8 client processes log through both servers (alternating); 8 processes register versions
of one model through both. Nothing is lost or duplicated and the versions are 1..8,
whichever replica is asked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import communicate_all
from s3server import S3Server
from trackingserver import Postgres, ServerProcess

from autolog.backends.http import HttpBackend

STEPS = 40

_CLIENT = """
import sys
import autolog
from sklearn.linear_model import LogisticRegression
urls, index = sys.argv[1].split(","), int(sys.argv[2])
for r in range(2):
    # Alternating: each run goes through the other replica.
    autolog.set_tracking_uri(urls[(index + r) % len(urls)])
    autolog.set_experiment("replicas")
    with autolog.start_run(f"c{index}-{r}"):
        autolog.log_params({"client": index, "r": r})
        for step in range(int(sys.argv[3])):
            autolog.log_metric("m", float(step), step=step)
        autolog.log_text(f"c{index}-{r}", "who.txt")
        if r == 0:
            autolog.log_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), "model")
    autolog.flush()
print("done", flush=True)
"""

_REGISTER = """
import sys
import autolog
autolog.set_tracking_uri(sys.argv[1])
version = autolog.register_model(f"runs:/{sys.argv[2]}/model", "shared")
print(version.version, flush=True)
"""


@pytest.fixture
def replicas(
    postgres: Postgres, s3_env: S3Server, tmp_path: Path, spool_dir: Path
) -> Iterator[list[ServerProcess]]:
    """Two servers on one fresh PostgreSQL database and one fresh bucket."""
    store = postgres.create_database(f"r_{uuid.uuid4().hex[:12]}", template="migrated")
    bucket = f"replicas-{uuid.uuid4().hex[:12]}"
    s3_env.create_bucket(bucket)
    servers = [
        ServerProcess(store, tmp_path / f"replica{i}", artifact_uri=f"s3://{bucket}/team")
        for i in range(2)
    ]
    try:
        for server in servers:
            server.start("--pool-size", "3")
        yield servers
    finally:
        for server in servers:
            server.stop()


def _spawn(script: str, cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    path = cwd / f"{abs(hash(script))}.py"
    if not path.exists():
        path.write_text(script)
    env = {**os.environ, "AUTOLOG_DISABLE_CAPTURE": "all", "AUTOLOG_FLUSH_INTERVAL": "0.02"}
    return subprocess.Popen(
        [sys.executable, str(path), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _outputs(procs: list[subprocess.Popen[bytes]]) -> list[str]:
    results = communicate_all(procs, 180)
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()[-3000:]
    return [out.decode() for out, _ in results]


def test_replicas_share_one_database_and_bucket(
    replicas: list[ServerProcess], tmp_path: Path
) -> None:
    urls = ",".join(s.url for s in replicas)
    clients = [_spawn(_CLIENT, tmp_path, urls, str(i), str(STEPS)) for i in range(8)]
    assert all("done" in out for out in _outputs(clients))

    views = [HttpBackend(s.url) for s in replicas]
    exp = views[0].local_experiment_id("replicas")
    runs = [{r.name: r for r in view.list_runs([exp])} for view in views]
    expected = {f"c{i}-{r}" for i in range(8) for r in range(2)}
    assert set(runs[0]) == expected and set(runs[1]) == expected
    for name, run in runs[0].items():
        assert runs[1][name] == run  # both replicas give the same answer
        index, r = name[1:].split("-")
        assert run.params == {"client": index, "r": r} and run.status.value == "FINISHED"
        for view in views:  # each artifact, through either replica, from the shared bucket
            history = view.get_metric_history(run.id, "m")
            assert [(m.step, m.value) for m in history] == [(s, float(s)) for s in range(STEPS)]
            assert view.read_artifact(run.id, "who.txt") == name.encode()

    # 8 processes register versions of one model, alternating between the replicas.
    sources = [runs[0][f"c{i}-0"].id for i in range(8)]
    registering = [_spawn(_REGISTER, tmp_path, replicas[i % 2].url, sources[i]) for i in range(8)]
    numbers = sorted(int(out.strip()) for out in _outputs(registering))
    assert numbers == list(range(1, 9))
    for view in views:
        stored = view.read_registered_model("shared")
        assert stored is not None
        assert sorted(v["version"] for v in stored.versions) == list(range(1, 9))
        assert sorted(v["run_id"] for v in stored.versions) == sorted(sources)
        view.close()
