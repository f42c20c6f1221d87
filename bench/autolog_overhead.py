"""What autologging adds to training, against MLflow's autologging.

    .venv/bin/python bench/autolog_overhead.py                 # autolog only
    /work/mlvenv/bin/python bench/autolog_overhead.py          # with MLflow's columns
    ... bench/autolog_overhead.py --sections sklearn_fits --fits 400 --rounds 5

Sections (each a function returning a table; `main()` runs those asked for):

- `sklearn_fits`: `LogisticRegression().fit` on 200x10, the median time of one fit.
- `sklearn_search`: `GridSearchCV` of 50 candidates x 5 folds on the same data,
  the median time of one search.
- `sklearn_memory`: the peak RSS of one `SGDClassifier` fit on 1,000,000x25
  float64 (200 MB), to show autologging copies none of it.
- `xgboost_trainings`: `xgboost.train`, 20 rounds on 1000x10 with two evals, the
  median time of one training (MLflow: `mlflow.xgboost.autolog`).
- `xgboost_long`: one 2,000-round training, bare and under autolog (models off),
  with the CPU time autolog's metrics callback took per round: the per-iteration
  logging cost without the noise of comparing two whole trainings.

Configurations: bare; autolog with models off / on; MLflow's `mlflow.sklearn.autolog`
with models off / on (when MLflow can be imported). Each configuration runs in a
fresh interpreter, since autolog and MLflow both patch scikit-learn, and the
configurations take turns over several rounds so that a change of machine load
hits them alike. autolog and MLflow keep their defaults (autolog's run-context
capture included) apart from the models switch; both store in a temporary
directory (`--tmp` chooses where: the file system's speed shows in the CPU
column), MLflow in its default SQLite store. Workers run with one BLAS thread.
The first 10 calls of each process (imports, the experiment, autolog's run context,
stored with the first run, MLflow's start-up) are timed apart (`first 10`) and drained
before the timed calls, which measure what each further call costs.
Timings are what the user's thread sees: autolog's background writer drains
afterwards, and the time it takes is reported as `drain`; the CPU column is the
process's CPU time per call over all threads, that drain included. `amortized` is
the wall time of all the calls of a round and of the drain after them, per call;
each timing table ends with the overhead per call (amortized, minus bare's) as a
share of the bare call, for autolog and MLflow with models off and on (issue 15's
targets for autolog on `sklearn_fits`: <= 0.5x models off, <= 2x models on).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIGS = ("bare", "autolog", "autolog+models", "mlflow", "mlflow+models")
ROWS, COLS = 200, 10


# -- the worker side: one configuration in a fresh interpreter -----------------------------


def _setup(config: str, root: Path, plots: bool = True) -> Callable[[], None]:
    """Switch the configuration on; return what to call once the timed part is over."""
    warnings.simplefilter("ignore")
    if config.startswith("autolog"):
        import autolog

        autolog.configure(tracking_uri=str(root / "autolog-runs"))
        autolog.enable(
            integrations=["sklearn"], log_models=config.endswith("+models"), log_plots=plots
        )
        return lambda: autolog.flush()
    if config.startswith("mlflow"):
        import mlflow

        # MLflow 3's default store (it refuses a plain directory); artifacts go to cwd.
        mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
        mlflow.sklearn.autolog(log_models=config.endswith("+models"), silent=True)
        return lambda: mlflow.flush_async_logging()
    return lambda: None


def _runs_recorded(config: str) -> int:
    """How many runs the configuration stored: proof that it logged at all."""
    if config.startswith("autolog"):
        import autolog

        return len(autolog.search_runs())
    if config.startswith("mlflow"):
        import mlflow

        return len(mlflow.search_runs(search_all_experiments=True))
    return 0


def _data(rows: int = ROWS, cols: int = COLS) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, cols))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.8, size=rows) > 0).astype(int)
    return X, y


def worker_fits(config: str, root: Path, count: int, plots: bool = True) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    start = time.perf_counter()
    drain = _setup(config, root, plots)
    # The first fits pay what a process pays once: imports, the experiment, the run
    # context (requirements, git, the script), stored with the first run. Timed apart
    # ("first 10"), and drained, so the fits below measure what each further fit costs.
    for _ in range(10):
        LogisticRegression().fit(X, y)
    drain()
    first = time.perf_counter() - start
    times = []
    cpu = time.process_time()
    for _ in range(count):
        start = time.perf_counter()
        LogisticRegression().fit(X, y)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    drain()
    drained = time.perf_counter() - start
    return {
        "times": times,
        "drain": drained,
        "amortized": (sum(times) + drained) / count,
        "cpu_per_fit": (time.process_time() - cpu) / count,
        "first": first,
        "runs": _runs_recorded(config),
    }


def worker_search(config: str, root: Path, count: int) -> dict[str, Any]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    X, y = _data()
    grid = {"C": np.logspace(-3, 3, 50)}
    drain = _setup(config, root)
    GridSearchCV(LogisticRegression(), {"C": [1.0, 2.0]}, cv=5).fit(X, y)  # warm up
    times = []
    cpu = time.process_time()
    for _ in range(count):
        start = time.perf_counter()
        GridSearchCV(LogisticRegression(), grid, cv=5).fit(X, y)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    drain()
    drained = time.perf_counter() - start
    return {
        "times": times,
        "drain": drained,
        "amortized": (sum(times) + drained) / count,
        "cpu_per_fit": (time.process_time() - cpu) / count,
        "runs": _runs_recorded(config),
    }


def worker_memory(config: str, root: Path, count: int) -> dict[str, Any]:
    from sklearn.linear_model import SGDClassifier

    X, y = _data(1_000_000, 25)
    drain = _setup(config, root)
    SGDClassifier(max_iter=1, tol=None).fit(X[:1000], y[:1000])  # imports, experiment
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    SGDClassifier(max_iter=3, tol=None, random_state=0).fit(X, y)
    elapsed = time.perf_counter() - start
    drain()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "times": [elapsed],
        "drain": 0.0,
        "data_mb": (X.nbytes + y.nbytes) / 2**20,
        "peak_mb": peak / 1024,
        "fit_extra_mb": (peak - before) / 1024,
    }


WORKERS: dict[str, Callable[[str, Path, int], dict[str, Any]]] = {
    "fits": worker_fits,
    "search": worker_search,
    "memory": worker_memory,
    # Defined further down, with the XGBoost sections.
    "xgb_train": lambda config, root, count: worker_xgb_train(config, root, count),
    "xgb_long": lambda config, root, count: worker_xgb_long(config, root, count),
}


# -- the driver side -----------------------------------------------------------------------


@dataclass
class Measured:
    """Everything the rounds of one configuration measured."""

    times: list[float] = field(default_factory=list)
    drains: list[float] = field(default_factory=list)
    extra: dict[str, list[float]] = field(default_factory=dict)


def mlflow_available() -> bool:
    try:
        import mlflow  # noqa: F401
    except ImportError:
        return False
    return True


def run_worker(worker: str, config: str, count: int, tmp_root: str | None) -> dict[str, Any]:
    """Run one worker for one configuration in a fresh interpreter; return its JSON."""
    with tempfile.TemporaryDirectory(prefix="autolog-bench-", dir=tmp_root) as tmp:
        env = {
            **os.environ,
            "AUTOLOG_TRACKING_URI": str(Path(tmp) / "autolog-runs"),
            # One BLAS thread: on a small or shared machine, BLAS threads waiting for
            # each other turn any other load into noise larger than what is measured.
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        env.pop("AUTOLOG_STRICT", None)
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                worker,
                "--config",
                config,
                "--count",
                str(count),
                "--root",
                tmp,
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"{worker}/{config} failed:\n{done.stderr[-3000:]}")
    result = dict(json.loads(done.stdout.strip().splitlines()[-1]))
    if config != "bare" and result.get("runs", 1) < count:
        raise RuntimeError(f"{worker}/{config} recorded {result['runs']} runs for {count} calls")
    return result


def measure(
    worker: str, configs: list[str], count: int, rounds: int, tmp_root: str | None = None
) -> dict[str, Measured]:
    """Every configuration, in turn, `rounds` times: `count` measurements per round."""
    found = {c: Measured() for c in configs}
    for _ in range(rounds):
        for config in configs:
            result = run_worker(worker, config, count, tmp_root)
            found[config].times += result.pop("times")
            found[config].drains.append(result.pop("drain"))
            for key, value in result.items():
                found[config].extra.setdefault(key, []).append(float(value))
    return found


def print_table(title: str, rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def _timing_table(title: str, found: dict[str, Measured], unit: float, suffix: str) -> None:
    bare = statistics.median(found["bare"].times)
    bare_cpu = statistics.median(found["bare"].extra["cpu_per_fit"])
    bare_amortized = statistics.median(found["bare"].extra["amortized"])
    rows = []
    ratios: dict[str, float] = {}
    cpu_ratios: dict[str, float] = {}
    for config, measured in found.items():
        median = statistics.median(measured.times)
        p90 = statistics.quantiles(measured.times, n=10)[-1] if len(measured.times) > 1 else median
        cpu = statistics.median(measured.extra["cpu_per_fit"])
        amortized = statistics.median(measured.extra["amortized"])
        ratios[config] = (amortized - bare_amortized) / bare_amortized
        cpu_ratios[config] = (cpu - bare_cpu) / bare_cpu
        rows.append(
            [
                config,
                f"{median * unit:.2f} {suffix}",
                f"{p90 * unit:.2f} {suffix}",
                f"{amortized * unit:.2f} {suffix}",
                "-" if config == "bare" else f"{(amortized - bare_amortized) * unit:+.2f} {suffix}",
                "-" if config == "bare" else f"{ratios[config]:.2f}x",
                f"{cpu * unit:.2f} {suffix}",
                "-" if config == "bare" else f"{(cpu - bare_cpu) * unit:+.2f} {suffix}",
                f"{statistics.median(measured.drains):.2f} s",
                f"{statistics.median(measured.extra['first']):.2f} s"
                if "first" in measured.extra
                else "-",
            ]
        )
    header = [
        "config",
        "median",
        "p90",
        "amortized",
        "overhead",
        "overhead/bare",
        "CPU",
        "CPU overhead",
        "drain",
        "first 10",
    ]
    print_table(title, rows, header)
    print(
        "  median/p90: wall time of one call in the user's thread; amortized: wall time of all"
        " the calls and the drain (flush) after them, per call; overhead: amortized minus"
        " bare's, and as a share of bare's; CPU: process CPU time per call, every thread, the"
        " drain included; first 10: the process's first 10 calls and their drain, set-up and"
        " one-time costs included (imports; autolog's run context: requirements, git, the"
        " script), timed apart from the calls above"
    )
    print(f"  bare: {bare * unit:.2f} {suffix} a call (median)")
    for tool in ("autolog", "mlflow"):
        line = ", ".join(
            f"{'models on' if c.endswith('+models') else 'models off'} {ratios[c]:.2f}x"
            f" (CPU {cpu_ratios[c]:.2f}x)"
            for c in (tool, f"{tool}+models")
            if c in ratios
        )
        if line:
            print(f"  {tool}: overhead per call / bare call, amortized wall time: {line}")
    print("  on a busy machine the wall times wait for the CPU; the CPU ratios are the steadier")


def _configs(args: argparse.Namespace) -> list[str]:
    wanted = list(CONFIGS if mlflow_available() else CONFIGS[:3])
    return [c for c in wanted if c in args.configs] if args.configs else wanted


def sklearn_fits(args: argparse.Namespace) -> None:
    per_round = max(1, args.fits // args.rounds)
    found = measure("fits", _configs(args), per_round, args.rounds, args.tmp)
    _timing_table(
        f"scikit-learn: LogisticRegression().fit on {ROWS}x{COLS},"
        f" {per_round * args.rounds} fits per config (per fit)",
        found,
        1000.0,
        "ms",
    )


def sklearn_search(args: argparse.Namespace) -> None:
    found = measure("search", _configs(args), args.searches, args.rounds, args.tmp)
    _timing_table(
        f"scikit-learn: GridSearchCV, 50 candidates x 5 folds on {ROWS}x{COLS},"
        f" {args.searches * args.rounds} searches per config (per search)",
        found,
        1.0,
        "s",
    )


def sklearn_memory(args: argparse.Namespace) -> None:
    found = measure("memory", _configs(args), 1, 1, args.tmp)
    bare = statistics.median(found["bare"].extra["peak_mb"])
    rows = []
    for config, measured in found.items():
        peak = statistics.median(measured.extra["peak_mb"])
        rows.append(
            [
                config,
                f"{statistics.median(measured.extra['data_mb']):.0f} MB",
                f"{peak:.0f} MB",
                f"{statistics.median(measured.extra['fit_extra_mb']):.0f} MB",
                "-" if config == "bare" else f"{(peak - bare) / bare * 100:+.1f} %",
                f"{statistics.median(measured.times):.2f} s",
            ]
        )
    print_table(
        "scikit-learn: peak memory of SGDClassifier(max_iter=3).fit on 1,000,000x25 float64",
        rows,
        ["config", "X and y", "peak RSS", "fit's own peak", "vs bare", "fit time"],
    )


# -- XGBoost -------------------------------------------------------------------------------
# `xgboost.train` on 1000x10 with two evals. One XGBoost thread: on a shared or small
# machine OpenMP's barriers turn any other load into seconds of waiting per training.
XGB_ROWS, XGB_COLS, XGB_ROUNDS = 1000, 10, 20


def _setup_xgboost(config: str, root: Path) -> Callable[[], object]:
    """As `_setup`, for the XGBoost integrations; MLflow writes to its sqlite store."""
    warnings.simplefilter("ignore")
    if config.startswith("autolog"):
        import autolog

        autolog.configure(tracking_uri=str(root / "autolog-runs"))
        autolog.enable(integrations=["xgboost"], log_models=config.endswith("+models"))
        return autolog.flush
    if config.startswith("mlflow"):
        import logging

        import mlflow

        logging.getLogger("mlflow").setLevel(logging.ERROR)
        # MLflow 3 refuses new use of its file store without an opt-out: its default store.
        mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
        mlflow.xgboost.autolog(log_models=config.endswith("+models"), silent=True)
        return lambda: mlflow.flush_async_logging()
    return lambda: None


def _xgb_train(rounds: int) -> Callable[[], Any]:
    import numpy as np
    import xgboost as xgb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(XGB_ROWS, XGB_COLS))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.8, size=XGB_ROWS) > 0).astype(int)
    cut = XGB_ROWS * 4 // 5
    dtrain, dvalid = xgb.DMatrix(X[:cut], y[:cut]), xgb.DMatrix(X[cut:], y[cut:])
    params = {"objective": "binary:logistic", "eval_metric": "logloss", "nthread": 1}
    evals = [(dtrain, "train"), (dvalid, "eval")]
    return lambda: xgb.train(params, dtrain, rounds, evals=evals, verbose_eval=False)


def worker_xgb_train(config: str, root: Path, count: int) -> dict[str, Any]:
    train = _xgb_train(XGB_ROUNDS)
    drain = _setup_xgboost(config, root)
    for _ in range(3):  # first trainings import lazily and create the experiment
        train()
    drain()
    times = []
    cpu = time.process_time()
    for _ in range(count):
        start = time.perf_counter()
        train()
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    drain()
    drained = time.perf_counter() - start
    return {
        "times": times,
        "drain": drained,
        "amortized": (sum(times) + drained) / count,
        "cpu_per_fit": (time.process_time() - cpu) / count,
        "runs": _runs_recorded(config),
    }


def worker_xgb_long(config: str, root: Path, count: int) -> dict[str, Any]:
    """One training of `count` rounds; under autolog, also the CPU time its callback took."""
    train = _xgb_train(count)
    drain = _setup_xgboost(config, root)
    _xgb_train(2)()  # imports, the experiment
    drain()
    spent = [0.0]
    if config.startswith("autolog"):
        from autolog.integrations.xgboost import _callback as _xgb_callback

        cls = _xgb_callback.MetricsCallback
        for name in ("after_iteration", "flush"):
            setattr(cls, name, _cpu_timed(getattr(cls, name), spent))
    wall, cpu = time.perf_counter(), time.thread_time()
    train()
    cpu = time.thread_time() - cpu
    wall = time.perf_counter() - wall
    start = time.perf_counter()
    drain()
    drained = time.perf_counter() - start
    result = {"times": [wall], "drain": drained, "cpu": cpu, "callback": spent[0]}
    if config.startswith("autolog"):
        import autolog

        # run_worker checks "runs" against `count`, here the rounds: all were logged.
        histories = [
            autolog.get_metric_history(r.id, "eval-logloss") for r in autolog.search_runs()
        ]
        result["runs"] = max(len(h) for h in histories)
    return result


def _cpu_timed(method: Callable[..., Any], spent: list[float]) -> Callable[..., Any]:
    def timed(*args: Any) -> Any:
        start = time.thread_time()
        try:
            return method(*args)
        finally:
            spent[0] += time.thread_time() - start

    return timed


def _xgb_configs(args: argparse.Namespace) -> list[str]:
    wanted = [c for c in CONFIGS if mlflow_available() or not c.startswith("mlflow")]
    return [c for c in wanted if c in args.configs] if args.configs else wanted


def xgboost_trainings(args: argparse.Namespace) -> None:
    per_round = max(1, args.trainings // args.rounds)
    found = measure("xgb_train", _xgb_configs(args), per_round, args.rounds, args.tmp)
    _timing_table(
        f"XGBoost: xgboost.train, {XGB_ROUNDS} rounds on {XGB_ROWS}x{XGB_COLS} with two evals,"
        f" {per_round * args.rounds} trainings per config (per training)",
        found,
        1000.0,
        "ms",
    )


def xgboost_long(args: argparse.Namespace) -> None:
    configs = [c for c in ("bare", "autolog") if not args.configs or c in args.configs]
    found = measure("xgb_long", configs, args.long_rounds, max(args.rounds, 5), args.tmp)
    bare, bare_cpu = (
        statistics.median(found["bare"].times),
        statistics.median(found["bare"].extra["cpu"]),
    )
    rows = []
    for config, m in found.items():
        wall, cpu = statistics.median(m.times), statistics.median(m.extra["cpu"])
        callback = statistics.median(m.extra["callback"])
        rows.append(
            [
                config,
                f"{wall:.2f} s",
                f"{wall / bare:.3f}x",
                f"{cpu / bare_cpu:.3f}x",
                "-" if config == "bare" else f"{callback / args.long_rounds * 1e6:.1f} us",
                "-" if config == "bare" else f"{callback / bare_cpu * 100:.2f} %",
            ]
        )
    print_table(
        f"XGBoost: one training of {args.long_rounds} rounds on {XGB_ROWS}x{XGB_COLS}, two evals"
        " (per-iteration logging)",
        rows,
        ["config", "wall", "wall ratio", "CPU ratio", "callback/round", "callback share"],
    )


# -- evaluation plot data (issue 13): its cost per fit, on and off --------------------------


def worker_plots(config: str, root: Path, count: int) -> dict[str, Any]:
    """`worker_fits` with plot data off ("autolog-plots-off") or on; bare also times
    scikit-learn's `estimator_html_repr` (MLflow's `estimator.html`) of two models."""
    from sklearn.linear_model import LogisticRegression

    if config != "autolog-plots-off":
        result = worker_fits(config, root, count)
    else:
        result = worker_fits("autolog", root, count, plots=False)
    if config == "bare":
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.utils import estimator_html_repr

        X, y = _data()
        for name, model in (
            ("html_logreg", LogisticRegression()),
            ("html_pipeline", make_pipeline(StandardScaler(), LogisticRegression())),
        ):
            model.fit(X, y)
            estimator_html_repr(model)
            start = time.perf_counter()
            for _ in range(20):
                html = estimator_html_repr(model)
            result[name] = (time.perf_counter() - start) / 20
            result[f"{name}_kb"] = len(html.encode()) / 1024
    return result


WORKERS["plots"] = worker_plots


def sklearn_plot_data(args: argparse.Namespace) -> None:
    """Per-fit cost with the plot data on (autolog's default) and off, next to MLflow's PNGs."""
    configs = ["bare", "autolog", "autolog-plots-off"]
    if mlflow_available() and (not args.configs or "mlflow" in args.configs):
        configs.append("mlflow")  # models off: MLflow draws its three PNGs at every fit
    per_round = max(1, args.fits // args.rounds)
    found = measure("plots", configs, per_round, args.rounds, args.tmp)
    _timing_table(
        f"scikit-learn: LogisticRegression().fit on {ROWS}x{COLS}, evaluation plot data on"
        f" (autolog) and off, models off, {per_round * args.rounds} fits per config (per fit)",
        found,
        1000.0,
        "ms",
    )
    extra = found["bare"].extra
    for name, what in (("html_logreg", "LogisticRegression"), ("html_pipeline", "a Pipeline")):
        print(
            f"  estimator_html_repr (MLflow's estimator.html) of {what}:"
            f" {statistics.median(extra[name]) * 1000:.2f} ms per fit,"
            f" {statistics.median(extra[name + '_kb']):.0f} KB"
        )


# Sections in the order main() runs them. Another library's section is a function of
# the parsed arguments that prints its table; add it here.
SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "sklearn_fits": sklearn_fits,
    "sklearn_search": sklearn_search,
    "sklearn_memory": sklearn_memory,
    "xgboost_trainings": xgboost_trainings,
    "xgboost_long": xgboost_long,
}
SECTIONS["sklearn_plot_data"] = sklearn_plot_data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated")
    parser.add_argument("--configs", default="", help=f"comma-separated, of {CONFIGS}")
    parser.add_argument("--fits", type=int, default=200, help="fits per configuration")
    parser.add_argument("--searches", type=int, default=1, help="searches per round")
    parser.add_argument("--trainings", type=int, default=20, help="XGBoost trainings per config")
    parser.add_argument("--long-rounds", type=int, default=2000, help="rounds of the long training")
    parser.add_argument("--rounds", type=int, default=4, help="turns each configuration takes")
    parser.add_argument("--tmp", help="where the stores go (default: the system's temp dir)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = WORKERS[args.worker](args.config, Path(args.root), args.count)
        print(json.dumps(result))
        return
    args.configs = [c for c in args.configs.split(",") if c]
    import sklearn

    print(
        f"python {platform.python_version()}, scikit-learn {sklearn.__version__},"
        f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f};"
        f" MLflow {'available' if mlflow_available() else 'not importable'};"
        f" stores under {args.tmp or tempfile.gettempdir()}"
    )
    for name in args.sections.split(","):
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
