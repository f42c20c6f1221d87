"""autolog's server against `mlflow server --workers 1`, both on SQLite on loopback.

    python bench/server_vs_mlflow.py [--runs 500] [--scale 100000] [--threads 8]

Same data, same run: each run has 20 params, 5 tags, 10 metrics and two 100-step curves,
logged by `--threads` client threads in two ways. Through the MLflow REST API, as MLflow's
client logs (runs/create, one runs/log-batch, runs/update: three requests a run), to both
servers: the like-for-like comparison. And through autolog's native API, as autolog's own
HTTP backend sends a fit's run (one gzipped POST to `ingest` holding the run's creation and
one named batch, built by the backend's codec and sent by its HTTP client), to autolog's
server. The lanes are measured in turn, in chunks of 100 runs, so all see the same load on
a shared machine, and the runs of each are counted through runs/search afterwards. Then
autolog's store is filled up to `--scale` runs (written straight into its database, which
is faster than HTTP; the first `--runs` came through the server), 400 more runs are logged
each way, and the reads are measured again at that size (MLflow stays at `--runs`: at its
ingest rate a store of that size would take hours). Figures: ingest rate and the server's
CPU time per ingested run (which, unlike the rate, does not depend on what else the
machine runs), each way; first search page of 100 runs, a metric filter with a metric
order, a param + tag filter, 1,000 runs through runs/search, `mlflow.search_runs()` of up
to 2,000 runs through MLflow's own client (and the same client against a server that
answers at once with the same bytes: the part of that time no server can remove), a metric
history of 100 points. MLflow's figures
and the ratios are printed with autolog's (the native API's against MLflow's REST figures
for the same runs).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

API = "/api/2.0/mlflow"
NATIVE = "/api/autolog/v1"
PARAMS, TAGS, METRICS, CURVE_STEPS = 20, 5, 10, 100
REPEATS = 15


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            requests.get(f"{url}{API}/experiments/get-by-name?experiment_name=x", timeout=2)
            return
        except requests.RequestException:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{what} did not start") from None
            time.sleep(0.2)


@contextlib.contextmanager
def autolog_server(root: Path) -> Iterator[tuple[str, str, int]]:
    from autolog.backends.sql.database import make_engine, upgrade

    store = f"sqlite:///{root / 'autolog.db'}"
    engine = make_engine(store)
    upgrade(engine)
    engine.dispose()
    port = free_port()
    cmd = [sys.executable, "-m", "autolog", "server", "--store", store, "--artifacts",
           str(root / "autolog-artifacts"), "--port", str(port)]  # fmt: skip
    with open(root / "autolog-server.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, proc, "autolog server")
            yield url, store, proc.pid
        finally:
            proc.terminate()
            proc.wait(30)


@contextlib.contextmanager
def mlflow_server(root: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    cmd = [mlflow, "server", "--workers", "1", "--backend-store-uri",
           f"sqlite:///{root / 'mlflow.db'}", "--default-artifact-root",
           str(root / "mlflow-artifacts"), "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with open(root / "mlflow-server.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, proc, "mlflow server")
            yield url, proc.pid
        finally:
            proc.terminate()
            proc.wait(30)


# -- the workload ----------------------------------------------------------------------------


def run_values(i: int) -> tuple[dict[str, str], dict[str, str], dict[str, float], int]:
    rnd = random.Random(i)
    params = {f"p{k}": f"v{rnd.randrange(10)}" for k in range(PARAMS)}
    tags = {f"t{k}": rnd.choice(["x", "y", "z"]) for k in range(TAGS)}
    metrics = {f"m{k}": rnd.random() for k in range(METRICS)}
    return params, tags, metrics, 1_700_000_000_000 + i * 1000


def batch_json(i: int, run_id: str) -> dict[str, Any]:
    params, tags, metrics, ts = run_values(i)
    ms = [{"key": k, "value": v, "timestamp": ts, "step": 0} for k, v in metrics.items()]
    for curve in ("c0", "c1"):
        ms += [{"key": curve, "value": 1.0 / (s + 1), "timestamp": ts + s, "step": s}
               for s in range(CURVE_STEPS)]  # fmt: skip
    return {
        "run_id": run_id,
        "params": [{"key": k, "value": v} for k, v in params.items()],
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
        "metrics": ms,
    }


def ingest(url: str, exp_id: str, first: int, count: int, threads: int) -> float:
    """Log `count` runs as MLflow's client does, from `threads` threads; runs per second."""
    lock = threading.Lock()
    todo = iter(range(first, first + count))

    def worker() -> None:
        session = requests.Session()
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            _, _, _, ts = run_values(i)
            reply = session.post(f"{url}{API}/runs/create", json={
                "experiment_id": exp_id, "start_time": ts, "run_name": f"run-{i}",
                "tags": [{"key": "mlflow.user", "value": "bench"}]}, timeout=120)  # fmt: skip
            reply.raise_for_status()
            run_id = reply.json()["run"]["info"]["run_id"]
            session.post(f"{url}{API}/runs/log-batch", json=batch_json(i, run_id),
                         timeout=120).raise_for_status()  # fmt: skip
            session.post(f"{url}{API}/runs/update", json={
                "run_id": run_id, "status": "FINISHED", "end_time": ts + 500},
                timeout=120).raise_for_status()  # fmt: skip

    return _in_threads(worker, count, threads)


