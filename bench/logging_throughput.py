"""Metric logging throughput: autolog's file backend against MLflow's file store.

    python bench/logging_throughput.py [--points 200000] [--mlflow-points 2000]
                                       [--mlflow-python /path/to/python]

Measures, for autolog, (a) the call rate of `autolog.log_metric` (N calls timed until
the last one returns) and (b) the end-to-end time until all N points are durable
(until `autolog.flush()` returns); then the same through `mlflow.log_metric` into
MLflow's file store (its sqlite store if the file store is refused), and through
MLflow's batch call, with fewer points since MLflow is slow. MLflow runs in this
interpreter when it can be imported, otherwise in `--mlflow-python` (default: the
`MLFLOW_PYTHON` environment variable) as a subprocess; without either that part is
skipped. Context capture is switched off for autolog so that only logging is timed.
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


def bench_autolog(points: int, root: Path) -> dict[str, Any]:
    """Time `autolog.log_metric` and `autolog.log_metrics` into a file store under `root`."""
    os.environ["AUTOLOG_DISABLE_CAPTURE"] = "all"
    import autolog

    autolog.configure(tracking_uri=str(root / "autolog"), flush_interval=1.0)
    out: dict[str, Any] = {"points": points}
    with autolog.start_run(name="bench") as run:
        autolog.flush()
        t0 = time.perf_counter()
        for i in range(points):
            autolog.log_metric("loss", 0.5, step=i)
        t1 = time.perf_counter()
        autolog.flush()
        t2 = time.perf_counter()
        steps = points // BATCH_KEYS
        names = [f"m{k}" for k in range(BATCH_KEYS)]
        t3 = time.perf_counter()
        for i in range(steps):
            autolog.log_metrics(dict.fromkeys(names, 0.5), step=i)
        t4 = time.perf_counter()
        autolog.flush()
        t5 = time.perf_counter()
    stored = len(autolog.get_metric_history(run.id, "loss"))
    if stored != points:
        raise SystemExit(f"autolog stored {stored} of {points} points")
    out.update(
        call_s=t1 - t0,
        durable_s=t2 - t0,
        calls_per_s=points / (t1 - t0),
        durable_per_s=points / (t2 - t0),
        batch_points=steps * BATCH_KEYS,
        batch_call_s=t4 - t3,
        batch_durable_s=t5 - t3,
        batch_per_s=steps * BATCH_KEYS / (t5 - t3),
        version=autolog.__version__,
    )
    return out


def bench_mlflow(points: int, root: Path) -> dict[str, Any]:
    """Time `mlflow.log_metric` and `MlflowClient.log_batch` into MLflow's file store."""
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    warnings.simplefilter("ignore")
    store = "file"
    try:
        mlflow.set_tracking_uri("file:" + str(root / "mlruns"))
        mlflow.start_run().__enter__()
    except Exception:
        store = "sqlite"
        mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
        mlflow.start_run().__enter__()
    out: dict[str, Any] = {"points": points, "store": store, "version": mlflow.__version__}
    run_id = mlflow.active_run().info.run_id
    t0 = time.perf_counter()
    for i in range(points):
        mlflow.log_metric("loss", 0.5, step=i)
    t1 = time.perf_counter()
    out.update(call_s=t1 - t0, calls_per_s=points / (t1 - t0))

    # log_metrics: one call per step with BATCH_KEYS metrics.
    names = [f"m{k}" for k in range(BATCH_KEYS)]
    steps = points // BATCH_KEYS
    t2 = time.perf_counter()
    for i in range(steps):
        mlflow.log_metrics(dict.fromkeys(names, 0.5), step=i)
    t3 = time.perf_counter()
    out.update(
        log_metrics_points=steps * BATCH_KEYS, log_metrics_per_s=steps * BATCH_KEYS / (t3 - t2)
    )

    # log_batch: MLflow's own bulk call, 1,000 points a call (its documented maximum).
    client = MlflowClient()
    now = int(time.time() * 1000)
    batch = [Metric("b", 0.5, now, i) for i in range(points * 5)]
    t4 = time.perf_counter()
    for start in range(0, len(batch), 1000):
        client.log_batch(run_id, metrics=batch[start : start + 1000])
    t5 = time.perf_counter()
    out.update(log_batch_points=len(batch), log_batch_per_s=len(batch) / (t5 - t4))
    mlflow.end_run()
    stored = len(client.get_metric_history(run_id, "loss"))
    if stored != points:
        raise SystemExit(f"MLflow stored {stored} of {points} points")
    return out


