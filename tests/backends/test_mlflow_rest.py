"""MLflow-server mode: `tracking_uri` pointing at a real `mlflow server` on loopback.

autolog detects the MLflow server and speaks its REST API: an autologged fit lands as an
MLflow run that MLflow's own client reads back (params, metrics, tags, artifacts, the
model), and autolog reads it back too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from trackingserver import free_port

import autolog
from autolog.backends import backend_for_uri

mlflow = pytest.importorskip("mlflow", reason="MLflow is not installed (pip install mlflow)")
pytest.importorskip("sklearn", reason="scikit-learn is not installed")

from mlflow import MlflowClient  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from autolog.backends import mlflow_rest  # noqa: E402
from autolog.backends.mlflow_rest import MlflowRestBackend  # noqa: E402


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mlflow server` (SQLite, proxied artifacts, one worker) on 127.0.0.1."""
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    exe = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [exe, "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, cwd=root,
        # Without MLflow's job runner: 7 huey consumer processes that cost ~20 s of CPU at
        # start and outlive the server by ~20 s, slowing the tests after this module.
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                requests.get(f"{url}/health", timeout=2).raise_for_status()
                break
            except requests.RequestException:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"mlflow server did not start: {(root / 'server.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def tracking(mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AUTOLOG_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    mlflow_rest._kinds.clear()  # an earlier test's server may have had this port
    autolog.set_tracking_uri(mlflow_server)
    return mlflow_server


def test_an_mlflow_server_is_detected(tracking: str) -> None:
    backend = backend_for_uri(tracking)
    assert isinstance(backend, MlflowRestBackend)
    backend.close()


def test_an_autologged_fit_lands_as_an_mlflow_run(tracking: str) -> None:
    autolog.enable()
    try:
        autolog.set_experiment("autolog-in-mlflow")
        X, y = [[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]], [0, 0, 1, 1]
        model = LogisticRegression(C=0.7).fit(X, y)
    finally:
        autolog.disable()
    autolog.flush()
    (ours,) = autolog.search_runs("autolog-in-mlflow")
    assert ours.params["C"] == "0.7" and ours.metrics["training_accuracy_score"] == 1.0

    client = MlflowClient(tracking)
    exp = client.get_experiment_by_name("autolog-in-mlflow")
    (theirs,) = client.search_runs([exp.experiment_id])
    assert theirs.info.status == "FINISHED" and theirs.info.run_name == ours.name
    assert theirs.data.params == ours.params
    assert theirs.data.metrics == pytest.approx(ours.metrics)
    assert theirs.data.tags["autolog.run_id"] == ours.id
    assert {t: v for t, v in theirs.data.tags.items() if t in ours.tags} == ours.tags
    history = client.get_metric_history(theirs.info.run_id, "training_accuracy_score")
    assert [m.value for m in history] == [1.0]
    assert "model" in [a.path for a in client.list_artifacts(theirs.info.run_id)]
    loaded = mlflow.sklearn.load_model(f"runs:/{theirs.info.run_id}/model")
    assert list(loaded.predict(X)) == list(model.predict(X))
    # ... and autolog reads the same run back, by its own id.
    again = autolog.load_model(f"runs:/{ours.id}/model")
    assert list(again.predict(X)) == list(model.predict(X))


def test_runs_metrics_and_search_through_an_mlflow_server(tracking: str) -> None:
    autolog.set_experiment("mlflow-search")
    for c in (0.1, 1.0, 10.0):
        with autolog.start_run(f"C={c}") as run:
            autolog.log_param("C", c)
            for step in range(3):
                autolog.log_metric("loss", c / (step + 1), step=step)
            with autolog.start_run("child", nested=True):
                autolog.log_metric("inner", 1.0)
    found = autolog.search_runs(
        "mlflow-search", filter="metrics.loss < 1", order_by=["metrics.loss"]
    )
    assert [r.name for r in found] == ["C=0.1", "C=1.0"]
    history = autolog.get_metric_history(run.id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 10.0), (1, 5.0), (2, 10.0 / 3)]
    runs = autolog.search_runs("mlflow-search")
    parents = sorted(r.id for r in runs if r.name != "child")
    assert sorted(str(r.parent_id) for r in runs if r.name == "child") == parents
