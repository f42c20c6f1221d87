"""Metric logging throughput: autolog's file backend against MLflow's file and sqlite stores.

    python bench/logging_throughput.py [--points 200000] [--mlflow-points 2000]
        [--sqlite-points 500] [--mlflow-python /path/to/python]

For autolog it measures (a) the call rate of `autolog.log_metric`: N calls timed until
the last one returns, and (b) the time until all N points are durable: until
`autolog.flush()` returns. For MLflow, whose calls are durable when they return, it
times `mlflow.log_metric`, `mlflow.log_metrics` and `MlflowClient.log_batch`, with
fewer points since MLflow is slow, into its file store (MLflow 3 refuses that store
unless MLFLOW_ALLOW_FILE_STORE=true, which this sets) and into its sqlite store
(MLflow 3's default). MLflow runs in this interpreter when it can be imported, else in
`--mlflow-python` (default: $MLFLOW_PYTHON) as a subprocess; without either it is
skipped. Context capture is off for autolog, so that only logging is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

BATCH_KEYS = 10
MAX_PENDING = 200_000  # autolog's Writer default
STORES = ("file", "sqlite")


def bench_autolog(points: int, root: Path) -> dict[str, Any]:
    """Time `autolog.log_metric` and `autolog.log_metrics` into a file store under `root`."""
    os.environ["AUTOLOG_DISABLE_CAPTURE"] = "all"
    import autolog

    autolog.configure(tracking_uri=str(root / "autolog"), flush_interval=1.0)
    names = [f"m{k}" for k in range(BATCH_KEYS)]
    steps = points // BATCH_KEYS
    with autolog.start_run(name="bench") as run:
        autolog.flush()
        t0 = time.perf_counter()
        for i in range(points):
            autolog.log_metric("loss", 0.5, step=i)
        t1 = time.perf_counter()
        autolog.flush()
        t2 = time.perf_counter()
        for i in range(steps):
            autolog.log_metrics(dict.fromkeys(names, 0.5), step=i)
        t3 = time.perf_counter()
        autolog.flush()
        t4 = time.perf_counter()
    stored = len(autolog.get_metric_history(run.id, "loss"))
    if stored != points:
        raise SystemExit(f"autolog stored {stored} of {points} points")
    return {
        "version": autolog.__version__,
        "points": points,
        "call_s": t1 - t0,
        "durable_s": t2 - t0,
        "calls_per_s": points / (t1 - t0),
        "durable_per_s": points / (t2 - t0),
        "batch_calls_per_s": steps * BATCH_KEYS / (t3 - t2),
        "batch_durable_s": t4 - t2,
        "batch_per_s": steps * BATCH_KEYS / (t4 - t2),
    }


def bench_mlflow(points: int, root: Path, store: str) -> dict[str, Any]:
    """Time MLflow's three ways of logging metrics into its `store` ("file" or "sqlite")."""
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    warnings.simplefilter("ignore")
    if store == "file":
        mlflow.set_tracking_uri("file:" + str(root / "mlruns"))
    else:
        mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    client = MlflowClient()
    names = [f"m{k}" for k in range(BATCH_KEYS)]
    steps = points // BATCH_KEYS
    now = int(time.time() * 1000)
    batch = [Metric("b", 0.5, now, i) for i in range(points * 5)]
    with mlflow.start_run() as run:
        t0 = time.perf_counter()
        for i in range(points):
            mlflow.log_metric("loss", 0.5, step=i)
        t1 = time.perf_counter()
        for i in range(steps):
            mlflow.log_metrics(dict.fromkeys(names, 0.5), step=i)
        t2 = time.perf_counter()
        # 1,000 points a call: MLflow's documented maximum for log_batch.
        for start in range(0, len(batch), 1000):
            client.log_batch(run.info.run_id, metrics=batch[start : start + 1000])
        t3 = time.perf_counter()
    stored = len(client.get_metric_history(run.info.run_id, "loss"))
    if stored != points:
        raise SystemExit(f"MLflow stored {stored} of {points} points")
    return {
        "version": mlflow.__version__,
        "store": store,
        "points": points,
        "call_s": t1 - t0,
        "calls_per_s": points / (t1 - t0),
        "log_metrics_per_s": steps * BATCH_KEYS / (t2 - t1),
        "log_batch_points": len(batch),
        "log_batch_per_s": len(batch) / (t3 - t2),
    }


