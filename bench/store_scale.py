"""A local store at 1,000 / 10,000 / 100,000 runs: autolog's directory store and its index
against MLflow's SQLite store, in the same process.

    python bench/store_scale.py [--sizes 1000,10000,100000] [--mlflow-max 10000]
        [--repeat 3] [--keep DIR]

Each size gets a fresh store of small runs (10 params, 5 metrics, 5 tags, finished),
written straight through the backend API (`FileBackend.create_run` / `write_batch`,
MLflow's `SqlAlchemyStore.create_run` / `log_batch`), not through training. Then, for
both, it times (the median of --repeat, each with a fresh client, so opening the store
and bringing the index up to date are counted):

- listing: `autolog runs -n 20` (the CLI's handler, in this process) against MLflow's
  `search_runs(max_results=20)`;
- experiments: `autolog experiments` (names and run counts) against MLflow's
  `search_experiments()` (names only: MLflow has no count);
- search: `search_runs("metrics.m1 < 0.5", order_by ["metrics.m1 ASC"], max 100)`;
- get_run of one run;
- disk per run, as `du` counts it (the index file included for autolog; the database
  for MLflow);
- for autolog also the first read after the runs were written, which builds the index
  (`index build`), and `autolog runs` in a new process (interpreter start included);
- `get_metric_history(run, key)` on a run of 100 keys x --history-points points, against
  reading every key of it, and MLflow's on 100 keys x --mlflow-history-points points.

The store is left quiet for 2 s before the timed reads: a folder changed within the last
2 s is listed again on each read, since its mtime could still change within the same tick.
MLflow's store gets its first run through its API and the others as copies of that
run's rows (see `fill_mlflow`), up to --mlflow-max runs; larger sizes print its figure
as "skipped".
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

N_PARAMS, N_METRICS, N_TAGS = 10, 5, 5
FILTER, ORDER = "metrics.m1 < 0.5", "metrics.m1 ASC"


def _du_kb(path: Path) -> int:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def _median(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _run_data(i: int, rng: random.Random) -> tuple[dict[str, str], dict[str, str], dict[str, Any]]:
    params = {f"p{k}": str(rng.choice([0.1, 1, 10, "gini", "auto"])) for k in range(N_PARAMS)}
    tags = {f"t{k}": f"tag-{(i + k) % 7}" for k in range(N_TAGS)}
    metrics = {f"m{k}": rng.random() for k in range(1, N_METRICS + 1)}
    return params, tags, metrics


# -- autolog -----------------------------------------------------------------------------------


def fill_autolog(root: Path, n: int) -> str:
    """Write `n` small finished runs into a directory store; return one run's id."""
    from autolog.backends.base import Batch, RunMeta
    from autolog.backends.file import FileBackend

    rng = random.Random(0)
    backend = FileBackend(root)
    exp_id = backend.local_experiment_id("scale")
    now = int(time.time() * 1000) - n
    run_id = ""
    for i in range(n):
        run_id = uuid.uuid4().hex
        params, tags, metrics = _run_data(i, rng)
        backend.create_run(RunMeta(run_id, f"run-{i}", exp_id, now + i, experiment_name="scale"))
        batch = Batch(
            params=params,
            tags=tags,
            metrics={k: [(v, 0, now + i)] for k, v in metrics.items()},
            status="FINISHED",
            end_time=now + i + 500,
        )
        backend.write_batch(run_id, batch)
    backend.close()
    return run_id


