"""MLflow's own client against autolog's server: the MLflow REST API subset, end to end.

MLflow's client is the external oracle: it is what teams already use, and it checks every
reply it parses. Runs over SQLite and PostgreSQL (the module-scoped `server` fixture).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow", reason="MLflow is not installed: pip install mlflow")
pytest.importorskip("sklearn", reason="scikit-learn is not installed")
pytest.importorskip("pandas", reason="pandas is not installed")

import mlflow
import numpy as np
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression
from trackingserver import ServerProcess

API = "/api/2.0/mlflow"

# MLflow's client warns about its own choices (type hints, deprecations): not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore::UserWarning", "ignore::FutureWarning", "ignore::DeprecationWarning"
)


@pytest.fixture
def client(server: ServerProcess) -> MlflowClient:
    mlflow.set_tracking_uri(server.url)
    mlflow.set_registry_uri(server.url)
    return MlflowClient(server.url, server.url)


def _data() -> tuple[Any, Any]:
    X = np.random.RandomState(0).rand(60, 3)
    return X, (X[:, 0] + X[:, 1] > 1).astype(int)


def test_tracking_registry_and_loading(client: MlflowClient, tmp_path: Path) -> None:
    exp = mlflow.set_experiment("mlflow-client-check")
    assert mlflow.get_experiment_by_name("mlflow-client-check").experiment_id == exp.experiment_id
    X, y = _data()
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_metric("acc", 0.9)
        mlflow.log_metric("acc", 0.95, step=1)
        mlflow.log_metrics({"loss": 0.1, "f1": 0.8})
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("lr", 0.01, 1_700_000_000_000, 3)],
            params=[Param("depth", "4")],
            tags=[RunTag("stage", "dev")],
        )
        mlflow.set_tag("team", "fraud")
        notes = tmp_path / "notes.txt"
        notes.write_text("hello")
        mlflow.log_artifact(str(notes))
        model = LogisticRegression().fit(X, y)
        info = mlflow.sklearn.log_model(model, name="model")
    with mlflow.start_run(run_name="second"):
        mlflow.log_param("alpha", 0.1)
        mlflow.log_metric("acc", 0.7)

    got = client.get_run(run.info.run_id)
    assert got.info.status == "FINISHED" and got.info.run_name == "first"
    assert got.data.params == {"alpha": "0.5", "depth": "4"}
    assert got.data.metrics == {"acc": 0.95, "loss": 0.1, "f1": 0.8, "lr": 0.01}
    assert got.data.tags["team"] == "fraud" and got.data.tags["stage"] == "dev"
    history = client.get_metric_history(run.info.run_id, "acc")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (1, 0.95)]
    files = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert "notes.txt" in files
    local = client.download_artifacts(run.info.run_id, "notes.txt", str(tmp_path / "dl"))
    assert Path(local).read_text() == "hello"

    frame = mlflow.search_runs(experiment_names=["mlflow-client-check"])
    assert sorted(frame["tags.mlflow.runName"]) == ["first", "second"]
    first = frame[frame["run_id"] == run.info.run_id].iloc[0]
    assert first["params.alpha"] == "0.5" and first["metrics.acc"] == 0.95
    best = mlflow.search_runs(
        experiment_ids=[exp.experiment_id],
        filter_string="metrics.acc > 0.8 and params.alpha = '0.5'",
        order_by=["metrics.acc DESC"],
    )
    assert list(best["run_id"]) == [run.info.run_id]
    page = client.search_runs([exp.experiment_id], max_results=1, order_by=["metrics.acc ASC"])
    rest = client.search_runs(
        [exp.experiment_id], max_results=1, order_by=["metrics.acc ASC"], page_token=page.token
    )
    assert [r.data.metrics["acc"] for r in (*page, *rest)] == [0.7, 0.95]

    version = mlflow.register_model(info.model_uri, "fraud-model")
    assert version.version == "1"
    client.set_registered_model_alias("fraud-model", "champion", version.version)
    assert client.get_model_version_by_alias("fraud-model", "champion").version == "1"
    loaded = mlflow.pyfunc.load_model("models:/fraud-model@champion")
    assert (loaded.predict(X) == model.predict(X)).all()
    again = mlflow.register_model(info.model_uri, "fraud-model")
    assert again.version == "2"
    names = [m.name for m in client.search_registered_models(filter_string="name LIKE 'fraud%'")]
    assert names == ["fraud-model"]


def test_nan_and_infinity_travel_both_ways(client: MlflowClient) -> None:
    exp_id = client.create_experiment("odd-values")
    run = client.create_run(exp_id)
    client.log_metric(run.info.run_id, "nan", float("nan"))
    client.log_metric(run.info.run_id, "inf", float("inf"))
    client.log_metric(run.info.run_id, "ninf", float("-inf"), step=2)
    metrics = client.get_run(run.info.run_id).data.metrics
    assert math.isnan(metrics["nan"]) and metrics["inf"] == math.inf
    assert metrics["ninf"] == -math.inf
    (found,) = client.search_runs([exp_id], "metrics.inf > 1e300")
    assert found.info.run_id == run.info.run_id
    history = client.get_metric_history(run.info.run_id, "ninf")
    assert [(m.step, m.value) for m in history] == [(2, -math.inf)]


def test_deleted_runs_leave_the_default_search(client: MlflowClient) -> None:
    exp_id = client.create_experiment("lifecycle")
    kept = client.create_run(exp_id, run_name="kept")
    gone = client.create_run(exp_id, run_name="gone")
    client.delete_run(gone.info.run_id)
    assert [r.info.run_name for r in client.search_runs([exp_id])] == ["kept"]
    deleted = client.search_runs([exp_id], run_view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [gone.info.run_id]
    client.restore_run(gone.info.run_id)
    assert len(client.search_runs([exp_id])) == 2
    assert client.get_run(kept.info.run_id).info.lifecycle_stage == "active"


def test_errors_have_mlflow_codes(client: MlflowClient, server: ServerProcess) -> None:
    exp_id = client.create_experiment("errors")
    with pytest.raises(MlflowException) as exc:
        client.create_experiment("errors")
    assert exc.value.error_code == "RESOURCE_ALREADY_EXISTS"
    run = client.create_run(exp_id)
    client.log_param(run.info.run_id, "p", "1")
    with pytest.raises(MlflowException, match="immutable") as exc:
        client.log_param(run.info.run_id, "p", "2")
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as exc:
        client.get_run("0" * 32)
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    # The server never takes a storage location from a client.
    reply = requests.post(
        f"{server.url}{API}/experiments/create",
        json={"name": "elsewhere", "artifact_location": "file:///etc"},
        timeout=10,
    )
    assert reply.status_code == 400 and "artifact_location" in reply.json()["message"]
    client.create_registered_model("sourced")
    reply = requests.post(
        f"{server.url}{API}/model-versions/create",
        json={"name": "sourced", "source": "/etc/passwd"},
        timeout=10,
    )
    assert reply.status_code == 400 and "/etc/passwd" in reply.json()["message"]
    reply = requests.get(
        f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{exp_id}/../../etc/passwd", timeout=10
    )
    assert 400 <= reply.status_code < 500
    reply = requests.post(
        f"{server.url}{API}/runs/search", json={"filter": "metrics.acc >>> 1"}, timeout=10
    )
    assert reply.status_code == 400 and reply.json()["error_code"] == "INVALID_PARAMETER_VALUE"
