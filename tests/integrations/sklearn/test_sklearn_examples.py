"""The example scripts run unmodified with tracking on, and record what their docs promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sklearn_helpers import all_runs, artifact_paths, load_model

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _run(args: list[str]) -> str:
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_train_sklearn_through_autolog_run() -> None:
    out = _run(["-m", "autolog", "run", str(EXAMPLES / "train_sklearn.py")])
    assert "test accuracy" in out
    runs = all_runs()
    script = next(r for r in runs if r.parent_id is None)
    assert script.name == "train_sklearn.py"
    assert script.tags["estimator_name"] == "GridSearchCV"  # the first fit logs into it
    assert script.params["best_clf__C"] == "0.1" and script.params["cv"] == "5"
    for key in ("accuracy_score_X_test", "f1_score_X_test", "roc_auc_score_X_test"):
        assert key in script.metrics
    assert "training_roc_auc" in script.metrics
    candidates = [r for r in runs if r.parent_id == script.id]
    assert len(candidates) == 4
    files = artifact_paths(script.id)
    assert {"cv_results.csv", "datasets/train.json", "model/MLmodel"} <= files
    model = load_model(f"runs:/{script.id}/model")
    assert type(model).__name__ == "GridSearchCV"


def test_sklearn_regression_with_enable_and_runpy() -> None:
    code = (
        "import autolog, runpy; autolog.enable();"
        f" runpy.run_path({str(EXAMPLES / 'sklearn_regression.py')!r}, run_name='__main__')"
    )
    out = _run(["-c", code])
    assert "boosting" in out
    runs = all_runs()
    assert sorted(r.tags["estimator_name"] for r in runs) == [
        "HistGradientBoostingRegressor",
        "Pipeline",
        "RandomForestRegressor",
    ]
    for run in runs:
        assert run.parent_id is None and run.status.value == "FINISHED"
        assert {"mean_squared_error_X_test", "r2_score_X_test", "training_r2_score"} <= set(
            run.metrics
        )
