"""The cost of authentication per request: autolog's token check against no auth, and MLflow's
basic-auth app against MLflow without auth, for the same request (read one run).

    python bench/server_auth.py [--requests 3000] [--mlflow-requests 40]

autolog: one SQLite store served three ways on loopback, `--workers 1`: `--auth none`,
`--auth token` (the token, user and role cached for 5 s: the warm case) and `--auth token`
with AUTOLOG_SERVER_AUTH_CACHE=0 (every request looks the token and the role up in the
database: the cold case). The caller is a plain user with the reader role granted on the
experiment, so the role check runs too. Rounds alternate between the servers so that
drift of the machine hits all alike; the figure is the median latency of a GET of
`/api/autolog/v1/runs/<id>` over one keep-alive connection.

MLflow (when installed, with Flask-WTF for its auth app): `mlflow server` and
`mlflow server --app-name basic-auth` (its admin user, HTTP basic auth, which MLflow
checks with a password hash on every request), GET `/api/2.0/mlflow/runs/get`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

N = "/api/autolog/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str], health: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env})
    deadline = time.monotonic() + 300  # MLflow's auth app starts slowly on a busy machine
    while time.monotonic() < deadline:
        try:
            if requests.get(health, timeout=2).status_code < 500:
                return proc
        except requests.RequestException:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{cmd[:4]} did not start: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def timed(session: requests.Session, url: str, count: int, **kwargs: Any) -> list[float]:
    """Latencies (ms) of `count` GETs of `url`, each checked for 200."""
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        resp = session.get(url, timeout=60, **kwargs)
        out.append((time.perf_counter() - t0) * 1000)
        if resp.status_code != 200:
            raise RuntimeError(f"GET {url}: HTTP {resp.status_code} {resp.text[:200]}")
    return out


def interleaved(
    calls: dict[str, Callable[[int], list[float]]], total: int, rounds: int = 10, warm: int = 100
) -> dict[str, list[float]]:
    for call in calls.values():
        call(warm)  # warm: connections, caches, bytecode
    out: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            out[name] += call(max(1, total // rounds))
    return out


def bench_autolog(root: Path, total: int) -> dict[str, list[float]]:
    from autolog.backends.sql.auth import AuthStore
    from autolog.backends.sql.database import make_engine, upgrade

    store = f"sqlite:///{root / 'autolog.db'}"
    engine = make_engine(store)
    upgrade(engine)
    engine.dispose()
    auth = AuthStore(store)
    auth.add_user("admin", admin=True)
    admin = auth.create_token("admin")[1]
    auth.add_user("reader")
    token = auth.create_token("reader", scope="read")[1]
    token_args = ["--auth", "token"]
    modes = {"none": ([], {}), "token": (token_args, {}),
             "token, no cache": (token_args, {"AUTOLOG_SERVER_AUTH_CACHE": "0"})}  # fmt: skip
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for name, (args, env) in modes.items():
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            cmd = [sys.executable, "-m", "autolog", "server", "--store", store, "--artifacts",
                   str(root / "artifacts"), "--port", str(port), *args]  # fmt: skip
            servers[name] = (start(cmd, url + f"{N}/health", env, root / "autolog.log"), url)
        url = servers["token"][1]
        headers = {"Authorization": f"Bearer {admin}"}
        exp = requests.post(
            url + f"{N}/experiments", json={"name": "bench"}, headers=headers, timeout=30
        )
        run_id = uuid.uuid4().hex
        meta = {"id": run_id, "experiment_id": exp.json()["id"], "experiment_name": None,
                "name": "r", "start_time": 1, "parent_id": None}  # fmt: skip
        batch = {"params": {f"p{i}": str(i) for i in range(20)}, "tags": {"t": "v"},
                 "metrics": {f"m{i}": [[0.5, 0, 1]] for i in range(10)}}  # fmt: skip
        entries = [{"type": "create", "run": meta},
                   {"type": "batch", "run_id": run_id, "name": "b", "batch": batch}]  # fmt: skip
        requests.post(url + f"{N}/ingest", json={"entries": entries}, headers=headers, timeout=30)
        auth.grant("experiment", exp.json()["id"], "user", "reader", "reader")
        auth.close()
        calls: dict[str, Callable[[int], list[float]]] = {}
        for name, (_, base) in servers.items():
            session = requests.Session()
            if name != "none":
                session.headers["Authorization"] = f"Bearer {token}"
            calls[name] = lambda n, s=session, b=base: timed(s, f"{b}{N}/runs/{run_id}", n)
        return interleaved(calls, total)
    finally:
        for proc, _ in servers.values():
            stop(proc)


def bench_mlflow(root: Path, total: int) -> dict[str, list[float]] | str:
    try:
        import flask_wtf  # noqa: F401
        import mlflow  # noqa: F401
    except ImportError as exc:
        return f"skipped ({exc.name} is not installed: pip install -e '.[bench]')"
    password = "bench-" + uuid.uuid4().hex
    ini = root / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{root / 'mlflow-auth.db'}\n"
        f"admin_username = admin\nadmin_password = {password}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for name, extra in (("none", []), ("basic-auth", ["--app-name", "basic-auth"])):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            store = f"sqlite:///{root / f'mlflow-{port}.db'}"
            cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store,
                   "--default-artifact-root", str(root / f"mlflow-art-{port}"),
                   "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                   *extra]  # fmt: skip
            env = {"MLFLOW_AUTH_CONFIG_PATH": str(ini),
                   "MLFLOW_FLASK_SERVER_SECRET_KEY": uuid.uuid4().hex}  # fmt: skip
            servers[name] = (start(cmd, url + "/health", env, root / "mlflow.log"), url)
        calls: dict[str, Callable[[int], list[float]]] = {}
        for name, (_, base) in servers.items():
            session = requests.Session()
            if name == "basic-auth":
                session.auth = ("admin", password)
            api = base + "/api/2.0/mlflow"
            exp = session.post(f"{api}/experiments/create", json={"name": "bench"}, timeout=60)
            exp.raise_for_status()
            run = session.post(
                f"{api}/runs/create",
                json={"experiment_id": exp.json()["experiment_id"], "start_time": 1},
                timeout=60,
            ).json()["run"]["info"]["run_id"]
            url = f"{api}/runs/get?run_id={run}"
            calls[name] = lambda n, s=session, u=url: timed(s, u, n)
        return interleaved(calls, total, rounds=4, warm=5)
    finally:
        for proc, _ in servers.values():
            stop(proc)


def show(title: str, results: dict[str, list[float]], base: str) -> dict[str, float]:
    medians = {name: statistics.median(v) for name, v in results.items()}
    print(f"\n{title}")
    print(f"  {'server':<22} {'requests':>8} {'median ms':>10} {'mean ms':>9} {'added ms':>9}")
    for name, values in results.items():
        added = medians[name] - medians[base]
        mean = statistics.fmean(values)
        print(f"  {name:<22} {len(values):>8} {medians[name]:>10.3f} {mean:>9.3f} {added:>+9.3f}")
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--mlflow-requests", type=int, default=40)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="autolog-bench-auth-"))
    try:
        ours = show(
            "autolog (GET one run, reader token)", bench_autolog(root, args.requests), "none"
        )
        theirs = bench_mlflow(root, args.mlflow_requests)
        if isinstance(theirs, str):
            print(f"\nMLflow basic-auth: {theirs}")
            return
        peer = show("MLflow 3 (GET runs/get, basic auth as admin)", theirs, "none")
        added_ours = ours["token"] - ours["none"]
        added_peer = peer["basic-auth"] - peer["none"]
        cold = ours["token, no cache"] - ours["none"]
        print(
            f"\nadded per request: autolog token {added_ours:+.3f} ms warm, {cold:+.3f} ms cold;"
            f" MLflow basic-auth {added_peer:+.3f} ms ({added_peer / max(added_ours, 1e-3):.0f}x"
            " autolog's warm figure); target < 0.2 ms"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
