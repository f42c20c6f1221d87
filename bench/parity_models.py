"""The cost of what issue 13 added to the records, against MLflow's autologging.

    .venv/bin/python bench/parity_models.py [--calls 15] [--rounds 3]

Workloads (data 300x10 float64, one BLAS thread):

- `cross_val_score`: `cross_val_score(LogisticRegression(), X, y, cv=5)`; autolog
  records a parent run and 5 fold runs, no models (MLflow records nothing).
- `grid_search`: `GridSearchCV(LogisticRegression(), {"C": 4 values}, cv=3)`;
  autolog adds the best estimator as its own model and each candidate's full params.
- `xgb_eval`: `XGBClassifier(n_estimators=20).fit(X, y, eval_set=[(Xv, yv)])`, then
  `roc_auc_score(yv, clf.predict_proba(Xv)[:, 1])`; autolog adds the eval set and
  the test data as inputs (fingerprints) and logs the sliced metric.

Configurations: bare, autolog (defaults: models on, input examples off) and
`mlflow.autolog()` (defaults), each in a fresh interpreter, taking turns over
rounds; both store in a temporary directory (MLflow: its default SQLite store).
The figure is the median time of one call in the user's thread; autolog's
writer drains afterwards (not counted, as MLflow's async logging is not).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONFIGS = ("bare", "autolog", "mlflow")
WORKLOADS = ("cross_val_score", "grid_search", "xgb_eval")


def _workload(name: str) -> Callable[[], Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 10))
    y = (X[:, 0] + X[:, 1] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    if name == "cross_val_score":
        from sklearn import model_selection
        from sklearn.linear_model import LogisticRegression

        return lambda: model_selection.cross_val_score(LogisticRegression(), X, y, cv=5)
    if name == "grid_search":
        from sklearn import model_selection
        from sklearn.linear_model import LogisticRegression

        grid = {"C": [0.01, 0.1, 1.0, 10.0]}
        return lambda: model_selection.GridSearchCV(LogisticRegression(), grid, cv=3).fit(X, y)
    import xgboost as xgb
    from sklearn import metrics

    Xv, yv = X[:100], y[:100]

    def train() -> float:
        clf = xgb.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1)
        clf.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
        return float(metrics.roc_auc_score(yv, clf.predict_proba(Xv)[:, 1]))

    return train


def _worker(config: str, workload: str, calls: int, root: Path) -> dict[str, Any]:
    warnings.simplefilter("ignore")
    if config == "autolog":
        import autolog

        autolog.enable(tracking_uri=str(root / "autolog"), silent=True)
    elif config == "mlflow":
        import logging

        import mlflow

        logging.getLogger("mlflow").setLevel(logging.ERROR)
        mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
        mlflow.autolog(silent=True)
    call = _workload(workload)
    call()  # imports and first-call caches out of the timing
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    if config == "autolog":
        import autolog

        autolog.flush()
    return {"median_s": statistics.median(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", nargs=3, metavar=("CONFIG", "WORKLOAD", "ROOT"))
    args = parser.parse_args()
    if args.worker:
        config, workload, root = args.worker
        print(json.dumps(_worker(config, workload, args.calls, Path(root))))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-parity-") as tmp:
        for _ in range(args.rounds):
            for workload in WORKLOADS:
                for config in CONFIGS:
                    root = Path(tmp) / f"{config}-{workload}"
                    root.mkdir(exist_ok=True)
                    command = [sys.executable, __file__, "--calls", str(args.calls)]
                    out = subprocess.run(
                        [*command, "--worker", config, workload, str(root)],
                        cwd=root,  # MLflow's sqlite store puts artifacts under ./mlruns
                        capture_output=True,
                        text=True,
                        env=env,
                        check=True,
                    ).stdout
                    median = json.loads(out.strip().splitlines()[-1])["median_s"]
                    results.setdefault((workload, config), []).append(median)
    print(f"median ms per call ({args.rounds} rounds x {args.calls} calls, best round)")
    print(f"{'workload':<16}{'bare':>9}{'autolog':>9}{'mlflow':>9}{'autolog+':>10}{'mlflow+':>9}")
    for workload in WORKLOADS:
        bare, ours, theirs = (min(results[(workload, c)]) * 1000 for c in CONFIGS)
        print(
            f"{workload:<16}{bare:9.1f}{ours:9.1f}{theirs:9.1f}"
            f"{ours - bare:10.1f}{theirs - bare:9.1f}"
            f"   overhead ratio autolog/mlflow {((ours - bare) / max(theirs - bare, 1e-9)):.2f}"
        )


if __name__ == "__main__":
    main()
