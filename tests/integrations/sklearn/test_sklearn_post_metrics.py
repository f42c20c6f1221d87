"""Metrics computed after training are logged on the run of the model that predicted.

The scoring functions are called through `sklearn.metrics` (as `metrics.f1_score`):
this module imported them before autologging was enabled, and a function imported
by name before `enable()` is the original (see the first test for the other order).
"""

from __future__ import annotations

import gc

import numpy as np
import pytest
from sklearn import metrics
from sklearn.cluster import KMeans
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn_helpers import all_runs, classification_data, only_run

import autolog
from autolog.integrations import _post_training as _post_metrics

pytestmark = pytest.mark.usefixtures("sklearn_autolog")


def test_scoring_functions_are_logged_with_the_data_s_name_and_a_counter() -> None:
    from sklearn.metrics import accuracy_score  # imported after enable(): the wrapper

    X, y = classification_data(120)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    clf = LogisticRegression().fit(X_train, y_train)
    y_pred = clf.predict(X_test)
    accuracy = accuracy_score(y_test, y_pred)
    again = metrics.accuracy_score(y_test, y_pred)
    f1 = metrics.f1_score(y_true=y_test, y_pred=y_pred)
    proba = clf.predict_proba(X_test)
    auc = metrics.roc_auc_score(y_test, proba[:, 1])  # a view of a prediction: not remembered
    auc_full = metrics.roc_auc_score(y_test, clf.decision_function(X_test))
    run = only_run()
    assert run.metrics["accuracy_score_X_test"] == pytest.approx(accuracy)
    assert run.metrics["accuracy_score_X_test-2"] == pytest.approx(again)
    assert run.metrics["f1_score_X_test"] == pytest.approx(f1)
    assert run.metrics["roc_auc_score_X_test"] == pytest.approx(auc_full)
    assert auc > 0


def test_score_is_logged_under_the_class_and_data_names() -> None:
    X, y = classification_data()
    clf = LogisticRegression().fit(X, y)
    holdout, labels = classification_data(40, seed=1)
    value = clf.score(holdout, labels)
    assert only_run().metrics["LogisticRegression_score_holdout"] == pytest.approx(value)
    assert "accuracy_score_holdout" not in only_run().metrics  # the score's own inner call


def test_each_model_s_predictions_go_to_its_own_run() -> None:
    X, y = classification_data()
    first = LogisticRegression().fit(X, y)
    second = LinearRegression().fit(X, y)
    p1, p2 = first.predict(X), second.predict(X)
    metrics.accuracy_score(y, p1)
    metrics.mean_squared_error(y, p2)
    run1, run2 = all_runs()
    assert "accuracy_score_X" in run1.metrics and "mean_squared_error_X" not in run1.metrics
    assert "mean_squared_error_X" in run2.metrics and "accuracy_score_X" not in run2.metrics


def test_data_without_a_variable_name_and_non_scalar_results() -> None:
    X, y = classification_data()
    clf = LogisticRegression().fit(X, y)
    predicted = clf.predict(X[:30])  # an expression, not a variable
    per_class = metrics.precision_score(y[:30], predicted, average=None)  # an array: not a metric
    metrics.classification_report(y[:30], predicted)
    metrics.accuracy_score(y[:30], predicted)
    logged = only_run().metrics
    assert "accuracy_score_data" in logged
    assert not any(k.startswith(("precision_score", "classification_report")) for k in logged)
    assert per_class.shape == (2,)


def test_cluster_labels_from_fit_predict_are_remembered() -> None:
    X, _ = classification_data()
    truth = (X[:, 0] > 0).astype(int)
    labels = KMeans(n_clusters=2, n_init=2, random_state=0).fit_predict(X)
    value = metrics.adjusted_rand_score(truth, labels)
    run = only_run()
    assert run.tags["autolog.sklearn.method"] == "fit_predict"
    assert run.metrics["adjusted_rand_score_X"] == pytest.approx(value)


def test_predictions_are_forgotten_when_freed_and_the_table_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = classification_data()
    clf = LogisticRegression().fit(X, y)
    prediction = clf.predict(X)
    key = id(prediction)
    assert key in _post_metrics._predictions
    del prediction
    gc.collect()
    assert key not in _post_metrics._predictions
    monkeypatch.setattr(_post_metrics, "MAX_PREDICTIONS", 3)
    kept = [clf.predict(X) for _ in range(5)]
    assert len(_post_metrics._predictions) == 3
    metrics.accuracy_score(y, kept[0])  # dropped: not logged
    metrics.accuracy_score(y, kept[-1])
    assert [k for k in only_run().metrics if k.startswith("accuracy_score_")] == [
        "accuracy_score_X"
    ]


def test_an_unlogged_model_s_predictions_log_nothing() -> None:
    X, y = classification_data()
    autolog.disable()
    clf = LogisticRegression().fit(X, y)
    autolog.enable(integrations=["sklearn"])
    metrics.accuracy_score(y, clf.predict(X))
    clf.score(X, y)
    assert all_runs() == []


def test_a_refit_model_logs_to_its_latest_run() -> None:
    X, y = classification_data()
    clf = LogisticRegression().fit(X, y)
    clf.fit(X[:50], y[:50])
    metrics.accuracy_score(y, clf.predict(X))
    first, latest = all_runs()
    assert "accuracy_score_X" in latest.metrics and "accuracy_score_X" not in first.metrics


def test_predictions_do_not_change() -> None:
    X, y = classification_data()
    with_autolog = LogisticRegression().fit(X, y).predict_proba(X)
    autolog.disable()
    np.testing.assert_array_equal(with_autolog, LogisticRegression().fit(X, y).predict_proba(X))