def run_mlflow(points: int, root: Path, store: str, python: str | None) -> dict[str, Any] | str:
    """MLflow's figures, measured here or in another interpreter; a reason string if neither."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        pass
    else:
        return bench_mlflow(points, root / store, store)
    if not python or not Path(python).exists():
        return "mlflow is not importable here; pass --mlflow-python or set MLFLOW_PYTHON"
    cmd = [python, __file__, "--mlflow-only", store, "--mlflow-points", str(points)]
    proc = subprocess.run([*cmd, "--root", str(root / store)], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"mlflow run in {python} failed: {proc.stderr.strip()[-500:]}"
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def row(label: str, rate: float, seconds: float | None = None) -> None:
    took = f"  ({seconds:.3f} s)" if seconds is not None else ""
    print(f"  {label:<38}{rate:>12,.0f} points/s{took}")


def report(ours: dict[str, Any], theirs: dict[str, dict[str, Any] | str]) -> None:
    impl = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"logging throughput ({impl}, {os.cpu_count()} CPUs)")
    print()
    print(f"autolog {ours['version']}, file store, {ours['points']:,} points:")
    if ours["points"] >= MAX_PENDING:
        print(
            f"  (at {MAX_PENDING:,} unwritten records a call waits for the writer: back-pressure)"
        )
    row("log_metric, call rate", ours["calls_per_s"], ours["call_s"])
    row("log_metric, until durable (flush)", ours["durable_per_s"], ours["durable_s"])
    row(f"log_metrics ({BATCH_KEYS} keys), call rate", ours["batch_calls_per_s"])
    row(f"log_metrics ({BATCH_KEYS} keys), until durable", ours["batch_per_s"],
        ours["batch_durable_s"])  # fmt: skip
    for store, result in theirs.items():
        print()
        if isinstance(result, str):
            print(f"MLflow {store} store: skipped ({result})")
            continue
        print(f"MLflow {result['version']}, {store} store, {result['points']:,} points:")
        row("mlflow.log_metric", result["calls_per_s"], result["call_s"])
        row(f"mlflow.log_metrics ({BATCH_KEYS} keys)", result["log_metrics_per_s"])
        row(f"log_batch (1,000/call, {result['log_batch_points']:,})", result["log_batch_per_s"])
        print(f"  ratio autolog / MLflow {store} store, points/s:")
        ratios = {
            "log_metric, call rate": ours["calls_per_s"] / result["calls_per_s"],
            "log_metric, until durable": ours["durable_per_s"] / result["calls_per_s"],
            "log_metrics, until durable": ours["batch_per_s"] / result["log_metrics_per_s"],
            "log_metric durable / MLflow log_batch": ours["durable_per_s"]
            / result["log_batch_per_s"],
        }
        for label, ratio in ratios.items():
            print(f"    {label:<44}{ratio:>10,.1f}x")
        met = "met" if ratios["log_metric, until durable"] >= 100 else "NOT met"
        print(f"  target, log_metric until durable >= 100x MLflow's log_metric: {met}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--mlflow-points", type=int, default=2_000, help="for the file store")
    parser.add_argument("--sqlite-points", type=int, default=500, help="for the sqlite store")
    parser.add_argument("--mlflow-python", default=os.environ.get("MLFLOW_PYTHON"))
    parser.add_argument("--mlflow-only", choices=STORES, help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mlflow_only:
        print(json.dumps(bench_mlflow(args.mlflow_points, Path(args.root), args.mlflow_only)))
        return 0
    root = Path(tempfile.mkdtemp(prefix="autolog-bench-"))
    try:
        ours = bench_autolog(args.points, root)
        counts = {"file": args.mlflow_points, "sqlite": args.sqlite_points}
        theirs = {s: run_mlflow(counts[s], root, s, args.mlflow_python) for s in STORES}
        report(ours, theirs)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