def time_autolog(root: Path, run_id: str, repeat: int) -> dict[str, float]:
    import autolog
    from autolog._cli.main import main
    from autolog._tracking.api import count_runs
    from autolog._tracking.settings import tracking

    autolog.configure(tracking_uri=str(root))
    n_matching = sum(count_runs(filter=FILTER).values())

    def cli(*argv: str) -> None:
        tracking.reset()  # a fresh backend: the index is opened and brought up to date
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main(["--tracking-uri", str(root), *argv])
        if code != 0:
            raise SystemExit(f"autolog {' '.join(argv)} exited with {code}")

    def search() -> None:
        tracking.reset()
        autolog.configure(tracking_uri=str(root))
        runs = autolog.search_runs(filter=FILTER, order_by=[ORDER], max_results=100)
        values = [r.metrics["m1"] for r in runs]
        if len(runs) != min(100, n_matching) or values != sorted(values) or values[-1] >= 0.5:
            raise SystemExit(f"autolog search gave {len(runs)} runs, or out of order")

    def get_run() -> None:
        tracking.reset()
        autolog.configure(tracking_uri=str(root))
        autolog.get_run(run_id)

    t0 = time.perf_counter()
    cli("runs", "-n", "20")
    build = time.perf_counter() - t0
    time.sleep(2.1)  # let the folders' mtimes settle (see the module docstring)
    cli("runs", "-n", "20")
    out = {
        "index build": build,
        "runs -n 20": _median(lambda: cli("runs", "-n", "20"), repeat),
        "experiments": _median(lambda: cli("experiments"), repeat),
        "search": _median(search, repeat),
        "get_run": _median(get_run, repeat),
    }
    env = {**os.environ, "AUTOLOG_TRACKING_URI": str(root)}
    cmd = [sys.executable, "-m", "autolog", "runs", "-n", "20"]
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, capture_output=True, check=True)
    out["runs, new process"] = time.perf_counter() - t0
    return out


# -- MLflow ------------------------------------------------------------------------------------


