"""The public API with `tracking_uri=http://...`: runs, search, models and the registry."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression
from trackingserver import ServerProcess

import autolog
from autolog.backends.sql.store import SqlBackend


@pytest.fixture
def tracking(server: ServerProcess, spool_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AUTOLOG_TRACKING_URI", server.url)
    return server.url


def test_the_run_api_logs_searches_and_registers_through_the_server(tracking: str) -> None:
    exp = f"e2e-{threading.get_ident()}-{id(tracking)}"
    autolog.set_experiment(exp)
    with autolog.start_run("first") as run:
        autolog.log_params({"C": 0.5, "solver": "lbfgs"})
        for step in range(5):
            autolog.log_metric("loss", 1.0 / (step + 1), step=step)
        autolog.set_tag("team", "a")
        autolog.log_text("hello", "notes/readme.txt")
        model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        autolog.log_model(model, "model")
    stored = autolog.get_run(run.id)
    assert stored.params == {"C": "0.5", "solver": "lbfgs"} and stored.metrics["loss"] == 0.2
    assert stored.status.value == "FINISHED" and stored.experiment == exp
    assert [m.step for m in autolog.get_metric_history(stored.id, "loss")] == list(range(5))
    found = autolog.search_runs(exp, filter="metrics.loss < 0.5")
    assert [r.id for r in found] == [stored.id]
    version = autolog.register_model(f"runs:/{stored.id}/model", "e2e-model")
    autolog.set_alias("e2e-model", "champion", version.version)
    loaded = autolog.load_model("models:/e2e-model@champion")
    assert list(loaded.predict([[0.0], [3.0]])) == [0, 1]
    again = autolog.register_model(f"runs:/{stored.id}/model", "e2e-model")
    assert again.version == version.version + 1
    history = autolog.get_model_history("e2e-model")
    assert [e.type for e in history][:3] == ["model_created", "version_created", "alias_set"]


def test_versions_registered_concurrently_get_distinct_numbers(sql_backend: SqlBackend) -> None:
    sql_backend.create_registered_model("m", {"created_at": 1, "created_ns": 1, "creator": "u"})
    numbers: list[int] = []

    def register() -> None:
        for _ in range(5):
            numbers.append(sql_backend.create_model_version("m", {"source": "s", "run_id": "r"}))

    threads = [threading.Thread(target=register) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(numbers) == list(range(1, 21))
    stored = sql_backend.read_registered_model("m")
    assert stored is not None and [v["version"] for v in stored.versions] == list(range(1, 21))
    assert sql_backend.append_model_event("m", {"id": "e1", "type": "alias_set"})
    assert not sql_backend.append_model_event("m", {"id": "e1", "type": "alias_set"})
    assert sql_backend.read_registered_model("nope") is None
