"""`autolog push STORE SERVER`: a local store copied into a server, and copied once only."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression
from trackingserver import ServerProcess

import autolog
from autolog._cli.main import main
from autolog.backends import backend_for_uri
from autolog.backends.base import Backend, RegistryBackend

X, Y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]


def _train(experiment: str, c: float, nested: bool = False) -> str:
    autolog.set_experiment(experiment)
    with autolog.start_run(f"C={c}") as run:
        autolog.log_params({"C": c})
        for step in range(4):
            autolog.log_metric("loss", c / (step + 1), step=step)
        autolog.log_metric("nan", float("nan"))
        autolog.set_tag("team", "risk")
        autolog.log_text("hello", "notes/a.txt")
        autolog.log_model(LogisticRegression(C=c).fit(X, Y), "model")
        if nested:
            with autolog.start_run("child", nested=True):
                autolog.log_metric("child_metric", 1.0)
    return run.id


def _snapshot(backend: Backend, experiment: str) -> dict[str, object]:
    """Everything stored for the experiment's runs and for every registered model."""
    exp = backend.get_experiment(experiment)
    out: dict[str, object] = {}
    for run in backend.list_runs([exp.id]):
        history = {k: [repr(m) for m in backend.get_metric_history(run.id, k)] for k in run.metrics}
        files = []
        stack = [""]
        while stack:
            for info in backend.list_artifacts(run.id, stack.pop()):
                (stack.append(info.path) if info.is_dir else files.append((info.path, info.size)))
        out[run.id] = (
            run.name, run.parent_id, run.params, run.tags, repr(sorted(run.metrics.items())),
            run.status, run.start_time, run.end_time, history, sorted(files),
        )  # fmt: skip
    assert isinstance(backend, RegistryBackend)
    for stored in backend.list_registered_models():
        out[f"model:{stored.meta['name']}"] = (stored.meta, stored.versions, stored.events)
    return out


def _push(capsys: pytest.CaptureFixture[str], store: str, url: str) -> str:
    assert main(["push", store, url]) == 0
    return capsys.readouterr().out


def test_push_copies_a_store_once(
    server: ServerProcess,
    spool_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = str(tmp_path / "offline-runs")
    autolog.set_tracking_uri(store)
    experiment = f"push-{uuid.uuid4().hex[:8]}"
    model = f"pushed-{uuid.uuid4().hex[:8]}"
    first = _train(experiment, 0.5, nested=True)
    second = _train(experiment, 2.0)
    autolog.register_model(f"runs:/{first}/model", model)
    autolog.register_model(f"runs:/{second}/model", model)
    autolog.set_alias(model, "champion", 2)
    autolog.set_registered_model_tag(model, "owner", "ann")
    autolog.flush()

    out = _push(capsys, store, server.url)
    assert "3 runs" in out and "1 models" in out and "2 versions" in out
    local, remote = backend_for_uri(store), backend_for_uri(server.url)
    mine = _snapshot(local, experiment)
    assert {k: v for k, v in _snapshot(remote, experiment).items() if k in mine} == mine

    # Again: nothing new, nothing sent, nothing doubled.
    out = _push(capsys, store, server.url)
    assert "0 runs, 0 points, 0 artifacts, 0 models, 0 versions, 0 events" in out
    assert {k: v for k, v in _snapshot(remote, experiment).items() if k in mine} == mine

    # More work offline, then a third push sends only that.
    autolog.set_tracking_uri(store)
    third = _train(experiment, 8.0)
    autolog.register_model(f"runs:/{third}/model", model)
    autolog.flush()
    out = _push(capsys, store, server.url)
    assert "1 runs" in out and "1 versions" in out and "0 models" in out
    mine = _snapshot(local, experiment)
    assert {k: v for k, v in _snapshot(remote, experiment).items() if k in mine} == mine
    autolog.set_tracking_uri(server.url)
    assert autolog.load_model(f"models:/{model}@champion").get_params()["C"] == 2.0
    assert autolog.load_model(f"models:/{model}/3").get_params()["C"] == 8.0
    local.close()
    remote.close()


def test_push_refuses_what_is_not_a_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["push", str(tmp_path), str(tmp_path / "other")]) == 2
    assert "not a tracking server" in capsys.readouterr().err