def fill_mlflow(root: Path, n: int) -> tuple[str, str, str]:
    """Write `n` small finished runs into MLflow's SQLite store; return uri, experiment, run.

    The first run goes through MLflow's store API; the others copy its rows (every column
    as MLflow wrote it) with their own ids, names, times and values, in one transaction:
    MLflow's API writes a run in tens of ms here, too slow for 10,000. The database holds
    what the API would have written.
    """
    from mlflow.entities import Metric, Param, RunStatus, RunTag
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    rng = random.Random(0)
    db = root / "mlflow.db"
    uri = f"sqlite:///{db}"
    store = SqlAlchemyStore(uri, str(root / "artifacts"))
    exp_id = store.create_experiment("scale")
    now = int(time.time() * 1000) - n

    def one(i: int) -> str:
        params, tags, metrics = _run_data(i, rng)
        run = store.create_run(exp_id, "bench", now + i, [], f"run-{i}")
        store.log_batch(
            run.info.run_id,
            metrics=[Metric(k, v, now + i, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        store.update_run_info(run.info.run_id, RunStatus.FINISHED, now + i + 500, None)
        return str(run.info.run_id)

    first = one(0)
    store.engine.dispose()
    con = sqlite3.connect(db)
    tables = ("runs", "params", "tags", "metrics", "latest_metrics")
    columns = {t: [c[1] for c in con.execute(f"PRAGMA table_info({t})")] for t in tables}
    template = {
        t: [dict(zip(columns[t], row, strict=True))
            for row in con.execute(f"SELECT * FROM {t} WHERE run_uuid = ?", (first,))]
        for t in tables
    }  # fmt: skip
    rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in tables}
    run_id = first
    for i in range(1, n):
        params, tags, metrics = _run_data(i, rng)
        run_id = uuid.uuid4().hex
        values = {"params": params, "tags": tags, "metrics": metrics, "latest_metrics": metrics}
        for table in tables:
            for row in template[table]:
                new = {**row, "run_uuid": run_id}
                if table == "runs":
                    uri_of_run = str(row["artifact_uri"]).replace(first, run_id)
                    new.update(name=f"run-{i}", start_time=now + i, end_time=now + i + 500,
                               artifact_uri=uri_of_run)  # fmt: skip
                elif row["key"] in values[table]:
                    new["value"] = values[table][row["key"]]
                    if "timestamp" in new:
                        new["timestamp"] = now + i
                elif table == "tags" and row["key"] == "mlflow.runName":
                    new["value"] = f"run-{i}"
                rows[table].append(tuple(new[c] for c in columns[table]))
    with con:
        for table in tables:
            marks = ", ".join("?" * len(columns[table]))
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows[table])
    con.close()
    return uri, exp_id, run_id


def time_mlflow(uri: str, exp_id: str, run_id: str, repeat: int) -> dict[str, float]:
    from mlflow.tracking import MlflowClient

    def client() -> Any:
        return MlflowClient(tracking_uri=uri)

    def search() -> None:
        runs = client().search_runs([exp_id], FILTER, order_by=[ORDER], max_results=100)
        if len(runs) != 100:
            raise SystemExit(f"MLflow search gave {len(runs)} runs")

    client().search_runs([exp_id], max_results=20)  # warm-up: schema checks, imports
    return {
        "runs -n 20": _median(lambda: client().search_runs([exp_id], max_results=20), repeat),
        "experiments": _median(lambda: client().search_experiments(), repeat),
        "search": _median(search, repeat),
        "get_run": _median(lambda: client().get_run(run_id), repeat),
    }


# -- one metric's history in a long run --------------------------------------------------------


def bench_history(base: Path, keys: int, points: int, mlflow_points: int, repeat: int) -> None:
    """`get_metric_history(run, key)` on a run of `keys` metrics x `points` points."""
    from autolog.backends.base import Batch, RunMeta
    from autolog.backends.file import FileBackend

    print(f"\n== get_metric_history: one key of {keys} keys x {points:,} points ==", flush=True)
    backend = FileBackend(base / "history")
    run_id = uuid.uuid4().hex
    exp_id = backend.local_experiment_id("history")
    backend.create_run(RunMeta(run_id, "long", exp_id, 1, experiment_name="history"))
    names = [f"metric_{k:03d}" for k in range(keys)]
    for start in range(0, points, 1_000):
        steps = range(start, min(points, start + 1_000))
        backend.write_batch(
            run_id, Batch(metrics={k: [(i * 0.001, i, 10 + i) for i in steps] for k in names})
        )
    backend.write_batch(run_id, Batch(status="FINISHED", end_time=points + 10))
    backend.finish_run(run_id)  # compaction: the points of each key are stored apart
    reader = FileBackend(base / "history")

    def one() -> None:
        if len(reader.get_metric_history(run_id, "metric_042")) != points:
            raise SystemExit("autolog lost points")

    ours = _median(one, repeat)
    every = _median(lambda: reader._snapshot(run_id, points=True), repeat)
    print(f"autolog: one key {ours * 1000:.1f} ms; reading every key {every * 1000:.1f} ms"
          f" ({every / ours:.0f}x one key)")  # fmt: skip
    try:
        from mlflow.entities import Metric
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
        from mlflow.tracking import MlflowClient
        from sqlalchemy import event
    except ImportError:
        return
    uri = f"sqlite:///{base / 'history-mlflow.db'}"
    store = SqlAlchemyStore(uri, str(base / "history-artifacts"))
    event.listen(store.engine, "connect", lambda con, _: con.execute("PRAGMA synchronous=OFF"))
    store.engine.dispose()
    exp = store.create_experiment("history")
    mrun = store.create_run(exp, "bench", 1, [], "long").info.run_id
    batch: list[Any] = []
    for i in range(mlflow_points):
        batch += [Metric(k, i * 0.001, 10 + i, i) for k in names]
        if len(batch) >= 1_000:
            store.log_batch(mrun, metrics=batch, params=[], tags=[])
            batch = []
    if batch:
        store.log_batch(mrun, metrics=batch, params=[], tags=[])
    store.engine.dispose()
    client = MlflowClient(tracking_uri=uri)
    theirs = _median(lambda: client.get_metric_history(mrun, "metric_042"), repeat)
    per_ours, per_theirs = ours / points * 1e6, theirs / mlflow_points * 1e6
    print(f"MLflow: one key of {keys} x {mlflow_points:,} points {theirs * 1000:.1f} ms"
          f" (fewer points: filling MLflow is slow)")  # fmt: skip
    print(f"per point: autolog {per_ours:.2f} us, MLflow {per_theirs:.2f} us,"
          f" MLflow/autolog {per_theirs / per_ours:.1f}x")  # fmt: skip


# -- report ------------------------------------------------------------------------------------


def _fmt(seconds: float | None) -> str:
    return "skipped" if seconds is None else f"{seconds * 1000:9.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--mlflow-max", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="build the stores under this folder and keep them")
    parser.add_argument("--history-points", type=int, default=10_000,
                        help="points per key of the long run (0: skip that part)")  # fmt: skip
    parser.add_argument("--mlflow-history-points", type=int, default=1_000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    os.environ["AUTOLOG_DISABLE_CAPTURE"] = "all"
    os.environ.setdefault("MLFLOW_TRACKING_URI", "sqlite:///:memory:")
    try:
        import mlflow  # noqa: F401
    except ImportError:
        have_mlflow = False
        print("MLflow is not installed: its figures are skipped (pip install -e '.[bench]')")
    else:
        have_mlflow = True
    base = Path(args.keep or tempfile.mkdtemp(prefix="autolog-scale-"))
    results: dict[int, dict[str, dict[str, float | None]]] = {}
    try:
        for n in sizes:
            print(f"\n== {n:,} runs ==", flush=True)
            ours = base / f"autolog-{n}"
            t0 = time.perf_counter()
            run_id = fill_autolog(ours, n)
            print(f"autolog: wrote {n:,} runs in {time.perf_counter() - t0:.1f} s", flush=True)
            a: dict[str, float | None] = dict(time_autolog(ours, run_id, args.repeat))
            a["disk per run (KB)"] = _du_kb(ours) / n
            m: dict[str, float | None] = {}
            if have_mlflow and n <= args.mlflow_max:
                theirs = base / f"mlflow-{n}"
                theirs.mkdir(parents=True)
                t0 = time.perf_counter()
                uri, exp_id, mrun = fill_mlflow(theirs, n)
                print(f"MLflow: wrote {n:,} runs in {time.perf_counter() - t0:.1f} s", flush=True)
                m.update(time_mlflow(uri, exp_id, mrun, args.repeat))
                m["disk per run (KB)"] = _du_kb(theirs) / n
            results[n] = {"autolog": a, "mlflow": m}
            print(f"{'':22} {'autolog':>12} {'MLflow':>12} {'MLflow/autolog':>15}")
            for key, ours_v in a.items():
                theirs_v = m.get(key)
                if key.startswith("disk"):
                    line = f"{key:22} {ours_v:9.1f} KB "
                    line += f"{theirs_v:9.1f} KB " if theirs_v is not None else f"{'skipped':>12} "
                else:
                    line = f"{key:22} {_fmt(ours_v)} {_fmt(theirs_v) if key in m else '':>12}"
                if theirs_v is not None and ours_v:
                    line += f" {theirs_v / ours_v:14.1f}x"
                print(line, flush=True)
        if args.history_points:
            bench_history(base, 100, args.history_points, args.mlflow_history_points, args.repeat)
        if len(sizes) > 1:
            print("\n== growth from the smallest size ==")
            first = sizes[0]
            for n in sizes[1:]:
                for who in ("autolog", "mlflow"):
                    row = results[n][who]
                    cells = []
                    for key, value in row.items():
                        base_v = results[first][who].get(key)
                        if value is not None and base_v and not key.startswith("disk"):
                            cells.append(f"{key} x{value / base_v:.1f}")
                    if cells:
                        print(f"{who:8} {first:,} -> {n:,} runs: " + ", ".join(cells))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
