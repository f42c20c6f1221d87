"""Cost per logged metric point: autolog through its HTTP backend vs its local store, and MLflow.

    python bench/http_logging.py [--points 100000] [--mlflow-points 2000]

autolog: N calls of `autolog.log_metric` in one run, into (a) a local file store, timed
until `autolog.flush()` returns (the points are on disk), and (b) an `autolog server`
(SQLite, one worker, loopback), timed until the calls return, until `autolog.flush()`
returns (the points are in the client's on-disk spool: what training waits for), and
until the server has them all (the sender delivered them). MLflow: `mlflow server`
(SQLite, `--workers 1`, loopback) and MLflow's client, with `mlflow.log_metric` (one
request per point) and `MlflowClient.log_batch` (1,000 points per request), with fewer
points since it is slower. Prints microseconds per point and the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], health: str, log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "wb")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while True:
        try:
            requests.get(health, timeout=2).raise_for_status()
            return proc
        except requests.RequestException:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{cmd[0]} did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def bench_autolog(uri: str, points: int) -> dict[str, float]:
    """Seconds for the calls, until flush() returns, and until the store holds every point."""
    import autolog
    from autolog._tracking.settings import tracking

    autolog.configure(tracking_uri=uri, flush_interval=1.0)
    with autolog.start_run(name="bench") as run:
        autolog.flush()
        t0 = time.perf_counter()
        for i in range(points):
            autolog.log_metric("loss", 0.5, step=i)
        t1 = time.perf_counter()
        autolog.flush()
        t2 = time.perf_counter()
        backend = tracking.backend()
        deliver = getattr(backend, "flush", None)
        if deliver is not None:
            deliver()  # the HTTP backend: until the server has taken everything
        t3 = time.perf_counter()
    stored = len(autolog.get_metric_history(run.id, "loss"))
    if stored != points:
        raise SystemExit(f"{uri} holds {stored} of {points} points")
    return {"calls": t1 - t0, "flush": t2 - t0, "stored": t3 - t0}


def bench_mlflow(url: str, points: int) -> dict[str, float]:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    mlflow.set_tracking_uri(url)
    client = MlflowClient(url)
    mlflow.set_experiment("bench")
    out = {}
    with mlflow.start_run() as run:
        t0 = time.perf_counter()
        for i in range(points):
            mlflow.log_metric("loss", 0.5, step=i)
        out["log_metric"] = time.perf_counter() - t0
        now = int(time.time() * 1000)
        batch_points = points * 10
        t0 = time.perf_counter()
        for start in range(0, batch_points, 1000):
            metrics = [Metric("batched", 0.5, now, i) for i in range(start, start + 1000)]
            client.log_batch(run.info.run_id, metrics=metrics)
        out["log_batch"] = (time.perf_counter() - t0) * points / batch_points
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--mlflow-points", type=int, default=2_000)
    args = parser.parse_args()
    os.environ["AUTOLOG_DISABLE_CAPTURE"] = "all"
    os.environ["AUTOLOG_SYSTEM_METRICS"] = "off"
    root = Path(tempfile.mkdtemp(prefix="autolog-bench-http-"))
    os.environ["AUTOLOG_SPOOL_DIR"] = str(root / "spool")
    n = args.points
    try:
        local = bench_autolog(str(root / "local"), n)
        port = _free_port()
        server = _start(
            [sys.executable, "-m", "autolog", "server", "--store", f"sqlite:///{root / 'a.db'}",
             "--artifacts", str(root / "art"), "--port", str(port)],
            f"http://127.0.0.1:{port}/api/autolog/v1/health", root / "autolog-server.log",
        )  # fmt: skip
        try:
            http = bench_autolog(f"http://127.0.0.1:{port}", n)
        finally:
            _stop(server)
        mlflow_figures: dict[str, float] = {}
        exe = shutil.which("mlflow", path=str(Path(sys.executable).parent))
        if exe is not None:
            port = _free_port()
            server = _start(
                [exe, "server", "--backend-store-uri", f"sqlite:///{root / 'm.db'}",
                 "--artifacts-destination", str(root / "mart"), "--host", "127.0.0.1",
                 "--port", str(port), "--workers", "1"],
                f"http://127.0.0.1:{port}/health", root / "mlflow-server.log",
            )  # fmt: skip
            try:
                mlflow_figures = bench_mlflow(f"http://127.0.0.1:{port}", args.mlflow_points)
            finally:
                _stop(server)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    def us(seconds: float, count: int) -> float:
        return seconds / count * 1e6

    print(f"autolog, {n} points via log_metric, microseconds per point:")
    print(f"  local file store   calls {us(local['calls'], n):8.2f}   until durable (flush)"
          f" {us(local['flush'], n):8.2f}")  # fmt: skip
    print(f"  http server        calls {us(http['calls'], n):8.2f}   until spooled (flush)"
          f" {us(http['flush'], n):8.2f}   until on the server"
          f" {us(http['stored'], n):8.2f}")  # fmt: skip
    print(f"  http / local: calls {http['calls'] / local['calls']:.2f}x, flush"
          f" {http['flush'] / local['flush']:.2f}x, on the server vs durable locally"
          f" {http['stored'] / local['flush']:.2f}x")  # fmt: skip
    if mlflow_figures:
        m = args.mlflow_points
        per_call = us(mlflow_figures["log_metric"], m)
        per_batch = us(mlflow_figures["log_batch"], m)
        on_server = us(http["stored"], n)
        print(f"MLflow {version('mlflow')} client to mlflow"
              f" server, microseconds per point: log_metric {per_call:.1f}, log_batch (1000 per"
              f" request) {per_batch:.2f}")  # fmt: skip
        print(
            f"  MLflow log_metric / autolog http (on the server): {per_call / on_server:.0f}x;"
            f" MLflow log_batch / autolog http: {per_batch / on_server:.1f}x"
        )
    else:
        print("MLflow: not installed here (pip install mlflow), skipped")


if __name__ == "__main__":
    main()