def run_mlflow(points: int, root: Path, python: str | None) -> dict[str, Any] | str:
    """MLflow's figures, measured here or in another interpreter; a reason string if neither."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        pass
    else:
        return bench_mlflow(points, root)
    if not python or not Path(python).exists():
        return "mlflow is not importable here; pass --mlflow-python or set MLFLOW_PYTHON"
    cmd = [python, __file__, "--mlflow-only", "--mlflow-points", str(points), "--root", str(root)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return f"mlflow run in {python} failed: {proc.stderr.strip()[-500:]}"
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def row(label: str, rate: float, seconds: float | None = None) -> None:
    took = f"  ({seconds:.3f} s)" if seconds is not None else ""
    print(f"  {label:<34}{rate:>12,.0f} points/s{took}")


def report(ours: dict[str, Any], theirs: dict[str, Any] | str) -> None:
    impl = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"logging throughput ({impl}, {os.cpu_count()} CPUs)")
    print()
    print(f"autolog {ours['version']}, file store, {ours['points']:,} points:")
    row("log_metric, call rate", ours["calls_per_s"], ours["call_s"])
    row("log_metric, until durable (flush)", ours["durable_per_s"], ours["durable_s"])
    row(
        f"log_metrics ({BATCH_KEYS} keys), until durable",
        ours["batch_per_s"],
        ours["batch_durable_s"],
    )
    print()
    if isinstance(theirs, str):
        print(f"MLflow: skipped ({theirs})")
        return
    print(f"MLflow {theirs['version']}, {theirs['store']} store, {theirs['points']:,} points:")
    row("mlflow.log_metric", theirs["calls_per_s"], theirs["call_s"])
    row(f"mlflow.log_metrics ({BATCH_KEYS} keys)", theirs["log_metrics_per_s"])
    row(f"log_batch (1,000/call, {theirs['log_batch_points']:,} pts)", theirs["log_batch_per_s"])
    print()
    # MLflow's calls are durable when they return, so both autolog figures compare with them.
    print("ratio autolog / MLflow, points/s:")
    ratios = {
        "log_metric call rate": ours["calls_per_s"] / theirs["calls_per_s"],
        "log_metric until durable": ours["durable_per_s"] / theirs["calls_per_s"],
        "log_metrics until durable": ours["batch_per_s"] / theirs["log_metrics_per_s"],
        "log_metric durable vs MLflow log_batch": ours["durable_per_s"] / theirs["log_batch_per_s"],
    }
    for label, ratio in ratios.items():
        print(f"  {label:<40}{ratio:>10,.1f}x")
    verdict = "met" if ratios["log_metric until durable"] >= 100 else "NOT met"
    print(f"target: log_metric until durable >= 100x MLflow's log_metric: {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--mlflow-points", type=int, default=2_000)
    parser.add_argument("--mlflow-python", default=os.environ.get("MLFLOW_PYTHON"))
    parser.add_argument("--mlflow-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mlflow_only:
        print(json.dumps(bench_mlflow(args.mlflow_points, Path(args.root))))
        return 0
    root = Path(tempfile.mkdtemp(prefix="autolog-bench-"))
    try:
        ours = bench_autolog(args.points, root)
        theirs = run_mlflow(args.mlflow_points, root, args.mlflow_python)
        report(ours, theirs)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
