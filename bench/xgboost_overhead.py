"""What autologging adds to XGBoost training, against MLflow's `mlflow.xgboost.autolog()`.

    /work/mlvenv/bin/python bench/xgboost_overhead.py [--trainings 20] [--long-rounds 2000]

Two parts, written as functions so that `bench/autolog_overhead.py` can call them:

- `short_trainings()`: `xgboost.train`, 20 rounds on 1000x10 with two evals, 20
  times per mode. Modes run interleaved (one training of each mode in turn), so a
  change of machine load hits every mode alike: bare / autolog with models off /
  autolog with models on; then, in the same process after autolog is disabled,
  bare / MLflow models off / MLflow models on (skipped when MLflow cannot be
  imported; MLflow writes to its default sqlite store). The figures are the
  median time of one training call as the user sees it, the calling thread's
  CPU time (steadier on a busy machine), and apart, the time the background
  writes of that call took to drain afterwards (autolog's writer thread,
  MLflow's async logging), which the caller does not wait for.
- `long_training()`: one 2,000-round training, bare and under autolog (models
  off), alternated 5 times; the median ratio, and the CPU time spent inside
  autolog's metrics callback, which is the per-iteration cost without the noise
  of comparing whole trainings.

XGBoost runs with one thread (`--nthread`): on a shared or small machine
OpenMP's barriers turn any other load into seconds of waiting per training.
Context capture (git, packages, ...) is switched off for autolog: it runs once
per process in the writer thread, not per training. MLflow keeps its defaults
apart from `log_models`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROWS, COLS, ROUNDS = 1000, 10, 20
NTHREAD = 1  # see the module docstring


def _data(rows: int = ROWS, seed: int = 0) -> tuple[Any, Any]:
    import xgboost as xgb

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, COLS))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.8, size=rows) > 0).astype(int)
    cut = rows * 4 // 5
    return xgb.DMatrix(x[:cut], y[:cut]), xgb.DMatrix(x[cut:], y[cut:])


def _train(dtrain: Any, dvalid: Any, rounds: int) -> Any:
    import xgboost as xgb

    return xgb.train(
        {"objective": "binary:logistic", "eval_metric": "logloss", "nthread": NTHREAD},
        dtrain,
        rounds,
        evals=[(dtrain, "train"), (dvalid, "eval")],
        verbose_eval=False,
    )


# Per mode: wall times, the calling thread's CPU times, and background drain times.
Timings = dict[str, tuple[list[float], list[float], list[float]]]


def _interleaved(
    modes: dict[str, Callable[[], object]],
    run: Callable[[], Any],
    times: int,
    drain: Callable[[], object],
) -> Timings:
    """Time `run` `times` times under each mode, one of each mode in turn.

    Both the wall time and the calling thread's CPU time are kept: on a busy
    machine the CPU time is the steadier measure of the work added to the call.
    After each call `drain` waits for the background writes it queued (timed
    apart), so that no call pays for the previous one's.
    """
    timings: Timings = {name: ([], [], []) for name in modes}
    for switch in modes.values():  # warm-up: first-call costs are not per-training
        switch()
        run()
        drain()
    for _ in range(times):
        for name, switch in modes.items():
            switch()
            wall, cpu = time.perf_counter(), time.thread_time()
            run()
            timings[name][1].append(time.thread_time() - cpu)
            timings[name][0].append(time.perf_counter() - wall)
            wall = time.perf_counter()
            drain()
            timings[name][2].append(time.perf_counter() - wall)
    return timings


def _summary(timings: Timings, bare: str) -> dict[str, Any]:
    base = statistics.median(timings[bare][0])
    base_cpu = statistics.median(timings[bare][1])
    out: dict[str, Any] = {}
    for name, (walls, cpus, drains) in timings.items():
        median, cpu = statistics.median(walls), statistics.median(cpus)
        out[name] = {
            "median_ms": round(median * 1e3, 3),
            "added_ms": round((median - base) * 1e3, 3),
            "ratio": round(median / base, 3),
            "cpu_median_ms": round(cpu * 1e3, 3),
            "cpu_added_ms": round((cpu - base_cpu) * 1e3, 3),
            "drain_median_ms": round(statistics.median(drains) * 1e3, 3) if drains else 0.0,
        }
    return out


def short_trainings(root: Path, trainings: int = 20) -> dict[str, Any]:
    """20-round trainings on 1000x10 with evals: bare / autolog / MLflow, models off and on."""
    import autolog

    dtrain, dvalid = _data()
    autolog.configure(
        tracking_uri=str(root / "autolog"),
        disable_capture=["git", "source", "packages", "system"],
    )

    def autolog_with(models: bool) -> Callable[[], object]:
        return lambda: autolog.enable("xgboost", log_models=models)

    modes: dict[str, Callable[[], object]] = {
        "bare": lambda: autolog.disable("xgboost"),
        "autolog, models off": autolog_with(False),
        "autolog, models on": autolog_with(True),
    }
    timings = _interleaved(
        modes, lambda: _train(dtrain, dvalid, ROUNDS), trainings, drain=autolog.flush
    )
    autolog.disable("xgboost")
    result: dict[str, Any] = {"autolog": _summary(timings, "bare")}
    runs = autolog.search_runs()
    expected = 2 * (trainings + 1)
    if len(runs) != expected:
        raise SystemExit(f"autolog recorded {len(runs)} runs, expected {expected}")
    result["mlflow"] = _mlflow_trainings(root, dtrain, dvalid, trainings)
    return result


def _mlflow_trainings(root: Path, dtrain: Any, dvalid: Any, trainings: int) -> dict[str, Any]:
    try:
        import mlflow
    except ImportError:
        return {"skipped": "mlflow is not installed in this interpreter"}
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    # MLflow 3's default store (its file store refuses new use without an opt-out).
    store = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(store)
    mlflow.set_experiment("bench")

    def mlflow_with(models: bool) -> Callable[[], object]:
        return lambda: mlflow.xgboost.autolog(log_models=models, silent=True)

    modes: dict[str, Callable[[], object]] = {
        "bare": lambda: mlflow.xgboost.autolog(disable=True),
        "mlflow, models off": mlflow_with(False),
        "mlflow, models on": mlflow_with(True),
    }
    timings = _interleaved(
        modes, lambda: _train(dtrain, dvalid, ROUNDS), trainings, drain=mlflow.flush_async_logging
    )
    mlflow.xgboost.autolog(disable=True)
    return {"version": mlflow.__version__, "store": "sqlite", **_summary(timings, "bare")}


def long_training(root: Path, rounds: int = 2000, repeats: int = 5) -> dict[str, Any]:
    """One long training, bare and under autolog (models off), and the callback's own time.

    The callback's time (its per-round method and the final flush, measured
    around each call with the thread's CPU clock) is the per-iteration cost
    without the noise of comparing whole trainings.
    """
    import autolog
    from autolog import _xgb_callback

    dtrain, dvalid = _data()
    autolog.configure(
        tracking_uri=str(root / "autolog-long"),
        disable_capture=["git", "source", "packages", "system"],
    )
    spent = [0.0]
    cls = _xgb_callback.MetricsCallback
    originals = {name: getattr(cls, name) for name in ("after_iteration", "flush")}

    def timed(method: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any) -> Any:
            start = time.thread_time()
            try:
                return method(*args)
            finally:
                spent[0] += time.thread_time() - start

        return run

    modes: dict[str, Callable[[], object]] = {
        "bare": lambda: autolog.disable("xgboost"),
        "autolog, models off": lambda: autolog.enable("xgboost", log_models=False),
    }
    for name, method in originals.items():
        setattr(cls, name, timed(method))
    try:
        timings: Timings = {name: ([], [], []) for name in modes}
        for _ in range(repeats):
            for name, switch in modes.items():
                switch()
                autolog.flush()  # the previous training's writes are not this one's cost
                wall, cpu = time.perf_counter(), time.thread_time()
                _train(dtrain, dvalid, rounds)
                timings[name][1].append(time.thread_time() - cpu)
                timings[name][0].append(time.perf_counter() - wall)
    finally:
        for name, method in originals.items():
            setattr(cls, name, method)
        autolog.disable("xgboost")
    autolog.flush()
    bare_cpu = statistics.median(timings["bare"][1])
    per_iteration = spent[0] / repeats / rounds
    return {
        "rounds": rounds,
        **_summary(timings, "bare"),
        "callback_us_per_iteration": round(per_iteration * 1e6, 2),
        "callback_share_of_training": round(per_iteration * rounds / bare_cpu, 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainings", type=int, default=20)
    parser.add_argument("--long-rounds", type=int, default=2000)
    parser.add_argument("--nthread", type=int, default=NTHREAD, help="XGBoost threads")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    options = parser.parse_args()
    globals()["NTHREAD"] = options.nthread
    os.environ.setdefault("AUTOLOG_FLUSH_INTERVAL", "1.0")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        import xgboost

        report: dict[str, Any] = {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs,"
            f" Python {sys.version.split()[0]}",
            "xgboost": xgboost.__version__,
            "nthread": options.nthread,
            "short": short_trainings(root, options.trainings),
            "long": long_training(root, options.long_rounds),
        }
    if options.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['machine']}; xgboost {report['xgboost']}, nthread={options.nthread}")
    print(
        f"\n{options.trainings} trainings x {ROUNDS} rounds on {ROWS}x{COLS}, two evals"
        " (median per training):"
    )
    short = report["short"]
    for part in ("autolog", "mlflow"):
        rows = short[part]
        if "skipped" in rows:
            print(f"  {part}: skipped ({rows['skipped']})")
            continue
        for name, row in rows.items():
            if isinstance(row, dict):
                print(
                    f"  {name:<20} {row['median_ms']:9.2f} ms  added {row['added_ms']:8.2f} ms"
                    f"  ratio {row['ratio']:6.2f}  thread CPU added {row['cpu_added_ms']:7.2f} ms"
                    f"  then drain {row['drain_median_ms']:6.2f} ms"
                )
    long = report["long"]
    print(f"\none training of {long['rounds']} rounds:")
    for name in ("bare", "autolog, models off"):
        row = long[name]
        print(
            f"  {name:<20} {row['median_ms']:9.1f} ms  ratio {row['ratio']:.4f}"
            f"   thread CPU ratio {row['cpu_median_ms'] / long['bare']['cpu_median_ms']:.4f}"
        )
    print(
        f"  metrics callback: {long['callback_us_per_iteration']:.1f} us of CPU per iteration,"
        f" {long['callback_share_of_training'] * 100:.2f} % of the bare training's CPU time"
    )


if __name__ == "__main__":
    main()