def _in_threads(worker: Callable[[], None], count: int, threads: int) -> float:
    """Run `worker` in `threads` threads until they return; `count` / seconds taken.

    A worker that fails fails the measurement (its exception is raised here).
    """
    failures: list[BaseException] = []

    def guarded() -> None:
        try:
            worker()
        except BaseException as exc:  # raised again below, in the caller's thread
            failures.append(exc)

    start = time.perf_counter()
    pool = [threading.Thread(target=guarded) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if failures:
        raise failures[0]
    return count / (time.perf_counter() - start)


def native_entries(i: int, exp_id: str, experiment_name: str) -> list[dict[str, Any]]:
    """Run `i` as autolog's HTTP backend spools it: a creation and one named batch.

    The same values as `batch_json`, built by the writer's own codec (backends/_wire.py).
    """
    from autolog.backends import _wire as wire
    from autolog.backends.base import Batch, RunMeta

    params, tags, metrics, ts = run_values(i)
    run_id = uuid.uuid4().hex
    series = {k: [(v, 0, ts)] for k, v in metrics.items()}
    for curve in ("c0", "c1"):
        series[curve] = [(1.0 / (s + 1), s, ts + s) for s in range(CURVE_STEPS)]
    meta = RunMeta(run_id, f"run-{i}", exp_id, ts, experiment_name=experiment_name)
    batch = Batch(params, {**tags, "mlflow.user": "bench"}, series, "FINISHED", ts + 500)
    return [
        {"type": "create", "run": wire.meta_to_json(meta)},
        {"type": "batch", "run_id": run_id, "name": uuid.uuid4().hex,
         "batch": wire.batch_to_json(batch)},
    ]  # fmt: skip


def ingest_native(url: str, exp_id: str, first: int, count: int, threads: int) -> float:
    """Log `count` runs as autolog's HTTP backend does, from `threads` threads; runs per second.

    One gzipped POST to the native `ingest` route per run (what one writer cycle sends after
    a fit), through the backend's own HTTP client.
    """
    from autolog.backends._http_client import Client

    name = native_experiment_name(url, exp_id)
    lock = threading.Lock()
    todo = iter(range(first, first + count))

    def worker() -> None:
        client = Client(url)
        try:
            while True:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                body = {"entries": native_entries(i, exp_id, name)}
                reply = client.json("POST", "/ingest", body=body, gzip_body=True, timeout=(5, 120))
                failed = [r for r in reply["results"] if not r.get("ok")]
                if failed:
                    raise RuntimeError(f"the server refused entries of run {i}: {failed}")
        finally:
            client.close()

    return _in_threads(worker, count, threads)


def native_experiment_name(url: str, exp_id: str) -> str:
    reply = requests.get(f"{url}{NATIVE}/experiment", params={"name_or_id": exp_id}, timeout=60)
    reply.raise_for_status()
    return str(reply.json()["name"])


def count_runs(url: str, exp_id: str, query: str = "") -> int:
    """How many runs of experiment `exp_id` (matching `query`) the server lists (runs/search)."""
    total, token = 0, None
    with requests.Session() as session:
        while True:
            body: dict[str, Any] = {"experiment_ids": [exp_id], "max_results": 1000,
                                    "filter": query}  # fmt: skip
            if token:
                body["page_token"] = token
            reply = session.post(f"{url}{API}/runs/search", json=body, timeout=600)
            reply.raise_for_status()
            data = reply.json()
            total += len(data.get("runs", []))
            token = data.get("next_page_token")
            if not token:
                return total


def check_arrived(url: str, exp_id: str, expected: int, what: str, first: int = 0) -> None:
    """Stop the bench unless the server lists `expected` runs from run `first` on."""
    ts = run_values(first)[3]
    found = count_runs(url, exp_id, f"attributes.start_time >= {ts}")
    if found != expected:
        raise SystemExit(f"{what}: {found} runs arrived, not {expected}")
    print(f"{what}: all {found} runs arrived (counted through runs/search)")


def bulk_fill(store: str, exp_id: str, first: int, count: int) -> float:
    """Write runs straight into autolog's database, 100 per transaction (a large store fast)."""
    from sqlalchemy import insert

    from autolog.backends.base import Batch
    from autolog.backends.file import LocalObjectStore
    from autolog.backends.sql import schema as t
    from autolog.backends.sql.store import SqlBackend

    backend = SqlBackend(store, LocalObjectStore(Path(tempfile.mkdtemp())))
    keys = [f"p{k}" for k in range(PARAMS)] + [f"t{k}" for k in range(TAGS)]
    keys += [f"m{k}" for k in range(METRICS)] + ["c0", "c1", "mlflow.runName", "mlflow.user"]
    ids = backend.key_ids(keys)
    start = time.perf_counter()
    for chunk in range(first, first + count, 100):
        with backend.write() as conn:
            for i in range(chunk, min(chunk + 100, first + count)):
                params, tags, metrics, ts = run_values(i)
                run_id = uuid.uuid4().hex
                conn.execute(insert(t.runs).values(
                    id=run_id, experiment_id=exp_id, name=f"run-{i}", status="FINISHED",
                    start_time=ts, end_time=ts + 500, parent_id=None, user_id="bench"))  # fmt: skip
                batch_id = conn.execute(
                    insert(t.batches).values(run_id=run_id, name="fill", created_at=ts)
                    .returning(t.batches.c.id)).scalar_one()  # fmt: skip
                series = {k: [(v, 0, ts)] for k, v in metrics.items()}
                for curve in ("c0", "c1"):
                    series[curve] = [(1.0 / (s + 1), s, ts + s) for s in range(CURVE_STEPS)]
                tags = {**tags, "mlflow.runName": f"run-{i}", "mlflow.user": "bench"}
                backend._write_values(conn, run_id, Batch(params, tags, series), ids, batch_id)
    backend.close()
    return count / (time.perf_counter() - start)


# -- the reads -------------------------------------------------------------------------------


def timed(fns: list[Callable[[], Any]], repeats: int = REPEATS) -> list[tuple[float, float]]:
    """p50 and p95 in milliseconds of each function, called in turn (the same load for all)."""
    times: list[list[float]] = [[] for _ in fns]
    for fn in fns:
        fn()  # warm
    for _ in range(repeats):
        for fn, spent in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            spent.append((time.perf_counter() - start) * 1000)
    out = []
    for spent in times:
        spent.sort()
        out.append((statistics.median(spent), spent[min(len(spent) - 1, int(len(spent) * 0.95))]))
    return out


def read_ops(url: str, exp_id: str, total: int) -> dict[str, tuple[Callable[[], Any], int]]:
    """The reads measured: name -> (function, repeats)."""
    session = requests.Session()

    def search(body: dict[str, Any]) -> Callable[[], Any]:
        def call() -> Any:
            data = {"experiment_ids": [exp_id], **body}
            reply = session.post(f"{url}{API}/runs/search", json=data, timeout=600)
            reply.raise_for_status()
            return reply.json()

        return call

    one = search({"max_results": 1})()["runs"][0]["info"]["run_id"]

    def history() -> Any:
        reply = session.get(f"{url}{API}/metrics/get-history",
                            params={"run_id": one, "metric_key": "c0"}, timeout=60)  # fmt: skip
        reply.raise_for_status()
        assert len(reply.json()["metrics"]) == CURVE_STEPS
        return reply

    wanted = min(total, 2000)

    def search_runs(target: str = url) -> Any:
        import mlflow

        mlflow.set_tracking_uri(target)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = mlflow.search_runs(experiment_ids=[exp_id], max_results=wanted)
        assert len(frame) == wanted, len(frame)
        return frame

    canned: list[str] = []

    def client_alone() -> Any:
        # MLflow's client against a server that answers at once with this server's bytes:
        # the floor that no server can lower (its JSON parsing, its objects, the DataFrame).
        # The reply is fetched and its server started at the first (untimed, warming) call.
        if not canned:
            canned.append(canned_reply(json.dumps(search({"max_results": wanted})()).encode()))
        return search_runs(canned[0])

    metric = {"max_results": 100, "filter": "metrics.m0 > 0.5", "order_by": ["metrics.m1 DESC"]}
    params = {"max_results": 100, "filter": "params.p0 = 'v3' and tags.t0 = 'x'"}
    return {
        "first page of 100": (search({"max_results": 100}), REPEATS),
        "metric filter + metric order": (search(metric), REPEATS),
        "param + tag filter": (search(params), REPEATS),
        f"{min(total, 1000)} runs via runs/search": (search({"max_results": 1000}), 5),
        # The one request mlflow.search_runs() makes: the rest of its time is its client's.
        f"{wanted} runs in one runs/search": (search({"max_results": wanted}), 3),
        "metric history, 100 points": (history, REPEATS),
        f"mlflow.search_runs() of {wanted} runs": (search_runs, 3),
        "  the same, MLflow's client alone": (client_alone, 3),
    }


def canned_reply(body: bytes) -> str:
    """The URL of a loopback HTTP server (a daemon thread, for the rest of the process)
    answering every request at once with `body` (JSON)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Reply(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Reply)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def reads(servers: list[tuple[str, str]], total: int) -> list[dict[str, Any]]:
    """Each server's read figures, measured in turn."""
    ops = [read_ops(url, exp, total) for url, exp in servers]
    out: list[dict[str, Any]] = [{} for _ in servers]
    for name, (_, repeats) in ops[0].items():
        for figures, result in zip(timed([o[name][0] for o in ops], repeats), out, strict=True):
            result[name] = figures
    return out


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by process `pid` and every process under it.

    `mlflow server` serves from a child process (uvicorn), so the whole tree is counted.
    """
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, CPU seconds)
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it exited meanwhile
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, total = {pid}, 0.0
    grew = True
    while grew:
        grew = False
        for child, (parent, _) in stats.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    for member in tree:
        total += stats.get(member, (0, 0.0))[1]
    return total


#: A way of ingesting: (url, experiment id, first run, count, threads) -> runs per second.
Ingest = Callable[[str, str, int, int, int], float]


def ingest_lanes(
    lanes: list[tuple[Ingest, str, str, int]], first: int, count: int, threads: int
) -> list[tuple[float, float]]:
    """Runs per second of each lane (ingest, url, experiment, server pid) and its server's
    CPU ms per run, in chunks of 100 runs to each lane in turn (the same load for all).

    The CPU time per run does not depend on what else the machine runs, unlike the rate.
    """
    spent = [0.0 for _ in lanes]
    cpu = [0.0 for _ in lanes]
    for start in range(first, first + count, 100):
        n = min(100, first + count - start)
        for i, (fn, url, exp, pid) in enumerate(lanes):
            before = cpu_seconds(pid)
            spent[i] += n / fn(url, exp, start, n, threads)
            cpu[i] += cpu_seconds(pid) - before
    return [(count / s, c * 1000 / count) for s, c in zip(spent, cpu, strict=True)]


def experiment(url: str, name: str) -> str:
    reply = requests.post(f"{url}{API}/experiments/create", json={"name": name}, timeout=60)
    reply.raise_for_status()
    return str(reply.json()["experiment_id"])


REST, NATIVE_ROW = "MLflow REST", "native API"


def ingest_rows(rate: float, cpu: float, how: str) -> dict[str, float]:
    return {f"ingest, {how} (runs/s)": rate, f"server CPU per run, {how} (ms)": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=500, help="runs logged to both servers")
    parser.add_argument("--scale", type=int, default=100_000, help="autolog's store size after")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="autolog-bench-"))
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    print(f"{args.runs} runs of {PARAMS} params, {TAGS} tags, {METRICS} metrics and two"
          f" {CURVE_STEPS}-step curves; {args.threads} client threads; SQLite; {root}")  # fmt: skip
    results: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as stack:
        url, store, pid = stack.enter_context(autolog_server(root))
        exp, native_exp = experiment(url, "bench"), experiment(url, "bench-native")
        lanes: list[tuple[Ingest, str, str, int]] = [
            (ingest, url, exp, pid), (ingest_native, url, native_exp, pid)]  # fmt: skip
        servers = [(url, exp)]
        if not args.skip_mlflow:
            mlflow_url, mlflow_pid = stack.enter_context(mlflow_server(root))
            servers.append((mlflow_url, experiment(mlflow_url, "bench")))
            lanes.append((ingest, *servers[1], mlflow_pid))
        rates = ingest_lanes(lanes, 0, args.runs, args.threads)
        for (_, lane_url, lane_exp, _), what in zip(
            lanes,
            ["autolog, MLflow REST", "autolog, native API", "mlflow, MLflow REST"],
            strict=False,
        ):
            check_arrived(lane_url, lane_exp, args.runs, what)
        figures = reads(servers, args.runs)
        results["autolog"] = {**ingest_rows(*rates[0], REST), **ingest_rows(*rates[1], NATIVE_ROW),
                              **figures[0]}  # fmt: skip
        if not args.skip_mlflow:
            results["mlflow"] = {**ingest_rows(*rates[2], REST), **figures[1]}
        if args.scale > args.runs:
            start = time.perf_counter()
            fill = bulk_fill(store, exp, args.runs, args.scale - args.runs)
            print(
                f"autolog store filled to {args.scale} runs: the first {args.runs} came through"
                f" the server, the other {args.scale - args.runs} were written straight into"
                f" its database through SqlBackend, {fill:.0f} runs/s in-process (HTTP would take"
                f" too long); {time.perf_counter() - start:.0f} s. MLflow stays at {args.runs}"
                " runs: at its ingest rate more would take hours"
            )  # fmt: skip
            # Runs numbered from --scale on: their start times follow every run before them.
            rest, native = ingest_lanes(lanes[:2], args.scale, 400, args.threads)
            check_arrived(url, exp, 400, "autolog at scale, MLflow REST", args.scale)
            check_arrived(url, native_exp, 400, "autolog at scale, native API", args.scale)
            results["autolog@scale"] = {
                **ingest_rows(*rest, REST), **ingest_rows(*native, NATIVE_ROW),
                **reads([(url, exp)], args.scale + 400)[0],
            }  # fmt: skip
    report(results, args)
    shutil.rmtree(root, ignore_errors=True)


def _fmt(value: Any) -> str:
    if isinstance(value, tuple):
        return f"{value[0]:9.1f} / {value[1]:7.1f} ms"
    return f"{value:9.1f}          "


def _shape(name: str) -> str:
    """An operation's name without its run count ("1000 runs via ..." at scale, "500 ..." not)."""
    return re.sub(r"[0-9]+", "N", name)


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    ours, theirs = results["autolog"], results.get("mlflow", {})
    scaled = results.get("autolog@scale", {})
    print(f"\n{'operation (p50 / p95)':38} {'autolog':>21} {'mlflow':>21} {'ratio':>7}"
          f"   autolog at {args.scale + 400} runs")  # fmt: skip
    for key, value in ours.items():
        # The native API's rows are compared with MLflow's figures for the same runs.
        other = theirs.get(key.replace(NATIVE_ROW, REST))
        ratio = ""
        if other is not None:
            if isinstance(value, tuple):
                ratio = f"{other[0] / value[0]:6.1f}x"
            elif "CPU" in key:
                ratio = f"{other / value:6.1f}x"
            else:
                ratio = f"{value / other:6.1f}x"
        at_scale = next((v for k, v in scaled.items() if _shape(k) == _shape(key)), None)
        print(f"{key:38} {_fmt(value)} {_fmt(other) if other is not None else '':>21} {ratio:>7}"
              f"   {_fmt(at_scale) if at_scale is not None else ''}")  # fmt: skip


if __name__ == "__main__":
    main()
