"""The data a run used, as its inputs: training, evaluation and test data (real libraries)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn import metrics  # read at the call: the patched functions
from sklearn.linear_model import LogisticRegression

import autolog
from autolog import Run
from autolog._cli.main import main
from autolog._patching.fingerprint import fingerprint


@pytest.fixture(autouse=True)
def _autolog() -> Iterator[None]:
    autolog.enable(["sklearn", "xgboost"])
    try:
        yield
    finally:
        autolog.disable()


def _data(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] - X[:, 2] + rng.normal(scale=0.5, size=n) > 0).astype(int)
    return X, y


def _only_run() -> Run:
    (run,) = autolog.search_runs()
    return run


def test_xgboost_eval_sets_and_test_data_are_inputs_with_roles() -> None:
    X, y = _data()
    X_train, y_train, X_test, y_test = X[:150], y[:150], X[150:], y[150:]
    clf = xgb.XGBClassifier(n_estimators=3, eval_metric="logloss")
    clf.fit(X_train, y_train, eval_set=[(X_train, y_train), (X_test, y_test)], verbose=False)
    auc = metrics.roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])  # a view of a view
    run = _only_run()
    assert run.metrics["roc_auc_score_X_test"] == pytest.approx(auc)
    roles = {i["name"]: i["role"] for i in run.inputs}
    assert roles == {
        "train": "train",
        "validation_0": "train",
        "validation_1": "eval",
        "X_test": "test",
    }
    by_name = {i["name"]: i for i in run.inputs}
    assert by_name["validation_1"]["hash"] == fingerprint(X_test, y_test)["hash"]
    assert by_name["validation_0"]["hash"] == by_name["train"]["hash"]
    assert by_name["X_test"]["hash"] == fingerprint(X_test, y_test)["hash"]
    assert by_name["X_test"]["shape"] == [50, 4]
    stored = json.loads(autolog.download_artifacts(run.id, "datasets/X_test.json").read_text())
    assert stored["role"] == "test" and stored["X"]["content_hash"]


def test_xgboost_train_evals_are_inputs_by_their_names() -> None:
    X, y = _data()
    dtrain = xgb.DMatrix(X[:150], label=y[:150])
    dvalid = xgb.DMatrix(X[150:], label=y[150:])
    booster = xgb.train(
        {"objective": "binary:logistic"},
        dtrain,
        num_boost_round=2,
        evals=[(dtrain, "train"), (dvalid, "valid")],
        verbose_eval=False,
    )
    metrics.log_loss(y[150:], booster.predict(dvalid))
    inputs = _only_run().inputs
    assert [(i["name"], i["role"], i["kind"], i["shape"]) for i in inputs] == [
        ("train", "train", "DMatrix", [150, 4]),
        ("valid", "eval", "DMatrix", [50, 4]),
        ("dvalid", "test", "DMatrix", [50, 4]),
    ]


def test_a_metric_on_a_slice_of_a_prediction_is_logged_once_per_data_name() -> None:
    X, y = _data()
    frame = pd.DataFrame(X, columns=list("abcd"))
    model = LogisticRegression().fit(frame[:150], y[:150])
    X_test, y_test = frame[150:], y[150:]
    proba = model.predict_proba(X_test)  # owns its memory: proba[:, 1].base is proba
    first = metrics.roc_auc_score(y_test, proba[:, 1])
    second = metrics.average_precision_score(y_test, model.predict_proba(X_test)[:, 1])
    unrelated = np.array([0.1, 0.9, 0.4, 0.6])
    metrics.roc_auc_score([0, 1, 0, 1], unrelated[::2].repeat(2))  # not a prediction's slice
    run = _only_run()
    assert run.metrics["roc_auc_score_X_test"] == pytest.approx(first)
    assert run.metrics["average_precision_score_X_test"] == pytest.approx(second)
    assert not any(
        k.startswith("roc_auc_score") and k != "roc_auc_score_X_test" for k in run.metrics
    )
    assert [i["name"] for i in run.inputs] == ["train", "X_test"]
    assert run.inputs[1]["hash"] == fingerprint(X_test, y_test)["hash"]


def test_no_test_input_without_datasets() -> None:
    autolog.enable(["sklearn"], log_datasets=False)
    X, y = _data()
    model = LogisticRegression().fit(X[:150], y[:150])
    X_test = X[150:]
    metrics.accuracy_score(y[150:], model.predict(X_test))
    run = _only_run()
    assert "accuracy_score_X_test" in run.metrics and run.inputs == []


def test_autolog_show_lists_the_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    X, y = _data()
    model = LogisticRegression().fit(X[:150], y[:150])
    X_test = X[150:]
    metrics.accuracy_score(y[150:], model.predict(X_test))
    run = _only_run()
    assert main(["show", run.id]) == 0
    out = capsys.readouterr().out
    inputs = out.split("Inputs (2)\n")[1].split("\n\n")[0].splitlines()
    assert inputs[0].split()[:4] == ["train", "train", "ndarray", "150x4"]
    assert inputs[1].split()[:4] == ["X_test", "test", "ndarray", "50x4"]
    assert "autolog.input." not in out.split("System tags")[1]
    assert main(["show", run.id, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [i["name"] for i in data["inputs"]] == ["train", "X_test"]


def test_autolog_data_lists_the_data_a_run_was_evaluated_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    X, y = _data()
    X_train, y_train, X_test, y_test = X[:150], y[:150], X[150:], y[150:]
    clf = xgb.XGBClassifier(n_estimators=3, eval_metric="logloss")
    clf.fit(X_train, y_train, eval_set=[(X_test, y_test)], verbose=False)
    metrics.accuracy_score(y_test, clf.predict(X_test))
    run = _only_run()
    test_hash = fingerprint(X_test, y_test)["hash"]
    capsys.readouterr()
    assert main(["data", "--json"]) == 0
    listed = {(v["kind"], v["hash"]): v for v in json.loads(capsys.readouterr().out)}
    assert ("eval", test_hash) in listed and ("test", test_hash) in listed
    assert [r["id"] for r in listed[("test", test_hash)]["runs"]] == [run.id]
    assert listed[("test", test_hash)]["data"].startswith("X_test ")
    assert main(["data", "show", test_hash[:10]]) == 0
    shown = capsys.readouterr().out
    assert "evaluated on" in shown and run.id in shown
